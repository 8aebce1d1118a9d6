"""Sending one phase's documents: every request in flight at once, each answer traceable in the ledger.

    >>> sent = await send_all(client, ctx, rows, ledger, outcome, concurrency=10, settler=settler)
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import pandas as pd

from receivables.codat.errors import CodatAuthError, CodatConnectionNotLinked, CodatError
from receivables.codat.models import ConnectionStatus
from receivables.documents import KIND, LedgerStatus
from receivables.push import outcome as outcomes
from receivables.push.ledger import Ledger, with_run
from receivables.push.plan import Action, refused_mark, utc_now

if TYPE_CHECKING:
    from receivables.push.run import PushContext, PushOutcome
    from receivables.push.settle import Settler

log = logging.getLogger("receivables.push")


async def check_connection(client, ctx: PushContext) -> None:
    """Push only to a ``Linked`` connection (CONTRACT §7): anything else stops the company before it sends.

    Raises :class:`CodatConnectionNotLinked` naming the status; a refused key or an unknown company
    raises the client's own error.
    """
    connection = await client.get_connection(ctx.company_id, ctx.connection_id)
    if connection.status != ConnectionStatus.Linked:
        raise CodatConnectionNotLinked(
            f"connection {ctx.connection_id} of company {ctx.company_id} is {connection.status.value} in "
            "Codat, so nothing can be pushed to its accounting platform -> re-link the connection in Codat, "
            "then rerun the day",
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


# The columns of a row that :meth:`_Sender.send_one` reads.
_SENT = ("document_type", "payload", "idempotency_key", "platform_id", "action")


class _Sender:
    """The state of one :func:`send_all`: rows marked pending, answers by row, what stopped it."""

    def __init__(self, client, ctx: PushContext, rows: pd.DataFrame, outcome: PushOutcome,
                 settler: Settler | None) -> None:
        self.client, self.ctx, self.outcome, self.settler = client, ctx, outcome, settler
        self.results: dict[int, dict[str, Any]] = {}
        self.stop = asyncio.Event()
        self.stopped: list[str] = []
        self.started = time.monotonic()
        self.total = len(rows)
        now = utc_now()
        self.marks = rows.assign(
            status=LedgerStatus.PENDING,
            operation=[str(Action.UPDATE if a == Action.UPDATE else Action.CREATE) for a in rows["action"]],
            attempts=rows["attempts"] + 1, pushed_at=now, updated_at=now, last_error=None,
            push_operation_key=None)

    async def send_one(self, index: int, row) -> None:
        try:
            op = await self.client.push(
                self.ctx.company_id, self.ctx.connection_id, KIND[row.document_type].data_type, row.payload,
                idempotency_key=row.idempotency_key,
                record_id=row.platform_id if row.action == Action.UPDATE else None)
        except CodatError as exc:
            self.results[index] = self._refusal(exc)
            return
        self.results[index] = {"push_operation_key": op.push_operation_key, "status": LedgerStatus.PENDING,
                               "last_error": None}
        if self.settler is not None:
            self.settler.sent(op.push_operation_key)  # settling starts while the phase still sends

    def _refusal(self, exc: CodatError) -> dict[str, Any]:
        verdict = outcomes.of_error(exc)
        if verdict.stop:
            # The quota is spent or the connection is broken: nothing more can go out for this company.
            self.stop.set()
            self.stopped.append(verdict.reason)
            self.outcome.stop(exc)
        not_written = verdict.status == LedgerStatus.PENDING
        # 429s are never cached; other refusals are replayed to the same key.
        return {"status": verdict.status, "last_error": verdict.reason, "not_written": not_written,
                "refused": not_written and exc.status_code is not None and exc.status_code != 429}

    def answered(self, indices: list[int]) -> pd.DataFrame:
        frame = self.marks.loc[indices].copy()
        for col in ("push_operation_key", "status", "last_error"):
            frame[col] = [self.results[i].get(col) for i in indices]
        frame["updated_at"] = utc_now()
        return with_run(frame, self.ctx)

    def progress(self) -> None:
        self.outcome.sent += 1
        if self.outcome.sent % self.ctx.progress_every == 0:
            rate = self.outcome.sent / max(time.monotonic() - self.started, 1e-6)
            log.info("%s %d/%d sent, %.0f/s", self.ctx.progress_label or f"company {self.ctx.company_id}:",
                     self.outcome.sent, self.total, rate)

    def result_rows(self) -> pd.DataFrame:
        """Every row with its answer; rows never sent (the company stopped) say so."""
        out = self.marks.copy()
        got = [self.results.get(i, {}) for i in out.index]
        out["push_operation_key"] = [r.get("push_operation_key") for r in got]
        out["status"] = [r.get("status", LedgerStatus.PENDING) for r in got]
        cause = self.stopped[0] if self.stopped else "the run stopped"
        why = f"not sent: pushing stopped ({cause}); the next run sends it"
        out["last_error"] = [r.get("last_error") if i in self.results else why
                             for i, r in zip(out.index, got, strict=True)]
        # A create that certainly never reached the platform is a plain create next time (no read-back).
        # Typed bool: on an empty frame an untyped Series is object dtype and cannot mask rows.
        not_written = pd.Series([i not in self.results or bool(r.get("not_written")) for i, r in
                                 zip(out.index, got, strict=True)], index=out.index, dtype=bool)
        creates = out["operation"] == Action.CREATE
        out.loc[not_written & creates, "idempotency_key"] = ""
        refused = pd.Series([bool(r.get("refused")) for r in got], index=out.index, dtype=bool)
        out.loc[refused & creates, "idempotency_key"] = refused_mark()
        return out


# Pending marks are written in chunks growing from MARK_FIRST to MARK_LARGEST rows: sending starts once the
# first (small) chunk is in the ledger, while the rest are written ahead of it.
MARK_FIRST, MARK_LARGEST = 100, 4_000


def mark_chunks(total: int, first: int = MARK_FIRST, largest: int = MARK_LARGEST) -> list[tuple[int, int]]:
    """The (start, end) positions of each chunk of pending marks: ``first`` rows, doubling up to ``largest``.

    >>> mark_chunks(1000)
    [(0, 100), (100, 300), (300, 700), (700, 1000)]
    """
    chunks, start, size = [], 0, first
    while start < total:
        chunks.append((start, min(total, start + size)))
        start, size = start + size, min(2 * size, largest)
    return chunks


class _Writes:
    """The ledger writes of one :func:`send_all`, one at a time in order, each in a thread so that the event
    loop keeps sending while the ledger is written."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.lock = asyncio.Lock()  # FIFO: marks and answers are written in the order they were asked

    async def write(self, frame: pd.DataFrame) -> None:
        async with self.lock:
            await asyncio.to_thread(self.ledger.write, frame)


