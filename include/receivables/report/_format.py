"""How the finance report writes amounts, dates and outcome names (shared by the HTML and the CSV)."""

from __future__ import annotations

import re
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


DOCUMENT_LABELS = {
    "customer": "customer", "invoice": "invoice", "credit_note": "credit note", "payment": "payment",
    "credit_note_allocation": "credit note allocation", "fee": "payment fee",
}

# Words a program prints that a finance reader should not have to decode.
_PLAIN_WORDS = (
    (re.compile(r"\b(?:is|was) None\b"), "is missing"),
    (re.compile(r"\bNone\b|<NA>|\bNaN\b|\bnan\b|\bNaT\b|\(none\)|\bnone\b"), "missing"),
    (re.compile(r"\bTrue\b"), "yes"),
    (re.compile(r"\bFalse\b"), "no"),
)


def plain_words(value: object) -> str:
    """``"currency_rate is None"`` -> ``"currency_rate is missing"``; ``True``/``False`` -> yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    words = text(value)
    for pattern, replacement in _PLAIN_WORDS:
        words = pattern.sub(replacement, words)
    return words


def at_stake(rows: pd.DataFrame) -> pd.Series:
    """The money each exception puts at risk, as a Decimal (None when the row has no amount).

    An amount mismatch risks its difference, an amount-due mismatch the gap between the two amounts due;
    every other exception the document's whole total (the source's, else the platform's).
    """
    total = rows["source_total"].where(rows["source_total"].notna(), rows["platform_total"])
    due_gap = [
        abs(p - s) if p is not None and s is not None and not is_missing(p) and not is_missing(s) else None
        for p, s in zip(rows["platform_amount_due"], rows["source_amount_due"], strict=True)
    ]
    stake = []
    for outcome, whole, difference, gap in zip(rows["outcome"], total, rows["difference"], due_gap, strict=True):
        if outcome == "amount_mismatch" and not is_missing(difference):
            stake.append(abs(difference))
        elif outcome == "status_mismatch" and gap is not None:
            stake.append(gap)
        else:
            stake.append(None if is_missing(whole) else abs(whole))
    return pd.Series(stake, index=rows.index, dtype=object)


def outcome_rank(outcomes: pd.Series) -> pd.Series:
    order = {name: i for i, name in enumerate(OUTCOME_ORDER)}
    return outcomes.map(order).fillna(len(order)).astype(int)
