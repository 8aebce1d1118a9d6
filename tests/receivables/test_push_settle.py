"""Settling overlaps sending: operations are settled in batches while the phase still sends (issue 14)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pandas as pd

from receivables import push
from receivables.codat.errors import CodatServerError
from receivables.codat.idempotency import content_hash
from receivables.codat.models import PushOperation
from receivables.push.settle import SETTLE_EVERY

COMPANY, CONNECTION = "c-1", "k-1"
CTX = push.PushContext(company_id=COMPANY, connection_id=CONNECTION, business_date=date(2026, 11, 20),
                       run_id="run-1", settle_deadline_seconds=5)


def operation(key: str, status: str, record_id: str | None = None) -> PushOperation:
    return PushOperation.model_validate({
        "pushOperationKey": key, "status": status, "statusCode": 200 if status == "Success" else 202,
        "requestedOnUtc": datetime.now(UTC).isoformat(),
        "changes": [{"type": "Created", "recordRef": {"id": record_id, "dataType": "invoices"}}]
        if record_id else None})


class Platform:
    """Accepts every push; ``settle`` answers Success and notes how many pushes had been made by then."""

    def __init__(self, *, fail_first_settle: bool = False, slow_first_settle: bool = False) -> None:
        self.posts = 0
        self.keys: list[str] = []
        self.settles: list[tuple[int, list[str]]] = []
        self.fail_first_settle, self.slow_first_settle = fail_first_settle, slow_first_settle
        self.all_sent = asyncio.Event()
        self.expected = 0

    async def push(self, company_id, connection_id, data_type, body, *, idempotency_key, record_id=None):
        await asyncio.sleep(0)  # an answer takes a moment: other sends and the settler run meanwhile
        self.posts += 1
        key = str(uuid.uuid4())
        self.keys.append(key)
        if self.posts == self.expected:
            self.all_sent.set()
        return operation(key, "Pending")

    async def settle(self, company_id, keys, *, deadline_seconds=None):
        self.settles.append((self.posts, list(keys)))
        first = len(self.settles) == 1
        if first and self.fail_first_settle:
            raise CodatServerError("listing push operations answered 503", status_code=503, method="GET")
        if first and self.slow_first_settle:
            await self.all_sent.wait()  # its last operations complete only after the phase has sent all
            await asyncio.sleep(0.05)
        return {k: operation(k, "Success", record_id=f"rec-{k}") for k in keys}

    async def get_connection(self, company_id, connection_id):  # pragma: no cover - not reached
        raise AssertionError("the connection is only looked at after a refusal")


def invoices(count: int) -> pd.DataFrame:
    rows = []
    for n in range(count):
        payload = orjson.dumps({"invoiceNumber": f"INV-{n}", "totalAmount": 10})
        rows.append({"company_id": COMPANY, "document_type": "invoice", "source_id": f"src-{n}",
                     "document_number": f"INV-{n}", "currency": "GBP", "total_amount": Decimal("10.00"),
                     "payload": payload, "content_hash": content_hash(payload)})
    return pd.DataFrame(rows)


def run(platform: Platform, engine, count: int) -> pd.DataFrame:
    platform.expected = count
    outcome, _ = asyncio.run(push.push_documents(platform, push.Ledger(engine), CTX, invoices(count),
                                                 concurrency=10))
    assert outcome.sent == count
    return push.Ledger(engine).load(COMPANY)


def test_operations_are_settled_while_the_phase_is_still_sending(sqlite_engine):
    platform = Platform()
    count = 2 * SETTLE_EVERY + 50
    ledger = run(platform, sqlite_engine, count)

    assert platform.settles[0][0] < count, "the first batch is settled before the last document is sent"
    assert SETTLE_EVERY <= len(platform.settles[0][1]) < count
    settled = [k for _, keys in platform.settles for k in keys]
    assert sorted(settled) == sorted(platform.keys)  # every operation settled exactly once
    assert set(ledger["status"]) == {"success"}
    assert (ledger["platform_id"] == "rec-" + ledger["push_operation_key"]).all()


def test_a_batch_that_fails_while_sending_is_settled_again_with_the_rest(sqlite_engine):
    platform = Platform(fail_first_settle=True)
    ledger = run(platform, sqlite_engine, SETTLE_EVERY + 30)

    assert set(platform.settles[0][1]) <= {k for _, keys in platform.settles[1:] for k in keys}
    assert set(ledger["status"]) == {"success"} and len(ledger) == SETTLE_EVERY + 30


def test_a_batch_still_waiting_when_sending_ends_is_awaited_alongside_the_rest_not_repeated(sqlite_engine):
    platform = Platform(slow_first_settle=True)
    count = SETTLE_EVERY + 30
    ledger = run(platform, sqlite_engine, count)

    (_, first), (posts, rest) = platform.settles
    assert posts == count and not set(first) & set(rest) and len(first) + len(rest) == count
    assert set(ledger["status"]) == {"success"} and len(ledger) == count