class _Marks:
    """Writes the pending marks chunk by chunk; :meth:`ready` lets a row go only once its mark is written."""

    def __init__(self, sender: _Sender, writes: _Writes) -> None:
        self.sender, self.writes = sender, writes
        self.marked = 0  # rows at positions below this are durably marked pending
        self.over = False  # no further chunk will be written (all done, stopped, or a write failed)
        self.changed = asyncio.Condition()

    async def write_all(self) -> None:
        try:
            for start, end in mark_chunks(self.sender.total):
                if self.over or self.sender.stop.is_set():
                    return  # nothing more goes out: the rows never sent are recorded with the answers
                await self.writes.write(with_run(self.sender.marks.iloc[start:end], self.sender.ctx))
                async with self.changed:
                    self.marked = end
                    self.changed.notify_all()
        finally:
            await self.end()

    async def end(self) -> None:
        async with self.changed:
            self.over = True
            self.changed.notify_all()

    async def ready(self, position: int) -> bool:
        """Waits until the row at ``position`` is marked; False when it never will be (do not send it)."""
        if position < self.marked:
            return True
        async with self.changed:
            await self.changed.wait_for(lambda: position < self.marked or self.over)
        return position < self.marked


async def send_all(client, ctx: PushContext, rows: pd.DataFrame, ledger: Ledger, outcome: PushOutcome,
                   concurrency: int, flush_every: int = 500, settler: Settler | None = None) -> pd.DataFrame:
    """POST/PUT every row with ``concurrency`` requests always in flight; returns rows with the results.

    Every row is marked ``pending`` with its idempotency key before it is sent, so a crash at any point
    leaves each row sent traceable (the next run settles or reads it back before sending again). The marks
    are written in chunks (:func:`mark_chunks`): sending starts once the first is written, the others are
    written ahead of it, and a row waits for its own chunk. Operation keys are then recorded every
    ``flush_every`` answers; every ledger write runs in a thread, one at a time, so sending never pauses for
    the ledger; no request ever waits for its neighbours either — a slice-by-slice loop would hold the whole
    slice for its slowest request. Each operation key goes to ``settler`` as soon as it is answered, so
    settling overlaps sending. Every write has ended when this returns.
    """
    sender = _Sender(client, ctx, rows, outcome, settler)
    writes = _Writes(ledger)
    marks = _Marks(sender, writes)
    marking = asyncio.create_task(marks.write_all())
    unflushed: list[int] = []
    # Plain Python values: itertuples over the frame's Arrow columns converts one value at a time (≈ 5 % of
    # the sending's CPU); only what send_one reads.
    todo = enumerate(rows[list(_SENT)].astype(object).itertuples())
    flushing: asyncio.Task | None = None

    async def flush(frame: pd.DataFrame, previous: asyncio.Task | None) -> None:
        if previous is not None:
            await previous
        await writes.write(frame)

    async def worker() -> None:
        nonlocal flushing
        for position, row in todo:  # one shared iterator: each row is taken by exactly one worker
            if sender.stop.is_set() or not await marks.ready(position) or sender.stop.is_set():
                return
            await sender.send_one(row.Index, row)
            unflushed.append(row.Index)
            sender.progress()
            if len(unflushed) >= flush_every:
                batch = unflushed[:]
                unflushed.clear()
                flushing = asyncio.create_task(flush(sender.answered(batch), flushing))

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(rows))))))
    finally:
        await marks.end()  # no chunk is started after this; the one being written is waited for
        await asyncio.wait([marking])
        if flushing is not None:
            await flushing
    if settler is not None:
        settler.sending_done()  # the last batch is settled while the last answers are written
    if unflushed:
        await flush(sender.answered(unflushed), None)
    marking.result()  # a chunk of marks that could not be written fails the phase (its rows were not sent)
    return sender.result_rows()
