"""Push: the ledger decides, the client sends, the operations settle, the ledger records.

``ar_push_ledger`` is the source of truth for what the platform already holds:

* a document whose content hash matches a ``success`` row is never sent again;
* changed content becomes a PUT where Codat allows updates (customers, invoices, credit notes) and a
  reported exception where it does not (payments, allocations, fees are create-only);
* a row is written ``pending`` with its idempotency key *before* the POST, and updated after it, so a
  crash between the two leaves a trace;
* what an error means for the write (``failed`` / ``unknown`` / ``pending``) is decided in one place,
  :mod:`receivables.codat.outcome`; a possibly-written document is never recorded as failed;
* an unknown outcome (lost response, ``TimedOut``, a crash, a pending row from an earlier run) is
  resolved before anything is re-created: through its push operation first (by key, then the record id
  it names), and only as a last resort through the platform's list by document number — a list that
  may lag writes (Codat does not cache written records), so it is refreshed first, and while it cannot
  be trusted the document stays ``unknown`` rather than being created twice;
* only ``Linked`` connections are pushed to; a broken link stops the company, leaving the rest pending.

    outcome = asyncio.run(push_documents(client, ledger, company, documents, context=ctx))
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from receivables.codat import outcome as outcomes
from receivables.codat.errors import (
    CodatAuthError,
    CodatConnectionNotLinked,
    CodatError,
    CodatNotReady,
    CodatRateLimited,
)
from receivables.codat.idempotency import idempotency_key
from receivables.codat.models import ConnectionStatus
from receivables.codat.query import Q
from receivables.warehouse import io, schema

log = logging.getLogger(__name__)

LEDGER = schema.metadata.tables["ar_push_ledger"]
LEDGER_KEY = ["company_id", "document_type", "source_id"]
NOT_FINAL = frozenset({"pending", "timed_out", "unknown"})


@dataclass(frozen=True)
class DocumentKind:
    """How one ``document_type`` lives in the platform."""

    data_type: str          # Codat data type (push path, list path)
    number_field: str       # the platform field that carries the source document's identity
    updatable: bool         # Codat accepts PUT for this type


KINDS: Mapping[str, DocumentKind] = {
    "customer": DocumentKind("customers", "customerName", True),
    "invoice": DocumentKind("invoices", "invoiceNumber", True),
    "credit_note": DocumentKind("creditNotes", "creditNoteNumber", True),
    "payment": DocumentKind("payments", "reference", False),
    "credit_note_allocation": DocumentKind("payments", "reference", False),
    "fee": DocumentKind("directCosts", "reference", False),
}

# Ledger idempotency_key of a create refused unprocessed: never sent again under its old key.
REFUSED = "refused@"


def refused_mark() -> str:
    return REFUSED + utc_now().isoformat()


def rotated_key(company_id: str, document_type: str, source_id: str, content_hash: str, mark: str) -> str:
    """The key for sending again a create whose first key got a refusal that Codat caches."""
    return idempotency_key(company_id, document_type, source_id, f"{content_hash}\x1f{mark}")


# What the planner decides for each document.
CREATE, UPDATE, UNCHANGED, RESOLVE, CHANGED_AFTER_PUSH, FAILED_UNCHANGED = (
    "create", "update", "unchanged", "resolve", "changed_after_push", "failed_unchanged")


@dataclass(frozen=True)
class PushContext:
    """Who is pushing what, for which day and run."""

    company_id: str
    connection_id: str
    business_date: date
    run_id: str
    dry_run: bool = False
    settle_deadline_seconds: float | None = None
    # Progress is logged every this many documents, as "<progress_label> 1000/1657 sent, 1158/s".
    progress_every: int = 500
    progress_label: str = ""  # e.g. "company Acme: invoices and credit notes" (set per phase by sync)


@dataclass
class PushOutcome:
    """Counts per final ledger state, plus what was not sent and why."""

    sent: int = 0
    unchanged: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    changed_after_push: list[str] = field(default_factory=list)
    quota_exhausted: bool = False
    planned: dict[str, int] = field(default_factory=dict)
    # The error that stopped this company's pushing (a broken connection, a refused key): the company
    # fails with it once every document is recorded.
    stopped_by: CodatError | None = None

    def merge(self, other: PushOutcome) -> None:
        self.sent += other.sent
        self.unchanged += other.unchanged
        for k, v in other.by_status.items():
            self.by_status[k] = self.by_status.get(k, 0) + v
        for k, v in other.planned.items():
            self.planned[k] = self.planned.get(k, 0) + v
        self.changed_after_push += other.changed_after_push
        self.quota_exhausted |= other.quota_exhausted
        self.stopped_by = self.stopped_by or other.stopped_by

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "unchanged": self.unchanged, "by_status": dict(self.by_status),
                "changed_after_push": len(self.changed_after_push), "quota_exhausted": self.quota_exhausted,
                "planned": dict(self.planned), "stopped": str(self.stopped_by) if self.stopped_by else None}

    def stop(self, error: CodatError) -> None:
        """Record why pushing stopped: the daily quota (the next run finishes) or a company failure."""
        if isinstance(error, CodatRateLimited):
            self.quota_exhausted = True
        elif self.stopped_by is None:
            self.stopped_by = error


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- planning (pure) ------------------------------------------------------------------------------

def plan_pushes(documents: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Decide per document: create, update, resolve an unknown outcome, or leave alone.

    ``documents``: company_id, document_type, source_id, document_number, currency, total_amount,
    payload (bytes), content_hash. ``ledger``: existing ``ar_push_ledger`` rows (any superset).
    Returns ``documents`` plus ``action``, ``idempotency_key``, ``platform_id``, ``previous_status``,
    ``previous_key``, ``push_operation_key`` and ``attempts``.
    """
    cols = ["content_hash", "status", "platform_id", "idempotency_key", "push_operation_key", "attempts"]
    previous = ledger[LEDGER_KEY + cols].rename(columns={
        "content_hash": "previous_hash", "status": "previous_status", "idempotency_key": "previous_key"})
    plan = documents.merge(previous, on=LEDGER_KEY, how="left")
    # A create the platform refused unprocessed (a broken link) gets a fresh key: Codat replays the
    # cached refusal for 90 minutes to the old one, even after the connection is re-linked.
    refused = plan["previous_key"].astype("string").str.startswith(REFUSED).fillna(False).astype(bool)
    plan["idempotency_key"] = [
        rotated_key(c, t, s, h, pk) if r else idempotency_key(c, t, s, h) for c, t, s, h, pk, r in
        zip(plan["company_id"], plan["document_type"], plan["source_id"], plan["content_hash"],
            plan["previous_key"], refused, strict=True)
    ]
    status = plan["previous_status"].astype("string")
    same = (plan["previous_hash"].astype("string") == plan["content_hash"]).fillna(False).astype(bool)
    known = plan["platform_id"].notna() & (plan["platform_id"].astype("string") != "")
    updatable = plan["document_type"].map(lambda t: KINDS[t].updatable).astype(bool)
    # A never-sent waiting row has no key yet: it is a plain create.
    was_sent = plan["previous_key"].notna() & (plan["previous_key"].astype("string") != "") & ~refused

    action = pd.Series(CREATE, index=plan.index, dtype="object")
    is_success = (status == "success").fillna(False).astype(bool)
    is_failed = (status == "failed").fillna(False).astype(bool)
    not_final = status.isin(list(NOT_FINAL)).fillna(False).astype(bool)
    action[is_success & same] = UNCHANGED
    action[is_success & ~same & updatable & known] = UPDATE
    action[is_success & ~same & ~updatable] = CHANGED_AFTER_PUSH
    action[is_failed & same] = FAILED_UNCHANGED
    action[is_failed & ~same & known & updatable] = UPDATE
    action[not_final & was_sent] = RESOLVE
    # Sent again after a read-back, a document keeps the key it was sent with: a replay, if Codat has it.
    keep = (action == RESOLVE) & same
    plan.loc[keep, "idempotency_key"] = plan.loc[keep, "previous_key"]
    plan["action"] = action
    plan["attempts"] = plan["attempts"].fillna(0).astype(int)
    return plan


