"""The document kinds the pipeline moves, and the states they end in: one registry, asked by everything.

A *kind* is what the ledger calls ``document_type``. Each one says where it lives in the warehouse
(header table, id and number columns, lines table), where it lives in Codat (data type, the field that
carries our identity on read-back, the open balance), whether Codat accepts an update of it, which
kinds must be in the platform before it can be pushed, how its ledger key (``source_id``) is built and
which function of :mod:`receivables.transform` builds its request bodies.

    >>> documents.KIND["invoice"].data_type
    'invoices'
    >>> [k.name for k in documents.in_push_order()]
    ['customer', 'invoice', 'credit_note', 'payment', 'fee', 'credit_note_allocation']

Adding a kind is one entry in :data:`KINDS` plus its payload function in ``transform`` and its tests.

The statuses and outcomes are ``StrEnum``: each member *is* the text stored in the tables
(``LedgerStatus.SUCCESS == "success"``), so frames and SQL compare against them unchanged.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from receivables.codat.core import CREATE_ONLY


class LedgerStatus(StrEnum):
    """``ar_push_ledger.status``: what we know of one document's write to the platform."""

    PENDING = "pending"        # written before the request; not sent yet, or sent with no answer yet
    SUCCESS = "success"        # the platform holds it (platform_id set)
    FAILED = "failed"          # the platform definitely refused it
    TIMED_OUT = "timed_out"    # the push operation timed out: the write may still have happened
    UNKNOWN = "unknown"        # no definite answer: read back before anything is sent again

    @property
    def final(self) -> bool:
        """A final state needs no read-back: the write definitely did or did not happen."""
        return self in (LedgerStatus.SUCCESS, LedgerStatus.FAILED)


NOT_FINAL = frozenset(s for s in LedgerStatus if not s.final)


class Outcome(StrEnum):
    """``ar_reconciliation.outcome``, listed in the order they take precedence for a source document."""

    REJECTED = "rejected"                      # refused by the validation gate before push
    PUSH_FAILED = "push_failed"                # the platform refused it
    PENDING = "pending"                        # not settled, or waiting on another document
    MISSING_IN_PLATFORM = "missing_in_platform"
    DUPLICATE_IN_PLATFORM = "duplicate_in_platform"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    MATCHED = "matched"
    UNEXPECTED_IN_PLATFORM = "unexpected_in_platform"  # a platform record no ledger row explains


EXCEPTION_OUTCOMES = tuple(o for o in Outcome if o is not Outcome.MATCHED)


# -- ledger keys ------------------------------------------------------------------------------------

# A credit-note allocation has no id of its own in the warehouse: its key is the pair it joins.
_PAIR_SEPARATOR = ":"


def allocation_key(credit_note_id: object, invoice_id: object) -> str:
    """The ledger ``source_id`` of applying credit note ``credit_note_id`` to invoice ``invoice_id``."""
    return f"{credit_note_id}{_PAIR_SEPARATOR}{invoice_id}"


def allocation_keys(credit_note_ids: pd.Series | Iterable, invoice_ids: pd.Series | Iterable) -> list[str]:
    """:func:`allocation_key` of each pair, for whole columns."""
    return [allocation_key(c, i) for c, i in zip(credit_note_ids, invoice_ids, strict=True)]


def split_allocation_key(source_id: str) -> tuple[str, str]:
    """``(credit_note_id, invoice_id)`` of an allocation key (credit note ids never contain ``:``)."""
    credit_note_id, _, invoice_id = str(source_id).partition(_PAIR_SEPARATOR)
    return credit_note_id, invoice_id


# -- the kinds --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DocumentKind:
    """How one ``document_type`` lives in the warehouse and in the platform."""

    name: str                      # ar_push_ledger.document_type
    label: str                     # how finance reads it in messages and the report
    table: str                     # the warehouse table its rows come from
    id_column: str                 # the column of that table identifying it ("" when keyed by a pair)
    number_column: str | None      # the column finance knows it by (document number, reference, name)
    data_type: str                 # Codat data type: push path and list path
    number_field: str              # the platform field carrying our identity on read-back
    depends_on: tuple[str, ...]    # kinds that must be in the platform before this one can be pushed
    payload: str                   # the function of receivables.transform building its request bodies
    lines_table: str | None = None
    amount_due_field: str | None = None   # the platform's open balance, compared by reconciliation
    read_back: bool = False        # reconciliation compares it with the platform's own record
    key_columns: tuple[str, ...] = ()     # the columns its ledger key is built from (default: id_column)
    # Per row, what it refers to that must be in the platform first: (kind, column holding that kind's id).
    references: tuple[tuple[str, str], ...] = ()
    # Its lines name their own targets (a payment's allocations: target_type, target_id).
    allocates: bool = False
    # The column of :attr:`table` holding its amount, for a kind not totalled from lines.
    amount_column: str | None = None

    @property
    def updatable(self) -> bool:
        """Codat accepts an update (PUT) of this kind: a fact of the data type, kept by the client."""
        return self.data_type not in CREATE_ONLY

    def source_ids(self, frame: pd.DataFrame) -> list[str]:
        """The ledger ``source_id`` of every row of ``frame`` (a frame of :attr:`table`)."""
        if self.name == "credit_note_allocation":
            return allocation_keys(frame["credit_note_id"], frame["invoice_id"])
        return frame[self.id_column].astype(str).tolist()

    def payload_function(self) -> Callable[..., pd.DataFrame]:
        """The transform function building this kind's request bodies.

        Looked up by name because ``transform`` itself asks this registry: importing it here would be
        a cycle.
        """
        return getattr(importlib.import_module("receivables.transform"), self.payload)


