"""The push planner: a pure decision table from a phase's documents and the ledger to one action each.

    >>> plan = plan_pushes(documents, ledger_rows)
    >>> plan["action"].value_counts()      # Action.CREATE, Action.UNCHANGED, ...
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import pandas as pd

from receivables import documents
from receivables.codat.idempotency import idempotency_key
from receivables.documents import LedgerStatus

# The ledger's key: one row per document of a company.
LEDGER_KEY = ["company_id", "document_type", "source_id"]


class Action(StrEnum):
    """What the planner decides for each document (values are the words the logs and counts use)."""

    CREATE = "create"                          # POST: the platform does not hold it
    UPDATE = "update"                          # PUT: content changed, and Codat accepts an update
    UNCHANGED = "unchanged"                    # the platform holds exactly this content
    RESOLVE = "resolve"                        # sent before with no definite answer: find out first
    CHANGED_AFTER_PUSH = "changed_after_push"  # content changed, but the kind is create-only: reported
    FAILED_UNCHANGED = "failed_unchanged"      # refused before, and nothing changed: not sent again

    @property
    def sends(self) -> bool:
        return self in (Action.CREATE, Action.UPDATE)


SENDING = (Action.CREATE, Action.UPDATE)

# Ledger idempotency_key of a create refused unprocessed: never sent again under its old key.
REFUSED = "refused@"


def utc_now() -> datetime:
    """Naive UTC, as the ledger's timestamp columns store it."""
    return datetime.now(UTC).replace(tzinfo=None)


def refused_mark() -> str:
    return REFUSED + utc_now().isoformat()


def rotated_key(company_id: str, document_type: str, source_id: str, content_hash: str, mark: str) -> str:
    """The key for sending again a create whose first key got a refusal that Codat caches."""
    return idempotency_key(company_id, document_type, source_id, f"{content_hash}\x1f{mark}")


def _flag(series: pd.Series) -> pd.Series:
    """A nullable comparison as a typed boolean mask (missing is False)."""
    return series.fillna(False).astype(bool)


def _present(series: pd.Series) -> pd.Series:
    return series.notna() & _flag(series.astype("string") != "")


def plan_pushes(documents_: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Decide per document: create, update, resolve an unknown outcome, or leave alone.

    ``documents_``: company_id, document_type, source_id, document_number, currency, total_amount,
    payload (bytes), content_hash. ``ledger``: existing ``ar_push_ledger`` rows (any superset).
    Returns ``documents_`` plus ``action`` (:class:`Action`), ``idempotency_key``, ``platform_id``,
    ``previous_status``, ``previous_key``, ``push_operation_key`` and ``attempts``.
    """
    cols = ["content_hash", "status", "platform_id", "idempotency_key", "push_operation_key", "attempts"]
    previous = ledger[LEDGER_KEY + cols].rename(columns={
        "content_hash": "previous_hash", "status": "previous_status", "idempotency_key": "previous_key"})
    plan = documents_.merge(previous, on=LEDGER_KEY, how="left")
    # A create the platform refused unprocessed (a broken link) gets a fresh key: Codat replays the
    # cached refusal for 90 minutes to the old one, even after the connection is re-linked.
    refused = _flag(plan["previous_key"].astype("string").str.startswith(REFUSED))
    plan["idempotency_key"] = [
        rotated_key(c, t, s, h, pk) if r else idempotency_key(c, t, s, h) for c, t, s, h, pk, r in
        zip(*(plan[name].tolist() for name in ("company_id", "document_type", "source_id", "content_hash",
                                               "previous_key")), refused, strict=True)
    ]
    action = _decide(plan, refused)
    # Sent again after a read-back, a document keeps the key it was sent with: a replay, if Codat has it.
    same = plan["previous_hash"].astype("string") == plan["content_hash"]
    keep = _flag((action == Action.RESOLVE) & same)
    plan.loc[keep, "idempotency_key"] = plan.loc[keep, "previous_key"]
    plan["action"] = action
    plan["attempts"] = plan["attempts"].fillna(0).astype(int)
    return plan


def _decide(plan: pd.DataFrame, refused: pd.Series) -> pd.Series:
    """The decision table itself, row by row of the merged plan; the last matching rule wins."""
    status = plan["previous_status"].astype("string")
    same = _flag(plan["previous_hash"].astype("string") == plan["content_hash"])
    known = _present(plan["platform_id"])
    updatable = documents.updatable(plan["document_type"])
    # A never-sent waiting row has no key yet: it is a plain create.
    was_sent = _present(plan["previous_key"]) & ~refused
    is_success = _flag(status == LedgerStatus.SUCCESS)
    is_failed = _flag(status == LedgerStatus.FAILED)
    not_final = _flag(status.isin(list(documents.NOT_FINAL)))

    action = pd.Series(Action.CREATE, index=plan.index, dtype="object")
    action[is_success & same] = Action.UNCHANGED
    action[is_success & ~same & updatable & known] = Action.UPDATE
    action[is_success & ~same & ~updatable] = Action.CHANGED_AFTER_PUSH
    action[is_failed & same] = Action.FAILED_UNCHANGED
    action[is_failed & ~same & known & updatable] = Action.UPDATE
    action[not_final & was_sent] = Action.RESOLVE
    return action
