"""The gate before any push: each document of a day's batch ends accepted, rejected, waiting or flagged.

One function per rule, named like the rule (the names are a contract with the push, reconcile and report
code). Each takes normalised frames and returns the failing documents as rows of company_id,
document_type, source_id, rule, message. :func:`validate_batch` runs them all and keeps, per document,
the first failing rule of :data:`RULE_ORDER` (its message lists the other failed rules).

    >>> result = validate_batch(batch, companies=ar_companies, mappings=lookup, tax_rates=ar_ref_tax_rates,
    ...                         known_documents=known, open_amounts=open_now, platform_ids=pushed)
    >>> result.accepted["ar_invoices"], result.rejects, result.waiting, result.needs_manual_action

Decisions:
- Negative quantities are rejected (``invalid_amount``) on invoices and credit notes alike: a credit is
  a credit note, not a negative line. A negative *unit amount* (a discount line) is fine as long as the
  document total stays above zero.
- Line inputs (quantity, unit amount, discount) may carry up to 6 decimals; amounts actually paid
  (payment amount, fee, allocations) at most the currency's minor units.
- A receipt (amount > 0) may settle invoices only and a refund (amount < 0) credit notes only; otherwise
  ``invalid_amount``. An allocation to another customer's document is ``allocation_customer_mismatch``
  (an extra rule: CONTRACT §11.10 forbids it, and the platform would refuse the whole payment).
- A void document that was already pushed is not rejected: it is returned in ``needs_manual_action``
  (a pushed invoice cannot be voided through this connection). A void document never pushed is rejected
  with ``void_document``.
- Payments and credit-note allocations whose customer or target is rejected, not yet in the platform
  (and not accepted today) or still a draft go to ``waiting``, not to rejects: the push layer marks them pending. So do
  invoices and credit notes whose customer is known from earlier days but not yet in the platform.
- A customer reuses ``duplicate_document_number`` when another customer of the company has the same name,
  because the name is the customer's identity in the platform (WAREHOUSE.md "Identity").
- Allocations draw on a target's open amount in date order (then payment before credit-note allocation,
  then id); every document whose allocation overdraws is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from types import SimpleNamespace

import pandas as pd

from receivables.mappings import MappingLookup
from receivables.money import (
    MAX_ABS_AMOUNT,
    MONEY_CONTEXT,
    as_decimal,
    decimal_places,
    is_finite_amount,
    is_iso4217,
    line_amounts,
    minor_units,
    round_many,
    sum_amounts,
)
from receivables.open_amounts import settle_in_order

REJECT_COLUMNS = ["company_id", "document_type", "source_id", "rule", "message"]
WAITING_COLUMNS = ["company_id", "document_type", "source_id", "reason"]

RULE_ORDER = [
    "unknown_customer",
    "customer_rejected",
    "invalid_status",
    "void_document",
    "invalid_currency",
    "missing_currency_rate",
    "invalid_date",
    "due_before_issue",
    "duplicate_document_number",
    "no_lines",
    "invalid_amount",
    "unmapped_revenue_code",
    "unmapped_tax_code",
    "unmapped_tracking_code",
    "broken_mapping",
    "unmapped_payment_method",
    "missing_fee_account",
    "allocation_target_unknown",
    "allocation_customer_mismatch",
    "allocation_currency_mismatch",
    "allocation_exceeds_payment",
    "allocation_exceeds_open_amount",
]
_RANK = {rule: n for n, rule in enumerate(RULE_ORDER)}

STATUSES = ("draft", "submitted", "void")
LINE_INPUT_PLACES = 6
EARLIEST, LATEST = pd.Timestamp("1900-01-01"), pd.Timestamp("2100-12-31")
_LABEL = {"invoice": "invoice", "credit_note": "credit note", "payment": "payment", "customer": "customer",
          "credit_note_allocation": "credit note allocation"}
TABLES = ["ar_customers", "ar_invoices", "ar_invoice_lines", "ar_credit_notes", "ar_credit_note_lines",
          "ar_payments", "ar_payment_allocations", "ar_credit_note_allocations"]


@dataclass(frozen=True)
class ValidationResult:
    """What the gate decided. ``accepted`` holds the eight batch tables, filtered to what may be pushed."""

    accepted: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    waiting: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WAITING_COLUMNS))
    needs_manual_action: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WAITING_COLUMNS))


# ------------------------------------------------------------------------------------------ helpers


def _obj(series: pd.Series) -> pd.Series:
    """Object dtype with every NULL flavour as None (keeps Decimals intact)."""
    out = series.astype(object)
    return out.where(out.notna(), None)


def _num(series: pd.Series) -> pd.Series:
    """A numeric object column as is, but pd.NA -> None (NaN/inf stay, so messages can name them)."""
    return pd.Series([None if v is pd.NA else v for v in series.astype(object)], index=series.index, dtype=object)


def _failures(frame: pd.DataFrame, mask, rule: str, messages) -> pd.DataFrame:
    """Rows of ``frame`` selected by ``mask`` as failures of ``rule``; ``messages`` is a callable per row."""
    hit = frame[mask] if mask is not None else frame
    if hit.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    # SimpleNamespace, not itertuples: namedtuples rename the underscore columns used here.
    texts = [messages(SimpleNamespace(**r)) for r in hit.to_dict("records")]
    return pd.DataFrame({"company_id": hit["company_id"].to_numpy(), "document_type": hit["document_type"].to_numpy(),
                         "source_id": hit["source_id"].to_numpy(), "rule": rule, "message": texts},
                        columns=REJECT_COLUMNS)


def _amount_problem(value: object, places: int) -> str | None:
    """Why ``value`` is not a usable amount with at most ``places`` decimals (None when it is)."""
    if type(value) is Decimal and value.is_finite():
        # Fast path for the common case: a plain, small Decimal written with few decimals.
        exponent = value.as_tuple().exponent
        if exponent >= -places and abs(value) < MAX_ABS_AMOUNT:
            return None
    if value is None or value is pd.NA:
        return "is missing"
    if not is_finite_amount(value):
        return f"is not a finite number ({value})"
    dec = as_decimal(value)
    if abs(dec) >= MAX_ABS_AMOUNT:
        return f"{dec} is beyond the largest believable amount"
    if decimal_places(dec) > places:
        return f"{dec} has more than {places} decimals"
    return None


def _date_problem(value: object) -> str | None:
    if value is None or pd.isna(value):
        return "is missing"
    ts = pd.Timestamp(value)
    if ts < EARLIEST or ts > LATEST:
        return f"{ts.date()} is outside 1900-2100"
    return None


def _day(value: object) -> str:
    return "NULL" if value is None or pd.isna(value) else str(pd.Timestamp(value).date())


def _keys(frame: pd.DataFrame, *cols: str) -> pd.Series:
    """A hashable (company_id, ...) tuple per row, for isin/map across frames."""
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    parts = [[None if v is pd.NA else v for v in frame[c].astype(object).tolist()] for c in ("company_id", *cols)]
    return pd.Series(list(zip(*parts, strict=True)), index=frame.index, dtype=object)


def _empty_like(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    return frame if frame is not None else pd.DataFrame(columns=columns)


# ---------------------------------------------------------------------------------- normalisation


def _customers(batch: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    c = _empty_like(batch.get("ar_customers"),
                    ["company_id", "customer_id", "name", "email", "default_currency", "updated_at"])
    out = c.assign(document_type="customer", source_id=_obj(c["customer_id"]))
    out["label"] = [f"customer {n} (id {i})" for n, i in zip(_obj(c["name"]), out["source_id"], strict=True)]
    return out


def _sales_docs(batch: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invoices and credit notes as one frame, and their lines as another, with shared column names."""
    docs, lines = [], []
    for kind, table, id_col, num_col in [("invoice", "ar_invoices", "invoice_id", "invoice_number"),
                                         ("credit_note", "ar_credit_notes", "credit_note_id", "credit_note_number")]:
        d = batch.get(table)
        if d is not None and not d.empty:
            nd = pd.DataFrame({
                "company_id": _obj(d["company_id"]), "document_type": kind, "source_id": _obj(d[id_col]),
                "number": _obj(d[num_col]), "customer_id": _obj(d["customer_id"]),
                # No scalar NaT for credit notes: it would upcast the dates to [ns] on concat, which
                # overflows for far-away dates (they must be rejected by invalid_date, not crash).
                "issue_date": d["issue_date"], "due_date": d["due_date"] if "due_date" in d else pd.Series(
                    pd.NaT, index=d.index, dtype="datetime64[us]"),
                "currency": _obj(d["currency"]), "currency_rate": _num(d["currency_rate"]),
                "status": _obj(d["status"]), "_row": range(len(d)),
            })
            nd["label"] = [f"{_LABEL[kind]} {n} (id {i})" for n, i in zip(nd["number"], nd["source_id"], strict=True)]
            docs.append(nd)
        ln = batch.get(f"{table}_lines".replace("s_lines", "_lines"))
        if ln is not None and not ln.empty:
            nl = pd.DataFrame({
                "company_id": _obj(ln["company_id"]), "document_type": kind, "source_id": _obj(ln[id_col]),
                "line_no": ln["line_no"].astype(object), "quantity": _num(ln["quantity"]),
                "unit_amount": _num(ln["unit_amount"]), "discount_amount": _num(ln["discount_amount"]),
                "tax_code": _obj(ln["tax_code"]), "revenue_code": _obj(ln["revenue_code"]),
                "tracking_code": _obj(ln["tracking_code"]),
            })
            lines.append(nl)
    doc_cols = ["company_id", "document_type", "source_id", "number", "customer_id", "issue_date", "due_date",
                "currency", "currency_rate", "status", "_row", "label"]
    line_cols = ["company_id", "document_type", "source_id", "line_no", "quantity", "unit_amount",
                 "discount_amount", "tax_code", "revenue_code", "tracking_code"]
    docs_f = pd.concat(docs, ignore_index=True) if docs else pd.DataFrame(columns=doc_cols)
    lines_f = pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(columns=line_cols)
    return docs_f, lines_f


