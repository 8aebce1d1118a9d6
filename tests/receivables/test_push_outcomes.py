"""What the ledger records when a push goes wrong, and how the next run resolves it (push + a fake platform).

The fake is a platform in miniature. A write lands (or not) as the test says, and the answer that comes
back can be lost or turned into an error. Its list can lag writes, the way Codat's does, until a
refresh completes. The ledger is a real SQLite warehouse. Every test asserts what a controller would
check: the state of each document, its platform id, and how many records the platform holds.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import orjson
import pandas as pd
import pytest

from receivables import push
from receivables.codat.errors import CodatConnectionNotLinked, CodatTransportError, error_from_response
from receivables.codat.idempotency import content_hash
from receivables.codat.models import Connection, PullOperation, PushOperation
from receivables.push import outcome as outcomes

COMPANY, CONNECTION = "c-1", "k-1"
CTX = push.PushContext(company_id=COMPANY, connection_id=CONNECTION, business_date=date(2026, 11, 20),
                       run_id="run-1", settle_deadline_seconds=0.01)


def keyed_post_error(status: int, text: str):
    return error_from_response(status, {"statusCode": status, "service": "PublicApi", "error": text},
                               method="POST",
                               path=f"/companies/{COMPANY}/connections/{CONNECTION}/push/invoices",
                               keyed_post=True)


class FakePlatform:
    """Invoices only. ``land``: whether a push writes. ``answer``: None, or the error the caller gets back."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.visible: set[str] = set()       # record ids the list shows (a refresh shows all)
        self.lag = False                     # True: new writes are not listed until a refresh completes
        self.refresh_completes = True
        self.land = True
        self.answer: Exception | None = None
        self.refuse_after: int | None = None  # the connection breaks after this many accepted pushes
        self.connection_status = "Linked"
        self.posts = 0
        self.operations: dict[str, PushOperation] = {}

    # -- the client's surface that push.py uses
    async def get_connection(self, company_id, connection_id):
        return Connection.model_validate({"id": connection_id, "status": self.connection_status})

    async def push(self, company_id, connection_id, data_type, body, *, idempotency_key, record_id=None):
        if self.refuse_after is not None and self.posts >= self.refuse_after:
            self.connection_status = "Deauthorized"
            raise error_from_response(401, {"statusCode": 401, "error": f"Data connection {connection_id} is "
                                            "Deauthorized"}, method="POST", path="/push/invoices",
                                      keyed_post=True)
        self.posts += 1
        key = str(uuid.uuid4())
        changes = None
        if self.land:
            record = {"id": f"P{len(self.records) + 1}", "invoiceNumber": orjson.loads(body)["invoiceNumber"]}
            self.records.append(record)
            if not self.lag:
                self.visible.add(record["id"])
            changes = [{"type": "Created", "recordRef": {"id": record["id"], "dataType": data_type}}]
        self.operations[key] = PushOperation.model_validate({
            "pushOperationKey": key, "status": "Success" if self.land else "TimedOut",
            "statusCode": 200 if self.land else 504, "requestedOnUtc": datetime.now(UTC).isoformat(),
            "changes": changes})
        if self.answer is not None:
            raise self.answer
        return self.operations[key]

    async def settle(self, company_id, keys, *, deadline_seconds=None):
        return {k: self.operations[k] for k in keys}

    async def refresh(self, company_id, data_type, *, deadline_seconds=None):
        if self.refresh_completes:
            self.visible = {r["id"] for r in self.records}
        return PullOperation.model_validate({"id": "pull-1", "dataType": data_type,
                                             "status": "Complete" if self.refresh_completes else "Queued",
                                             "isCompleted": self.refresh_completes})

    async def iter_records(self, company_id, data_type, *, query=None, connection_id=None):
        for record in self.records:
            if record["id"] in self.visible:
                yield record

    async def iter_push_operations(self, company_id, *, query=None, order_by=None):
        for op in []:
            yield op


def invoices(*numbers: str) -> pd.DataFrame:
    rows = []
    for number in numbers:
        payload = orjson.dumps({"invoiceNumber": number, "totalAmount": 10})
        rows.append({"company_id": COMPANY, "document_type": "invoice", "source_id": f"src-{number}",
                     "document_number": number, "currency": "GBP", "total_amount": Decimal("10.00"),
                     "payload": payload, "content_hash": content_hash(payload)})
    return pd.DataFrame(rows)


def run(platform: FakePlatform, engine, documents: pd.DataFrame) -> tuple[push.PushOutcome, pd.DataFrame]:
    outcome, _ = asyncio.run(push.push_documents(platform, push.Ledger(engine), CTX, documents,
                                                 concurrency=2))
    return outcome, push.Ledger(engine).load(COMPANY).set_index("source_id")


MAY_HAVE_WRITTEN = {
    "408": lambda: keyed_post_error(408, "Request Timeout"),
    "409 in flight": lambda: keyed_post_error(409,
                                              "A request with this Idempotency-Key is still being "
                                              "processed."),
    "503": lambda: keyed_post_error(503, "Service unavailable"),
    "read timeout": lambda: CodatTransportError("POST /push/invoices got no answer (ReadTimeout)",
                                                method="POST"),
}


