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


async def send_all(client, ctx: PushContext, rows: pd.DataFrame, ledger: Ledger, outcome: PushOutcome,
                   concurrency: int, flush_every: int = 500, settler: Settler | None = None) -> pd.DataFrame:
    """POST/PUT every row with ``concurrency`` requests always in flight; returns rows with the results.

    Every row is first marked ``pending`` with its idempotency key in one write, so a crash at any point
    leaves each row traceable (the next run settles or reads it back before sending again). Operation
    keys are then recorded every ``flush_every`` answers, in a thread, so sending never pauses for the
    ledger; no request ever waits for its neighbours either — a slice-by-slice loop would hold the whole
    slice for its slowest request. Each operation key goes to ``settler`` as soon as it is answered, so
    settling overlaps sending.
    """
    sender = _Sender(client, ctx, rows, outcome, settler)
    ledger.write(with_run(sender.marks, ctx))
    unflushed: list[int] = []
    todo = iter(rows.itertuples())
    flushing: asyncio.Task | None = None

    async def flush(frame: pd.DataFrame, previous: asyncio.Task | None) -> None:
        # In a thread, one after the other: the event loop keeps sending while the ledger is written.
        if previous is not None:
            await previous
        await asyncio.to_thread(ledger.write, frame)

    async def worker() -> None:
        nonlocal flushing
        for row in todo:  # one shared iterator: each row is taken by exactly one worker
            if sender.stop.is_set():
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
        if flushing is not None:
            await flushing
    if settler is not None:
        settler.sending_done()  # the last batch is settled while the last answers are written
    if unflushed:
        await flush(sender.answered(unflushed), None)
    return sender.result_rows()
