"""Pending marks in chunks (issue 14, target 4): sending starts once the first chunk of marks is written,
and no row is ever sent before its own ``pending`` mark (with its idempotency key) is in the ledger."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import orjson
import pandas as pd
import pytest
from tests.receivables.test_push_settle import operation

from receivables import push
from receivables.codat.errors import CodatRateLimited
from receivables.codat.idempotency import content_hash
from receivables.push.send import MARK_FIRST, MARK_LARGEST, mark_chunks

COMPANY, CONNECTION = "c-1", "k-1"
CTX = push.PushContext(company_id=COMPANY, connection_id=CONNECTION, business_date=date(2026, 11, 20),
                       run_id="run-1", settle_deadline_seconds=5)


class Journal:
    """One ordered record of what the ledger durably holds and what the platform receives."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.lock = threading.Lock()

    def add(self, *event) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: str) -> list[tuple]:
        return [e for e in self.events if e[0] == kind]


class SlowLedger:
    """A ledger whose writes take a while; a write counts as written (``wrote``) only once it returns.

    ``fail_on``: the write of that number (1-based) raises instead, as a dropped warehouse connection."""

    def __init__(self, journal: Journal, *, seconds: float = 0.03, fail_on: int | None = None) -> None:
        self.journal, self.seconds, self.fail_on = journal, seconds, fail_on
        self.writes = 0

    def write(self, rows: pd.DataFrame) -> None:
        self.writes += 1
        time.sleep(self.seconds)
        if self.writes == self.fail_on:
            raise OSError("the warehouse connection was dropped")
        self.journal.add("wrote", rows[["source_id", "status", "idempotency_key", "push_operation_key",
                                        "attempts", "operation"]].copy())


class Platform:
    """Answers every push at once (so a send that did not wait for its mark would overtake it);
    ``refuse_after``: the pushes after that many answer 429 with the daily quota spent."""

    def __init__(self, journal: Journal, *, refuse_after: int | None = None) -> None:
        self.journal, self.refuse_after = journal, refuse_after
        self.posts = 0

    async def push(self, company_id, connection_id, data_type, payload, *, idempotency_key, record_id=None):
        source_id = orjson.loads(payload)["sourceId"]
        self.journal.add("sent", source_id, idempotency_key)
        self.posts += 1
        await asyncio.sleep(0)
        if self.refuse_after is not None and self.posts > self.refuse_after:
            raise CodatRateLimited("the daily quota is spent", status_code=429, method="POST",
                                   retry_after=86400)
        return SimpleNamespace(push_operation_key=f"op-{source_id}")


def rows(count: int) -> pd.DataFrame:
    """Planned creates, as send_all receives them (a planner's index, not 0..n)."""
    return pd.DataFrame({
        "company_id": COMPANY, "document_type": "invoice", "source_id": [f"s{n}" for n in range(count)],
        "payload": [orjson.dumps({"sourceId": f"s{n}"}) for n in range(count)],
        "idempotency_key": [f"key-{n}" for n in range(count)], "platform_id": None,
        "action": push.CREATE, "attempts": 0}, index=range(7, 7 + count))


def send(platform: Platform, ledger, documents: pd.DataFrame, journal: Journal, **kwargs) -> pd.DataFrame:
    async def run():
        try:
            return await push.send_all(platform, CTX, documents, ledger, push.PushOutcome(),
                                       concurrency=10, **kwargs)
        finally:
            journal.add("returned")
    return asyncio.run(run())


def assert_each_send_follows_its_mark(journal: Journal) -> None:
    marked: dict[str, str] = {}
    for event in journal.events:
        if event[0] == "wrote":
            frame = event[1]
            pending = frame[(frame["status"] == "pending") & frame["push_operation_key"].isna()]
            marked.update(zip(pending["source_id"], pending["idempotency_key"], strict=True))
        elif event[0] == "sent":
            _, source_id, key = event
            assert marked.get(source_id) == key, f"{source_id} was sent before its pending mark was written"


def mark_writes(journal: Journal) -> list[pd.DataFrame]:
    return [e[1] for e in journal.of("wrote") if e[1]["push_operation_key"].isna().all()]


def test_marks_come_in_chunks_from_a_hundred_doubling_up_to_four_thousand():
    assert (MARK_FIRST, MARK_LARGEST) == (100, 4_000)
    chunks = mark_chunks(20_000)
    assert [end - start for start, end in chunks] == \
        [100, 200, 400, 800, 1_600, 3_200, 4_000, 4_000, 4_000, 1_700]
    assert chunks[0][0] == 0 and chunks[-1][1] == 20_000
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))  # contiguous, no overlap
    assert mark_chunks(0) == [] and mark_chunks(1) == [(0, 1)] and mark_chunks(100) == [(0, 100)]