KINDS: tuple[DocumentKind, ...] = (
    DocumentKind("customer", "customer", "ar_customers", "customer_id", "name",
                 data_type="customers", number_field="customerName", depends_on=(),
                 payload="customers_to_payloads"),
    DocumentKind("invoice", "invoice", "ar_invoices", "invoice_id", "invoice_number",
                 data_type="invoices", number_field="invoiceNumber", depends_on=("customer",),
                 payload="invoices_to_payloads", lines_table="ar_invoice_lines", amount_due_field="amountDue",
                 read_back=True, references=(("customer", "customer_id"),)),
    DocumentKind("credit_note", "credit note", "ar_credit_notes", "credit_note_id", "credit_note_number",
                 data_type="creditNotes", number_field="creditNoteNumber",
                 depends_on=("customer",), payload="credit_notes_to_payloads",
                 lines_table="ar_credit_note_lines", amount_due_field="remainingCredit", read_back=True,
                 references=(("customer", "customer_id"),)),
    DocumentKind("payment", "payment", "ar_payments", "payment_id", "reference",
                 data_type="payments", number_field="reference",
                 depends_on=("customer", "invoice", "credit_note"), payload="payments_to_payloads",
                 lines_table="ar_payment_allocations", read_back=True,
                 references=(("customer", "customer_id"),), allocates=True, amount_column="amount"),
    # A payment's platform fee is pushed as a direct cost carrying the payment's reference.
    DocumentKind("fee", "platform fee", "ar_payments", "payment_id", "reference",
                 data_type="directCosts", number_field="reference", depends_on=(),
                 payload="fees_to_payloads", amount_column="fee_amount"),
    # Applying a credit note to an invoice is a zero-total payment in Codat.
    DocumentKind("credit_note_allocation", "credit note allocation", "ar_credit_note_allocations", "",
                 None, data_type="payments", number_field="reference",
                 depends_on=("customer", "invoice", "credit_note"),
                 payload="credit_note_allocations_to_payloads", key_columns=("credit_note_id", "invoice_id"),
                 references=(("invoice", "invoice_id"), ("credit_note", "credit_note_id"))),
)

KIND: Mapping[str, DocumentKind] = {k.name: k for k in KINDS}
LABEL: Mapping[str, str] = {k.name: k.label for k in KINDS}
# Warehouse tables a night's batch is read from, headers before their lines.
BATCH_TABLES: tuple[str, ...] = tuple(dict.fromkeys(
    t for k in KINDS for t in (k.table, k.lines_table) if t is not None))
# Codat data types whose records reconciliation reads back, and the kind each one is reported under.
READ_BACK: Mapping[str, DocumentKind] = {k.data_type: k for k in KINDS if k.read_back or k.name == "fee"}


def kind(name: str) -> DocumentKind:
    """The kind called ``name``, or a ``KeyError`` naming the kinds there are."""
    try:
        return KIND[name]
    except KeyError:
        raise KeyError(f"unknown document type {name!r}: one of {', '.join(KIND)}") from None


def in_push_order() -> Iterator[DocumentKind]:
    """Every kind after the kinds it depends on, otherwise in the registry's order."""
    done: set[str] = set()
    pending = list(KINDS)
    while pending:
        ready = next((k for k in pending if set(k.depends_on) <= done), None)
        if ready is None:
            raise ValueError(f"document kinds depend on each other in a cycle: {[k.name for k in pending]}")
        done.add(ready.name)
        pending.remove(ready)
        yield ready


def of_data_type(data_type: str) -> tuple[DocumentKind, ...]:
    """The kinds pushed as Codat ``data_type`` (payments carry both payments and allocations)."""
    return tuple(k for k in KINDS if k.data_type == data_type)


def updatable(names: pd.Series) -> pd.Series:
    """Per row of ``document_type`` names: does Codat accept an update of it (boolean, typed)."""
    return names.map({k.name: k.updatable for k in KINDS}).fillna(False).astype(bool)
