"""The finance report of a reconciliation: HTML (``html``), exceptions CSV (``csv_export``), the aging
chart (``chart``), file writing (``writer``) and the alert decision (``alert``).

    >>> paths = write_report(result.rows, result.summary, out_dir="reports", report_date=day, run_meta=meta)
    >>> decision = should_alert(result.summary, threshold=0, report_path=paths.html)
"""

from receivables.report.alert import AlertDecision, should_alert
from receivables.report.csv_export import EXCEPTION_CSV_COLUMNS, write_exceptions_csv
from receivables.report.html import render_html
from receivables.report.writer import ReportPaths, write_report

__all__ = [
    "EXCEPTION_CSV_COLUMNS",
    "AlertDecision",
    "ReportPaths",
    "render_html",
    "should_alert",
    "write_exceptions_csv",
    "write_report",
]
