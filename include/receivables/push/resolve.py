"""Resolving a write whose outcome is unknown — lag-safe, never a second record.

Order of evidence: the push operation by the key the ledger holds, then the record id it names, and
only last the platform's list by document number — a list that may lag writes (Codat does not cache
written records), so it is refreshed first, and while it cannot be trusted the document stays
``unknown`` rather than being created twice.

    >>> resolved = await resolve_unknown(client, ctx, plan[plan["action"] == Action.RESOLVE], outcome)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from receivables import documents
from receivables.codat.errors import CodatNotReady
from receivables.codat.query import Q
from receivables.documents import KIND, NOT_FINAL, LedgerStatus
from receivables.push import outcome as outcomes
from receivables.push.plan import Action, rotated_key, utc_now
from receivables.push.settle import settle_rows

if TYPE_CHECKING:
    from receivables.push.run import PushContext, PushOutcome

# Why a possibly-written document is left alone instead of being created again.
NOT_VISIBLE_YET = ("may have been written, but the platform's list does not show it and cannot be trusted "
                   "yet (Codat lists a new record only after the company's data is refreshed{why}); it stays "
                   "unknown and the next run looks again before anything is sent")
# Numbers OR-ed into one list query: well under Codat's 2048-character query limit.
_QUERY_BUDGET = 1500


async def read_back_by_number(client, company_id: str, document_type: str, numbers: Sequence[str], *,
                              connection_id: str | None = None) -> dict[str, list[dict]]:
    """Platform records of one type whose identity field equals one of ``numbers`` (few requests).

    Numbers are OR-ed into queries kept well under Codat's 2048-character limit. Codat compares strings
    case-insensitively, so the query also returns look-alikes (``INV-1`` for ``inv-1``); only an exact
    match counts — taking a look-alike for the document would record as pushed a document the platform
    does not hold. Direct costs (fees) are read per connection: pass ``connection_id``.
    """
    kind = KIND[document_type]
    found: dict[str, list[dict]] = {}
    wanted = {n for n in numbers if n}

    async def run(values: list[str]) -> None:
        query = str(Q.any(*[Q(kind.number_field) == v for v in values]))
        async for record in client.iter_records(company_id, kind.data_type, query=query,
                                                connection_id=connection_id):
            if (record.get("metadata") or {}).get("isDeleted"):
                continue
            value = record.get(kind.number_field)
            if value is not None and str(value) in wanted:
                found.setdefault(str(value), []).append(record)

    # One query term per case-insensitive value: it returns every spelling.
    terms = list({n.casefold(): n for n in sorted(wanted)}.values())
    chunk: list[str] = []
    length = 0
    for number in terms:
        piece = len(kind.number_field) + len(number) + 8
        if chunk and length + piece > _QUERY_BUDGET:
            await run(chunk)
            chunk, length = [], 0
        chunk.append(number)
        length += piece
    if chunk:
        await run(chunk)
    return found


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


async def _may_recreate(client, ctx: PushContext, data_type: str, group: pd.DataFrame, missing: list,
                        known_keys: set[str], current: bool, why: str) -> tuple[bool, str]:
    """A missing create may be sent again only if no push of its type that we cannot identify is in flight."""
    if not (missing and current):
        return current, why
    pushed = pd.to_datetime(group.loc[missing].get("pushed_at", pd.Series(dtype="datetime64[ns]")))
    since = (pushed.min() - pd.Timedelta(minutes=10)).to_pydatetime() if pushed.notna().any() else None
    if await _unidentified_in_flight(client, ctx, data_type, known_keys, since):
        return False, f": a push of {data_type} this ledger cannot identify is still pending"
    return current, why


async def read_back(client, ctx: PushContext, rows: pd.DataFrame, *, may_create: bool,
                    known_keys: set[str] = frozenset()) -> pd.DataFrame:
    """The last resort for a possibly-written create: look for it in the platform's list by number.

    Found (exact number): ``success`` with that record's id. Not found: the row may be created again
    (``action`` CREATE, same idempotency key) only when ``may_create``, the list was refreshed after
    the write and no unidentified push of the type is still in flight. Otherwise it stays as it is
    (``unknown`` / ``timed_out``), saying why, for the next run.
    """
    out = rows.copy()
    out["action"] = Action.UNCHANGED
    for document_type, group in rows.groupby("document_type"):
        kind = KIND[document_type]
        numbers = [str(n) for n in group["document_number"].dropna().tolist()]
        try:
            current, why = await _list_is_current(client, ctx, kind.data_type)
            found = await read_back_by_number(client, ctx.company_id, document_type, numbers,
                                              connection_id=ctx.connection_id)
        except CodatNotReady:
            # The company's data is still syncing: nothing can be read, so nothing is decided.
            current, why, found = False, ": the company's data is still syncing", {}
        numbered = list(zip(group.index, group["document_number"], strict=True))
        missing = [i for i, n in numbered if not found.get(str(n))]
        if may_create:
            current, why = await _may_recreate(client, ctx, kind.data_type, group, missing, known_keys,
                                               current, why)
        for index, number in numbered:
            matches = found.get(str(number), [])
            if matches:
                out.loc[index, ["status", "platform_id", "last_error", "settled_at"]] = [
                    LedgerStatus.SUCCESS, matches[0]["id"], None, utc_now()]
            elif may_create and current:
                out.loc[index, "action"] = Action.CREATE
            else:
                status = out.loc[index, "status"]
                timed_out = status == LedgerStatus.TIMED_OUT
                out.loc[index, "status"] = status if timed_out else LedgerStatus.UNKNOWN
                out.loc[index, "last_error"] = NOT_VISIBLE_YET.format(why=why)
    return out


def _resends(settled: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Masks of settled rows: PUT again, POST again (never written), look up in the list."""
    in_flight = (settled["status"] == LedgerStatus.PENDING) & settled["push_operation_key"].notna() \
        & ~settled["not_written"] & (settled["last_error"] == outcomes.STILL_PENDING)
    open_rows = settled["status"].isin(list(NOT_FINAL)) & ~in_flight
    has_record = settled["platform_id"].notna() & (settled["platform_id"].astype("string") != "")
    is_update = (settled["operation"].astype("string") == Action.UPDATE).fillna(False).astype(bool) \
        if "operation" in settled else pd.Series(False, index=settled.index)
    resend_update = open_rows & is_update & has_record & documents.updatable(settled["document_type"])
    resend_create = open_rows & settled["not_written"].astype(bool) & ~resend_update
    return resend_update, resend_create, open_rows & ~resend_update & ~resend_create


