"""A company's state, read once per run: ledger, reference data, mappings and document history.

Everything the gate, readiness and transform need besides the day's batch, one query per table:

    >>> state = company_state.load(engine, "c1", business_date=date(2026, 11, 20))
    >>> state.platform_ids                  # what the platform holds (ledger ``success`` with an id)
    >>> state.known_documents               # every invoice and credit note, with its pushed total
    >>> state.refresh_ledger(engine)        # after a push wrote to the ledger

Only the ledger changes during a run (the pushes write it), so only the ledger is read again, after a
push. :func:`history` is the part reconciliation needs too (document history and allocation draws).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from receivables import extract, open_amounts
from receivables.documents import KIND, NOT_FINAL, LedgerStatus, allocation_keys, split_allocation_key
from receivables.mappings import MappingLookup, resolve_mappings
from receivables.push import LEDGER, LEDGER_KEY
from receivables.validate.normalise import SALES_KINDS, label
from receivables.warehouse import io, schema

T = schema.metadata.tables


# The reference data a run's state holds: tax rates (the gate's and transform's) and the platform's
# customers (matching ours to theirs). Accounts and tracking categories reach a run through the
# checked mappings instead.
STATE_REFERENCE = ("taxRates", "customers")


@dataclass
class History:
    """A company's documents of every day, as the ledger knows them."""

    known_documents: pd.DataFrame   # invoices and credit notes: customer, currency, status, pushed total
    customers: pd.DataFrame         # every ar_customers row
    all_allocations: pd.DataFrame   # every allocation draw (:func:`.open_amounts.allocation_draws`)


@dataclass
class CompanyState:
    """What one run of one company knows besides its batch (see the module docstring)."""

    company_id: str
    ledger: pd.DataFrame
    rejected_today: pd.DataFrame    # the day's earlier rejects: a rerun decides them again
    companies: pd.DataFrame
    lookup: MappingLookup
    reference: dict[str, pd.DataFrame]   # the STATE_REFERENCE types
    history: History
    push_options: pd.DataFrame | None = None
    _numbers: dict | None = field(default=None, repr=False)

    @property
    def tax_rates(self) -> pd.DataFrame:
        return self.reference["taxRates"]

    @property
    def known_documents(self) -> pd.DataFrame:
        return self.history.known_documents

    @property
    def platform_ids(self) -> pd.DataFrame:
        """company_id, document_type, source_id → platform_id for documents the platform holds."""
        ledger = self.ledger
        ok = ledger[((ledger["status"] == LedgerStatus.SUCCESS) & ledger["platform_id"].notna()).astype(bool)]
        return ok[LEDGER_KEY + ["platform_id"]].reset_index(drop=True)

    def refresh_ledger(self, engine) -> None:
        """Read the ledger again: a push has written to it."""
        self.ledger = _ledger(engine, self.company_id)

    def label(self, document_type: str, source_id: object) -> str:
        """How finance knows a document of the company (its number when the history has it)."""
        if self._numbers is None:
            known = self.history.known_documents
            self._numbers = dict(zip(zip(known["document_type"], known["source_id"], strict=True),
                                     known["document_number"], strict=True))
        number = self._numbers.get((document_type, str(source_id)))
        return label(document_type, number if number is not None else source_id, source_id)


def load(engine, company_id: str, *, business_date: date, connection_id: str | None = None,
         push_options: pd.DataFrame | None = None) -> CompanyState:
    """Read a company's state for a run of ``business_date`` (``push_options``: already read, if any)."""
    ledger = _ledger(engine, company_id)
    mine = {"company_id": company_id}
    lookup = resolve_mappings(io.read_frame(engine, T["ar_mappings"], where=mine),
                              io.read_frame(engine, T["ar_mapping_issues"], where=mine))
    return CompanyState(
        company_id=company_id, ledger=ledger,
        rejected_today=io.read_frame(engine, T["ar_rejects"], where={**mine, "business_date": business_date}),
        companies=io.read_frame(engine, T["ar_companies"], where=mine), lookup=lookup,
        reference=extract.read_reference(engine, [company_id], STATE_REFERENCE),
        history=history(engine, company_id, ledger),
        push_options=push_options)


# What the history uses of each table, every day of it: a company's whole past is read twice a night
# (sync and reconcile), and its dates and notes were most of the reading. None: every column (customers
# are pushed again from here when a document needs one that is not in today's batch).
_HISTORY_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "ar_invoices": ("company_id", "invoice_id", "invoice_number", "customer_id", "due_date", "currency",
                    "currency_rate", "status"),
    "ar_credit_notes": ("company_id", "credit_note_id", "credit_note_number", "customer_id", "currency",
                        "currency_rate", "status"),
    "ar_customers": None,
    "ar_payments": ("company_id", "payment_id", "updated_at"),
    "ar_payment_allocations": None,
    "ar_credit_note_allocations": ("company_id", "credit_note_id", "invoice_id", "amount", "updated_at"),
}


