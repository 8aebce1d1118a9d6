"""Extract: reference data from the platform, and a business day's batch from the warehouse.

Reference data (accounts, bank accounts, tax rates, tracking categories, customers) is pulled per
company — fully the first time, then incrementally on ``modifiedDate`` with the watermark kept in
``ar_sync_state`` — and upserted into the ``ar_ref_*`` tables. Deleted records are kept and marked
``is_deleted`` rather than silently dropped, so a mapping to them can be reported.

    counts = pull_reference_data(client, engine, company_id="…", connection_id="…", now=utc_now)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from receivables.batches import business_day_window
from receivables.codat.errors import CodatNotReady
from receivables.codat.query import Q
from receivables.documents import KINDS, READ_BACK
from receivables.warehouse import io, schema, selects

log = logging.getLogger(__name__)


def _meta_deleted(record: Mapping[str, Any]) -> bool:
    return bool((record.get("metadata") or {}).get("isDeleted"))


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    moment = pd.Timestamp(value)
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    return moment.to_pydatetime()


def _account(r: Mapping[str, Any]) -> dict[str, Any]:
    links = r.get("validDatatypeLinks") or []
    return {
        "name": r.get("name"), "status": r.get("status"), "nominal_code": r.get("nominalCode"),
        "type": r.get("type"), "currency": r.get("currency"), "is_bank_account": bool(r.get("isBankAccount")),
        "fully_qualified_category": r.get("fullyQualifiedCategory"),
        "valid_datatype_links": json.dumps(links, sort_keys=True) if links else None,
    }


def _bank_account(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": r.get("accountName"), "status": r.get("status") or "Active",
        "account_type": r.get("accountType"), "currency": r.get("currency"),
        "nominal_code": r.get("nominalCode"),
    }


def _tax_rate(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": r.get("name"), "status": r.get("status"), "code": r.get("code"),
        "effective_tax_rate": _decimal(r.get("effectiveTaxRate")),
        "total_tax_rate": _decimal(r.get("totalTaxRate")),
    }


def _tracking_category(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": r.get("name"), "status": r.get("status"),
        "parent_id": r.get("parentId"), "has_children": bool(r.get("hasChildren")),
    }


def _customer(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": r.get("customerName"), "status": r.get("status"),
        "email": r.get("emailAddress"), "default_currency": r.get("defaultCurrency"),
    }


@dataclass(frozen=True)
class ReferenceType:
    """One reference data type: where it is read from and which ``ar_ref_*`` table it lands in."""

    data_type: str
    table_name: str
    connection_scoped: bool
    to_columns: Callable[[Mapping[str, Any]], dict[str, Any]]

    @property
    def table(self):
        return schema.metadata.tables[self.table_name]


REFERENCE_TYPES: tuple[ReferenceType, ...] = (
    ReferenceType("accounts", "ar_ref_accounts", False, _account),
    ReferenceType("bankAccounts", "ar_ref_bank_accounts", True, _bank_account),
    ReferenceType("taxRates", "ar_ref_tax_rates", False, _tax_rate),
    ReferenceType("trackingCategories", "ar_ref_tracking_categories", False, _tracking_category),
    ReferenceType("customers", "ar_ref_customers", False, _customer),
)


def reference_frame(ref: ReferenceType, records: Iterable[Mapping[str, Any]], *, company_id: str,
                    fetched_at: datetime) -> pd.DataFrame:
    """Platform records of one type → rows of its ``ar_ref_*`` table (pure)."""
    rows = [
        {
            "company_id": company_id,
            "platform_id": r["id"],
            **ref.to_columns(r),
            "is_deleted": _meta_deleted(r),
            "modified_date": _timestamp(r.get("modifiedDate")),
            "fetched_at": fetched_at,
        }
        for r in records
        if r.get("id")
    ]
    columns = [c.name for c in ref.table.columns]
    return pd.DataFrame(rows, columns=columns)


class ChangedRecords:
    """Records of one data type modified since the last watermark, and how to move the watermark on.

    The caller stores the records first and then calls :meth:`advance`: a crash in between leaves the
    old watermark, so the same records are fetched again next time — never skipped.
    """

    def __init__(self, engine, company_id: str, state_key: str, records: list[dict],
                 previous: str | None) -> None:
        self.engine, self.company_id, self.state_key = engine, company_id, state_key
        self.records, self.previous = records, previous

    @property
    def newest(self) -> str | None:
        return max((r["modifiedDate"] for r in self.records if r.get("modifiedDate")), default=self.previous)

    def advance(self, now: datetime) -> None:
        if self.newest and self.newest != self.previous:
            io.write_frame(
                self.engine, schema.metadata.tables["ar_sync_state"],
                pd.DataFrame([{"company_id": self.company_id, "data_type": self.state_key,
                               "watermark": self.newest, "updated_at": now}]),
                mode="upsert", key_columns=["company_id", "data_type"],
            )


def fetch_changed(client, engine, *, company_id: str, data_type: str, state_key: str | None = None,
                  connection_id: str | None = None, full: bool = False) -> ChangedRecords:
    """Records strictly newer than the newest ``modifiedDate`` seen so far (all of them the first time).

    Strictly newer, as in Codat's own incremental-pull example: ``>=`` would fetch every record sharing
    the watermark's instant again on every run (a whole chart of accounts is created in one go).
    ``state_key`` names the watermark in ``ar_sync_state`` (default: the data type).
    """
    key = state_key or data_type
    state = io.read_frame(engine, schema.metadata.tables["ar_sync_state"],
                          where={"company_id": company_id, "data_type": key})
    previous = None if (full or state.empty) else state["watermark"].iloc[0]
    query = str(Q("modifiedDate") > previous) if previous else None
    records = list(client.iter_records(company_id, data_type, connection_id=connection_id, query=query,
                                       order_by="modifiedDate"))
    return ChangedRecords(engine, company_id, key, records, previous)


def in_order_concurrently(client, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[tuple[Any, Future]]:
    """``fn(item)`` for every item at once (threads, within the company's in-flight cap), handed back in
    the items' order, each as its finished future — whose ``result()`` raises what ``fn`` raised.

    For a company's independent reads (each its own 50 ms round trips): the waits overlap, while the
    caller still writes, advances watermarks and fails in the same order as a loop would. The sync
    client is safe to share between threads for reads. When the caller stops at a failure, reads already
    started finish unseen and nothing of theirs is written.
    """
    settings = getattr(client, "settings", None)
    workers = max(1, min(len(items), getattr(settings, "max_concurrency_per_company", len(items))))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codat-read") as pool:
        futures = [pool.submit(fn, item) for item in items]
        try:
            for item, future in zip(items, futures, strict=True):
                future.exception()  # wait for this one only
                yield item, future
        finally:
            for future in futures:
                future.cancel()


def pull_reference_data(client, engine, *, company_id: str, connection_id: str, now: datetime,
                        data_types: Iterable[str] | None = None, full: bool = False) -> dict[str, int]:
    """Pull each reference type for one company into the warehouse; returns records fetched per type.

    The types are read at once and written one after another in their fixed order; the first that fails
    fails the pull, the types before it written as a loop would have left them."""
    wanted = set(data_types) if data_types else {r.data_type for r in REFERENCE_TYPES}
    counts: dict[str, int] = {}

    def fetch(ref: ReferenceType) -> ChangedRecords:
        return fetch_changed(client, engine, company_id=company_id, data_type=ref.data_type, full=full,
                             connection_id=connection_id if ref.connection_scoped else None)

    refs = [ref for ref in REFERENCE_TYPES if ref.data_type in wanted]
    for ref, fetched in in_order_concurrently(client, fetch, refs):
        changed = fetched.result()
        frame = reference_frame(ref, changed.records, company_id=company_id, fetched_at=now)
        if len(frame):
            io.write_frame(engine, ref.table, frame, mode="upsert", key_columns=["company_id", "platform_id"])
        changed.advance(now)
        counts[ref.data_type] = len(changed.records)
        log.info("company %s: %s — %d record(s) %s", company_id, ref.data_type, len(changed.records),
                 "since " + changed.previous if changed.previous else "(full pull)")
    return counts


# -- what the platform holds, for reconciliation ----------------------------------------------------


def platform_document_frame(data_type: str, records: Iterable[Mapping[str, Any]], *, company_id: str,
                            fetched_at: datetime) -> pd.DataFrame:
    """Platform records of a read-back data type (:data:`documents.READ_BACK`) → ``ar_platform_documents``."""
    kind = READ_BACK[data_type]
    rows = [
        {
            "company_id": company_id, "data_type": data_type, "platform_id": r["id"],
            "document_number": r.get(kind.number_field),
            "customer_platform_id": (r.get("customerRef") or {}).get("id"),
            "currency": r.get("currency"),
            "total_amount": _decimal(r.get("totalAmount")),
            "amount_due": _decimal(r.get(kind.amount_due_field)) if kind.amount_due_field else None,
            "status": r.get("status"),
            "is_deleted": _meta_deleted(r),
            "due_date": _timestamp(r.get("dueDate")),
            "modified_date": r.get("modifiedDate"),
            "fetched_at": fetched_at,
        }
        for r in records if r.get("id")
    ]
    columns = [c.name for c in schema.metadata.tables["ar_platform_documents"].columns]
    return pd.DataFrame(rows, columns=columns)


class ReadBack(dict[str, int]):
    """Records read back per data type; :attr:`stale` names the data types whose list may lag our pushes.

    Codat lists a record written a moment ago only once the company's data has been refreshed: a data
    type whose refresh did not complete (or that is still syncing) was read as the platform last cached
    it, so a document pushed since may be missing from it without being missing from the platform.
    """

    def __init__(self, fetched: Mapping[str, int], stale: Mapping[str, str]) -> None:
        super().__init__(fetched)
        self.stale: dict[str, str] = dict(stale)   # data type -> why its list cannot be trusted


def refresh_platform_documents(client, engine, *, company_id: str, connection_id: str, now: datetime,
                               refresh_deadline_seconds: float | None = None) -> ReadBack:
    """Bring ``ar_platform_documents`` up to date for one company: only what changed since last time.

    Each data type is refreshed first (``POST /companies/{id}/data/queue/{dataType}``, waited for up to
    ``refresh_deadline_seconds``, default the client's settle deadline), then read. The watermark moves
    only after a completed refresh; otherwise the type is read as cached and reported stale (see
    :class:`ReadBack`), and the same records are read again next time. Deletions arrive as changes too
    (``metadata.isDeleted`` with a new ``modifiedDate``). Direct costs are read per connection: Codat
    has no company-scoped path for them.
    """
    table = schema.metadata.tables["ar_platform_documents"]
    counts, stale = {}, {}

    def refresh_and_fetch(data_type: str) -> tuple[str | None, ChangedRecords | None]:
        why = _refresh(client, company_id, data_type, refresh_deadline_seconds)
        try:
            return why, fetch_changed(client, engine, company_id=company_id, data_type=data_type,
                                      state_key=f"platform:{data_type}", connection_id=connection_id)
        except CodatNotReady:
            return why, None

    # Each type's refresh-then-read at once (their waits overlap); written in the types' order.
    for data_type, fetched in in_order_concurrently(client, refresh_and_fetch, list(READ_BACK)):
        why, changed = fetched.result()
        if changed is None:
            counts[data_type], stale[data_type] = 0, "the platform is still syncing it"
            continue
        frame = platform_document_frame(data_type, changed.records, company_id=company_id, fetched_at=now)
        if len(frame):
            io.write_frame(engine, table, frame, mode="upsert",
                           key_columns=["company_id", "data_type", "platform_id"])
        if why is None:
            changed.advance(now)
        else:
            stale[data_type] = why
        counts[data_type] = len(changed.records)
    if stale:
        log.warning("company %s: read-back may lag recent pushes (%s)", company_id,
                    "; ".join(f"{t}: {w}" for t, w in stale.items()))
    return ReadBack(counts, stale)


def _refresh(client, company_id: str, data_type: str, deadline_seconds: float | None) -> str | None:
    """Refresh one data type; ``None`` once complete, else why its list cannot be trusted to be current."""
    pull = client.refresh(company_id, data_type, deadline_seconds=deadline_seconds)
    if pull is None:
        return "the platform would not refresh it"
    if not pull.is_complete:
        return f"its refresh is {pull.status}, not complete"
    return None


def read_reference(engine, company_ids: Iterable[str],
                   data_types: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """The ``ar_ref_*`` tables for some companies, keyed by data type (``data_types``: only those; a
    company's customers are most of its reference rows, and most readers need none of them)."""
    ids = list(company_ids)
    wanted = None if data_types is None else set(data_types)
    unknown = (wanted or set()) - {ref.data_type for ref in REFERENCE_TYPES}
    if unknown:
        raise ValueError(f"unknown reference data type(s): {', '.join(sorted(unknown))}")
    return {ref.data_type: io.read_frame(engine, selects.for_companies(ref.table, ids))
            for ref in REFERENCE_TYPES if wanted is None or ref.data_type in wanted}


# -- the day's batch -------------------------------------------------------------------------------

# Batch frames are keyed by their warehouse table name: each kind's table (by its id column, or the columns
# of its pair key) and the lines hanging off it.
_PARENTS = {k.table: (k.id_column,) if k.id_column else k.key_columns for k in KINDS}
_CHILDREN = {k.lines_table: (k.table, k.id_column) for k in KINDS if k.lines_table}


@dataclass
class Batch:
    """The input rows of one company's batch: documents updated on the day plus carried-over ones."""

    company_id: str
    business_date: date
    frames: dict[str, pd.DataFrame]

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    def counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.frames.items()}


def load_batch(engine, *, company_id: str, business_date: date, timezone: str,
               carried_over: Mapping[str, Iterable] | None = None) -> Batch:
    """Read D's batch for one company; ``carried_over`` adds documents by id (e.g. not-final pushes).

    ``carried_over`` maps a batch table (``ar_invoices``, ``ar_payments``…) to ids (of that table's id
    column; tuples of its key columns for a table keyed by a pair) that must be processed again whatever
    their ``updated_at``. However many there are, every one is read (in chunks of bounded size).
    """
    start, end = business_day_window(business_date, timezone)
    carried = {k: sorted(set(v)) for k, v in (carried_over or {}).items()}
    frames: dict[str, pd.DataFrame] = {}
    parent_selects = {}
    for name, id_columns in _PARENTS.items():
        table = schema.metadata.tables[name]
        parent_selects[name] = [selects.updated_between(table, company_id, start, end, id_columns=id_columns,
                                                        extra_ids=chunk)
                                for chunk in selects.in_chunks(carried.get(name, []))]
        frames[name] = _read_all(engine, table, parent_selects[name])
    for name, (parent, key) in _CHILDREN.items():
        table = schema.metadata.tables[name]
        frames[name] = _read_all(engine, table, [selects.children_of(table, company_id, key, parents)
                                                 for parents in parent_selects[parent]])
    return Batch(company_id=company_id, business_date=business_date, frames=frames)


def _read_all(engine, table, queries: list) -> pd.DataFrame:
    """The rows of one or more selects of ``table``, each row once (chunks overlap in the day's window)."""
    if len(queries) == 1:
        return io.read_frame(engine, queries[0])
    frame = pd.concat([io.read_frame(engine, q) for q in queries], ignore_index=True)
    return frame.drop_duplicates(subset=[c.name for c in table.primary_key.columns], ignore_index=True)
