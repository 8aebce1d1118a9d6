"""How the finance report writes amounts, dates and outcome names (shared by the HTML and the CSV)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from receivables.money import round_half_up

# Exceptions are listed in this order: what finance must act on first comes first.
OUTCOME_ORDER = (
    "push_failed", "rejected", "missing_in_platform", "duplicate_in_platform", "amount_mismatch",
    "status_mismatch", "unexpected_in_platform", "pending", "matched",
)
OUTCOME_LABELS = {
    "matched": "Matched",
    "amount_mismatch": "Amount mismatch",
    "status_mismatch": "Amount due mismatch",
    "missing_in_platform": "Missing in platform",
    "unexpected_in_platform": "Unexpected in platform",
    "duplicate_in_platform": "Duplicate in platform",
    "push_failed": "Push failed",
    "rejected": "Rejected",
    "pending": "Pending",
}
# Outcomes of documents the platform accepted (the ledger says success).
PUSHED_OUTCOMES = ("matched", "amount_mismatch", "status_mismatch", "missing_in_platform", "duplicate_in_platform")


def is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def money_text(value: object, currency: object = None) -> str:
    """``1234.5`` GBP -> ``1,234.50``; an empty string for a missing amount."""
    if is_missing(value):
        return ""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    code = currency if isinstance(currency, str) and currency else "XXX"
    return f"{round_half_up(amount, code):,f}"


def date_text(value: object) -> str:
    """An ISO date (``2026-03-02``), or an empty string."""
    if is_missing(value):
        return ""
    if isinstance(value, datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return pd.Timestamp(value).date().isoformat()


def text(value: object) -> str:
    return "" if is_missing(value) else str(value)


def outcome_rank(outcomes: pd.Series) -> pd.Series:
    order = {name: i for i, name in enumerate(OUTCOME_ORDER)}
    return outcomes.map(order).fillna(len(order)).astype(int)