def _payments(batch: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    p = _empty_like(batch.get("ar_payments"),
                    ["company_id", "payment_id", "customer_id", "paid_on", "currency", "currency_rate", "amount",
                     "fee_amount", "method", "reference", "updated_at"])
    out = pd.DataFrame({
        "company_id": _obj(p["company_id"]), "document_type": "payment", "source_id": _obj(p["payment_id"]),
        "customer_id": _obj(p["customer_id"]), "paid_on": p["paid_on"], "currency": _obj(p["currency"]),
        "currency_rate": _num(p["currency_rate"]), "amount": _num(p["amount"]),
        "fee_amount": _num(p["fee_amount"]), "method": _obj(p["method"]), "reference": _obj(p["reference"]),
    })
    out["label"] = [f"payment {r if r is not None else i} (id {i})"
                    for r, i in zip(out["reference"], out["source_id"], strict=True)]
    return out


def _allocations(batch: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    a = _empty_like(batch.get("ar_payment_allocations"),
                    ["company_id", "payment_id", "target_type", "target_id", "amount"])
    return pd.DataFrame({
        "company_id": _obj(a["company_id"]), "document_type": "payment", "source_id": _obj(a["payment_id"]),
        "target_type": _obj(a["target_type"]), "target_id": _obj(a["target_id"]), "amount": _num(a["amount"]),
    })


def _cn_allocations(batch: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    a = _empty_like(batch.get("ar_credit_note_allocations"),
                    ["company_id", "credit_note_id", "invoice_id", "amount", "allocated_on", "updated_at"])
    out = pd.DataFrame({
        "company_id": _obj(a["company_id"]), "document_type": "credit_note_allocation",
        "credit_note_id": _obj(a["credit_note_id"]), "invoice_id": _obj(a["invoice_id"]),
        "amount": _num(a["amount"]), "allocated_on": a["allocated_on"],
    })
    out["source_id"] = [f"{c}:{i}" for c, i in zip(out["credit_note_id"], out["invoice_id"], strict=True)]
    out["label"] = [f"credit note allocation {s}" for s in out["source_id"]]
    return out


# ------------------------------------------------------------------------------------------- rules


def unknown_customer(docs: pd.DataFrame, known_customers: set) -> pd.DataFrame:
    """The document's customer is neither in today's batch nor known from earlier days."""
    mask = ~_keys(docs, "customer_id").isin(known_customers)
    return _failures(docs, mask, "unknown_customer",
                     lambda r: f"{r.label}: customer {r.customer_id} is not a known customer of company "
                               f"{r.company_id}; add it to ar_customers")


def customer_rejected(docs: pd.DataFrame, rejected_customers: set) -> pd.DataFrame:
    """The document's customer row was rejected today, so the document cannot be pushed either."""
    mask = _keys(docs, "customer_id").isin(rejected_customers)
    return _failures(docs, mask, "customer_rejected",
                     lambda r: f"{r.label}: its customer {r.customer_id} was rejected; fix the customer first")


def invalid_status(docs: pd.DataFrame) -> pd.DataFrame:
    """Status is not one of draft, submitted, void."""
    mask = ~docs["status"].isin(STATUSES)
    return _failures(docs, mask, "invalid_status",
                     lambda r: f"{r.label}: status '{r.status}' is not one of draft, submitted, void")


def void_document(docs: pd.DataFrame, pushed: set) -> pd.DataFrame:
    """A void document that was never pushed: there is nothing to push for it."""
    mask = docs["status"].eq("void") & ~_keys(docs, "document_type", "source_id").isin(pushed)
    return _failures(docs, mask, "void_document",
                     lambda r: f"{r.label}: is void and was never pushed, so it is not sent")


def invalid_currency(docs: pd.DataFrame, column: str = "currency") -> pd.DataFrame:
    """The currency is not an active ISO 4217 code (customers: a default currency given but invalid)."""
    values = docs[column]
    mask = ~values.map(is_iso4217).astype(bool)
    if column == "default_currency":
        mask &= values.notna()
    return _failures(docs, mask, "invalid_currency",
                     lambda r: f"{r.label}: {column} '{getattr(r, column)}' is not an ISO 4217 currency code")


def missing_currency_rate(docs: pd.DataFrame, base: dict[str, str]) -> pd.DataFrame:
    """Foreign-currency document without a positive currency_rate (base = foreign x rate)."""
    company_base = docs["company_id"].map(base)
    foreign = docs["currency"].ne(company_base) | company_base.isna()
    good_rate = docs["currency_rate"].map(lambda v: is_finite_amount(v) and as_decimal(v) > 0).astype(bool)
    mask = foreign & ~good_rate
    return _failures(docs, mask, "missing_currency_rate",
                     lambda r: f"{r.label}: currency {r.currency} differs from the company's base currency "
                               f"{base.get(r.company_id)} but currency_rate is {r.currency_rate}; "
                               "a positive rate (base = foreign x rate) is required")


def invalid_date(docs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A required date is missing or outside 1900-2100."""
    parts = []
    for col in columns:
        problems = docs[col].map(_date_problem)
        mask = problems.notna()
        sub = docs.assign(_p=problems)
        parts.append(_failures(sub, mask, "invalid_date", lambda r, c=col: f"{r.label}: {c} {r._p}"))
    return _concat(parts)


def due_before_issue(docs: pd.DataFrame) -> pd.DataFrame:
    """An invoice falls due before it was issued."""
    mask = docs["document_type"].eq("invoice") & (docs["due_date"] < docs["issue_date"]).fillna(False)
    return _failures(docs, mask, "due_before_issue",
                     lambda r: f"{r.label}: due_date {_day(r.due_date)} is before issue_date {_day(r.issue_date)}")


def _number_key(value: object) -> str | None:
    """How the platform tells numbers apart: its query language compares them case-insensitively
    (CONTRACT §11.6), so ``INV-1`` and ``inv-1 `` are one number there; blank is no number at all."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text.casefold() if text else None


def duplicate_document_number(docs: pd.DataFrame, known: pd.DataFrame, number_col: str = "number") -> pd.DataFrame:
    """Another document of the same type and company (today's or earlier) carries the same number, or
    the document has none. Numbers identify documents in the platform (read-back after an unknown
    outcome finds them by number), so they must be present and unique, ignoring case and spaces."""
    if docs.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    today = docs[["company_id", "document_type", "source_id", number_col]].rename(columns={number_col: "number"})
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
    return _failures(sub, mask, "duplicate_document_number",
                     lambda r: f"{r.label}: has no number" if r._missing else
                     f"{r.label}: number {r._num!r} is already used by {', '.join(map(str, r._others))}")


def no_lines(docs: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """An invoice or credit note without a single line."""
    mask = ~_keys(docs, "document_type", "source_id").isin(set(_keys(lines, "document_type", "source_id")))
    return _failures(docs, mask, "no_lines", lambda r: f"{r.label}: has no lines")


def _line_problems(lines: pd.DataFrame) -> list[str | None]:
    """Per line, what is wrong with its quantity, unit amount or discount (None when all are usable)."""
    out: list[str | None] = []
    for line_no, qty, unit, disc in zip(lines["line_no"], lines["quantity"], lines["unit_amount"],
                                        lines["discount_amount"], strict=True):
        problem = None
        for col, value in (("quantity", qty), ("unit_amount", unit), ("discount_amount", disc)):
            if col == "discount_amount" and value is None:
                continue  # NOT NULL DEFAULT 0: a missing discount is no discount
            p = _amount_problem(value, LINE_INPUT_PLACES)
            if p is None and col == "quantity" and value < 0:
                p = f"{value} is negative (issue a credit note instead)"
            if p is not None:
                problem = f"line {line_no}: {col} {p}"
                break
        out.append(problem)
    return out


def invalid_amount(docs: pd.DataFrame, lines: pd.DataFrame, totals: dict,
                   line_problems: list[str | None]) -> pd.DataFrame:
    """Bad line amounts (missing, NaN, inf, huge, too many decimals, negative quantity) or a total <= 0."""
    labels = dict(zip(_keys(docs, "document_type", "source_id"), docs["label"], strict=True))
    found: dict[tuple, str] = {}
    for key, problem in zip(_keys(lines, "document_type", "source_id"), line_problems, strict=True):
        if problem is not None and key not in found:
            found[key] = problem
    for key, total in totals.items():
        if key not in found and total is not None and total <= 0:
            found[key] = f"document total {total} is not above zero"
    rows = [{"company_id": k[0], "document_type": k[1], "source_id": k[2], "rule": "invalid_amount",
             "message": f"{labels.get(k, k[2])}: {msg}"} for k, msg in found.items() if k in labels]
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def _unmapped(rule: str, kind: str, code_col: str, lines: pd.DataFrame, docs: pd.DataFrame,
              mappings: MappingLookup, optional: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unmapped and broken lines for one mapping kind: (unmapped failures, broken failures)."""
    if lines.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS), pd.DataFrame(columns=REJECT_COLUMNS)
    res = mappings.resolve(lines["company_id"], kind, lines[code_col])
    asked = lines[code_col].notna() if optional else pd.Series(True, index=lines.index)
    labels = dict(zip(_keys(docs, "document_type", "source_id"), docs["label"], strict=True))
    sub = lines.assign(_label=_keys(lines, "document_type", "source_id").map(labels), _issue=res.issue)
    sub = sub[sub["_label"].notna()]
    unmapped = _failures(sub, (res.unmapped & asked)[sub.index], rule,
                         lambda r: f"{r._label}: line {r.line_no}: {code_col} "
                                   f"'{getattr(r, code_col)}' has no {kind} mapping and there is no '*' default; "
                                   f"add one in the mapping screen")
    broken = _failures(sub, (res.broken & asked)[sub.index], "broken_mapping",
                       lambda r: f"{r._label}: line {r.line_no}: {code_col} '{getattr(r, code_col)}' uses a "
                                 f"broken mapping: {r._issue}")
    return unmapped.drop_duplicates(["company_id", "document_type", "source_id"]), \
        broken.drop_duplicates(["company_id", "document_type", "source_id"])


def unmapped_revenue_code(lines, docs, mappings):
    """A line's revenue_code (NULL means the '*' default) has no income_account mapping."""
    return _unmapped("unmapped_revenue_code", "income_account", "revenue_code", lines, docs, mappings, False)


def unmapped_tax_code(lines, docs, mappings):
    """A line's tax_code (when given) has no tax_rate mapping of its own nor a '*' default."""
    return _unmapped("unmapped_tax_code", "tax_rate", "tax_code", lines, docs, mappings, True)


def unmapped_tracking_code(lines, docs, mappings):
    """A line's tracking_code (when given) has no tracking_category mapping nor a '*' default."""
    return _unmapped("unmapped_tracking_code", "tracking_category", "tracking_code", lines, docs, mappings, True)


def broken_mapping(*parts: pd.DataFrame) -> pd.DataFrame:
    """The mapping exists but :func:`receivables.mappings.check_mappings` flagged it (message cites it)."""
    return _concat(parts)


def unmapped_payment_method(payments: pd.DataFrame, mappings: MappingLookup) -> tuple[pd.DataFrame, pd.DataFrame]:
    """No payment_account mapping for the payment's method (NULL means '*') and no default."""
    res = mappings.resolve(payments["company_id"], "payment_account", payments["method"])
    sub = payments.assign(_issue=res.issue)
    unmapped = _failures(sub, res.unmapped, "unmapped_payment_method",
                         lambda r: f"{r.label}: method '{r.method}' has no payment_account mapping and there is "
                                   "no '*' default; add one in the mapping screen")
    broken = _failures(sub, res.broken, "broken_mapping",
                       lambda r: f"{r.label}: method '{r.method}' uses a broken mapping: {r._issue}")
    return unmapped, broken


def missing_fee_account(payments: pd.DataFrame, mappings: MappingLookup) -> pd.DataFrame:
    """A fee is withheld (fee_amount > 0) but there is no usable fee_account mapping."""
    fee = payments["fee_amount"].map(lambda v: is_finite_amount(v) and as_decimal(v) > 0).astype(bool)
    res = mappings.resolve(payments["company_id"], "fee_account", pd.Series(None, index=payments.index, dtype=object))
    sub = payments.assign(_issue=res.issue)
    return _failures(sub, fee & res.platform_id.isna(), "missing_fee_account",
                     lambda r: f"{r.label}: fee_amount {r.fee_amount} needs a fee_account mapping ('*'), but "
                               + (f"it is broken: {r._issue}" if r._issue else "there is none; choose an active "
                                  "Expense account in the mapping screen"))


def allocation_target_unknown(allocs: pd.DataFrame) -> pd.DataFrame:
    """An allocation targets a document that is neither in today's batch nor known from earlier days."""
    return _failures(allocs, allocs["_target_missing"], "allocation_target_unknown",
                     lambda r: f"{r._label}: allocates to {r._target_label}, which is not a known document")


def allocation_customer_mismatch(allocs: pd.DataFrame) -> pd.DataFrame:
    """The target belongs to another customer than the payment (or credit note)."""
    mask = ~allocs["_target_missing"] & allocs["_target_customer"].ne(allocs["_customer"])
    return _failures(allocs, mask, "allocation_customer_mismatch",
                     lambda r: f"{r._label}: {r._target_label} belongs to customer {r._target_customer}, "
                               f"not {r._customer}")


def allocation_currency_mismatch(allocs: pd.DataFrame) -> pd.DataFrame:
    """The target's currency differs from the payment's (or credit note's)."""
    mask = ~allocs["_target_missing"] & allocs["_target_currency"].ne(allocs["_currency"])
    return _failures(allocs, mask, "allocation_currency_mismatch",
                     lambda r: f"{r._label}: {r._target_label} is in {r._target_currency}, not {r._currency}")


def allocation_exceeds_payment(payments: pd.DataFrame, allocated: dict) -> pd.DataFrame:
    """A payment's allocations add up to more than its (absolute) amount."""
    over = [
        is_finite_amount(amt) and allocated.get(k, Decimal(0)) > abs(as_decimal(amt))
        for k, amt in zip(_keys(payments, "source_id"), payments["amount"], strict=True)
    ]
    sub = payments.assign(_alloc=[allocated.get(k, Decimal(0)) for k in _keys(payments, "source_id")])
    return _failures(sub, pd.Series(over, index=payments.index), "allocation_exceeds_payment",
                     lambda r: f"{r.label}: allocations total {r._alloc} but the payment amount is {r.amount}")


def allocation_exceeds_open_amount(events: pd.DataFrame) -> pd.DataFrame:
    """Allocations (payments and credit-note allocations, in date order) overdraw a target's open amount.

    First come first served (:func:`receivables.open_amounts.settle_in_order`): a rejected document
    consumes nothing, so it never makes a later valid allocation look like an overdraw.
    """
    if events.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    ev = events.sort_values(["_date", "_order", "source_id"], kind="mergesort")
    opening = dict(zip(ev["_target"], ev["_open"], strict=True))
    settled = settle_in_order(ev.assign(document=_keys(ev, "document_type", "source_id"), target=ev["_target"],
                                        amount=ev["_amount"]), opening)
    # Name the draw that does not fit (a payment may also allocate to targets that have room).
    over = ~settled["accepted"] & (settled["asked"] > settled["available"]).astype(bool)
    out = _failures(settled, over, "allocation_exceeds_open_amount",
                    lambda r: f"{r._label}: allocates {r._amount} to {r._target_label}, but only "
                              f"{max(r.available, Decimal(0))} of {getattr(r, '_total', r._open)} is still open")
    return out.drop_duplicates(["company_id", "document_type", "source_id"])


# --------------------------------------------------------------------------------------- the gate


def _concat(parts) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REJECT_COLUMNS)


def _first_rule(failures: pd.DataFrame) -> pd.DataFrame:
    """One row per document: its first failing rule by RULE_ORDER, listing the others in the message."""
    if failures.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    f = failures.assign(_rank=failures["rule"].map(_RANK)).sort_values(["_rank"], kind="mergesort")
    others: dict = {}
    for c, d, s, rule in zip(f["company_id"], f["document_type"], f["source_id"], f["rule"], strict=True):
        others.setdefault((c, d, s), {})[rule] = None
    first = f.drop_duplicates(["company_id", "document_type", "source_id"]).copy()
    extra = [list(others[(c, d, s)])[1:] for c, d, s in zip(first["company_id"], first["document_type"],
                                                            first["source_id"], strict=True)]
    first["message"] = [m if not e else f"{m} (also failed: {', '.join(e)})"
                        for m, e in zip(first["message"], extra, strict=True)]
    return first[REJECT_COLUMNS].reset_index(drop=True)


def _document_totals(docs: pd.DataFrame, lines: pd.DataFrame, mappings: MappingLookup,
                     tax_rates: pd.DataFrame | None, line_problems: list[str | None]) -> dict:
    """Rounded document totals keyed (company, type, id); None where a line amount or rate is unusable."""
    if lines.empty:
        return {}
    cur = dict(zip(_keys(docs, "document_type", "source_id"), docs["currency"], strict=True))
    keys = _keys(lines, "document_type", "source_id")
    currency = keys.map(cur)
    rates: dict = {}
    if tax_rates is not None and not tax_rates.empty:
        for c, p, e, t in zip(_obj(tax_rates["company_id"]), _obj(tax_rates["platform_id"]),
                              _obj(tax_rates["effective_tax_rate"]),
                              _obj(tax_rates["total_tax_rate"]) if "total_tax_rate" in tax_rates
                              else [None] * len(tax_rates), strict=True):
            r = e if e is not None else t
            if r is not None:
                rates[(c, p)] = as_decimal(r)
    tax_ids = mappings.resolve(lines["company_id"], "tax_rate", lines["tax_code"]).platform_id
    usable, q, u, d, r, cu = [], [], [], [], [], []
    zero = Decimal(0)
    for comp, cc, tc, tid, qty, unit, disc, problem in zip(
            lines["company_id"], currency, lines["tax_code"], tax_ids, lines["quantity"], lines["unit_amount"],
            lines["discount_amount"], line_problems, strict=True):
        rate = None if tc is None else rates.get((comp, tid))
        ok = problem is None and isinstance(cc, str) and (tc is None or rate is not None)
        usable.append(ok)
        if ok:
            q.append(qty)
            u.append(unit)
            d.append(zero if disc is None else disc)
            r.append(rate)
            cu.append(cc)
    _, _, totals = line_amounts(q, u, round_many(d, cu), r, cu)
    it = iter(totals)
    out: dict = {}
    with localcontext(MONEY_CONTEXT):
        for key, ok in zip(keys, usable, strict=True):
            if not ok:
                out[key] = None  # one unusable line makes the whole document's total unknown
                continue
            line_total = next(it)
            if key not in out:
                out[key] = line_total
            elif out[key] is not None:
                out[key] += line_total
    return out


def validate_batch(
    batch: Mapping[str, pd.DataFrame],
    *,
    companies: pd.DataFrame,
    mappings: MappingLookup,
    tax_rates: pd.DataFrame | None = None,
    known_documents: pd.DataFrame | None = None,
    open_amounts: pd.DataFrame | None = None,
    platform_ids: pd.DataFrame | None = None,
    known_customers: pd.DataFrame | None = None,
) -> ValidationResult:
    """Run every rule over a day's batch; see the module docstring for the decisions taken.

    ``batch`` maps the eight ``ar_*`` table names to frames (missing ones count as empty).
    ``known_documents``: company_id, document_type, source_id, customer_id, currency, total_amount,
    status, rejected (and optionally document_number) for invoices/credit notes of earlier days.
    ``open_amounts``: company_id, document_type, source_id, open_amount before today's allocations.
    ``platform_ids``: company_id, document_type, source_id[, platform_id] of records already pushed.
    ``known_customers``: company_id, customer_id (and optionally name) of customers from earlier days.
    """
    base = dict(zip(_obj(companies["company_id"]), _obj(companies["base_currency"]), strict=True))
    known = _known_documents(known_documents)
    pushed = set(_keys(platform_ids, "document_type", "source_id")) if platform_ids is not None else set()
    earlier_customers = set()
    if known_customers is not None and not known_customers.empty:
        earlier_customers = set(_keys(known_customers, "customer_id"))
    earlier_customers |= {(c, s) for c, t, s in pushed if t == "customer"}

    # --- customers
    customers = _customers(batch)
    cust_fail = _concat([
        invalid_currency(customers, "default_currency"),
        duplicate_document_number(customers, _known_customer_names(known_customers), number_col="name"),
    ])
    cust_rejects = _first_rule(cust_fail)
    rejected_customers = {(c, s) for c, s in zip(cust_rejects["company_id"], cust_rejects["source_id"], strict=True)}
    batch_customers = set(_keys(customers, "customer_id"))
    all_customers = batch_customers | earlier_customers

    # --- invoices and credit notes
    docs, lines = _sales_docs(batch)
    doc_keys = _keys(docs, "document_type", "source_id")
    manual_mask = docs["status"].eq("void") & doc_keys.isin(pushed)
    manual = docs[manual_mask]
    live = docs[~manual_mask]
    line_problems = _line_problems(lines)
    totals = _document_totals(live, lines, mappings, tax_rates, line_problems)
    rev_un, rev_broken = unmapped_revenue_code(lines, live, mappings)
    tax_un, tax_broken = unmapped_tax_code(lines, live, mappings)
    trk_un, trk_broken = unmapped_tracking_code(lines, live, mappings)
    doc_fail = _concat([
        unknown_customer(live, all_customers),
        customer_rejected(live, rejected_customers),
        invalid_status(live),
        void_document(live, pushed),
        invalid_currency(live),
        missing_currency_rate(live, base),
        invalid_date(live[live["document_type"] == "invoice"], ["issue_date", "due_date"]),
        invalid_date(live[live["document_type"] == "credit_note"], ["issue_date"]),
        due_before_issue(live),
        # A rejected earlier document never reached the platform, so its number is free.
        duplicate_document_number(live, known[~known["rejected"].astype(bool)]),
        no_lines(live, lines),
        invalid_amount(live, lines, totals, line_problems),
        rev_un, tax_un, trk_un,
        broken_mapping(rev_broken, tax_broken, trk_broken),
    ])
    doc_rejects = _first_rule(doc_fail)
    rejected_docs = set(_keys(doc_rejects, "document_type", "source_id"))
    live_keys = _keys(live, "document_type", "source_id")
    # Documents whose customer is neither accepted today nor already in the platform cannot be pushed yet.
    ready_customers = (batch_customers - rejected_customers) | {(c, s) for c, t, s in pushed if t == "customer"}
    doc_waiting = pd.DataFrame(
        [{"company_id": k[0], "document_type": k[1], "source_id": k[2],
          "reason": f"{lbl}: waits for customer {cust} to reach the platform"}
         for k, cust, lbl in zip(live_keys, live["customer_id"], live["label"], strict=True)
         if k not in rejected_docs and (k[0], cust) not in ready_customers],
        columns=WAITING_COLUMNS)
    accepted_docs = set(live_keys[~live_keys.isin(rejected_docs)]) - set(
        _keys(doc_waiting, "document_type", "source_id"))

    # Every invoice/credit note anyone may allocate to: today's (with computed totals) and earlier ones.
    targets = _targets(live, totals, known, rejected_docs, accepted_docs, pushed, open_amounts)

    # --- payments and their allocations
    payments = _payments(batch)
    allocs = _allocations(batch)
    pay_info = {k: (cust, cur, lbl, amt) for k, cust, cur, lbl, amt in zip(
        _keys(payments, "source_id"), payments["customer_id"], payments["currency"], payments["label"],
        payments["amount"], strict=True)}
    allocs = _attach_targets(
        allocs, targets,
        owner=[pay_info.get(k, (None, None, None, None)) for k in _keys(allocs, "source_id")],
        target_types=allocs["target_type"], target_ids=allocs["target_id"])
    alloc_bad = _payment_amount_problems(payments, allocs)
    method_un, method_broken = unmapped_payment_method(payments, mappings)
    allocated = _sum_by(allocs, ["company_id", "source_id"])
    pay_fail = _concat([
        unknown_customer(payments, all_customers),
        customer_rejected(payments, rejected_customers),
        invalid_currency(payments),
        missing_currency_rate(payments, base),
        invalid_date(payments, ["paid_on"]),
        alloc_bad,
        method_un,
        broken_mapping(method_broken),
        missing_fee_account(payments, mappings),
        allocation_target_unknown(allocs),
        allocation_customer_mismatch(allocs),
        allocation_currency_mismatch(allocs),
        allocation_exceeds_payment(payments, allocated),
    ])

    # --- credit-note allocations
    cn_allocs = _cn_allocations(batch)
    cn_targets = _attach_targets(
        cn_allocs, targets, owner=[(None, None, None, None)] * len(cn_allocs),
        target_types=pd.Series("invoice", index=cn_allocs.index, dtype=object), target_ids=cn_allocs["invoice_id"])
    cn_side = _attach_targets(
        cn_allocs, targets, owner=[(None, None, None, None)] * len(cn_allocs),
        target_types=pd.Series("credit_note", index=cn_allocs.index, dtype=object),
        target_ids=cn_allocs["credit_note_id"])
    # The credit note is the "owner": the invoice must share its customer and currency.
    cn_targets["_customer"] = cn_side["_target_customer"].to_numpy()
    cn_targets["_currency"] = cn_side["_target_currency"].to_numpy()
    cn_targets["_target_missing"] = cn_targets["_target_missing"].to_numpy() | cn_side["_target_missing"].to_numpy()
    cn_targets["_target_label"] = [
        f"{inv} and {cn}" if m else inv for inv, cn, m in zip(
            cn_targets["_target_label"], cn_side["_target_label"], cn_side["_target_missing"], strict=True)]
    cn_fail = _concat([
        invalid_date(cn_allocs, ["allocated_on"]),
        _cn_amount_problems(cn_targets),
        allocation_target_unknown(cn_targets),
        allocation_customer_mismatch(cn_targets),
        allocation_currency_mismatch(cn_targets),
    ])

    pre_rejects = _first_rule(_concat([pay_fail, cn_fail]))
    pre_rejected = set(_keys(pre_rejects, "document_type", "source_id"))

    # --- waiting: customer or target rejected / not yet in the platform
    accepted_customers = batch_customers - rejected_customers
    waiting = _concat_waiting(
        doc_waiting, _waiting(payments, allocs, cn_targets, cn_side, pre_rejected, accepted_customers, pushed))
    parked = set(_keys(waiting, "document_type", "source_id"))

    # --- open amounts, over what is still going ahead
    events = _open_amount_events(payments, allocs, cn_allocs, cn_targets, cn_side, pre_rejected | parked)
    rejects = _concat([
        cust_rejects, doc_rejects, pre_rejects,
        _first_rule(allocation_exceeds_open_amount(events)),
    ])

    needs_manual = pd.DataFrame({
        "company_id": manual["company_id"].to_numpy(), "document_type": manual["document_type"].to_numpy(),
        "source_id": manual["source_id"].to_numpy(),
        "reason": [f"{lbl}: is void but was already pushed; void it in the accounting platform by hand"
                   for lbl in manual["label"]],
    }, columns=WAITING_COLUMNS)
    return ValidationResult(
        accepted=_accepted(batch, rejects, waiting, needs_manual),
        rejects=rejects.reset_index(drop=True),
        waiting=waiting.reset_index(drop=True),
        needs_manual_action=needs_manual,
    )


# ------------------------------------------------------------------------------ gate internals


def _concat_waiting(*parts: pd.DataFrame) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=WAITING_COLUMNS)


def _known_documents(known: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["company_id", "document_type", "source_id", "customer_id", "currency", "total_amount", "status",
            "rejected", "number"]
    if known is None or known.empty:
        return pd.DataFrame(columns=cols)
    k = pd.DataFrame({c: _obj(known[c]) for c in cols[:-1] if c in known})
    k["rejected"] = known["rejected"].astype("boolean").fillna(False).astype(bool).to_numpy() \
        if "rejected" in known else False
    k["number"] = _obj(known["document_number"]) if "document_number" in known else None
    return k.reindex(columns=cols)


def _known_customer_names(known_customers: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["company_id", "document_type", "source_id", "number"]
    if known_customers is None or known_customers.empty or "name" not in known_customers:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame({"company_id": _obj(known_customers["company_id"]), "document_type": "customer",
                         "source_id": _obj(known_customers["customer_id"]), "number": _obj(known_customers["name"])})


def _targets(live, totals, known, rejected_docs, accepted_docs, pushed, open_amounts) -> dict:
    """(company, type, id) -> dict(customer, currency, label, open, state) for every allocatable document."""
    out: dict = {}
    for r in known.itertuples(index=False):
        key = (r.company_id, r.document_type, r.source_id)
        total = r.total_amount if is_finite_amount(r.total_amount) else Decimal(0)
        out[key] = {"customer": r.customer_id, "currency": r.currency, "open": as_decimal(total),
                    "total": as_decimal(total),
                    "label": f"{_LABEL.get(r.document_type, r.document_type)} "
                             f"{r.number if r.number is not None else r.source_id} (id {r.source_id})",
                    "rejected": bool(r.rejected) or r.status == "void", "pushed": key in pushed,
                    "draft": r.status == "draft"}
    for r, key in zip(live.itertuples(index=False), _keys(live, "document_type", "source_id"), strict=True):
        total = totals.get(key)
        out[key] = {"customer": r.customer_id, "currency": r.currency, "label": r.label,
                    "open": total if total is not None else Decimal(0),
                    "total": total if total is not None else Decimal(0),
                    "rejected": key in rejected_docs or r.status == "void", "draft": r.status == "draft",
                    "pushed": key in pushed or key in accepted_docs}
    if open_amounts is not None and not open_amounts.empty:
        col = "open_amount" if "open_amount" in open_amounts else "amount"
        drawn = _obj(open_amounts["drawn"]) if "drawn" in open_amounts else [None] * len(open_amounts)
        for key, amt, used in zip(_keys(open_amounts, "document_type", "source_id"), _obj(open_amounts[col]),
                                  drawn, strict=True):
            if key not in out:
                continue
            if totals.get(key) is not None and is_finite_amount(used):
                # Edited today: today's total, less what the platform already applied to it.
                out[key]["open"] = totals[key] - as_decimal(used)
            elif is_finite_amount(amt):
                out[key]["open"] = as_decimal(amt)
    return out


def _attach_targets(frame, targets, *, owner, target_types, target_ids) -> pd.DataFrame:
    """Add target facts (_target_* columns) and the owner's customer/currency/label to allocation rows."""
    keys = list(zip(frame["company_id"], target_types, target_ids, strict=True))
    facts = [targets.get(k) for k in keys]
    out = frame.copy()
    out["_target"] = keys
    out["_target_missing"] = pd.Series([f is None or t not in ("invoice", "credit_note") for f, t in
                                        zip(facts, target_types, strict=True)], index=frame.index, dtype=bool)
    out["_target_customer"] = [f["customer"] if f else None for f in facts]
    out["_target_currency"] = [f["currency"] if f else None for f in facts]
    out["_target_label"] = [f["label"] if f else f"{_LABEL.get(t, t)} (id {i})"
                            for f, t, i in zip(facts, target_types, target_ids, strict=True)]
    out["_open"] = [f["open"] if f else Decimal(0) for f in facts]
    out["_total"] = [f["total"] if f else Decimal(0) for f in facts]
    out["_target_rejected"] = pd.Series([bool(f and f["rejected"]) for f in facts], index=frame.index, dtype=bool)
    out["_target_pushed"] = pd.Series([bool(f and f["pushed"]) for f in facts], index=frame.index, dtype=bool)
    out["_target_draft"] = pd.Series([bool(f and f["draft"]) for f in facts], index=frame.index, dtype=bool)
    out["_customer"] = [o[0] for o in owner]
    out["_currency"] = [o[1] for o in owner]
    out["_label"] = [o[2] for o in owner] if "label" not in frame else frame["label"].tolist()
    return out


def _payment_amount_problems(payments: pd.DataFrame, allocs: pd.DataFrame) -> pd.DataFrame:
    """``invalid_amount`` for payments: amount, fee and allocation amounts, and allocation direction."""
    found: dict = {}
    for key, cur, amt, fee in zip(_keys(payments, "source_id"), payments["currency"], payments["amount"],
                                  payments["fee_amount"], strict=True):
        places = minor_units(cur) if isinstance(cur, str) else 2
        problem = _amount_problem(amt, places)
        if problem is None and as_decimal(amt) == 0:
            problem = "0 is not a payment"
        if problem:
            found[key] = f"amount {problem}"
            continue
        fee_problem = _amount_problem(Decimal(0) if fee is None else fee, places)
        if fee_problem is None and as_decimal(fee or 0) < 0:
            fee_problem = f"{fee} is negative"
        if fee_problem:
            found[key] = f"fee_amount {fee_problem}"
    sign = {k: (as_decimal(a) > 0) for k, a in zip(_keys(payments, "source_id"), payments["amount"], strict=True)
            if is_finite_amount(a)}
    for key, ttype, tid, amt, cur in zip(_keys(allocs, "source_id"), allocs["target_type"], allocs["target_id"],
                                         allocs["amount"], allocs["_currency"], strict=True):
        if key in found:
            continue
        places = minor_units(cur) if isinstance(cur, str) else 2
        problem = _amount_problem(amt, places)
        if problem is None and as_decimal(amt) <= 0:
            problem = f"{amt} is not above zero"
        if problem:
            found[key] = f"allocation to {ttype} {tid}: amount {problem}"
        elif key in sign and ttype in ("invoice", "credit_note") and sign[key] != (ttype == "invoice"):
            found[key] = (f"allocation to {ttype} {tid}: a receipt can only settle invoices and a refund "
                          "(negative amount) only credit notes")
    labels = dict(zip(_keys(payments, "source_id"), payments["label"], strict=True))
    rows = [{"company_id": k[0], "document_type": "payment", "source_id": k[1], "rule": "invalid_amount",
             "message": f"{labels[k]}: {m}"} for k, m in found.items() if k in labels]
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def _cn_amount_problems(cn: pd.DataFrame) -> pd.DataFrame:
    problems = []
    for amt, cur in zip(cn["amount"], cn["_currency"], strict=True):
        p = _amount_problem(amt, minor_units(cur) if isinstance(cur, str) else 4)
        if p is None and as_decimal(amt) <= 0:
            p = f"{amt} is not above zero"
        problems.append(p)
    sub = cn.assign(_p=problems)
    return _failures(sub, sub["_p"].notna(), "invalid_amount", lambda r: f"{r._label}: amount {r._p}")


def _sum_by(allocs: pd.DataFrame, cols: list[str]) -> dict:
    out: dict = {}
    for key, amt in zip(zip(*(allocs[c] for c in cols), strict=True), allocs["amount"], strict=True):
        if is_finite_amount(amt):
            out[key] = sum_amounts([out.get(key, Decimal(0)), as_decimal(amt)])
    return out


def _waiting(payments, allocs, cn_targets, cn_side, rejected, accepted_customers, pushed) -> pd.DataFrame:
    rows: dict = {}
    for c, s, cust, lbl in zip(payments["company_id"], payments["source_id"], payments["customer_id"],
                               payments["label"], strict=True):
        if ("payment", s) in rejected or (c, "payment", s) in rejected:
            continue
        if (c, cust) not in accepted_customers and (c, "customer", cust) not in pushed:
            rows[(c, "payment", s)] = f"{lbl}: waits for customer {cust} to reach the platform"
    # Draft documents cannot be paid or credited in the platform (CONTRACT §11.10), so those wait too.
    for c, s, rej, psh, draft, tl, lbl in zip(
            allocs["company_id"], allocs["source_id"], allocs["_target_rejected"], allocs["_target_pushed"],
            allocs["_target_draft"], allocs["_target_label"], allocs["_label"], strict=True):
        key = (c, "payment", s)
        if key in rejected or key in rows:
            continue
        if rej:
            rows[key] = f"{lbl}: waits because {tl} was rejected"
        elif not psh:
            rows[key] = f"{lbl}: waits for {tl} to reach the platform"
        elif draft:
            rows[key] = f"{lbl}: waits until {tl} is submitted (it is a draft)"
    for frame in (cn_targets, cn_side):
        for c, s, rej, psh, draft, tl, lbl, miss in zip(
                frame["company_id"], frame["source_id"], frame["_target_rejected"], frame["_target_pushed"],
                frame["_target_draft"], frame["_target_label"], frame["label"], frame["_target_missing"],
                strict=True):
            key = (c, "credit_note_allocation", s)
            if key in rejected or key in rows or miss:
                continue
            if rej:
                rows[key] = f"{lbl}: waits because {tl} was rejected"
            elif not psh:
                rows[key] = f"{lbl}: waits for {tl} to reach the platform"
            elif draft:
                rows[key] = f"{lbl}: waits until {tl} is submitted (it is a draft)"
    return pd.DataFrame([{"company_id": k[0], "document_type": k[1], "source_id": k[2], "reason": v}
                         for k, v in rows.items()], columns=WAITING_COLUMNS)


def _open_amount_events(payments, allocs, cn_allocs, cn_targets, cn_side, excluded) -> pd.DataFrame:
    """Every draw on a target's open amount by a document still going ahead."""
    paid_on = dict(zip(_keys(payments, "source_id"), payments["paid_on"], strict=True))
    rows = []
    for c, s, t, amt, op, tot, tl, lbl in zip(allocs["company_id"], allocs["source_id"], allocs["_target"],
                                              allocs["amount"], allocs["_open"], allocs["_total"],
                                              allocs["_target_label"], allocs["_label"], strict=True):
        if (c, "payment", s) in excluded or not is_finite_amount(amt):
            continue
        rows.append({"company_id": c, "document_type": "payment", "source_id": s, "_target": t,
                     "_amount": as_decimal(amt), "_open": op, "_total": tot, "_target_label": tl, "_label": lbl,
                     "_date": paid_on.get((c, s)), "_order": 0})
    for frame in (cn_targets, cn_side):
        for c, s, t, amt, op, tot, tl, lbl, day in zip(
                frame["company_id"], frame["source_id"], frame["_target"], frame["amount"], frame["_open"],
                frame["_total"], frame["_target_label"], frame["label"], frame["allocated_on"], strict=True):
            if (c, "credit_note_allocation", s) in excluded or not is_finite_amount(amt):
                continue
            rows.append({"company_id": c, "document_type": "credit_note_allocation", "source_id": s,
                         "_target": t, "_amount": as_decimal(amt), "_open": op, "_total": tot, "_target_label": tl,
                         "_label": lbl, "_date": day, "_order": 1})
    cols = ["company_id", "document_type", "source_id", "_target", "_amount", "_open", "_total", "_target_label",
            "_label", "_date", "_order"]
    ev = pd.DataFrame(rows, columns=cols)
    ev["_date"] = pd.to_datetime(ev["_date"])
    return ev


def _accepted(batch, rejects, waiting, manual) -> dict[str, pd.DataFrame]:
    """The batch tables minus rejected, waiting and manual documents (lines/allocations go with them)."""
    out_keys = set(_keys(rejects, "document_type", "source_id")) | set(_keys(waiting, "document_type", "source_id")) \
        | set(_keys(manual, "document_type", "source_id"))
    spec = {
        "ar_customers": ("customer", "customer_id"),
        "ar_invoices": ("invoice", "invoice_id"),
        "ar_invoice_lines": ("invoice", "invoice_id"),
        "ar_credit_notes": ("credit_note", "credit_note_id"),
        "ar_credit_note_lines": ("credit_note", "credit_note_id"),
        "ar_payments": ("payment", "payment_id"),
        "ar_payment_allocations": ("payment", "payment_id"),
    }
    accepted: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        frame = batch.get(table)
        if frame is None:
            continue
        if table == "ar_credit_note_allocations":
            ids = [(c, "credit_note_allocation", f"{cn}:{inv}") for c, cn, inv in zip(
                _obj(frame["company_id"]), _obj(frame["credit_note_id"]), _obj(frame["invoice_id"]), strict=True)]
        else:
            kind, col = spec[table]
            ids = [(c, kind, s) for c, s in zip(_obj(frame["company_id"]), _obj(frame[col]), strict=True)]
        keep = pd.Series([k not in out_keys for k in ids], index=frame.index, dtype=bool)
        accepted[table] = frame[keep]  # a boolean Series: an empty list would select no *columns*
    return accepted