def history(engine, company_id: str, ledger: pd.DataFrame) -> History:
    """The company's invoices and credit notes (with the totals pushed), customers and allocation draws."""
    mine = {"company_id": company_id}
    frames = {name: io.read_frame(engine, T[name], where=mine, columns=columns)
              for name, columns in _HISTORY_COLUMNS.items()}
    known = pd.concat([_known(kind, frames[kind.table], ledger) for kind in SALES_KINDS], ignore_index=True)
    draws = open_amounts.allocation_draws(frames["ar_payment_allocations"], frames["ar_payments"],
                                          frames["ar_credit_note_allocations"])
    return History(known_documents=known, customers=frames["ar_customers"], all_allocations=draws)


def _ledger(engine, company_id: str) -> pd.DataFrame:
    return io.read_frame(engine, LEDGER, where={"company_id": company_id})


def _known(kind, docs: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """One kind's documents of every day, with the total the ledger pushed and whether the platform has it."""
    # The ledger's key is (company, document_type, source_id) and it is one company's: a dict built once
    # answers each document without a MultiIndex probe (≈ 20 µs each).
    ledger_keys = list(zip(ledger["document_type"], ledger["source_id"], strict=True)) if len(ledger) else []
    totals = dict(zip(ledger_keys, ledger["source_total"], strict=True)) if ledger_keys else {}
    statuses = dict(zip(ledger_keys, ledger["status"], strict=True)) if ledger_keys else {}
    ids = docs[kind.id_column].astype(str)
    keys = list(zip([kind.name] * len(docs), ids, strict=True))
    return pd.DataFrame({
        "company_id": docs["company_id"].astype(str), "document_type": kind.name, "source_id": ids,
        "document_number": docs[kind.number_column], "customer_id": docs["customer_id"],
        "currency": docs["currency"], "currency_rate": docs["currency_rate"], "status": docs["status"],
        # datetime64[us] like the warehouse reads dates: a plain NaT would upcast to [ns] on concat,
        # which overflows for far-future dates (a due date in 2999 is rejected, not a crash).
        "due_date": docs["due_date"] if "due_date" in docs else pd.Series(
            pd.NaT, index=docs.index, dtype="datetime64[us]"),
        "total_amount": [totals.get(k) for k in keys],
        # Not in the platform: either rejected or never pushed; its number is still free there.
        "rejected": [statuses.get(k) != LedgerStatus.SUCCESS for k in keys],
    })


def carried_over(ledger: pd.DataFrame, rejected_today: pd.DataFrame | None = None) -> dict[str, list]:
    """Source ids of documents whose last push is not final, per batch table (they are retried).

    A table keyed by a pair (credit-note allocations) gets ``(credit_note_id, invoice_id)`` tuples.

    ``rejected_today``: the day's earlier rejects (document_type, source_id). A rerun of the day decides
    them again: one that only waited before and was rejected has no ledger row left to carry it.
    """
    open_rows = ledger[ledger["status"].isin(list(NOT_FINAL)).astype(bool)][["document_type", "source_id"]]
    if rejected_today is not None and len(rejected_today):
        open_rows = pd.concat([open_rows, rejected_today[["document_type", "source_id"]]], ignore_index=True)
    carried: dict[str, set[str]] = {}
    for document_type, source_id in zip(open_rows["document_type"], open_rows["source_id"], strict=True):
        kind = KIND[document_type]
        # A credit-note allocation is keyed by the pair it joins, and re-read by that pair alone: by its
        # credit note, a rerun would decide again every allocation of that credit note, earlier days' too.
        reread_by = split_allocation_key(source_id) if kind.key_columns else str(source_id)
        carried.setdefault(kind.table, set()).add(reread_by)
    return {table: sorted(ids) for table, ids in carried.items()}


def allocating_keys(batch: extract.Batch) -> set[tuple[str, str]]:
    """Ledger keys of the batch's payments and credit-note allocations (the documents that draw)."""
    cna = batch["ar_credit_note_allocations"]
    pairs = allocation_keys(cna["credit_note_id"], cna["invoice_id"])
    return ({("payment", p) for p in batch["ar_payments"]["payment_id"].astype(str)}
            | {("credit_note_allocation", k) for k in pairs})


def open_before_batch(state: CompanyState, today: set[tuple[str, str]] = frozenset()) -> pd.DataFrame:
    """What is open on each pushed invoice/credit note before today's allocations (platform view).

    Total as pushed minus the draws the platform already applied, leaving out today's own documents
    (``today``: ledger keys of the batch's payments and allocations) — validation decides those again.
    """
    known = state.known_documents.dropna(subset=["total_amount"])
    applied = open_amounts.in_platform(state.history.all_allocations, state.ledger, leaving_out=today)
    return open_amounts.open_amounts(known[["company_id", "document_type", "source_id", "total_amount"]],
                                     applied)