@pytest.mark.parametrize("answer", MAY_HAVE_WRITTEN.values(), ids=MAY_HAVE_WRITTEN.keys())
def test_an_unknown_outcome_can_be_recorded_as_a_definite_failure(sqlite_engine, answer):
    """Issue 11 defect 5: a 408 or 409 in flight (and so on) past the retry deadline was recorded
    ``failed``, and a failed document with the same content was never read back. The platform held
    the invoice, but the ledger never learned its id."""
    platform = FakePlatform()
    platform.answer = answer()
    _, ledger = run(platform, sqlite_engine, invoices("INV-1"))
    assert ledger.loc["src-INV-1", "status"] == "unknown", ledger.loc["src-INV-1", "last_error"]
    assert "may have" in ledger.loc["src-INV-1", "last_error"]

    platform.answer = None
    _, ledger = run(platform, sqlite_engine, invoices("INV-1"))
    assert ledger.loc["src-INV-1", "status"] == "success"
    assert ledger.loc["src-INV-1", "platform_id"] == "P1"
    assert platform.posts == 1 and len(platform.records) == 1, "read back, never resent"


def test_a_refused_document_is_failed_with_the_platform_message_and_not_resent(sqlite_engine):
    platform = FakePlatform()
    platform.land = False
    platform.answer = error_from_response(
        400, {"statusCode": 400, "error": "Validation failed",
              "validation": {"errors": [{"itemId": "dueDate", "message": "must not be before issueDate"}]}},
        method="POST", path="/push/invoices", keyed_post=True)
    _, ledger = run(platform, sqlite_engine, invoices("INV-1"))
    assert ledger.loc["src-INV-1", "status"] == "failed"
    assert "dueDate: must not be before issueDate" in ledger.loc["src-INV-1", "last_error"]
    run(platform, sqlite_engine, invoices("INV-1"))
    assert platform.posts == 1, "the same content would be refused again: it waits for a change"


def test_a_possibly_written_create_is_not_created_again_while_the_list_lags(sqlite_engine):
    """Issue 15: under read-after-write lag, a read-back that trusts the list re-creates a document that
    exists. Until a refresh shows the list is current, the document stays unknown and is not sent."""
    platform = FakePlatform()
    platform.lag = True
    platform.answer = httpx_lost()
    run(platform, sqlite_engine, invoices("INV-1"))
    platform.answer = None
    platform.refresh_completes = False
    _, ledger = run(platform, sqlite_engine, invoices("INV-1"))
    row = ledger.loc["src-INV-1"]
    assert row["status"] == "unknown" and "next run" in row["last_error"], row["last_error"]
    assert platform.posts == 1 and len(platform.records) == 1

    platform.refresh_completes = True  # the next night: the refresh completes, the list shows the write
    _, ledger = run(platform, sqlite_engine, invoices("INV-1"))
    assert ledger.loc["src-INV-1", "status"] == "success" and ledger.loc["src-INV-1", "platform_id"] == "P1"
    assert platform.posts == 1 and len(platform.records) == 1


def test_a_create_that_never_landed_is_sent_again_once_the_list_is_current(sqlite_engine):
    platform = FakePlatform()
    platform.land = False
    platform.answer = httpx_lost()
    run(platform, sqlite_engine, invoices("INV-1"))
    platform.land, platform.answer = True, None
    _, ledger = run(platform, sqlite_engine, invoices("INV-1"))
    assert ledger.loc["src-INV-1", "status"] == "success"
    assert platform.posts == 2 and len(platform.records) == 1


def test_a_timed_out_write_under_lag_is_found_after_a_refresh_in_the_same_run(sqlite_engine):
    platform = FakePlatform()
    platform.lag = True
    operations = {}

    async def timed_out_settle(company_id, keys, *, deadline_seconds=None):
        for key in keys:
            operations[key] = platform.operations[key].model_copy(update={"status": "TimedOut",
                                                                          "changes": None})
        return {k: operations[k] for k in keys}

    platform.settle = timed_out_settle
    _, ledger = run(platform, sqlite_engine, invoices("INV-1", "INV-2"))
    assert set(ledger["status"]) == {"success"}
    assert sorted(ledger["platform_id"]) == ["P1", "P2"] and platform.posts == 2


def test_a_connection_that_breaks_mid_run_stops_the_company_and_leaves_the_rest_pending(sqlite_engine):
    platform = FakePlatform()
    platform.refuse_after = 2
    outcome, ledger = run(platform, sqlite_engine, invoices(*[f"INV-{i}" for i in range(6)]))
    assert isinstance(outcome.stopped_by, CodatConnectionNotLinked)
    assert outcome.stopped_by.connection_status == "Deauthorized"
    assert (ledger["status"] == "success").sum() == 2
    assert set(ledger.loc[ledger["status"]
                          != "success", "status"]) == {"pending"}, ledger["last_error"].tolist()
    assert "failed" not in set(ledger["status"])
    # Repaired: the next run sends exactly the rest, once each.
    platform.connection_status, platform.refuse_after = "Linked", None
    _, ledger = run(platform, sqlite_engine, invoices(*[f"INV-{i}" for i in range(6)]))
    assert set(ledger["status"]) == {"success"} and len(platform.records) == 6


def httpx_lost() -> CodatTransportError:
    error = CodatTransportError("POST /push/invoices got no answer (ReadError); gave up", method="POST")
    error.__cause__ = httpx.ReadError("connection reset")
    assert outcomes.of_error(error).status == outcomes.UNKNOWN
    return error