# -- ledger I/O -----------------------------------------------------------------------------------

class Ledger:
    """Reads and writes ``ar_push_ledger`` rows for one company (bulk, one transaction per write)."""

    def __init__(self, engine):
        self.engine = engine

    def load(self, company_id: str, document_types: Iterable[str] | None = None) -> pd.DataFrame:
        frame = io.read_frame(self.engine, LEDGER, where={"company_id": company_id})
        if document_types is not None:
            frame = frame[frame["document_type"].isin(list(document_types))]
        return frame.reset_index(drop=True)

    def write(self, rows: pd.DataFrame) -> None:
        if len(rows):
            io.write_frame(self.engine, LEDGER, rows[_ledger_columns(rows)], mode="upsert", key_columns=LEDGER_KEY)

    def not_final(self, company_id: str) -> pd.DataFrame:
        frame = self.load(company_id)
        return frame[frame["status"].isin(list(NOT_FINAL))].reset_index(drop=True)

    def platform_ids(self, company_id: str) -> pd.DataFrame:
        """company_id, document_type, source_id → platform_id for documents the platform holds."""
        frame = self.load(company_id)
        ok = frame[(frame["status"] == "success") & frame["platform_id"].notna()]
        return ok[LEDGER_KEY + ["platform_id"]].reset_index(drop=True)


