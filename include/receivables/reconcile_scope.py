"""One company's reconciliation of one business day: what it covers, read from the warehouse and the platform.

:mod:`receivables.reconcile` compares frames and does no I/O; this module reads them. The platform is
read back first (each data type refreshed before it is listed:
:func:`receivables.extract.refresh_platform_documents`),
then day D's scope is taken from the ledger and the warehouse, and the day's rows are replaced:

    >>> reconcile_day(client, engine, company_id="c1", connection_id="k1", business_date=date(2026, 3, 2),
    ...               run_id="run-1", settings=settings)
    {'company_id': 'c1', 'outcomes': {'matched': 41, 'pending': 2}, 'read_back': {...}, 'stale_read_back': {}}

In scope (WAREHOUSE.md "ar_reconciliation"): documents pushed for D, documents of D or earlier still
unresolved or open, and rejects still open on D (:mod:`receivables.rejected_documents`). Later days'
documents never appear in an earlier day's report, so rerunning an old day gives the report it gave the
first time. A data type whose refresh did not complete is read as cached: a document pushed since and
not shown is ``pending`` with that reason, never ``missing`` nor quietly matched.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from receivables import company_state, extract, open_amounts
from receivables.batches import business_day_window
from receivables.documents import READ_BACK, LedgerStatus
from receivables.push import Ledger
from receivables.reconcile import Reconciliation, reconcile
from receivables.rejected_documents import open_rejects
from receivables.settings import SyncSettings
from receivables.warehouse import io, schema, selects

log = logging.getLogger("receivables")

T = schema.metadata.tables

PLATFORM_COLUMNS = ["company_id", "document_type", "platform_id", "document_number", "customer_platform_id",
                    "currency", "platform_total", "platform_amount_due", "platform_status", "is_deleted",
                    "synced_customer", "due_date"]
SOURCE_COLUMNS = ["company_id", "document_type", "source_id", "document_number", "customer_id", "currency",
                  "source_total", "source_amount_due", "due_date", "in_batch"]


def reconcile_day(client, engine, *, company_id: str, connection_id: str, business_date: date, run_id: str,
                  settings: SyncSettings) -> dict[str, Any]:
    """Read back, scope, compare and replace the day's ``ar_reconciliation`` rows (module docstring)."""
    started = time.monotonic()
    ledger = Ledger(engine).load(company_id)
    read_back = extract.refresh_platform_documents(client, engine, company_id=company_id,
                                                   connection_id=connection_id, now=_utc_now())
    log.info("company %s: read back %d changed platform record(s) %s", company_id, sum(read_back.values()),
             dict(read_back))
    stale = {READ_BACK[data_type].name: why for data_type, why in read_back.stale.items()}
    result = reconcile(report_date=business_date, run_id=run_id, stale_read_back=stale,
                       tolerance_minor_units=settings.amount_tolerance_minor_units,
                       **_inputs(engine, company_id, business_date, ledger, timezone=settings.timezone))
    _replace_day(engine, company_id, business_date, result)
    counts = result.rows["outcome"].value_counts().to_dict()
    log.info("company %s, %s: reconciled %d document(s) in %.1fs — %s", company_id, business_date,
             len(result.rows), time.monotonic() - started, counts)
    return {"company_id": company_id, "outcomes": counts, "read_back": dict(read_back),
            "stale_read_back": dict(read_back.stale)}


def _inputs(engine, company_id: str, business_date: date, ledger: pd.DataFrame, *,
            timezone: str) -> dict[str, pd.DataFrame]:
    """The frames :func:`receivables.reconcile.reconcile` compares, for one company and day D."""
    pushed = ledger[ledger["platform_id"].notna()]
    synced = set(pushed.loc[pushed["document_type"] == "customer", "platform_id"])
    allocations = set(pushed.loc[pushed["document_type"] == "credit_note_allocation", "platform_id"])
    # Rejects stay in every later day's report until the document is pushed, changed or voided.
    rejects, rejected_facts, rejected_since = open_rejects(engine, company_id, business_date, ledger,
                                                           timezone=timezone)
    # The earlier nights' exceptions, one row each: every earlier report row of the company, read
    # whole, grew with each night the company ran.
    previous = io.read_frame(engine, selects.first_sightings(T["ar_reconciliation"], company_id,
                                                             business_date))
    pushed_on = pd.to_datetime(ledger["business_date"]).dt.date
    last_synced = pushed_on.max() if pushed_on.notna().any() else business_date
    source = source_documents(engine, company_id, business_date, ledger, timezone=timezone,
                              amounts_as_of=last_synced)
    # Rejected documents first: where the ledger knows a document too, its facts win (reconcile keeps
    # the last).
    source = pd.concat([rejected_facts, source], ignore_index=True) if len(rejected_facts) else source
    # Later days' unresolved rows are not D's business; their successes still explain platform records.
    as_of = (ledger["status"] == LedgerStatus.SUCCESS) | pushed_on.isna() | (pushed_on <= business_date)
    return {
        "source_docs": source, "ledger": ledger[as_of], "rejects": rejects,
        "platform_docs": platform_documents(engine, company_id, synced, allocations),
        "previous_exceptions": pd.concat([previous, rejected_since], ignore_index=True),
    }


