"""Rules on a document's header: its customer, status, currency, dates and number.

Each rule takes normalised frames (:mod:`receivables.validate.normalise`) and returns the failing
documents as rows of :data:`~receivables.validate.frames.REJECT_COLUMNS`.
"""

from __future__ import annotations

import pandas as pd

from receivables.money import as_decimal, is_finite_amount, is_iso4217
from receivables.validate.frames import (
    concat_failures,
    date_problem,
    day_text,
    fail_rows,
    no_failures,
    row_keys,
)

STATUSES = ("draft", "submitted", "void")


def unknown_customer(docs: pd.DataFrame, known_customers: set) -> pd.DataFrame:
    """The document's customer is neither in today's batch nor known from earlier days."""
    mask = ~row_keys(docs, "customer_id").isin(known_customers)
    return fail_rows(docs, mask, "unknown_customer",
                     lambda r: f"{r.label}: customer {r.customer_id} is not a known customer of company "
                               f"{r.company_id}; add it to ar_customers")


def customer_rejected(docs: pd.DataFrame, rejected_customers: set) -> pd.DataFrame:
    """The document's customer row was rejected today, so the document cannot be pushed either."""
    mask = row_keys(docs, "customer_id").isin(rejected_customers)
    return fail_rows(docs, mask, "customer_rejected",
                     lambda r: f"{r.label}: its customer {r.customer_id} was rejected; "
                               "fix the customer first")


def invalid_status(docs: pd.DataFrame) -> pd.DataFrame:
    """Status is not one of draft, submitted, void."""
    mask = ~docs["status"].isin(STATUSES)
    return fail_rows(docs, mask, "invalid_status",
                     lambda r: f"{r.label}: status '{r.status}' is not one of draft, submitted, void")


def void_document(docs: pd.DataFrame, pushed: set) -> pd.DataFrame:
    """A void document that was never pushed: there is nothing to push for it."""
    mask = docs["status"].eq("void") & ~row_keys(docs, "document_type", "source_id").isin(pushed)
    return fail_rows(docs, mask, "void_document",
                     lambda r: f"{r.label}: is void and was never pushed, so it is not sent")


def invalid_currency(docs: pd.DataFrame, column: str = "currency") -> pd.DataFrame:
    """The currency is not an active ISO 4217 code (customers: a default currency given but invalid)."""
    values = docs[column]
    mask = ~values.map(is_iso4217).astype(bool)
    if column == "default_currency":
        mask &= values.notna()
    return fail_rows(docs, mask, "invalid_currency",
                     lambda r: f"{r.label}: {column} '{getattr(r, column)}' is not an ISO 4217 currency code")


def missing_currency_rate(docs: pd.DataFrame, base: dict[str, str]) -> pd.DataFrame:
    """Foreign-currency document without a positive currency_rate (base = foreign x rate)."""
    company_base = docs["company_id"].map(base)
    foreign = docs["currency"].ne(company_base) | company_base.isna()
    good_rate = docs["currency_rate"].map(lambda v: is_finite_amount(v) and as_decimal(v) > 0).astype(bool)
    mask = foreign & ~good_rate
    return fail_rows(docs, mask, "missing_currency_rate",
                     lambda r: f"{r.label}: currency {r.currency} differs from the company's base currency "
                               f"{base.get(r.company_id)} but currency_rate is {r.currency_rate}; "
                               "a positive rate (base = foreign x rate) is required")


def invalid_date(docs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A required date is missing or outside 1900-2100."""
    parts = []
    for col in columns:
        problems = docs[col].map(date_problem)
        mask = problems.notna()
        sub = docs.assign(_p=problems)
        parts.append(fail_rows(sub, mask, "invalid_date", lambda r, c=col: f"{r.label}: {c} {r._p}"))
    return concat_failures(parts)


def due_before_issue(docs: pd.DataFrame) -> pd.DataFrame:
    """An invoice falls due before it was issued."""
    mask = docs["document_type"].eq("invoice") & (docs["due_date"] < docs["issue_date"]).fillna(False)
    return fail_rows(docs, mask, "due_before_issue",
                     lambda r: f"{r.label}: due_date {day_text(r.due_date)} is before issue_date "
                               f"{day_text(r.issue_date)}")


def _number_key(value: object) -> str | None:
    """How the platform tells numbers apart: its query language compares them case-insensitively
    (CONTRACT §11.6), so ``INV-1`` and ``inv-1 `` are one number there; blank is no number at all."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text.casefold() if text else None


def duplicate_document_number(docs: pd.DataFrame, known: pd.DataFrame,
                              number_col: str = "number") -> pd.DataFrame:
    """Another document of the same type and company (today's or earlier) carries the same number, or
    the document has none. Numbers identify documents in the platform (read-back after an unknown
    outcome finds them by number), so they must be present and unique, ignoring case and spaces."""
    if docs.empty:
        return no_failures()
    today = docs[["company_id", "document_type", "source_id", number_col]]
    today = today.rename(columns={number_col: "number"})
    everyone = pd.concat([today, known[["company_id", "document_type", "source_id", "number"]]],
                         ignore_index=True).drop_duplicates(["company_id", "document_type", "source_id"])
    per_number: dict = {}
    for c, t, n, sid in zip(everyone["company_id"], everyone["document_type"], everyone["number"],
                            everyone["source_id"], strict=True):
        key = _number_key(n)
        if key is not None:
            per_number.setdefault((c, t, key), []).append(sid)
    keys = [_number_key(n) for n in docs[number_col]]
    others = [[s for s in per_number.get((c, t, k), ()) if s != me] if k is not None else []
              for c, t, k, me in zip(docs["company_id"], docs["document_type"], keys, docs["source_id"],
                                     strict=True)]
    missing = pd.Series([k is None for k in keys], index=docs.index, dtype=bool)
    mask = pd.Series([bool(o) for o in others], index=docs.index, dtype=bool) | missing
    sub = docs.assign(_others=others, _num=docs[number_col], _missing=missing)
    return fail_rows(sub, mask, "duplicate_document_number",
                     lambda r: f"{r.label}: has no number" if r._missing else
                     f"{r.label}: number {r._num!r} is already used by {', '.join(map(str, r._others))}")


def no_lines(docs: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """An invoice or credit note without a single line."""
    with_lines = set(row_keys(lines, "document_type", "source_id"))
    mask = ~row_keys(docs, "document_type", "source_id").isin(with_lines)
    return fail_rows(docs, mask, "no_lines", lambda r: f"{r.label}: has no lines")
