"""How the finance report writes amounts, dates and outcome names (shared by the HTML and the CSV)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from receivables.documents import KINDS, Outcome
from receivables.money import round_half_up

# Exceptions are listed in this order: what finance must act on first comes first.
OUTCOME_ORDER = (
    Outcome.PUSH_FAILED, Outcome.REJECTED, Outcome.MISSING_IN_PLATFORM, Outcome.DUPLICATE_IN_PLATFORM,
    Outcome.AMOUNT_MISMATCH, Outcome.STATUS_MISMATCH, Outcome.UNEXPECTED_IN_PLATFORM, Outcome.PENDING,
    Outcome.MATCHED,
)
OUTCOME_LABELS = {
    Outcome.MATCHED: "Matched",
    Outcome.AMOUNT_MISMATCH: "Amount mismatch",
    Outcome.STATUS_MISMATCH: "Amount due mismatch",
    Outcome.MISSING_IN_PLATFORM: "Missing in platform",
    Outcome.UNEXPECTED_IN_PLATFORM: "Unexpected in platform",
    Outcome.DUPLICATE_IN_PLATFORM: "Duplicate in platform",
    Outcome.PUSH_FAILED: "Push failed",
    Outcome.REJECTED: "Rejected",
    Outcome.PENDING: "Pending",
}
# Outcomes of documents the platform accepted (the ledger says success).
PUSHED_OUTCOMES = (Outcome.MATCHED, Outcome.AMOUNT_MISMATCH, Outcome.STATUS_MISMATCH,
                   Outcome.MISSING_IN_PLATFORM, Outcome.DUPLICATE_IN_PLATFORM)
DOCUMENT_LABELS = {kind.name: kind.label for kind in KINDS}


def is_missing(value: object) -> bool:
    """None, pandas' NA/NaT or a float NaN: a cell with no value."""
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
    """A cell as text; an empty string when it has no value."""
    return "" if is_missing(value) else str(value)


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
    for outcome, whole, difference, gap in zip(rows["outcome"], total, rows["difference"], due_gap,
                                               strict=True):
        if outcome == Outcome.AMOUNT_MISMATCH and not is_missing(difference):
            stake.append(abs(difference))
        elif outcome == Outcome.STATUS_MISMATCH and gap is not None:
            stake.append(gap)
        else:
            stake.append(None if is_missing(whole) else abs(whole))
    return pd.Series(stake, index=rows.index, dtype=object)


def outcome_rank(outcomes: pd.Series) -> pd.Series:
    """Each outcome's place in :data:`OUTCOME_ORDER` (unknown outcomes last)."""
    order = {str(name): i for i, name in enumerate(OUTCOME_ORDER)}
    return outcomes.astype(str).map(order).fillna(len(order)).astype(int)


def worst_first(rows: pd.DataFrame) -> pd.DataFrame:
    """The exceptions of ``rows`` (every outcome but matched), worst outcome first, then the most money
    at stake first within an outcome; adds ``at_stake`` (Decimal or None) and ``stake_size`` (a float
    to sort by, -1 without an amount). The HTML and the CSV list them in this one order.
    """
    exceptions = rows[rows["outcome"] != Outcome.MATCHED]
    stake = at_stake(exceptions)
    size = pd.Series([float(v) if v is not None else -1.0 for v in stake], index=exceptions.index)
    ranked = exceptions.assign(_rank=outcome_rank(exceptions["outcome"]), at_stake=stake, stake_size=size)
    return ranked.sort_values(["_rank", "stake_size", "company_id", "document_type", "document_key"],
                              ascending=[True, False, True, True, True], kind="stable").drop(columns="_rank")