async def resolve_unknown(client, ctx: PushContext, rows: pd.DataFrame, outcome: PushOutcome,
                          known_keys: set[str] = frozenset()) -> pd.DataFrame:
    """Rows with a not-final ledger state: find out what the platform actually holds, lag or not.

    1. Its push operation, by the key the ledger holds: ``Success`` names the record id, ``Failed``
       is definite, ``Pending`` is left alone (still in flight), refused for the connection means not
       written (sent again).
    2. Still open and it was an update: send the PUT again. An update cannot create a second record.
    3. Still open and it was a create (answer lost, ``TimedOut``, crash): :func:`read_back`, the list
       refreshed first, and never a re-create while the record may exist but not show yet.
    """
    if rows.empty:
        return rows.assign(action=pd.Series(dtype="object"))
    as_recorded = rows.assign(status=rows["previous_status"], last_error=None)
    settled = await settle_rows(client, ctx, as_recorded, outcome)
    result = settled.copy()
    result["action"] = Action.UNCHANGED
    resend_update, resend_create, look = _resends(settled)
    result.loc[resend_update, "action"] = Action.UPDATE
    result.loc[resend_create, "action"] = Action.CREATE
    if resend_create.any():
        columns = ["company_id", "document_type", "source_id", "content_hash", "idempotency_key"]
        result.loc[resend_create, "idempotency_key"] = [
            rotated_key(c, t, s, h, mark)
            for c, t, s, h, mark in result.loc[resend_create, columns].itertuples(index=False)]
    if look.any():
        looked = await read_back(client, ctx, settled[look], may_create=True, known_keys=known_keys)
        for column in ("status", "platform_id", "last_error", "settled_at", "action"):
            result.loc[looked.index, column] = looked[column]
        found = looked.index[(looked["status"] == LedgerStatus.SUCCESS)]
        changed = [i for i in found if result.loc[i, "content_hash"] != result.loc[i].get("previous_hash")
                   and KIND[result.loc[i, "document_type"]].updatable]
        result.loc[changed, "action"] = Action.UPDATE
    return result
