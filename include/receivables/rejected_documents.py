"""Which rejected documents a day's report still shows, and what finance needs to see about each.

A document rejected on day R (``ar_rejects``) stays an exception in the report of every later day D
until it is resolved. It is resolved by D when, after R and no later than D:

- it was pushed (its ledger row's business day is after R): the ledger now speaks for it;
- its source row changed again and that later run did not reject it (no later reject row): e.g. a
  payment changed after its push was changed back;
- its source row became ``void``, or was deleted from the warehouse: there is nothing left to push.

Only the latest reject of a document up to D counts, and the report shows it with the rule and message
of that day; its exception id stays the same as long as it stays rejected, and ``first_seen`` is the
first day of the current run of rejections. A void document's own reject (``void_document``) is shown on
its day only: nothing is left to fix. The warehouse keeps only the current source row, so a rerun of a
day before the row's last change cannot tell when it became void (pushes and rejects keep their history,
so those are exact on any rerun). Rejected rows also carry what finance recognises: the
document number (invoice number, credit-note number, payment reference, customer name), the currency
and the source total — the money at stake. Reruns of an old day D see only rejects up to D.

    >>> rejects, facts, first_seen = open_rejects(engine, "c1", date(2026, 3, 4), ledger)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from receivables import extract
from receivables.documents import KIND, KINDS, Outcome, allocation_keys, split_allocation_key
from receivables.mappings import resolve_mappings
from receivables.money import as_decimal, is_finite_amount, line_amounts, round_many, sum_amounts
from receivables.reconcile import exception_ids
from receivables.warehouse import io, schema

T = schema.metadata.tables
KEY = ["company_id", "document_type", "source_id"]
FACT_COLUMNS = [*KEY, "document_number", "customer_id", "currency", "source_total", "source_amount_due",
                "due_date", "in_batch"]

# Kinds with an open balance (invoices, credit notes) total their lines, by the money rules.
_TOTALLED_FROM_LINES = {k.name for k in KINDS if k.amount_due_field and k.lines_table}


def _amounts(values: pd.Series) -> list[Decimal | None]:
    """Exact amounts of a money column, None where a value is missing or not finite."""
    return [as_decimal(v) if is_finite_amount(v) else None for v in values]


def _day(values: pd.Series) -> pd.Series:
    """Days as datetime64 at midnight (one type for every comparison below)."""
    return pd.to_datetime(pd.Series(values, dtype=object)).dt.normalize().astype("datetime64[ns]")


def _business_day(values: pd.Series, timezone: str) -> pd.Series:
    """The business day a naive-UTC ``updated_at`` falls in (WAREHOUSE.md "Batches")."""
    stamps = pd.to_datetime(values)
    if timezone and timezone != "UTC":
        stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None)
    return stamps.dt.normalize().astype("datetime64[ns]")


def _sales_totals(engine, company_id: str, document_type: str, ids: list[str],
                  currency: dict[str, str]) -> dict:
    """Source totals of invoices or credit notes by the money rules (tax included where its rate is known)."""
    kind = KIND[document_type]
    id_column = kind.id_column
    lines = io.read_frame(engine, T[kind.lines_table], where={"company_id": company_id, id_column: ids})
    if lines.empty:
        return {}
    lookup = resolve_mappings(io.read_frame(engine, T["ar_mappings"], where={"company_id": company_id}),
                              io.read_frame(engine, T["ar_mapping_issues"], where={"company_id": company_id}))
    rates_frame = extract.read_reference(engine, [company_id], ["taxRates"])["taxRates"]
    rates = {str(p): as_decimal(r)
             for p, r in zip(rates_frame["platform_id"], rates_frame["effective_tax_rate"], strict=True)
             if is_finite_amount(r)}
    tax_ids = lookup.resolve(lines["company_id"], "tax_rate", lines["tax_code"]).platform_id
    totals: dict[str, Decimal | None] = {}
    usable = []
    for doc, qty, unit, disc in zip(lines[id_column].astype(str), lines["quantity"], lines["unit_amount"],
                                    lines["discount_amount"], strict=True):
        usable.append(doc in currency and all(is_finite_amount(v) for v in (qty, unit)) and
                      (disc is None or pd.isna(disc) or is_finite_amount(disc)))
    rows = lines[np.array(usable, dtype=bool)]  # an array, never a list: a list selects columns
    docs = rows[id_column].astype(str).tolist()
    currencies = [currency[d] for d in docs]
    discounts = [Decimal(0) if d is None or pd.isna(d) else as_decimal(d) for d in rows["discount_amount"]]
    rate_list = [None if pd.isna(code) else rates.get(str(tax_ids[i])) for i, code in
                 zip(rows.index, rows["tax_code"], strict=True)]
    _, _, line_totals = line_amounts([as_decimal(q) for q in rows["quantity"]],
                                     [as_decimal(u) for u in rows["unit_amount"]],
                                     round_many(discounts, currencies), rate_list, currencies)
    by_doc: dict[str, list[Decimal]] = {}
    for doc, total in zip(docs, line_totals, strict=True):
        by_doc.setdefault(doc, []).append(total)
    for doc, parts in by_doc.items():
        totals[doc] = sum_amounts(parts)
    for doc in set(lines[id_column].astype(str)) - set(by_doc):
        totals[doc] = None
    return totals


def _facts(engine, company_id: str, rejects: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Number, currency, total, due date, status and last-change day of each rejected document's source
    row."""
    frames = []
    for document_type, group in rejects.groupby("document_type"):
        ids = group["source_id"].astype(str).tolist()
        if document_type == "credit_note_allocation":
            frames.append(_allocation_facts(engine, company_id, ids, timezone))
            continue
        kind = KIND.get(document_type)
        if kind is None or not kind.id_column:
            continue
        id_column, number_column = kind.id_column, kind.number_column
        rows = io.read_frame(engine, T[kind.table], where={"company_id": company_id, id_column: ids})
        frame = pd.DataFrame({
            "company_id": company_id, "document_type": document_type,
            "source_id": rows[id_column].astype(str),
            "document_number": rows[number_column],
            "customer_id": rows["customer_id"] if document_type != "customer" else rows[id_column],
            "currency": rows["currency"] if "currency" in rows else None,
            "due_date": rows["due_date"] if "due_date" in rows else None,
            "status": rows["status"] if "status" in rows else None,
            "changed_on": _business_day(rows["updated_at"], timezone),
        })
        if document_type in _TOTALLED_FROM_LINES:
            currency = dict(zip(frame["source_id"], frame["currency"], strict=True))
            totals = _sales_totals(engine, company_id, document_type, ids, currency)
            frame["source_total"] = pd.Series([totals.get(i) for i in frame["source_id"]], index=frame.index,
                                              dtype=object)
        elif kind.amount_column:
            frame["source_total"] = _amounts(rows[kind.amount_column])
        else:
            frame["source_total"] = None
        frames.append(frame)
    columns = [*KEY, "document_number", "customer_id", "currency", "due_date", "status", "changed_on",
               "source_total", "found"]
    frames = [f.assign(found=True)[columns] for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _allocation_facts(engine, company_id: str, ids: list[str], timezone: str) -> pd.DataFrame:
    """Credit-note allocations (source id ``<credit_note_id>:<invoice_id>``) named by their two numbers."""
    pairs = [split_allocation_key(i) for i in ids if split_allocation_key(i)[1]]
    note_ids, invoice_ids = sorted({p[0] for p in pairs}), sorted({p[1] for p in pairs})
    allocations = io.read_frame(engine, T["ar_credit_note_allocations"],
                                where={"company_id": company_id, "credit_note_id": note_ids})
    allocations = allocations.assign(source_id=allocation_keys(allocations["credit_note_id"],
                                                               allocations["invoice_id"]))
    allocations = allocations[allocations["source_id"].isin(ids)]
    notes = io.read_frame(engine, T["ar_credit_notes"],
                          where={"company_id": company_id, "credit_note_id": note_ids})
    invoices = io.read_frame(engine, T["ar_invoices"],
                             where={"company_id": company_id, "invoice_id": invoice_ids})
    note_number = dict(zip(notes["credit_note_id"].astype(str), notes["credit_note_number"], strict=True))
    note_currency = dict(zip(notes["credit_note_id"].astype(str), notes["currency"], strict=True))
    note_customer = dict(zip(notes["credit_note_id"].astype(str), notes["customer_id"], strict=True))
    invoice_number = dict(zip(invoices["invoice_id"].astype(str), invoices["invoice_number"], strict=True))
    cn, inv = allocations["credit_note_id"].astype(str), allocations["invoice_id"].astype(str)
    return pd.DataFrame({
        "company_id": company_id, "document_type": "credit_note_allocation",
        "source_id": allocations["source_id"],
        "document_number": [f"{note_number.get(c, c)} → {invoice_number.get(i, i)}"
                            for c, i in zip(cn, inv, strict=True)],
        "customer_id": cn.map(note_customer), "currency": cn.map(note_currency), "due_date": None,
        "status": None, "changed_on": _business_day(allocations["updated_at"], timezone),
        "source_total": _amounts(allocations["amount"]),
    })


def open_rejects(engine, company_id: str, business_date: date, ledger: pd.DataFrame, *,
                 timezone: str = "UTC") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The rejects day D's report shows (see the module docstring), their source facts, and first sightings.

    Returns ``(rejects, facts, first_seen)``: rejects in ``ar_rejects``' shape (one per document, its latest
    up to D); facts shaped as :func:`receivables.reconcile.reconcile`'s ``source_docs`` (document number,
    currency, source total; no amount due: a rejected document is not in the platform's books); and
    ``exception_id`` / ``first_seen_date`` rows for reconcile's ``previous_exceptions``.
    """
    empty = (pd.DataFrame(columns=[*KEY, "rule", "message"]), pd.DataFrame(columns=FACT_COLUMNS),
             pd.DataFrame(columns=["exception_id", "first_seen_date"]))
    history = io.read_frame(engine, T["ar_rejects"], where={"company_id": company_id})
    if history.empty:
        return empty
    day = pd.Timestamp(business_date)
    history = history.assign(day=_day(history["business_date"]), source_id=history["source_id"].astype(str))
    history = history[history["day"] <= day]
    if history.empty:
        return empty
    latest = history.sort_values("day", kind="stable").drop_duplicates(KEY, keep="last")
    latest = latest.reset_index(drop=True)
    merged = latest.merge(_facts(engine, company_id, latest, timezone), on=KEY, how="left",
                          suffixes=("", "_source"))
    pushed_on = (ledger.assign(source_id=ledger["source_id"].astype(str))
                 .set_index(["document_type", "source_id"])["business_date"]
                 if len(ledger) else pd.Series(dtype=object))
    still = merged[~_resolved(merged, pushed_on, day)].reset_index(drop=True)
    if still.empty:
        return empty
    out = pd.DataFrame({
        "company_id": still["company_id"], "document_type": still["document_type"],
        "source_id": still["source_id"],
        "document_number": still["document_number"], "customer_id": still["customer_id"],
        "currency": still["currency"], "source_total": still["source_total"].astype(object),
        "source_amount_due": None, "due_date": still["due_date"], "in_batch": still["day"] == day,
    })
    out["source_total"] = out["source_total"].where(out["source_total"].notna(), None)
    return (still[[*KEY, "rule", "message"]].reset_index(drop=True), out[FACT_COLUMNS].reset_index(drop=True),
            _first_seen(history, still, pushed_on, day))


def _resolved(merged: pd.DataFrame, pushed_on: pd.Series, day: pd.Timestamp) -> pd.Series:
    """Per latest reject: resolved by D (pushed, changed again, voided or deleted after it), as booleans."""
    keys = list(zip(merged["document_type"], merged["source_id"], strict=True))
    pushed = _day(pd.Series([pushed_on.get(k) for k in keys], index=merged.index, dtype=object))
    carried = merged["day"] < day

    def after_reject(days: pd.Series) -> pd.Series:
        return (days.notna() & (days > merged["day"]) & (days <= day)).astype(bool)

    gone = merged["found"].isna()
    changed_on = _day(merged["changed_on"])
    voided = (merged["status"].astype("string").str.lower() == "void").fillna(False).astype(bool) & \
        (changed_on.isna() | (changed_on <= day)).astype(bool)
    return (carried & (after_reject(pushed) | after_reject(changed_on) | voided | gone)).astype(bool)


def _first_seen(history: pd.DataFrame, still: pd.DataFrame, pushed_on: pd.Series,
                day: pd.Timestamp) -> pd.DataFrame:
    """The current run of rejections began on the first reject day after the last fix (push) or change."""
    streak = history.merge(still[[*KEY, "day"]].rename(columns={"day": "latest"}), on=KEY)
    keys = zip(streak["document_type"], streak["source_id"], strict=True)
    push_day = _day(pd.Series([pushed_on.get(k) for k in keys], index=streak.index, dtype=object))
    streak = streak[(push_day.isna() | (streak["day"] > push_day) | (push_day > day)).astype(bool)]
    first = streak.groupby(KEY, as_index=False)["day"].min()
    return pd.DataFrame({
        "exception_id": exception_ids(first["company_id"], first["document_type"], first["source_id"],
                                      pd.Series(Outcome.REJECTED.value, index=first.index)),
        "first_seen_date": first["day"],
    })
