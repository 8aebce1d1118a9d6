"""The report's trend: exceptions, amount open and amount overdue over the last nights, per currency.

Read from ``ar_reconciliation_summary`` (one row per date, company, outcome and currency), so a night
that was never reconciled has no point rather than a zero.

    >>> nights = trend_table(history, report_date=date(2026, 3, 2))
    >>> nights.columns.tolist()
    ['report_date', 'exceptions', 'currency', 'amount_open', 'amount_overdue']
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from receivables.documents import Outcome
from receivables.money import sum_amounts
from receivables.nulls import as_objects

NIGHTS = 14
COLUMNS = ["report_date", "exceptions", "currency", "amount_open", "amount_overdue"]


def _total(values: pd.Series):
    present = values.dropna()
    return sum_amounts(present) if len(present) else None


def trend_table(history: pd.DataFrame | None, *, report_date: date, nights: int = NIGHTS) -> pd.DataFrame:
    """One row per (night, currency) for the last ``nights`` report dates up to ``report_date``.

    ``exceptions`` counts every non-matched document of the night (all currencies, repeated on each of
    the night's rows); amounts are Decimals (None where the night predates the open/overdue columns).
    """
    if history is None or history.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame = history.assign(report_date=pd.to_datetime(history["report_date"]).dt.date)
    frame = frame[frame["report_date"] <= report_date]
    days = sorted(frame["report_date"].unique())[-nights:]
    frame = frame[frame["report_date"].isin(days)]
    for column in ("amount_open", "amount_overdue"):
        if column not in frame:
            frame[column] = None
    exceptions = frame[frame["outcome"] != Outcome.MATCHED].groupby("report_date")["document_count"].sum()
    money = frame[frame["currency"].fillna("") != ""]
    amounts = money.groupby(["report_date", "currency"]).agg(
        amount_open=("amount_open", _total), amount_overdue=("amount_overdue", _total)).reset_index()
    nights_frame = pd.DataFrame({"report_date": days})
    out = nights_frame.merge(amounts, on="report_date", how="left")
    out["exceptions"] = out["report_date"].map(exceptions).fillna(0).astype(int)
    for column in ("amount_open", "amount_overdue"):
        out[column] = as_objects(out[column])
    return out[COLUMNS].sort_values(["report_date", "currency"], na_position="first").reset_index(drop=True)
