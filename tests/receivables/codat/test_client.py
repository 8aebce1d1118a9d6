"""CodatClient / AsyncCodatClient against a scripted fake API (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import orjson
import pytest
from tests.receivables.codat.fakes import (
    API_KEY,
    COMPANY,
    CONNECTION,
    codat_error,
    company_path,
    envelope,
    json_response,
    operation_path,
    push_operation,
    push_path,
    scripted,
)

from receivables.codat import (
    AsyncCodatClient,
    CodatAuthError,
    CodatClient,
    CodatError,
    CodatNotReady,
    CodatRateLimited,
    CodatServerError,
    CodatTransportError,
    CodatUnsupportedOperation,
    CodatValidationError,
    PushOperationStatus,
    Q,
)
from receivables.codat.models import CustomerRef, Invoice, InvoiceStatus


def make_client(settings, recorder, clock) -> CodatClient:
    return CodatClient(settings, transport=recorder.transport(), sleep=clock.sleep, clock=clock)


def test_requests_carry_basic_auth_and_page_until_the_last_page(settings, recorder, clock):
    rows = [{"id": f"acc-{i}", "name": f"Sales {i}", "type": "Income", "status": "Active"} for i in range(7)]

    def handler(request: httpx.Request) -> httpx.Response:
        params = parse_qs(request.url.query.decode())
        page, size = int(params["page"][0]), int(params["pageSize"][0])
        return json_response(200, envelope(rows[(page - 1) * size: page * size], page, size, len(rows)))

    recorder.handler = handler
    with make_client(settings, recorder, clock) as codat:
        accounts = codat.list_accounts(COMPANY)
        ids = [r["id"] for r in codat.iter_records(COMPANY, "chartOfAccounts", page_size=3)]
    assert [a.id for a in accounts] == [f"acc-{i}" for i in range(7)]
    assert ids == [f"acc-{i}" for i in range(7)]
    paged = recorder.requests[1:]
    assert [parse_qs(r.url.query.decode())["page"][0] for r in paged] == ["1", "2", "3"]
    assert recorder.requests[0].url.path == f"/companies/{COMPANY}/data/accounts"
    expected = "Basic " + base64.b64encode(API_KEY.encode()).decode()
    assert all(r.headers["Authorization"] == expected for r in recorder.requests)


def test_bank_accounts_are_read_per_connection(settings, recorder, clock):
    recorder.handler = lambda r: json_response(200,
                                               envelope([{"id": "b1", "accountType": "Debit"}], 1, 2000, 1))
    with make_client(settings, recorder, clock) as codat:
        banks = codat.list_bank_accounts(COMPANY, CONNECTION)
        with pytest.raises(ValueError, match="connection_id"):
            list(codat.iter_records(COMPANY, "bankAccounts"))
    assert banks[0].account_type.value == "Debit"
    assert recorder.requests[0].url.path == f"/companies/{COMPANY}/connections/{CONNECTION}/data/bankAccounts"


def test_query_and_modified_since_reach_the_api_intact(settings, recorder, clock):
    recorder.handler = lambda r: json_response(200, envelope([], 1, 2000, 0))
    since = datetime(2024, 1, 1, tzinfo=UTC)
    with make_client(settings, recorder, clock) as codat:
        codat.list_invoices(COMPANY, query=Q("customerRef.companyName") == "Smith & Sons | Co",
                            modified_since=since)
    sent = parse_qs(recorder.requests[0].url.query.decode())
    assert sent["query"] == ['customerRef.companyName="Smith & Sons | '
                             'Co"&&modifiedDate>=2024-01-01T00:00:00Z']
    assert b"%26" in recorder.requests[0].url.query  # the & inside the value is encoded, not a separator


def test_server_errors_are_retried_with_backoff_then_succeed(settings, recorder, clock):
    recorder.script = [scripted("GET", company_path(), codat_error(503)),
                       scripted("GET", company_path(), httpx.ReadError("reset")),
                       scripted("GET", company_path(), json_response(200, {"id": COMPANY, "name": "Acme"}))]
    with make_client(settings, recorder, clock) as codat:
        company = codat.get_company(COMPANY)
    assert company.name == "Acme"
    assert len(recorder.requests) == 3 and len(clock.sleeps) == 2
    assert all(0 <= s <= 10 for s in clock.sleeps)


def test_429_waits_for_retry_after(settings, recorder, clock):
    recorder.script = [scripted("GET", company_path(), codat_error(429, headers={"Retry-After": "7"})),
                       scripted("GET", company_path(), json_response(200, {"id": COMPANY, "name": "Acme"}))]
    with make_client(settings, recorder, clock) as codat:
        codat.get_company(COMPANY)
    assert clock.sleeps == [7.0]


def test_daily_quota_429_is_raised_at_once_with_retry_after(settings, recorder, clock):
    recorder.script = [scripted("GET", company_path(), codat_error(429, headers={"Retry-After": "36000"}))]
    with make_client(settings, recorder, clock) as codat, pytest.raises(CodatRateLimited) as info:
        codat.get_company(COMPANY)
    assert info.value.retry_after == 36000 and clock.sleeps == []


def test_retries_stop_at_the_deadline(settings, recorder, clock):
    recorder.handler = lambda r: codat_error(500, "boom", correlation_id="corr-1")
    with make_client(settings, recorder, clock) as codat, pytest.raises(CodatServerError) as info:
        codat.get_company(COMPANY)
    # It kept retrying (one request per wait) until the next wait would pass the deadline, not beyond.
    assert len(recorder.requests) == len(clock.sleeps) + 1 >= 3
    assert {r.url.path for r in recorder.requests} == {company_path()}
    max_wait = 10.0  # RetryPolicy.max_backoff: the deadline is reached with less than one wait left
    assert settings.retry_deadline_seconds - max_wait < sum(clock.sleeps) <= settings.retry_deadline_seconds
    assert info.value.correlation_id == "corr-1" and "corr-1" in str(info.value)


def _invoice() -> Invoice:
    return Invoice(invoice_number="INV-1", customer_ref=CustomerRef(id="C-1"),
                   issue_date=datetime(2024, 5, 1),
                   due_date=datetime(2024, 5, 31), status=InvoiceStatus.Submitted,
                   total_tax_amount=Decimal("40"),
                   total_amount=Decimal("240.10"), amount_due=Decimal("240.10"))


def test_push_posts_with_the_same_idempotency_key_on_every_attempt(settings, recorder, clock):
    recorder.script = [scripted("POST", push_path("invoices"), httpx.ReadTimeout("lost")),
                       scripted("POST", push_path("invoices"),
                                codat_error(409, "A request with this Idempotency-Key is still in progress")),
                       scripted("POST", push_path("invoices"), json_response(200, push_operation("op-1")))]
    with make_client(settings, recorder, clock) as codat:
        op = codat.push(COMPANY, CONNECTION, "invoices", _invoice(), idempotency_key="key-1")
    assert op.status is PushOperationStatus.Pending
    assert [r.headers["Idempotency-Key"] for r in recorder.requests] == ["key-1"] * 3
    first = recorder.requests[0]
    assert first.method == "POST"
    assert first.url.path == f"/companies/{COMPANY}/connections/{CONNECTION}/push/invoices"
    assert parse_qs(first.url.query.decode())["timeoutInMinutes"] == ["30"]
    body = orjson.loads(first.content)
    assert body["totalAmount"] == 240.1 and b'"totalAmount":240.10' in first.content
    assert len({r.content for r in recorder.requests}) == 1


def test_push_sends_bytes_unchanged_and_updates_with_put(settings, recorder, clock):
    recorder.handler = lambda r: json_response(200, push_operation("op-2"))
    payload = b'{"customerName":"Acme","status":"Active"}'
    with make_client(settings, recorder, clock) as codat:
        codat.push(COMPANY, CONNECTION, "customers", payload, idempotency_key="k", record_id="cust/1",
                   force_update=True)
    request = recorder.requests[0]
    assert request.method == "PUT" and request.content == payload
    assert request.url.raw_path.startswith(
        f"/companies/{COMPANY}/connections/{CONNECTION}/push/customers/cust%2F1".encode())
    assert parse_qs(request.url.query.decode())["forceUpdate"] == ["true"]


def test_payments_cannot_be_updated(settings, recorder, clock):
    with make_client(settings, recorder, clock) as codat, pytest.raises(CodatUnsupportedOperation,
                                                                        match="create-only"):
        codat.push(COMPANY, CONNECTION, "payments", {"date": "2024-01-01"}, idempotency_key="k",
                   record_id="p1")
    assert recorder.requests == []


def test_lost_answer_to_a_push_surfaces_as_transport_error_after_the_deadline(settings, recorder, clock):
    recorder.handler = lambda r: (_ for _ in ()).throw(httpx.RemoteProtocolError("server hung up"))
    with make_client(settings, recorder, clock) as codat, pytest.raises(CodatTransportError,
                                                                        match="outcome is unknown"):
        codat.push(COMPANY, CONNECTION, "invoices", _invoice(), idempotency_key="key-9")
    assert len(recorder.requests) > 1
    assert {(r.method, r.url.path, r.headers["Idempotency-Key"]) for r in recorder.requests} == {
        ("POST", push_path("invoices"), "key-9")}


def test_validation_error_and_auth_error_say_what_to_do(settings, recorder, clock):
    recorder.script = [
        scripted("POST", push_path("invoices"), codat_error(400, "Validation failed", validation={
            "errors": [{"itemId": "customerRef.id", "message": "Customer not found",
                        "validatorName": "Invoice"}],
            "warnings": []})),
        scripted("GET", "/companies", codat_error(401)),
        scripted("GET", company_path("/data/customers"), codat_error(409, "The dataset is still syncing")),
    ]
    with make_client(settings, recorder, clock) as codat:
        with pytest.raises(CodatValidationError) as bad:
            codat.push(COMPANY, CONNECTION, "invoices", _invoice(), idempotency_key="k")
        with pytest.raises(CodatAuthError, match="check the API key of connection codat_default"):
            codat.list_companies()
        with pytest.raises(CodatNotReady, match="not been synced"):
            codat.list_customers(COMPANY)
    assert bad.value.validation_messages() == ["customerRef.id: Customer not found"]
    assert "Customer not found" in str(bad.value)


def test_settle_polls_the_operation_list_not_each_key(settings, recorder, clock):
    keys = [f"op-{i}" for i in range(50)]
    polls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            n = len([r for r in recorder.requests if r.method == "POST"])
            return json_response(200, push_operation(keys[n - 1]))
        assert request.url.path == f"/companies/{COMPANY}/push"
        params = parse_qs(request.url.query.decode())
        assert params["query"] == ["requestedOnUtc>=2026-11-25T09:59:59Z"]
        polls["n"] += 1
        status = "Pending" if polls["n"] == 1 else "Success"
        ops = [push_operation(k, status, record_id=f"rec-{k}") for k in keys[:-1]]  # the last never listed
        page, size = int(params["page"][0]), int(params["pageSize"][0])
        return json_response(200, envelope(ops[(page - 1) * size: page * size], page, size, len(ops)))

    recorder.handler = handler
    with make_client(settings, recorder, clock) as codat:
        for key in keys:
            codat.push(COMPANY, CONNECTION, "invoices", _invoice(), idempotency_key=key)
        recorder.script = []
        before = len(recorder.requests)
        recorder.handler = _with_direct_get(handler, keys[-1])
        result = codat.settle(COMPANY, keys)
    assert list(result) == keys
    assert {k: op.status.value for k, op in result.items()} == {
        **{k: "Success" for k in keys[:-1]}, keys[-1]: "TimedOut"}
    assert result["op-3"].record_id == "rec-op-3"
    assert len(recorder.requests) - before <= 4  # two list polls + one direct GET, not 50 GETs
    assert clock.sleeps == [0.5]


def _with_direct_get(handler, key):
    def wrapped(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(f"/push/{key}"):
            return json_response(200, push_operation(key, "TimedOut"))
        return handler(request)
    return wrapped


def _operation_list(statuses: list[str]):
    """A handler for the operation list that shows op-1 in the next status of ``statuses`` per poll."""
    def handler(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("GET", operation_path())
        assert parse_qs(request.url.query.decode())["query"] == ["requestedOnUtc>=2026-11-25T09:59:59Z"]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return json_response(200, envelope([push_operation("op-1", status, record_id="rec-1")], 1, 2000, 1))
    return handler


def test_settle_polls_until_the_operation_is_final(settings, recorder, clock):
    recorder.handler = _operation_list(["Pending", "Pending", "Success"])
    with make_client(settings, recorder, clock) as codat:
        result = codat.settle(COMPANY, ["op-1"], deadline_seconds=60,
                              requested_since=datetime(2026, 11, 25, 10, tzinfo=UTC))
    assert result["op-1"].status is PushOperationStatus.Success and result["op-1"].record_id == "rec-1"
    assert len(recorder.requests) == 3 and clock.sleeps == [0.5, 0.75]  # backs off x1.5 between polls


def test_settle_gives_up_at_the_deadline_and_returns_pending(settings, recorder, clock):
    recorder.handler = _operation_list(["Pending"])
    with make_client(settings, recorder, clock) as codat:
        result = codat.settle(COMPANY, ["op-1"], deadline_seconds=3,
                              requested_since=datetime(2026, 11, 25, 10, tzinfo=UTC))
    assert result["op-1"].status is PushOperationStatus.Pending
    # It kept polling the list while the deadline allowed (0.5 + 0.75 + 1.125 s), then stopped short of it.
    assert len(recorder.requests) == len(clock.sleeps) + 1 == 4
    assert 2 < sum(clock.sleeps) <= 3


def test_the_api_key_never_reaches_logs_exceptions_or_reprs(settings, recorder, clock, caplog):
    basic = base64.b64encode(API_KEY.encode()).decode()
    recorder.script = [scripted("GET", company_path(),
                                codat_error(401, f"bad key {API_KEY} / Basic {basic}"))]
    caplog.set_level(logging.DEBUG, logger="receivables.codat")
    with make_client(settings, recorder, clock) as codat, pytest.raises(CodatAuthError) as info:
        logging.getLogger("receivables.codat").warning("client %r with %s", codat, API_KEY)
        codat.get_company(COMPANY)
    text = str(info.value) + repr(info.value) + caplog.text + repr(codat) + repr(settings)
    assert API_KEY not in text and basic not in text
    assert "bad key ***" in str(info.value)


def test_async_client_caps_concurrency_per_company(settings, clock):
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        company = request.url.path.split("/")[2]
        in_flight[company] = in_flight.get(company, 0) + 1
        peak[company] = max(peak.get(company, 0), in_flight[company])
        await asyncio.sleep(0.002)
        in_flight[company] -= 1
        return json_response(200, push_operation("op"))

    capped = settings.model_copy(update={"max_concurrency_per_company": 3, "max_concurrency": 5})

    async def main() -> None:
        async with AsyncCodatClient(capped, transport=httpx.MockTransport(handler)) as codat:
            await asyncio.gather(*[
                codat.push(company, CONNECTION, "invoices", {"status": "Submitted"}, idempotency_key=f"k{i}")
                for i in range(12) for company in ("c-a", "c-b")])

    asyncio.run(main())
    assert peak["c-a"] <= 3 and peak["c-b"] <= 3
    assert peak["c-a"] + peak["c-b"] >= 4  # the companies ran side by side


def test_async_client_reads_pages_and_settles(settings, clock):
    rows = [{"id": f"cust-{i}", "customerName": f"C{i}", "status": "Active"} for i in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/push/op-1"):
            return json_response(200, push_operation("op-1", "Failed",
                                 validation={"errors": [{"itemId": "x", "message": "bad"}]}))
        params = parse_qs(request.url.query.decode())
        page, size = int(params["page"][0]), int(params["pageSize"][0])
        return json_response(200, envelope(rows[(page - 1) * size: page * size], page, size, len(rows)))

    async def main():
        async with AsyncCodatClient(settings, transport=httpx.MockTransport(handler), sleep=clock.asleep,
                                    clock=clock) as codat:
            records = [r async for r in codat.iter_records(COMPANY, "customers", page_size=2)]
            settled = await codat.settle(COMPANY, ["op-1"])
            return records, settled

    records, settled = asyncio.run(main())
    assert [r["id"] for r in records] == [f"cust-{i}" for i in range(5)]
    assert settled["op-1"].status is PushOperationStatus.Failed
    assert settled["op-1"].validation_messages() == ["x: bad"]


def test_get_record_and_push_operation_listing_use_codat_paths(settings, recorder, clock):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/push"):
            assert parse_qs(request.url.query.decode())["query"] == ["status=Failed"]
            return json_response(200, envelope([push_operation("op-1", "Failed")], 1, 2000, 1))
        return json_response(200, {"id": "acc-1", "name": "Sales"})

    recorder.handler = handler
    with make_client(settings, recorder, clock) as codat:
        record = codat.get_record(COMPANY, "chartOfAccounts", "acc-1")
        failed = list(codat.iter_push_operations(COMPANY, query=Q("status") == "Failed"))
    assert record["name"] == "Sales"
    assert recorder.requests[0].url.path == f"/companies/{COMPANY}/data/accounts/acc-1"
    assert [op.push_operation_key for op in failed] == ["op-1"]


def test_a_non_json_answer_points_at_the_base_url(settings, recorder, clock):
    recorder.script = [scripted("GET", "/companies", httpx.Response(
        200, content=b"<html>login</html>", headers={"Content-Type": "text/html"}))]
    with make_client(settings, recorder, clock) as codat, pytest.raises(CodatError,
                                                                        match="check the base URL"):
        codat.list_companies()
