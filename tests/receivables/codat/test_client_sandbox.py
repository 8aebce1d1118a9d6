"""The client against the real sandbox over loopback HTTP: paging, retries, idempotency, settle, secrecy."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.codat_sandbox import builders
from tests.fixtures.sandbox import SandboxProcess, start_sandbox

from receivables.codat import (
    AsyncCodatClient,
    CodatAuthError,
    CodatClient,
    CodatRateLimited,
    PushOperationStatus,
    Q,
    content_hash,
    idempotency_key,
)
from receivables.codat.models import Customer
from receivables.settings import CodatSettings

PUSH_CUSTOMERS = "POST /companies/{companyId}/connections/{connectionId}/push/customers"
OPERATION_LIST = "GET /companies/{companyId}/push"
OPERATION_ONE = "GET /companies/{companyId}/push/{pushOperationKey}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    proc = start_sandbox(tmp_path_factory.mktemp("codat-client"), push_delay_ms=20)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def company(server: SandboxProcess) -> Iterator[dict[str, Any]]:
    server.admin.clear_faults()
    server.admin.reset_stats()
    yield server.admin.create_company("Client Test Ltd", "GBP")
    server.admin.clear_faults()


class HealingSleep:
    """Records the waits the client asks for and clears the sandbox's faults on the first one."""

    def __init__(self, server: SandboxProcess) -> None:
        self.server, self.waits = server, []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.server.admin.clear_faults()
        time.sleep(min(seconds, 0.05))  # settle polls still pause a little between rounds


def client_for(server: SandboxProcess, sleep=None, **settings: Any) -> CodatClient:
    config = CodatSettings(base_url=server.base_url, api_key=server.api_key,
                           settle_poll_interval_seconds=0.05, **settings)
    return CodatClient(config, **({"sleep": sleep} if sleep else {}))


def route_count(server: SandboxProcess, route: str) -> int:
    return server.admin.stats()["requests"].get(route, 0)


def customer_body(name: str) -> bytes:
    return Customer(customer_name=name, default_currency="GBP").to_push_json()


def push_customer(codat: CodatClient, company: dict, name: str):
    body = customer_body(name)
    key = idempotency_key(company["id"], "customers", name, content_hash(body))
    return codat.push(company["id"], company["connectionId"], "customers", body, idempotency_key=key)


def test_pages_through_more_than_three_pages(server, company):
    for i in range(7):
        server.admin.insert_record(company["id"], "customers",
                                   {"id": f"cust-{i}", "customerName": f"Customer {i}", "status": "Active"})
    server.admin.reset_stats()
    with client_for(server) as codat:
        ids = [r["id"] for r in codat.iter_records(company["id"], "customers", page_size=2)]
        found = codat.list_customers(company["id"], query=Q("customerName") == "Customer 3")
    assert sorted(ids) == [f"cust-{i}" for i in range(7)]
    assert route_count(server, "GET /companies/{companyId}/data/customers") == 4 + 1
    assert [c.id for c in found] == ["cust-3"]


def test_a_429_is_waited_out_for_retry_after(server, company):
    server.admin.set_faults(rate_429=1.0, retry_after_seconds=2, methods=["GET"])
    sleep = HealingSleep(server)
    with client_for(server, sleep=sleep) as codat:
        accounts = codat.list_accounts(company["id"])
    assert sleep.waits == [2.0] and accounts


def test_a_spent_daily_quota_stops_at_once(server, company):
    server.admin.set_quota(daily_quota=1, used=1)
    try:
        sleep = HealingSleep(server)
        # The quota resets at UTC midnight: far beyond a 1-second tolerance at any time of day.
        with client_for(server, sleep=sleep, max_retry_after_seconds=1) as codat, \
                pytest.raises(CodatRateLimited, match="rate limit") as info:
            codat.list_tax_rates(company["id"])
    finally:
        server.admin.set_quota(daily_quota=None, used=0)
    assert sleep.waits == [] and info.value.retry_after > 1


def test_a_push_whose_answer_was_lost_is_retried_and_creates_one_record(server, company):
    server.admin.set_faults(lose_response_rate=1.0, methods=["POST"])
    sleep = HealingSleep(server)
    with client_for(server, sleep=sleep) as codat:
        op = push_customer(codat, company, "Lost Answer plc")
        final = codat.settle(company["id"], [op.push_operation_key])[op.push_operation_key]
        matches = codat.list_customers(company["id"], query=Q("customerName") == "Lost Answer plc")
    assert sleep.waits and route_count(server, PUSH_CUSTOMERS) == 2  # the lost POST, then its retry
    assert final.status is PushOperationStatus.Success
    assert [c.id for c in matches] == [final.record_id]


