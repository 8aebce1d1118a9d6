"""The exceptions list as CSV, for finance to filter in a spreadsheet.

Only non-matched rows, in a fixed column order. Text that came from the warehouse or the platform is
guarded against CSV formula injection: a cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return) gets a leading apostrophe, so a spreadsheet shows it as text instead of running it.
Amounts, counts and dates are written by us from Decimals and dates, so a negative amount stays a number.

    >>> write_exceptions_csv(result.rows, Path("reports/2026-03-02/exceptions.csv"))
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from receivables.report._format import date_text, plain_words, text, worst_first

EXCEPTION_CSV_COLUMNS = [
    "exception_id", "first_seen_date", "days_open", "report_date", "outcome", "company_name", "company_id",
    "document_type", "document_number", "source_id", "platform_id", "currency", "amount_at_stake",
    "source_total", "platform_total", "difference", "source_amount_due", "platform_amount_due", "due_date",
    "days_overdue", "aging_bucket", "reason", "action", "run_id",
]
_TEXT = ("exception_id", "outcome", "company_name", "company_id", "document_type", "document_number",
         "source_id", "platform_id", "currency", "aging_bucket", "reason", "action", "run_id")
_AMOUNTS = ("amount_at_stake", "source_total", "platform_total", "difference", "source_amount_due",
            "platform_amount_due")
_DATES = ("first_seen_date", "report_date", "due_date")
_FORMULA_START = r"^(?:[=+\-@\t\r]|\s+[=+\-@])"


def guard_formula(values: pd.Series) -> pd.Series:
    """Text cells with a leading apostrophe where a spreadsheet would read a formula."""
    cells = values.astype("string").fillna("")
    risky = cells.str.contains(_FORMULA_START, regex=True)
    return cells.where(~risky, "'" + cells)


def exceptions_frame(rows: pd.DataFrame, company_names: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The CSV's content: exceptions only, worst outcome first and the most money at stake first within
    it, all cells as guarded text (reasons in plain words, like the HTML)."""
    exceptions = worst_first(rows)
    names = {str(k): text(v) for k, v in (company_names or {}).items()}
    report_day = pd.to_datetime(exceptions["report_date"]).dt.normalize()
    first_seen = pd.to_datetime(exceptions["first_seen_date"]).dt.normalize()
    exceptions = exceptions.assign(
        amount_at_stake=exceptions["at_stake"],
        company_name=exceptions["company_id"].map(lambda c: names.get(text(c)) or text(c)),
        days_open=(report_day - first_seen).dt.days.astype("Int64"),
        reason=exceptions["reason"].map(plain_words),
    )
    out = pd.DataFrame(index=exceptions.index)
    for column in EXCEPTION_CSV_COLUMNS:
        values = exceptions[column]
        if column in _TEXT:
            out[column] = guard_formula(values)
        elif column in _AMOUNTS:
            out[column] = values.map(text).astype("string")
        elif column in _DATES:
            out[column] = values.map(date_text).astype("string")
        else:
            out[column] = values.astype("string").fillna("")
    return out.reset_index(drop=True)


def write_exceptions_csv(rows: pd.DataFrame, path: str | Path,
                         company_names: Mapping[str, Any] | None = None) -> Path:
    """Write the exceptions CSV (UTF-8 with a BOM, so spreadsheets detect the encoding) to ``path``."""
    target = Path(path)
    exceptions_frame(rows, company_names).to_csv(target, index=False, encoding="utf-8-sig",
                                                 lineterminator="\r\n")
    return target