def test_no_row_is_sent_before_its_pending_mark_is_written():
    journal = Journal()
    documents = rows(1_000)

    result = send(Platform(journal), SlowLedger(journal), documents, journal)

    assert_each_send_follows_its_mark(journal)
    assert len(journal.of("sent")) == 1_000 and set(result["status"]) == {"pending"}
    assert result["push_operation_key"].tolist() == [f"op-s{n}" for n in range(1_000)]


def test_sending_starts_once_the_first_chunk_is_written_not_after_every_mark():
    journal = Journal()
    send(Platform(journal), SlowLedger(journal), rows(1_000), journal)

    marks = mark_writes(journal)
    assert [len(m) for m in marks] == [end - start for start, end in mark_chunks(1_000)]
    first_send = next(i for i, e in enumerate(journal.events) if e[0] == "sent")
    last_mark = next(i for i, e in enumerate(journal.events) if e[0] == "wrote" and e[1] is marks[-1])
    assert first_send < last_mark, "the first request waited for every mark of the company"


def test_the_chunks_mark_every_row_once_exactly_as_the_single_write_did():
    journal = Journal()
    documents = rows(750).assign(attempts=2)
    send(Platform(journal), SlowLedger(journal, seconds=0), documents, journal)

    marks = pd.concat(mark_writes(journal), ignore_index=True)
    assert marks["source_id"].tolist() == documents["source_id"].tolist()
    assert marks["idempotency_key"].tolist() == documents["idempotency_key"].tolist()
    assert set(marks["status"]) == {"pending"} and set(marks["attempts"]) == {3}
    assert set(marks["operation"]) == {"create"}


def test_a_stopped_company_writes_no_further_marks_and_every_write_ends_before_send_all_returns():
    journal = Journal()
    result = send(Platform(journal, refuse_after=150), SlowLedger(journal), rows(3_000), journal)

    assert_each_send_follows_its_mark(journal)
    marked = sum(len(m) for m in mark_writes(journal))
    assert marked < 3_000, "marks went on being written after pushing stopped"
    assert journal.events[-1] == ("returned",), "a ledger write was still running when send_all returned"
    not_sent = result[result["push_operation_key"].isna() & result["last_error"].str.startswith("not sent")]
    assert len(not_sent) > 2_000 and (not_sent["status"] == "pending").all()
    assert (not_sent["idempotency_key"] == "").all()  # a create never sent is a plain create next time


def test_a_chunk_of_marks_that_cannot_be_written_fails_the_phase_and_none_of_its_rows_is_sent():
    journal = Journal()
    with pytest.raises(OSError, match="dropped"):
        send(Platform(journal), SlowLedger(journal, fail_on=2), rows(1_000), journal)

    assert_each_send_follows_its_mark(journal)
    sent = {e[1] for e in journal.of("sent")}
    assert sent == {f"s{n}" for n in range(MARK_FIRST)}, "only the first chunk, marked, went out"


def invoices(count: int) -> pd.DataFrame:
    out = []
    for n in range(count):
        payload = orjson.dumps({"invoiceNumber": f"INV-{n}", "sourceId": f"src-{n}"})
        out.append({"company_id": COMPANY, "document_type": "invoice", "source_id": f"src-{n}",
                    "document_number": f"INV-{n}", "currency": "GBP", "total_amount": Decimal("10.00"),
                    "payload": payload, "content_hash": content_hash(payload)})
    return pd.DataFrame(out)


class LedgerReadingPlatform:
    """A platform that, on each request, reads the real ledger: the row must already be there, pending,
    with the very key the request carries."""

    def __init__(self, ledger: push.Ledger) -> None:
        self.ledger = ledger
        self.checked = 0

    async def push(self, company_id, connection_id, data_type, payload, *, idempotency_key, record_id=None):
        source_id = orjson.loads(payload)["sourceId"]
        held = self.ledger.load(company_id).set_index("source_id")
        assert source_id in held.index, f"{source_id} was sent before its pending mark was written"
        assert held.loc[source_id, "idempotency_key"] == idempotency_key
        assert held.loc[source_id, "status"] == "pending"
        self.checked += 1
        return SimpleNamespace(push_operation_key=f"op-{source_id}")

    async def settle(self, company_id, keys, *, deadline_seconds=None):
        return {k: operation(k, "Success", record_id=f"rec-{k}") for k in keys}


def test_every_request_finds_its_row_marked_in_the_real_ledger(sqlite_engine):
    ledger = push.Ledger(sqlite_engine)
    platform = LedgerReadingPlatform(ledger)
    count = MARK_FIRST + 2 * MARK_FIRST + 40  # three chunks

    outcome, _ = asyncio.run(push.push_documents(platform, ledger, CTX, invoices(count), concurrency=10))

    assert platform.checked == count and outcome.sent == count
    final = ledger.load(COMPANY)
    assert len(final) == count and set(final["status"]) == {"success"}