def test_a_timed_out_operation_is_reported_as_timed_out(server, company):
    server.admin.set_faults(timeout_rate=1.0, methods=["POST"])
    with client_for(server) as codat:
        op = push_customer(codat, company, "Slow Platform Ltd")
        final = codat.settle(company["id"], [op.push_operation_key], deadline_seconds=20)
    assert final[op.push_operation_key].status is PushOperationStatus.TimedOut


def test_validation_failures_carry_the_platform_message(server, company):
    body = builders.invoice(company["id"], "no-such-customer")
    with client_for(server) as codat:
        op = codat.push(company["id"], company["connectionId"], "invoices", body, idempotency_key="inv-bad-1")
        final = codat.settle(company["id"], [op.push_operation_key])[op.push_operation_key]
    assert final.status is PushOperationStatus.Failed and final.status_code == 400
    assert final.validation_messages() and any("ustomer" in m for m in final.validation_messages())


def test_settling_many_operations_takes_few_requests(server, company):
    with client_for(server) as codat:
        keys = [push_customer(codat, company, f"Bulk Customer {i:03d}").push_operation_key for i in range(40)]
        server.admin.reset_stats()
        final = codat.settle(company["id"], keys)
    assert {op.status for op in final.values()} == {PushOperationStatus.Success}
    assert all(op.record_id for op in final.values())
    assert route_count(server, OPERATION_ONE) == 0
    assert 1 <= route_count(server, OPERATION_LIST) <= 6


def test_async_client_pushes_concurrently_within_the_company_cap(server, company):
    settings = CodatSettings(base_url=server.base_url, api_key=server.api_key,
                             settle_poll_interval_seconds=0.05)

    async def main():
        async with AsyncCodatClient(settings) as codat:
            ops = await asyncio.gather(*[
                codat.push(company["id"], company["connectionId"], "customers", customer_body(f"Async {i}"),
                           idempotency_key=f"async-{company['id']}-{i}") for i in range(25)])
            return await codat.settle(company["id"], [op.push_operation_key for op in ops])

    final = asyncio.run(main())
    assert len(final) == 25 and {op.status for op in final.values()} == {PushOperationStatus.Success}
    assert not [k for k in server.admin.stats()["requestsByStatus"] if k.endswith(" 429")]


def test_the_api_key_stays_out_of_logs_and_exceptions(server, company, caplog):
    caplog.set_level(logging.DEBUG)
    wrong_key = "wrong-" + server.api_key[::-1]
    with client_for(server) as codat:
        push_customer(codat, company, "Logged Ltd")
        codat.list_accounts(company["id"])
    bad = CodatClient(CodatSettings(base_url=server.base_url, api_key=wrong_key))
    with bad, pytest.raises(CodatAuthError) as info:
        bad.list_companies()
    text = caplog.text + str(info.value) + repr(info.value) + repr(bad)
    assert server.api_key not in text and wrong_key not in text
    assert "check the API key of connection codat_default" in str(info.value)


def test_the_connection_status_is_read_and_a_push_to_a_broken_link_says_so(server, company):
    from receivables.codat.errors import CodatConnectionNotLinked
    from receivables.codat.models import ConnectionStatus
    from receivables.push.outcome import PENDING, of_error

    with client_for(server) as codat:
        assert codat.get_connection(company["id"], company["connectionId"]).status is ConnectionStatus.Linked
        server.admin.set_connection_status(company["id"], "PendingAuth")
        assert codat.get_connection(company["id"],
                                    company["connectionId"]).status is ConnectionStatus.PendingAuth
        with pytest.raises(CodatConnectionNotLinked) as refused:
            push_customer(codat, company, "Not Yet Linked Ltd")
        server.admin.set_connection_status(company["id"], "Deauthorized")
        with pytest.raises(CodatAuthError) as deauthorized:
            push_customer(codat, company, "No Longer Linked Ltd")
    assert "re-link the connection in Codat" in str(refused.value)
    for exc in (refused.value, deauthorized.value):
        verdict = of_error(exc)
        assert (verdict.status, verdict.stop, verdict.retryable) == (PENDING, True, False)
    assert route_count(server, PUSH_CUSTOMERS) == 2  # refused at once: no retries


def test_a_refresh_makes_a_lagging_write_visible(server, company):
    server.admin.set_faults(read_lag_seconds=86400, data_types=["customers"])
    with client_for(server) as codat:
        op = push_customer(codat, company, "Just Written Ltd")
        final = codat.settle(company["id"], [op.push_operation_key])[op.push_operation_key]
        query = Q("customerName") == "Just Written Ltd"
        before = codat.list_customers(company["id"], query=query)
        pull = codat.refresh(company["id"], "customers")
        after = codat.list_customers(company["id"], query=query)
    assert final.status is PushOperationStatus.Success and before == []
    assert pull is not None and pull.is_complete
    assert [c.id for c in after] == [final.record_id]