def _ledger_columns(rows: pd.DataFrame) -> list[str]:
    return [c.name for c in LEDGER.columns if c.name in rows.columns]


def waiting_rows(waiting: pd.DataFrame, ctx: PushContext, ledger: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows (``pending``, never sent) for documents that wait on another document.

    ``waiting``: company_id, document_type, source_id, document_number, reason. Rows the ledger
    already knows as sent keep their state: waiting only describes documents never pushed.
    """
    if waiting.empty:
        return waiting
    known = ledger.set_index(LEDGER_KEY).index if len(ledger) else pd.MultiIndex.from_tuples([], names=LEDGER_KEY)
    fresh = waiting[~waiting.set_index(LEDGER_KEY).index.isin(known)]
    now = utc_now()
    return pd.DataFrame({
        "company_id": fresh["company_id"], "document_type": fresh["document_type"],
        "source_id": fresh["source_id"], "document_number": fresh.get("document_number"),
        "content_hash": "", "idempotency_key": "", "status": "pending", "attempts": 0,
        "last_error": fresh["reason"], "business_date": ctx.business_date, "run_id": ctx.run_id,
        "created_at": now, "updated_at": now,
    })


# -- talking to the platform ----------------------------------------------------------------------

async def check_connection(client, ctx: PushContext) -> None:
    """Push only to a ``Linked`` connection (CONTRACT §7): anything else stops the company before it sends.

    Raises :class:`CodatConnectionNotLinked` naming the status; a refused key or an unknown company
    raises the client's own error.
    """
    connection = await client.get_connection(ctx.company_id, ctx.connection_id)
    if connection.status != ConnectionStatus.Linked:
        raise CodatConnectionNotLinked(
            f"connection {ctx.connection_id} of company {ctx.company_id} is {connection.status.value} in Codat, so "
            "nothing can be pushed to its accounting platform -> re-link the connection in Codat, then rerun the day",
            connection_status=connection.status.value, method="GET",
            path=f"/companies/{ctx.company_id}/connections/{ctx.connection_id}")


async def explain_stop(client, ctx: PushContext, error: CodatError) -> CodatError:
    """After a push was refused with 401/403, say whether the connection broke or the key was refused.

    Codat refuses pushes to a connection that is no longer linked with 401/403 as well; one look at the
    connection tells the two apart, so the advice is the right one.
    """
    if not isinstance(error, CodatAuthError):
        return error
    try:
        await check_connection(client, ctx)
    except CodatConnectionNotLinked as broken:
        broken.__cause__ = error
        return broken
    except CodatError:
        return error  # the key itself is refused: the original error says so
    return error


def record_not_sent(ledger: Ledger, ctx: PushContext, documents: pd.DataFrame, reason: str) -> pd.DataFrame:
    """Record documents that were never sent (their company stopped) as ``pending`` with ``reason``.

    Documents the ledger already knows keep their state: the next run plans them again from it.
    """
    rows = documents.assign(reason=reason)[LEDGER_KEY + ["document_number", "reason"]]
    fresh = waiting_rows(rows, ctx, ledger.load(ctx.company_id))
    ledger.write(fresh)
    return fresh


async def read_back_by_number(client, company_id: str, document_type: str, numbers: Sequence[str], *,
                              connection_id: str | None = None) -> dict[str, list[dict]]:
    """Platform records of one type whose identity field equals one of ``numbers`` (few requests).

    Numbers are OR-ed into queries kept well under Codat's 2048-character limit. Codat compares strings
    case-insensitively, so the query also returns look-alikes (``INV-1`` for ``inv-1``); only an exact
    match counts — taking a look-alike for the document would record as pushed a document the platform
    does not hold. Direct costs (fees) are read per connection: pass ``connection_id``.
    """
    kind = KINDS[document_type]
    found: dict[str, list[dict]] = {}
    wanted = {n for n in numbers if n}
    # One query term per case-insensitive value: it returns every spelling.
    terms = list({n.casefold(): n for n in sorted(wanted)}.values())
    chunk: list[str] = []
    length = 0

    async def run(values: list[str]) -> None:
        query = str(Q.any(*[Q(kind.number_field) == v for v in values]))
        async for record in client.iter_records(company_id, kind.data_type, query=query,
                                                connection_id=connection_id):
            if (record.get("metadata") or {}).get("isDeleted"):
                continue
            value = record.get(kind.number_field)
            if value is not None and str(value) in wanted:
                found.setdefault(str(value), []).append(record)

    for number in terms:
        piece = len(kind.number_field) + len(number) + 8
        if chunk and length + piece > 1500:
            await run(chunk)
            chunk, length = [], 0
        chunk.append(number)
        length += piece
    if chunk:
        await run(chunk)
    return found


async def _send_all(client, ctx: PushContext, rows: pd.DataFrame, ledger: Ledger, outcome: PushOutcome,
                    concurrency: int, flush_every: int = 500) -> pd.DataFrame:
    """POST/PUT every row with ``concurrency`` requests always in flight; returns rows with the results.

    Every row is first marked ``pending`` with its idempotency key in one write, so a crash at any point
    leaves each row traceable (the next run settles or reads it back before sending again). Operation
    keys are then recorded every ``flush_every`` answers: no request ever waits for its neighbours —
    a slice-by-slice loop would hold the whole slice for its slowest request.
    """
    results: dict[int, dict[str, Any]] = {}
    stop = asyncio.Event()
    stopped: list[str] = []
    started = time.monotonic()

    now = utc_now()
    marks = rows.copy()
    marks["status"] = "pending"
    marks["operation"] = ["update" if a == UPDATE else "create" for a in marks["action"]]
    marks["attempts"] = marks["attempts"] + 1
    marks["pushed_at"] = now
    marks["updated_at"] = now
    marks["last_error"] = None
    marks["push_operation_key"] = None
    ledger.write(_with_run(marks, ctx))

    async def send_one(index: int, row) -> None:
        kind = KINDS[row.document_type]
        try:
            op = await client.push(
                ctx.company_id, ctx.connection_id, kind.data_type, row.payload,
                idempotency_key=row.idempotency_key,
                record_id=row.platform_id if row.action == UPDATE else None,
            )
            results[index] = {"push_operation_key": op.push_operation_key, "status": "pending", "last_error": None}
        except CodatError as exc:
            verdict = outcomes.of_error(exc)
            if verdict.stop:
                # The quota is spent or the connection is broken: nothing more can go out for this company.
                stop.set()
                stopped.append(verdict.reason)
                outcome.stop(exc)
            results[index] = {"status": verdict.status, "last_error": verdict.reason,
                              "not_written": verdict.status == outcomes.PENDING,
                              # 429s are never cached; other refusals are replayed to the same key.
                              "refused": verdict.status == outcomes.PENDING and exc.status_code is not None
                              and exc.status_code != 429}

    def answered(indices: list[int]) -> pd.DataFrame:
        frame = marks.loc[indices].copy()
        for col in ("push_operation_key", "status", "last_error"):
            frame[col] = [results[i].get(col) for i in indices]
        frame["updated_at"] = utc_now()
        return _with_run(frame, ctx)

    unflushed: list[int] = []
    todo = iter(rows.itertuples())

    async def worker() -> None:
        for row in todo:  # one shared iterator: each row is taken by exactly one worker
            if stop.is_set():
                return
            await send_one(row.Index, row)
            unflushed.append(row.Index)
            outcome.sent += 1
            if outcome.sent % ctx.progress_every == 0:
                rate = outcome.sent / max(time.monotonic() - started, 1e-6)
                log.info("%s %d/%d sent, %.0f/s", ctx.progress_label or f"company {ctx.company_id}:", outcome.sent,
                         len(rows), rate)
            if len(unflushed) >= flush_every:
                batch = unflushed[:]
                unflushed.clear()
                ledger.write(answered(batch))

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(rows))))))
    if unflushed:
        ledger.write(answered(unflushed))

    out = marks.copy()
    out["push_operation_key"] = [results.get(i, {}).get("push_operation_key") for i in out.index]
    out["status"] = [results.get(i, {}).get("status", "pending") for i in out.index]
    why = f"not sent: pushing stopped ({stopped[0] if stopped else 'the run stopped'}); the next run sends it"
    out["last_error"] = [results[i].get("last_error") if i in results else why for i in out.index]
    # A create that certainly never reached the platform is a plain create next time (no read-back).
    # Typed bool: on an empty frame an untyped Series is object dtype and cannot mask rows.
    not_written = pd.Series([i not in results or bool(results[i].get("not_written")) for i in out.index],
                            index=out.index, dtype=bool)
    creates = out["operation"] == "create"
    out.loc[not_written & creates, "idempotency_key"] = ""
    refused = pd.Series([bool(results.get(i, {}).get("refused")) for i in out.index], index=out.index, dtype=bool)
    out.loc[refused & creates, "idempotency_key"] = refused_mark()
    return out


def _with_run(rows: pd.DataFrame, ctx: PushContext) -> pd.DataFrame:
    rows = rows.copy()
    rows["business_date"] = ctx.business_date
    rows["run_id"] = ctx.run_id
    if "total_amount" in rows.columns:
        rows["source_total"] = rows["total_amount"]
    if "created_at" not in rows.columns:
        rows["created_at"] = utc_now()
    else:
        rows["created_at"] = rows["created_at"].fillna(utc_now())
    return rows


async def _settle(client, ctx: PushContext, sent: pd.DataFrame, outcome: PushOutcome | None = None) -> pd.DataFrame:
    """Wait for the operations of ``sent`` and turn them into ledger states (:func:`outcomes.of_operation`).

    Adds ``not_written``: True where the platform says the write did not happen and cannot be blamed on
    the document (refused for the connection), so the document may be sent again.
    """
    keys = [k for k in sent["push_operation_key"].tolist() if isinstance(k, str) and k]
    ops = await client.settle(ctx.company_id, keys, deadline_seconds=ctx.settle_deadline_seconds) if keys else {}
    out = sent.copy()
    now = utc_now()
    statuses, errors, platform_ids, settled, not_written = [], [], [], [], []
    for key, status, error, platform_id in zip(out["push_operation_key"], out["status"], out["last_error"],
                                               out["platform_id"], strict=True):
        op = ops.get(key) if isinstance(key, str) else None
        if op is None:
            statuses.append(status)
            errors.append(error)
            platform_ids.append(platform_id)
            settled.append(None)
            not_written.append(False)
            continue
        verdict = outcomes.of_operation(op)
        final = verdict.status in (outcomes.SUCCESS, outcomes.FAILED, outcomes.TIMED_OUT)
        statuses.append(verdict.status)
        errors.append(verdict.reason or None)
        platform_ids.append((op.record_id or platform_id) if verdict.status == outcomes.SUCCESS else platform_id)
        settled.append(now if final else None)
        not_written.append(verdict.stop)
        if verdict.stop and outcome is not None:
            outcome.stop(CodatConnectionNotLinked(
                f"company {ctx.company_id}: {verdict.reason} -> re-link the connection in Codat, then rerun the day",
                status_code=op.status_code))
    out["status"], out["last_error"], out["platform_id"], out["settled_at"] = statuses, errors, platform_ids, settled
    out["not_written"] = not_written
    operation = out["operation"] if "operation" in out else pd.Series("create", index=out.index)
    refused_creates = out["not_written"].astype(bool) & (operation.astype("string") != "update").fillna(True)
    if refused_creates.any():
        # The operation's answer (a Failed operation) is what Codat replays to its key: never reuse it.
        out.loc[refused_creates, "idempotency_key"] = refused_mark()
        out.loc[refused_creates, "push_operation_key"] = None
    out["updated_at"] = now
    return out


# Why a possibly-written document is left alone instead of being created again.
NOT_VISIBLE_YET = ("may have been written, but the platform's list does not show it and cannot be trusted "
                   "yet (Codat lists a new record only after the company's data is refreshed{why}); it stays "
                   "unknown and the next run looks again before anything is sent")


async def _list_is_current(client, ctx: PushContext, data_type: str) -> tuple[bool, str]:
    """Refresh ``data_type`` and say whether its list now shows every write made before the refresh."""
    pull = await client.refresh(ctx.company_id, data_type, deadline_seconds=ctx.settle_deadline_seconds)
    if pull is None:
        return False, ": the refresh was refused"
    if not pull.is_complete:
        return False, f": the refresh queued now is {pull.status}"
    return True, ""


async def _unidentified_in_flight(client, ctx: PushContext, data_type: str, known_keys: set[str],
                                  since: datetime | None) -> bool:
    """True when a push of ``data_type`` this ledger has no key for is still ``Pending``.

    It may be one of ours whose answer was lost: its write can still land after any refresh.
    """
    query = Q.all(Q("dataType") == data_type, Q("status") == "Pending",
                  (Q("requestedOnUtc") >= since.replace(tzinfo=UTC)) if since is not None else None)
    async for op in client.iter_push_operations(ctx.company_id, query=query):
        if op.push_operation_key not in known_keys:
            return True
    return False


async def _read_back(client, ctx: PushContext, rows: pd.DataFrame, *, may_create: bool,
                     known_keys: set[str] = frozenset()) -> pd.DataFrame:
    """The last resort for a possibly-written create: look for it in the platform's list by number.

    Found (exact number): ``success`` with that record's id. Not found: the row may be created again
    (``action`` CREATE, same idempotency key) only when ``may_create``, the list was refreshed after
    the write and no unidentified push of the type is still in flight. Otherwise it stays as it is
    (``unknown`` / ``timed_out``), saying why, for the next run.
    """
    out = rows.copy()
    out["action"] = UNCHANGED
    for document_type, group in rows.groupby("document_type"):
        kind = KINDS[document_type]
        numbers = [str(n) for n in group["document_number"].dropna().tolist()]
        try:
            current, why = await _list_is_current(client, ctx, kind.data_type)
            found = await read_back_by_number(client, ctx.company_id, document_type, numbers,
                                              connection_id=ctx.connection_id)
        except CodatNotReady:
            # The company's data is still syncing: nothing can be read, so nothing is decided.
            current, why, found = False, ": the company's data is still syncing", {}
        missing = [i for i, n in zip(group.index, group["document_number"], strict=True) if not found.get(str(n))]
        if missing and may_create and current:
            pushed = pd.to_datetime(group.loc[missing].get("pushed_at", pd.Series(dtype="datetime64[ns]")))
            since = (pushed.min() - pd.Timedelta(minutes=10)).to_pydatetime() if pushed.notna().any() else None
            if await _unidentified_in_flight(client, ctx, kind.data_type, known_keys, since):
                current, why = False, f": a push of {kind.data_type} this ledger cannot identify is still pending"
        for index, number in zip(group.index, group["document_number"], strict=True):
            matches = found.get(str(number), [])
            if matches:
                out.loc[index, ["status", "platform_id", "last_error", "settled_at"]] = [
                    "success", matches[0]["id"], None, utc_now()]
            elif may_create and current:
                out.loc[index, "action"] = CREATE
            else:
                status = out.loc[index, "status"]
                out.loc[index, "status"] = status if status == outcomes.TIMED_OUT else outcomes.UNKNOWN
                out.loc[index, "last_error"] = NOT_VISIBLE_YET.format(why=why)
    return out


async def _resolve_unknown(client, ctx: PushContext, rows: pd.DataFrame, outcome: PushOutcome,
                           known_keys: set[str] = frozenset()) -> pd.DataFrame:
    """Rows with a not-final ledger state: find out what the platform actually holds, lag or not.

    1. Its push operation, by the key the ledger holds: ``Success`` names the record id, ``Failed``
       is definite, ``Pending`` is left alone (still in flight), refused for the connection means not
       written (sent again).
    2. Still open and it was an update: send the PUT again. An update cannot create a second record.
    3. Still open and it was a create (answer lost, ``TimedOut``, crash): :func:`_read_back`, the list
       refreshed first, and never a re-create while the record may exist but not show yet.
    """
    if rows.empty:
        return rows.assign(action=pd.Series(dtype="object"))
    settled = await _settle(client, ctx, rows.assign(status=rows["previous_status"], last_error=None), outcome)
    result = settled.copy()
    result["action"] = UNCHANGED
    in_flight = (settled["status"] == "pending") & settled["push_operation_key"].notna() & ~settled["not_written"] \
        & (settled["last_error"] == "the push operation is still pending")
    open_rows = settled["status"].isin(list(NOT_FINAL)) & ~in_flight
    has_record = settled["platform_id"].notna() & (settled["platform_id"].astype("string") != "")
    is_update = (settled["operation"].astype("string") == "update").fillna(False).astype(bool) \
        if "operation" in settled else pd.Series(False, index=settled.index)
    updatable = settled["document_type"].map(lambda t: KINDS[t].updatable).astype(bool)
    resend_update = open_rows & is_update & has_record & updatable
    result.loc[resend_update, "action"] = UPDATE
    resend_create = open_rows & settled["not_written"].astype(bool) & ~resend_update
    result.loc[resend_create, "action"] = CREATE
    if resend_create.any():
        result.loc[resend_create, "idempotency_key"] = [
            rotated_key(c, t, s, h, mark) for c, t, s, h, mark in result.loc[resend_create, [
                "company_id", "document_type", "source_id", "content_hash", "idempotency_key"]].itertuples(index=False)]
    look = open_rows & ~resend_update & ~resend_create
    if look.any():
        looked = await _read_back(client, ctx, settled[look], may_create=True, known_keys=known_keys)
        for column in ("status", "platform_id", "last_error", "settled_at", "action"):
            result.loc[looked.index, column] = looked[column]
        found = looked.index[(looked["status"] == "success")]
        changed = [i for i in found if result.loc[i, "content_hash"] != result.loc[i].get("previous_hash")
                   and KINDS[result.loc[i, "document_type"]].updatable]
        result.loc[changed, "action"] = UPDATE
    return result


async def push_documents(client, ledger: Ledger, ctx: PushContext, documents: pd.DataFrame,
                         *, concurrency: int = 10) -> tuple[PushOutcome, pd.DataFrame]:
    """Push one phase's documents of one company idempotently; returns counts and the final rows.

    ``documents`` is the transform's output (company_id, document_type, source_id, document_number,
    currency, total_amount, payload, content_hash). When pushing had to stop (a broken connection, a
    refused key), ``outcome.stopped_by`` holds the error; every document is recorded all the same.
    """
    outcome = PushOutcome()
    if documents.empty:
        return outcome, documents
    existing = ledger.load(ctx.company_id, documents["document_type"].unique())
    plan = plan_pushes(documents, existing)
    outcome.planned = plan["action"].value_counts().to_dict()
    if ctx.dry_run:
        return outcome, plan

    outcome.unchanged = int((plan["action"] == UNCHANGED).sum())
    outcome.changed_after_push = plan.loc[plan["action"] == CHANGED_AFTER_PUSH, "source_id"].tolist()
    resolving = plan["action"] == RESOLVE
    # Operation keys the ledger knows: a Pending operation not among them may be a lost answer of ours.
    known_keys = set(ledger.load(ctx.company_id)["push_operation_key"].dropna().astype(str)) \
        if resolving.any() else set()

    try:
        resolved = await _resolve_unknown(client, ctx, plan[resolving], outcome, known_keys)
    except CodatError as exc:
        verdict = outcomes.of_error(exc)
        if not verdict.stop:
            raise
        outcome.stop(exc)
        final = _stopped_before_sending(ledger, ctx, plan, outcome, exc)
        outcome.by_status = _final_status_counts(final)
        return outcome, final
    if len(resolved):
        ledger.write(_with_run(resolved[resolved["action"] == UNCHANGED], ctx))
        plan.loc[resolved.index, "action"] = resolved["action"]
        plan.loc[resolved.index, "platform_id"] = resolved["platform_id"]
        plan.loc[resolved.index, "idempotency_key"] = resolved["idempotency_key"]

    to_send = plan[plan["action"].isin([CREATE, UPDATE])]
    finished = plan[~plan["action"].isin([CREATE, UPDATE])]
    final_rows = [finished]
    if len(to_send) and outcome.stopped_by is not None:
        # Settling showed the connection broke: send nothing more, record the rest as not sent.
        record_not_sent(ledger, ctx, to_send, f"not sent: {outcome.stopped_by}")
        final_rows.append(to_send.assign(status="pending"))
    elif len(to_send):
        sent = await _send_all(client, ctx, to_send, ledger, outcome, concurrency)
        try:
            settled = await _settle(client, ctx, sent, outcome)
            # A TimedOut operation may have written anyway: look once more (the list refreshed first)
            # before leaving it for the next run. It is never created again in the same run.
            timed_out = settled[settled["status"] == outcomes.TIMED_OUT]
            if len(timed_out):
                looked = await _read_back(client, ctx, timed_out, may_create=False)
                for column in ("status", "platform_id", "last_error", "settled_at"):
                    settled.loc[looked.index, column] = looked[column]
        except CodatError as exc:
            # Sent but not confirmed: the rows stay pending with their operation keys; the next run
            # settles them (or reads them back) before sending anything again.
            verdict = outcomes.of_error(exc)
            ledger.write(_with_run(sent, ctx))
            if not verdict.stop:
                raise
            outcome.stop(exc)
            if isinstance(exc, CodatRateLimited):
                _log_rate_limit_stop(ctx, outcome, exc)
            settled = sent
        ledger.write(_with_run(settled, ctx))
        final_rows.append(settled)
    if outcome.stopped_by is not None:
        outcome.stopped_by = await explain_stop(client, ctx, outcome.stopped_by)
    final = pd.concat([f for f in final_rows if len(f)], ignore_index=True) if any(len(f) for f in final_rows) \
        else plan.iloc[0:0]
    for status, count in _final_status_counts(final).items():
        outcome.by_status[status] = outcome.by_status.get(status, 0) + count
    return outcome, final


def _log_rate_limit_stop(ctx: PushContext, outcome: PushOutcome, exc: CodatRateLimited) -> None:
    outcome.quota_exhausted = True
    log.warning("company %s: the API's rate limit stopped the push (%s); what is not confirmed stays pending "
                "for the next run", ctx.company_id, exc)


def _stopped_before_sending(ledger: Ledger, ctx: PushContext, plan: pd.DataFrame, outcome: PushOutcome,
                            exc: CodatError) -> pd.DataFrame:
    """Nothing could be checked or sent: record never-sent documents as pending, leave the rest as they are."""
    if isinstance(exc, CodatRateLimited):
        _log_rate_limit_stop(ctx, outcome, exc)
        reason = "not sent: the API's daily request quota ran out; the next run sends it"
    else:
        reason = f"not sent: {exc}"
    fresh = plan[plan["previous_status"].isna()]
    if len(fresh):
        record_not_sent(ledger, ctx, fresh, reason)
    return plan.assign(status=plan["previous_status"].fillna("pending"))


def _final_status_counts(final: pd.DataFrame) -> dict[str, int]:
    status = final.get("status")
    if status is None:
        status = final["previous_status"]
    status = status.where(status.notna(), final.get("previous_status"))
    unchanged = final["action"].isin([UNCHANGED])
    status = status.where(~unchanged | status.notna(), "success")
    return status.fillna("pending").value_counts().to_dict()