def _replace_day(engine, company_id: str, business_date: date, result: Reconciliation) -> None:
    where = {"company_id": company_id, "report_date": business_date}
    io.replace_rows(engine, T["ar_reconciliation"], result.rows, where=where)
    io.replace_rows(engine, T["ar_reconciliation_summary"], result.summary, where=where)


def platform_documents(engine, company_id: str, synced_customers: set[str],
                       allocation_ids: set[str] = frozenset()) -> pd.DataFrame:
    """What the platform holds for a company (``ar_platform_documents``), shaped for reconciliation.

    Each data type is reported under its registry kind (:data:`receivables.documents.READ_BACK`).
    Credit-note allocations are zero-total payments in the platform; the ones we pushed
    (``allocation_ids``) are reported under their own document type.
    """
    docs = io.read_frame(engine, T["ar_platform_documents"], where={"company_id": company_id})
    document_type = docs["data_type"].map({data_type: kind.name for data_type, kind in READ_BACK.items()})
    is_allocation = (document_type == "payment") & docs["platform_id"].isin(list(allocation_ids))
    out = pd.DataFrame({
        "company_id": docs["company_id"],
        "document_type": document_type.where(~is_allocation, "credit_note_allocation"),
        "platform_id": docs["platform_id"], "document_number": docs["document_number"],
        "customer_platform_id": docs["customer_platform_id"], "currency": docs["currency"],
        "platform_total": docs["total_amount"], "platform_amount_due": docs["amount_due"],
        "platform_status": docs["status"], "is_deleted": docs["is_deleted"].astype(bool),
        "synced_customer": docs["customer_platform_id"].isin(list(synced_customers)),
        "due_date": docs["due_date"],
    })
    return out[PLATFORM_COLUMNS].reset_index(drop=True)


def source_documents(engine, company_id: str, business_date: date, ledger: pd.DataFrame, *,
                     timezone: str = "UTC", amounts_as_of: date | None = None) -> pd.DataFrame:
    """What the source says about the documents of day D's report (the scope in the module docstring).

    In scope: documents pushed for D (``in_batch``), and documents of D or earlier that are still
    unresolved (last push not final) or open (an invoice or credit note with an amount still due).

    ``source_amount_due`` = total minus the allocations the platform applied (ledger ``success``,
    :mod:`receivables.open_amounts`) in the batches up to ``amounts_as_of`` (the last day synced when an
    old day is rerun: the platform shows today's balances, not D's). A rejected or unsettled allocation
    is reported on its own row; it does not lower the invoice's amount due.
    """
    context = company_state.history(engine, company_id, ledger)
    pushed_on = pd.to_datetime(ledger["business_date"]).dt.date
    docs = ledger[pushed_on.isna() | (pushed_on <= business_date)].copy()
    known = context.known_documents  # one row per (document_type, source_id): the tables' keys
    # A dict built once, not a MultiIndex probe per document (≈ 20 µs each, thousands per company).
    customer_and_due = dict(zip(zip(known["document_type"], known["source_id"], strict=True),
                                zip(known["customer_id"], known["due_date"], strict=True), strict=True))
    found = [customer_and_due.get(key, (None, pd.NaT))
             for key in zip(docs["document_type"], docs["source_id"].astype(str), strict=True)]
    docs["customer_id"] = [customer for customer, _ in found]
    docs["due_date"] = [due for _, due in found]

    due = _AmountDue(docs, open_amounts.in_platform(context.all_allocations, ledger), timezone)
    # What was open on D decides the scope (a rerun of D reports the same documents); the amount due
    # compared with the platform is today's, as the platform shows today's balances.
    due_on_day = due.on(business_date)
    docs["source_amount_due"] = due.on(max(business_date, amounts_as_of or business_date))
    docs["in_batch"] = pd.to_datetime(docs["business_date"]).dt.date == business_date
    # dtype=bool: with an empty ledger an untyped Series is object and cannot be or-ed with the masks.
    is_open = pd.Series([d is not None and d != 0 for d in due_on_day], index=docs.index, dtype=bool)
    unresolved = docs["status"] != LedgerStatus.SUCCESS
    docs = docs[docs["in_batch"] | unresolved | is_open]
    return docs[SOURCE_COLUMNS].reset_index(drop=True)


class _AmountDue:
    """The open amount of each ledger document at the end of a business day (None where it has none)."""

    def __init__(self, docs: pd.DataFrame, applied: pd.DataFrame, timezone: str) -> None:
        self.docs, self.applied, self.timezone = docs, applied, timezone
        self.applied_at = pd.to_datetime(applied["updated_at"])

    def on(self, day: date) -> pd.Series:
        _, end = business_day_window(day, self.timezone)
        due = open_amounts.open_amounts(self.docs.assign(total_amount=self.docs["source_total"]),
                                        self.applied[(self.applied_at < end).astype(bool)])["open_amount"]
        return due.where(self.docs["document_type"].isin(open_amounts.DOCUMENT_TYPES), None)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
