"""Push: the ledger decides, the client sends, the operations settle, the ledger records.

``ar_push_ledger`` is the source of truth for what the platform already holds:

* a document whose content hash matches a ``success`` row is never sent again;
* changed content becomes a PUT where Codat allows updates (the registry's
  :attr:`~receivables.documents.DocumentKind.updatable`) and a reported exception where it does not;
* a row is written ``pending`` with its idempotency key *before* the POST, and updated after it, so a
  crash between the two leaves a trace;
* what an error means for the write (``failed`` / ``unknown`` / ``pending``) is decided in one place,
  :mod:`receivables.push.outcome`; a possibly-written document is never recorded as failed;
* an unknown outcome (lost response, ``TimedOut``, a crash, a pending row from an earlier run) is
  resolved before anything is re-created (:mod:`~receivables.push.resolve`): through its push operation
  first (by key, then the record id it names), and only as a last resort through the platform's list by
  document number, refreshed first; while that list cannot be trusted the document stays ``unknown``;
* operations are settled while the phase is still sending (:mod:`~receivables.push.settle`), waiting as
  long as operations have been taking, never a fixed interval;
* only ``Linked`` connections are pushed to; a broken link stops the company, leaving the rest pending.

The pieces: :mod:`~receivables.push.plan` (the pure decision table, :class:`Action`),
:mod:`~receivables.push.ledger`, :mod:`~receivables.push.send`, :mod:`~receivables.push.settle`,
:mod:`~receivables.push.resolve`, :mod:`~receivables.push.run` (one phase, end to end).

    outcome, rows = asyncio.run(push_documents(client, ledger, ctx, documents))
"""

from __future__ import annotations

from receivables.documents import NOT_FINAL
from receivables.push import outcome
from receivables.push.ledger import LEDGER, Ledger, record_not_sent, waiting_rows, with_run
from receivables.push.plan import (
    LEDGER_KEY,
    REFUSED,
    SENDING,
    Action,
    plan_pushes,
    refused_mark,
    rotated_key,
    utc_now,
)
from receivables.push.resolve import NOT_VISIBLE_YET, read_back, read_back_by_number, resolve_unknown
from receivables.push.run import PushContext, PushOutcome, push_documents
from receivables.push.send import check_connection, explain_stop, log, send_all
from receivables.push.settle import Settler, settle_rows

# The planner's words by their old names (tests and callers compare against them; they equal the strings).
CREATE, UPDATE, UNCHANGED, RESOLVE, CHANGED_AFTER_PUSH, FAILED_UNCHANGED = (
    Action.CREATE, Action.UPDATE, Action.UNCHANGED, Action.RESOLVE, Action.CHANGED_AFTER_PUSH,
    Action.FAILED_UNCHANGED)
# The private names tests drive directly.
_send_all, _settle, _read_back = send_all, settle_rows, read_back
_resolve_unknown, _with_run = resolve_unknown, with_run

__all__ = [
    "CHANGED_AFTER_PUSH", "CREATE", "FAILED_UNCHANGED", "LEDGER", "LEDGER_KEY", "NOT_FINAL",
    "NOT_VISIBLE_YET", "REFUSED", "RESOLVE", "SENDING", "UNCHANGED", "UPDATE", "Action", "Ledger",
    "PushContext", "PushOutcome", "Settler", "check_connection", "explain_stop", "log", "outcome",
    "plan_pushes", "push_documents",
    "read_back", "read_back_by_number", "record_not_sent", "refused_mark", "resolve_unknown", "rotated_key",
    "send_all", "settle_rows", "utc_now", "waiting_rows", "with_run",
]
