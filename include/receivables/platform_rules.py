"""The platform's own rules, checked in the gate: what each connection's push model says it accepts.

Codat's one model spans Xero, QuickBooks Online, NetSuite, Sage…, but each platform still refuses what
it cannot hold: a 22-character document number on QuickBooks Online, a line without a tax rate, a
currency the ledger has not enabled, a status it does not take, an update where it only creates. The
connection publishes these rules (``ar_ref_push_options``, see :mod:`receivables.push_options`);
:func:`check` applies them to the gate's normalised frames before anything is pushed, so finance reads
"invoice INV-1 (id i1): QuickBooks Online allows at most 21 characters in a document number" in the
morning instead of a push failure, night after night.

    >>> failures = check(normalised, options, pushed={("c1", "invoice", "i1")})
    >>> failures[["document_type", "source_id", "rule", "platform_name", "field", "message"]]

Decisions:
- Only what the model describes is checked, and only for the fields this pipeline sends (:data:`FIELDS`:
  each names the model's property paths and the batch column whose value is sent). A field the model
  does not mention is left to the platform: a rule it does not publish still fails at push.
- "Required" means required on every enclosing property too (``always_required``): a tax rate id that is
  required *within* an optional ``taxRateRef`` does not make a tax rate required.
- A connection whose model is not published (404, error, empty) contributes no rule at all.
- A platform that cannot update (the model's own validation says so) rejects a document that is already
  in the platform and is back in the batch because it changed — once, on the day it changed, with the
  advice to change it there by hand — instead of a refused update every night.
- Several broken rules of one document make one failure whose message lists them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from receivables.documents import KIND

RULE = "platform_rule"
COLUMNS = ["company_id", "document_type", "source_id", "rule", "message", "platform_name", "field"]
# The statuses this pipeline sends, as transform writes them (a void document is never pushed).
SENT_STATUS = {"draft": "Draft", "submitted": "Submitted"}


@dataclass(frozen=True)
class Rule:
    """What one property of a push model demands."""

    required: bool
    max_length: int | None
    allowed: tuple[str, ...] | None


@dataclass(frozen=True)
class Field:
    """One value this pipeline sends, where the platform's model describes it, and how finance fixes it."""

    data_type: str                  # the Codat model describing it
    paths: tuple[str, ...]          # its property paths in that model (the first one published applies)
    kind: str                       # the document_type of the rows it is checked on
    frame: str                      # the attribute of the gate's normalised frames holding those rows
    value: Callable[[pd.DataFrame], pd.Series]  # the value as sent, per row
    label: str                      # how finance calls it
    fix: str                        # where to change it
    may_be_missing: bool = True     # False: always sent, so "required" cannot fail
    per_line: bool = False


