"""Settling: push operations turned into ledger states, polled while the phase is still sending.

:class:`Settler` takes each operation key as its POST is answered and settles them in batches in the
background (``client.settle``, whose waits follow how fast operations complete — see
:mod:`receivables.codat.settling`), so by the time the last document is sent most of the phase is
already settled. :func:`settle_rows` then turns every row's operation into its ledger state.

    async with Settler(client, ctx) as settler:
        sent = await send_all(..., settler=settler)
        operations = await settler.finish()
    settled = await settle_rows(client, ctx, sent, outcome, operations)
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import pandas as pd

from receivables.codat.errors import CodatConnectionNotLinked
from receivables.codat.models import PushOperation
from receivables.documents import LedgerStatus
from receivables.push import outcome as outcomes
from receivables.push.plan import Action, refused_mark, utc_now

if TYPE_CHECKING:
    from receivables.push.run import PushContext, PushOutcome

# Operations settled together while sending: two list requests per batch at most, usually, so a batch
# this size costs ≈ 0.01 requests per document.
SETTLE_EVERY = 200


class Settler:
    """Settles the operations of one phase as they are sent, a batch at a time, in the background.

    When sending ends, the rest is settled at once, alongside a batch still waiting for its last
    operations (that batch's deadline began earlier, so the wait after the last send stays one
    ``settle_deadline_seconds`` at most). An operation still pending at its deadline comes back as last
    seen, as without the overlap; a batch that failed (an API error) is settled again at the end.
    """

    def __init__(self, client, ctx: PushContext, *, every: int = SETTLE_EVERY) -> None:
        self.client, self.ctx, self.every = client, ctx, every
        self.operations: dict[str, PushOperation] = {}
        self._queue: list[str] = []
        self._failed: list[str] = []
        self._ready = asyncio.Event()
        self._finishing = False
        self._task: asyncio.Task | None = None
        self._rest: asyncio.Task | None = None

    async def __aenter__(self) -> Settler:
        self._task = asyncio.create_task(self._settle_while_sending())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in (self._task, self._rest):
            if task is not None and not task.done():  # sending failed: nothing more to settle
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def sent(self, key: str) -> None:
        """An operation key was answered: it joins the next batch."""
        self._queue.append(key)
        if len(self._queue) >= self.every:
            self._ready.set()

    async def _settle(self, keys: list[str]) -> None:
        self.operations.update(await self.client.settle(self.ctx.company_id, keys,
                                                        deadline_seconds=self.ctx.settle_deadline_seconds))

    async def _settle_while_sending(self) -> None:
        while not self._finishing:
            await self._ready.wait()
            self._ready.clear()
            while len(self._queue) >= self.every and not self._finishing:
                batch, self._queue = self._queue, []
                try:
                    await self._settle(batch)
                except Exception:
                    # Settled again by finish(), where a lasting error is raised to the caller.
                    self._failed.extend(batch)
                    return

    def sending_done(self) -> None:
        """The last answer is in: settle the rest now, in the background, while the sender still writes
        the ledger (:meth:`finish` then waits for it instead of starting it)."""
        if self._rest is None and self._queue:
            rest, self._queue = self._queue, []
            self._rest = asyncio.create_task(self._settle(rest))

    async def finish(self) -> dict[str, PushOperation]:
        """Every operation sent, settled (or as last seen at its deadline). An API error is raised."""
        self._finishing = True
        self._ready.set()
        rest, self._queue = self._queue, []
        await asyncio.gather(self._settle(rest) if rest else asyncio.sleep(0), self._task,
                             self._rest if self._rest is not None else asyncio.sleep(0))
        if self._failed:
            failed, self._failed = self._failed, []
            await self._settle(failed)
        return self.operations


async def settle_rows(client, ctx: PushContext, sent: pd.DataFrame, outcome: PushOutcome | None = None,
                      operations: dict[str, PushOperation] | None = None) -> pd.DataFrame:
    """Turn the operations of ``sent`` into ledger states (:func:`outcomes.of_operation`).

    ``operations`` already settled (by a :class:`Settler`) are used as they are; the rest are settled
    here. Adds ``not_written``: True where the platform says the write did not happen and cannot be
    blamed on the document (refused for the connection), so the document may be sent again.
    """
    ops = dict(operations or {})
    keys = [k for k in sent["push_operation_key"].tolist() if isinstance(k, str) and k and k not in ops]
    if keys:
        ops.update(await client.settle(ctx.company_id, keys, deadline_seconds=ctx.settle_deadline_seconds))
    out = sent.copy()
    now = utc_now()
    found = [ops.get(k) if isinstance(k, str) else None for k in out["push_operation_key"]]
    rows = [_settled(ctx, op, status, error, platform_id, now, outcome) for op, status, error, platform_id
            in zip(found, out["status"], out["last_error"], out["platform_id"], strict=True)]
    columns = ["status", "last_error", "platform_id", "settled_at", "not_written"]
    for position, column in enumerate(columns):
        out[column] = [r[position] for r in rows]
    operation = out["operation"] if "operation" in out else pd.Series(Action.CREATE.value, index=out.index)
    creates = (operation.astype("string") != Action.UPDATE).fillna(True)
    refused_creates = out["not_written"].astype(bool) & creates
    if refused_creates.any():
        # The operation's answer (a Failed operation) is what Codat replays to its key: never reuse it.
        out.loc[refused_creates, "idempotency_key"] = refused_mark()
        out.loc[refused_creates, "push_operation_key"] = None
    out["updated_at"] = now
    return out


def _settled(ctx: PushContext, op: PushOperation | None, status, error, platform_id, now, outcome):
    """One row's (status, last_error, platform_id, settled_at, not_written) from its operation."""
    if op is None:
        return status, error, platform_id, None, False
    verdict = outcomes.of_operation(op)
    final = verdict.status in (LedgerStatus.SUCCESS, LedgerStatus.FAILED, LedgerStatus.TIMED_OUT)
    if verdict.status == LedgerStatus.SUCCESS:
        platform_id = op.record_id or platform_id
    if verdict.stop and outcome is not None:
        outcome.stop(CodatConnectionNotLinked(
            f"company {ctx.company_id}: {verdict.reason} -> re-link the connection in Codat, then rerun the "
            "day",
            status_code=op.status_code))
    return verdict.status, verdict.reason or None, platform_id, now if final else None, verdict.stop
