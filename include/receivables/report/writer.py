"""Writing the day's report files: ``<out_dir>/<report_date>/reconciliation.html`` and ``exceptions.csv``.

Each file is written to a temporary name in the same folder and renamed into place, so a reader (or
a rerun of the same day) never sees half a file.

    >>> paths = write_report(result.rows, result.summary, out_dir="reports", report_date=date(2026, 3, 2),
    ...                      run_meta={"run_id": "scheduled__2026-03-03"})
    >>> paths.html
    PosixPath('reports/2026-03-02/reconciliation.html')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from receivables.report._format import date_text
from receivables.report.csv_export import write_exceptions_csv
from receivables.report.html import render_html

HTML_NAME = "reconciliation.html"
CSV_NAME = "exceptions.csv"


@dataclass(frozen=True)
class ReportPaths:
    """Where the day's report files were written."""

    html: Path
    csv: Path


def write_atomically(target: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``target`` (same folder, same disk)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def report_folder(out_dir: str | Path, report_date: date | datetime | pd.Timestamp) -> Path:
    return Path(out_dir) / date_text(report_date)


def write_report(rows: pd.DataFrame, summary: pd.DataFrame, *, out_dir: str | Path,
                 report_date: date | datetime | pd.Timestamp, run_meta: dict[str, Any],
                 folder: str | Path | None = None, company_names: Mapping[str, Any] | None = None,
                 **render_options: Any) -> ReportPaths:
    """Render and write the HTML report and the exceptions CSV for ``report_date``; rerunning replaces them.

    The files go to ``<out_dir>/<report_date>/`` unless ``folder`` names another place (a dry run writes
    to ``<out_dir>/<report_date>/dry-run/`` and never touches the real report). ``render_options``
    (company_states, company_platforms, history, problem) go to :func:`receivables.report.html.render_html`.
    """
    target = Path(folder) if folder is not None else report_folder(out_dir, report_date)
    html = render_html(rows, summary, report_date=report_date, run_meta=run_meta, company_names=company_names,
                       **render_options)
    html_path = write_atomically(target / HTML_NAME, lambda p: p.write_text(html, encoding="utf-8"))
    csv_path = write_atomically(target / CSV_NAME,
                                lambda p: write_exceptions_csv(rows, p, company_names=company_names))
    return ReportPaths(html=html_path, csv=csv_path)