def _column(name: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda rows: rows[name] if name in rows else pd.Series(_ABSENT, index=rows.index, dtype=object)


_ABSENT = object()  # a column the frames do not have: nothing is known, so nothing is checked


def _status(rows: pd.DataFrame) -> pd.Series:
    return rows["status"].map(lambda s: SENT_STATUS.get(str(s).lower()) if isinstance(s, str) else None)


def _reference(rows: pd.DataFrame) -> pd.Series:
    return rows["reference"].where(rows["reference"].notna(), rows["source_id"]).astype(object)


def _fee_text(prefix: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda rows: prefix + _reference(rows).astype(str)


def _payment_links(rows: pd.DataFrame, allocations: pd.DataFrame) -> pd.Series:
    """The link types a payment's lines carry, as transform builds them (see ``payments_to_payloads``)."""
    links: dict[tuple, list[str]] = {}
    settled: dict[tuple, Decimal] = {}
    for c, s, t, amount in zip(allocations["company_id"], allocations["source_id"],
                               allocations["target_type"], allocations["amount"], strict=True):
        is_invoice = t == "invoice"
        links.setdefault((c, s), []).append("Invoice" if is_invoice else "CreditNote")
        settled[(c, s)] = settled.get((c, s), Decimal(0)) + (_decimal(amount) * (1 if is_invoice else -1))
    out = []
    for c, s, amount in zip(rows["company_id"], rows["source_id"], rows["amount"], strict=True):
        types = links.get((c, s), [])
        if not types or _decimal(amount) != settled.get((c, s), Decimal(0)):
            types = [*types, "PaymentOnAccount"]
        out.append(tuple(dict.fromkeys(types)))
    return pd.Series(out, index=rows.index, dtype=object)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)  # an unusable amount is the gate's own rule (invalid_amount)


def _sales_fields(kind: str, data_type: str, number_field: str) -> tuple[Field, ...]:
    k = KIND[kind]
    return (
        Field(data_type, (number_field,), kind, "docs", _column("number"), "document number",
              f"{k.number_column} in {k.table}", may_be_missing=False),
        Field(data_type, ("currency",), kind, "docs", _column("currency"), "currency",
              f"currency in {k.table}"),
        Field(data_type, ("status",), kind, "docs", _status, "status", f"status in {k.table}",
              may_be_missing=False),
        Field(data_type, ("note",), kind, "docs", _column("note"), "note", f"note in {k.table}"),
        Field(data_type, ("lineItems.description",), kind, "lines", _column("description"),
              "line description", f"description in {k.lines_table}", per_line=True),
        Field(data_type, ("lineItems.taxRateRef.id", "lineItems.taxRateRef"), kind, "lines",
              _column("tax_code"), "tax rate on every line",
              f"tax_code in {k.lines_table} (mapped to a tax rate)", per_line=True),
        Field(data_type, ("lineItems.tracking.categoryRefs", "lineItems.tracking",
                          "lineItems.trackingCategoryRefs"), kind, "lines", _column("tracking_code"),
              "tracking category on every line",
              f"tracking_code in {k.lines_table} (mapped to a tracking category)", per_line=True),
    )


FIELDS: tuple[Field, ...] = (
    Field("customers", ("customerName",), "customer", "customers", _column("name"), "customer name",
          "name in ar_customers"),
    Field("customers", ("emailAddress",), "customer", "customers", _column("email"), "email address",
          "email in ar_customers"),
    Field("customers", ("defaultCurrency",), "customer", "customers", _column("default_currency"),
          "customer currency", "default_currency in ar_customers"),
    *_sales_fields("invoice", "invoices", "invoiceNumber"),
    Field("invoices", ("dueDate",), "invoice", "docs", _column("due_date"), "due date",
          "due_date in ar_invoices"),
    *_sales_fields("credit_note", "creditNotes", "creditNoteNumber"),
    Field("payments", ("reference",), "payment", "payments", _reference, "payment reference",
          "reference in ar_payments", may_be_missing=False),
    Field("payments", ("currency",), "payment", "payments", _column("currency"), "currency",
          "currency in ar_payments"),
    Field("payments", ("lines.links.type",), "payment", "payments", _column("_links"),
          "payment links of type", "ar_payment_allocations", may_be_missing=False),
    Field("payments", ("lines.links.type",), "credit_note_allocation", "cn_allocations",
          lambda rows: pd.Series([("Invoice", "CreditNote")] * len(rows), index=rows.index, dtype=object),
          "credit note allocation", "ar_credit_note_allocations", may_be_missing=False),
    Field("payments", ("reference",), "credit_note_allocation", "cn_allocations", _column("source_id"),
          "payment reference (credit note id:invoice id)", "the credit note's or invoice's id",
          may_be_missing=False),
    # A payment's fee goes as a direct cost: its rules are the payment's to meet.
    Field("directCosts", ("reference",), "payment", "fees", _reference, "fee reference",
          "reference in ar_payments", may_be_missing=False),
    Field("directCosts", ("currency",), "payment", "fees", _column("currency"), "fee currency",
          "currency in ar_payments"),
    Field("directCosts", ("note",), "payment", "fees", _fee_text("Payment fee withheld from payment "),
          "fee note", "reference in ar_payments", may_be_missing=False),
    Field("directCosts", ("lineItems.description",), "payment", "fees", _fee_text("Payment fee for "),
          "fee description", "reference in ar_payments", may_be_missing=False),
)


# -- the published rules ---------------------------------------------------------------------------------

def _published(options: pd.DataFrame | None) -> pd.DataFrame:
    if options is None or options.empty:
        return pd.DataFrame(columns=["company_id", "data_type", "property_path"])
    return options[options["published"].astype("boolean").fillna(False).astype(bool)]


def _flag(value: Any) -> bool:
    return bool(value) if value is not None and not pd.isna(value) else False


def rules(options: pd.DataFrame | None) -> dict[tuple[str, str, str], Rule]:
    """(company_id, data_type, property_path) → what the published model demands there."""
    published = _published(options)
    out: dict[tuple[str, str, str], Rule] = {}
    for row in published.to_dict("records"):
        allowed, limit = row.get("allowed_values"), row.get("max_length")
        out[(str(row["company_id"]), row["data_type"], row["property_path"])] = Rule(
            required=_flag(row.get("always_required")),
            max_length=None if limit is None or pd.isna(limit) else int(limit),
            allowed=tuple(json.loads(allowed)) if isinstance(allowed, str) else None)
    return out


def platform_names(options: pd.DataFrame | None) -> dict[str, str]:
    """company_id → the platform's name as its connection gives it."""
    if options is None or options.empty:
        return {}
    named = options[options["platform_name"].notna()]
    return dict(zip(named["company_id"].astype(str), named["platform_name"].astype(str), strict=True))


def _rule_for(table: dict, company_id: str, field: Field) -> Rule | None:
    return next((table[(company_id, field.data_type, p)] for p in field.paths
                 if (company_id, field.data_type, p) in table), None)


# -- checking -------------------------------------------------------------------------------------------

def _blank(value: Any) -> bool:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return True
    return isinstance(value, str) and not value.strip()


def _problem(field: Field, rule: Rule, value: Any, platform: str) -> str | None:
    """Why ``value`` breaks ``rule`` (None when it does not), as a sentence finance can act on."""
    if value is _ABSENT:
        return None
    if _blank(value):
        needed = rule.required and field.may_be_missing
        return f"{platform} requires {_a(field.label)}: fill {field.fix}" if needed else None
    if rule.max_length is not None and isinstance(value, str) and len(value) > rule.max_length:
        return (f"{platform} allows at most {rule.max_length} characters in {_a(field.label)} (this one has "
                f"{len(value)}): shorten {field.fix}")
    if rule.allowed is not None:
        refused = [v for v in (value if isinstance(value, tuple) else (value,)) if str(v) not in rule.allowed]
        if refused and field.kind == "credit_note_allocation":
            return (f"{platform} accepts payment links of type {', '.join(rule.allowed)} only, so a credit "
                    f"note cannot be applied to an invoice through a payment there: apply it in {platform} "
                    "by hand")
        if refused:
            return (f"{platform} accepts {field.label} {', '.join(rule.allowed)} only, not "
                    f"{', '.join(map(str, refused))}: change {field.fix}")
    return None


def _rows(frames: Any, field: Field) -> pd.DataFrame:
    """The rows ``field`` is checked on: its kind's rows of its frame (fees: payments with a fee)."""
    if field.frame == "fees":
        rows = frames.payments
        fee = rows["fee_amount"].map(_decimal) if len(rows) else rows.get("fee_amount")
        rows = rows[(fee > 0).astype(bool)] if len(rows) else rows
    else:
        rows = getattr(frames, field.frame)
    if len(rows) and "document_type" in rows:
        rows = rows[rows["document_type"] == field.kind]
    if field.frame == "payments" and len(rows):
        rows = rows.assign(_links=_payment_links(rows, frames.allocations))
    return rows


def _field_failures(rows: pd.DataFrame, field: Field, table: dict, platforms: dict[str, str]) -> list[dict]:
    if rows.empty:
        return []
    found = []
    # Not rows.groupby(a Series): pandas first tries the Series as a column label, and the failed lookup
    # formats the whole Series for its error message (~13 % of this function's time, per field).
    companies = rows["company_id"].astype(str)
    several = companies.nunique() > 1  # a company's sync checks its own rows only: no split to make
    for company_id in companies.unique():
        rule = _rule_for(table, company_id, field)
        if rule is None:
            continue
        group = rows[(companies == company_id).to_numpy()] if several else rows
        platform = platforms.get(company_id, "the accounting platform")
        lines = group["line_no"].tolist() if field.per_line else [None] * len(group)
        # Lists, not the columns themselves: iterating an Arrow-backed column makes a scalar per row.
        columns = (group["document_type"].tolist(), group["source_id"].tolist(), field.value(group).tolist())
        for doc_type, source_id, value, line_no in zip(*columns, lines, strict=True):
            problem = _problem(field, rule, value, platform)
            if problem:
                where = f" (line {line_no})" if line_no is not None else ""
                found.append({"company_id": company_id, "document_type": doc_type, "source_id": source_id,
                              "platform_name": platform, "field": field.paths[0],
                              "message": problem.replace(": ", f"{where}: ", 1) if where else problem})
    return found


def _update_failures(frames: Any, options: pd.DataFrame, pushed: Iterable[tuple],
                     platforms: dict[str, str]) -> list[dict]:
    """Documents already in a platform that only creates, back in the batch because they changed."""
    published = _published(options)
    roots = published[(published["property_path"] == "")
                      & (published["update_supported"].astype("boolean") == False)]  # noqa: E712 (NA-safe)
    create_only = set(zip(roots["company_id"].astype(str), roots["data_type"], strict=True))
    in_platform = {(str(c), t, str(s)) for c, t, s in pushed}
    found = []
    for frame, kinds in (("customers", ("customer",)), ("docs", ("invoice", "credit_note"))):
        rows = getattr(frames, frame)
        for c, t, s in zip(rows["company_id"].astype(str), rows["document_type"],
                           rows["source_id"].astype(str), strict=True):
            kind = KIND[t] if t in kinds else None
            if kind is None or (c, kind.data_type) not in create_only or (c, t, s) not in in_platform:
                continue
            platform = platforms.get(c, "the accounting platform")
            found.append({"company_id": c, "document_type": t, "source_id": s, "platform_name": platform,
                          "field": "(update)", "message": (
                              f"{platform} cannot update {_a(kind.label)} once it is created, and this one "
                              f"is already there, so today's change was not sent: make the change in "
                              f"{platform} by hand (or void it there and issue a new {kind.label})")})
    return found


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _labels(frames: Any) -> dict[tuple, str]:
    out: dict[tuple, str] = {}
    for name in ("customers", "docs", "payments", "cn_allocations"):
        rows = getattr(frames, name)
        if len(rows) and "label" in rows:
            keys = zip(rows["company_id"].astype(str).tolist(), rows["document_type"].tolist(),
                       rows["source_id"].astype(str).tolist(), strict=True)
            out.update(zip(keys, rows["label"].tolist(), strict=True))
    return out


def _one_per_document(found: list[dict], labels: dict[tuple, str]) -> pd.DataFrame:
    """One failure per document: its label, then each broken field once (the first line that breaks it)."""
    if not found:
        return pd.DataFrame(columns=COLUMNS)
    merged: dict[tuple, dict] = {}
    for f in found:
        key = (f["company_id"], f["document_type"], str(f["source_id"]))
        entry = merged.setdefault(key, {**f, "source_id": key[2], "_fields": {}})
        entry["_fields"].setdefault(f["field"], []).append(f["message"])
    rows = []
    for key, entry in merged.items():
        texts = [m[0] + (f" (and {len(m) - 1} more line(s))" if len(m) > 1 else "")
                 for m in entry["_fields"].values()]
        label = labels.get(key, f"{KIND[key[1]].label if key[1] in KIND else key[1]} (id {key[2]})")
        rows.append({**{k: entry[k] for k in ("company_id", "document_type", "source_id", "platform_name")},
                     "rule": RULE, "field": ", ".join(entry["_fields"]),
                     "message": f"{label}: " + "; ".join(texts)})
    return pd.DataFrame(rows, columns=COLUMNS)


def check(frames: Any, options: pd.DataFrame | None, *,
          pushed: Iterable[tuple] = frozenset()) -> pd.DataFrame:
    """Every document of the gate's normalised ``frames`` that breaks a rule its connection publishes.

    ``frames``: the gate's normalised view (``customers``, ``docs``, ``lines``, ``payments``,
    ``allocations``, ``cn_allocations``; a column it lacks is not checked). ``options``: the company's
    rows of ``ar_ref_push_options`` (None or empty: no rule). ``pushed``: (company_id, document_type,
    source_id) of documents already in the platform. Returns :data:`COLUMNS`, rule ``platform_rule``.
    """
    table = rules(options)
    if not table:
        return pd.DataFrame(columns=COLUMNS)
    platforms = platform_names(options)
    # A field no company's model says anything about cannot fail: its rows are not even gathered.
    ruled = {(data_type, path) for _, data_type, path in table}
    gathered: dict[tuple[str, str], pd.DataFrame] = {}  # several fields are checked on the same rows

    def rows_for(field: Field) -> pd.DataFrame:
        key = (field.frame, field.kind)
        if key not in gathered:
            gathered[key] = _rows(frames, field)
        return gathered[key]

    found = [f for field in FIELDS if any((field.data_type, p) in ruled for p in field.paths)
             for f in _field_failures(rows_for(field), field, table, platforms)]
    found += _update_failures(frames, options, pushed, platforms)
    return _one_per_document(found, _labels(frames))
