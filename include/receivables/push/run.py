"""One phase of one company's push: plan, resolve what is unknown, send, settle, record.

    outcome, rows = await push_documents(client, ledger, ctx, documents)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from receivables.codat.errors import CodatError, CodatRateLimited
from receivables.documents import LedgerStatus
from receivables.push import outcome as outcomes
from receivables.push.ledger import Ledger, of_types, record_not_sent, with_run
from receivables.push.plan import SENDING, Action, plan_pushes
from receivables.push.resolve import read_back, resolve_unknown
from receivables.push.send import explain_stop, send_all
from receivables.push.settle import Settler, settle_rows

log = logging.getLogger("receivables.push")


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
        _add_counts(self.by_status, other.by_status)
        _add_counts(self.planned, other.planned)
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


def _add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        into[k] = into.get(k, 0) + v


async def push_documents(client, ledger: Ledger, ctx: PushContext, documents: pd.DataFrame,
                         *, concurrency: int = 10, ledger_rows: pd.DataFrame | None = None
                         ) -> tuple[PushOutcome, pd.DataFrame]:
    """Push one phase's documents of one company idempotently; returns counts and the final rows.

    ``documents`` is the transform's output (company_id, document_type, source_id, document_number,
    currency, total_amount, payload, content_hash). When pushing had to stop (a broken connection, a
    refused key), ``outcome.stopped_by`` holds the error; every document is recorded all the same.
    ``ledger_rows``: the company's whole ledger as the caller has just read it (nothing written since),
    so that it is not read again here; by default it is read.
    """
    outcome = PushOutcome()
    if documents.empty:
        return outcome, documents
    company_ledger = ledger.load(ctx.company_id) if ledger_rows is None else ledger_rows
    plan = plan_pushes(documents, of_types(company_ledger, documents["document_type"].unique()))
    outcome.planned = {str(k): v for k, v in plan["action"].value_counts().to_dict().items()}
    if ctx.dry_run:
        return outcome, plan
    outcome.unchanged = int((plan["action"] == Action.UNCHANGED).sum())
    outcome.changed_after_push = plan.loc[plan["action"] == Action.CHANGED_AFTER_PUSH, "source_id"].tolist()
    try:
        await _resolve(client, ledger, ctx, plan, outcome, company_ledger)
    except CodatError as exc:
        if not outcomes.of_error(exc).stop:
            raise
        outcome.stop(exc)
        final = _stopped_before_sending(ledger, ctx, plan, outcome, exc)
        outcome.by_status = _final_status_counts(final)
        return outcome, final

    sending = plan["action"].isin(SENDING)
    to_send, final_rows = plan[sending], [plan[~sending]]
    if len(to_send) and outcome.stopped_by is not None:
        # Settling showed the connection broke: send nothing more, record the rest as not sent.
        record_not_sent(ledger, ctx, to_send, f"not sent: {outcome.stopped_by}")
        final_rows.append(to_send.assign(status=LedgerStatus.PENDING))
    elif len(to_send):
        final_rows.append(await _send_and_settle(client, ledger, ctx, to_send, outcome, concurrency))
    if outcome.stopped_by is not None:
        outcome.stopped_by = await explain_stop(client, ctx, outcome.stopped_by)
    kept = [f for f in final_rows if len(f)]
    final = pd.concat(kept, ignore_index=True) if kept else plan.iloc[0:0]
    _add_counts(outcome.by_status, _final_status_counts(final))
    return outcome, final


async def _resolve(client, ledger: Ledger, ctx: PushContext, plan: pd.DataFrame,
                   outcome: PushOutcome, company_ledger: pd.DataFrame) -> None:
    """Settle or read back the documents whose last write has no definite outcome; updates ``plan``.

    ``company_ledger``: every ledger row of the company, as read for the plan (nothing written since).
    """
    resolving = plan["action"] == Action.RESOLVE
    if not resolving.any():
        return
    # Operation keys the ledger knows: a Pending operation not among them may be a lost answer of ours.
    known_keys = set(company_ledger["push_operation_key"].dropna().astype(str))
    resolved = await resolve_unknown(client, ctx, plan[resolving], outcome, known_keys)
    ledger.write(with_run(resolved[resolved["action"] == Action.UNCHANGED], ctx))
    for column in ("action", "platform_id", "idempotency_key"):
        plan.loc[resolved.index, column] = resolved[column]


async def _send_and_settle(client, ledger: Ledger, ctx: PushContext, to_send: pd.DataFrame,
                           outcome: PushOutcome, concurrency: int) -> pd.DataFrame:
    """Send, settle (overlapping), look once more at timed-out writes, record; returns the final rows."""
    async with Settler(client, ctx) as settler:
        sent = await send_all(client, ctx, to_send, ledger, outcome, concurrency, settler=settler)
        try:
            settled = await settle_rows(client, ctx, sent, outcome, await settler.finish())
            # A TimedOut operation may have written anyway: look once more (the list refreshed first)
            # before leaving it for the next run. It is never created again in the same run.
            timed_out = settled[settled["status"] == LedgerStatus.TIMED_OUT]
            if len(timed_out):
                looked = await read_back(client, ctx, timed_out, may_create=False)
                for column in ("status", "platform_id", "last_error", "settled_at"):
                    settled.loc[looked.index, column] = looked[column]
        except CodatError as exc:
            # Sent but not confirmed: the rows stay pending with their operation keys; the next run
            # settles them (or reads them back) before sending anything again.
            ledger.write(with_run(sent, ctx))
            if not outcomes.of_error(exc).stop:
                raise
            outcome.stop(exc)
            if isinstance(exc, CodatRateLimited):
                _log_rate_limit_stop(ctx, outcome, exc)
            settled = sent
    ledger.write(with_run(settled, ctx))
    return settled


def _log_rate_limit_stop(ctx: PushContext, outcome: PushOutcome, exc: CodatRateLimited) -> None:
    outcome.quota_exhausted = True
    log.warning("company %s: the API's rate limit stopped the push (%s); what is not confirmed stays pending "
                "for the next run", ctx.company_id, exc)


def _stopped_before_sending(ledger: Ledger, ctx: PushContext, plan: pd.DataFrame, outcome: PushOutcome,
                            exc: CodatError) -> pd.DataFrame:
    """Nothing could be checked or sent: record never-sent documents as pending, the rest as they were."""
    if isinstance(exc, CodatRateLimited):
        _log_rate_limit_stop(ctx, outcome, exc)
        reason = "not sent: the API's daily request quota ran out; the next run sends it"
    else:
        reason = f"not sent: {exc}"
    fresh = plan[plan["previous_status"].isna()]
    if len(fresh):
        record_not_sent(ledger, ctx, fresh, reason)
    return plan.assign(status=plan["previous_status"].fillna(LedgerStatus.PENDING))


def _final_status_counts(final: pd.DataFrame) -> dict[str, int]:
    status = final.get("status")
    if status is None:
        status = final["previous_status"]
    status = status.where(status.notna(), final.get("previous_status"))
    unchanged = final["action"].isin([Action.UNCHANGED])
    status = status.where(~unchanged | status.notna(), LedgerStatus.SUCCESS)
    return {str(k): v for k, v in status.fillna(LedgerStatus.PENDING).value_counts().to_dict().items()}
