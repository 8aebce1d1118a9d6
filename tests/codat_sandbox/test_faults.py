"""Each injected fault, seen from a client."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from codat_sandbox.faults import FaultConfig, FaultInjector


def _customer(name="Fault Ltd"):
    return {"customerName": name, "status": "Active"}


def _count(api, http, name):
    query = {"query": f'customerName="{name}"'}
    return http.get(f"/companies/{api.company_id}/data/customers", params=query).json()["totalResults"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_error_faults_come_before_the_request_takes_effect(api, http, server, status):
    server.admin.set_faults(**{f"rate_{status}": 1.0}, methods=["POST"], retry_after_seconds=2)
    response = http.post(api.push_url("customers"), json=_customer(f"E{status}"))
    assert response.status_code == status and response.json()["statusCode"] == status
    assert (response.headers.get("Retry-After") == "2") == (status == 429)
    server.admin.clear_faults()
    time.sleep(0.1)
    assert _count(api, http, f"E{status}") == 0


def test_faults_can_be_scoped_by_data_type(api, http, server):
    server.admin.set_faults(rate_500=1.0, data_types=["invoices"])
    assert http.post(api.push_url("customers"), json=_customer()).status_code == 200
    assert http.post(api.push_url("invoices"), json={}).status_code == 500


def test_a_lost_response_still_applies_the_write_and_is_replayed(api, http, server):
    server.admin.set_faults(lose_response_rate=1.0, methods=["POST"])
    key = str(uuid.uuid4())
    with pytest.raises(httpx.TransportError):
        http.post(api.push_url("customers"), json=_customer("Lost"), headers={"Idempotency-Key": key})
    server.admin.clear_faults()
    replay = http.post(api.push_url("customers"), json=_customer("Lost"), headers={"Idempotency-Key": key})
    assert replay.status_code == 200
    assert api.settle(replay.json())["status"] == "Success"
    assert _count(api, http, "Lost") == 1


def test_a_slow_response_exceeds_the_client_timeout_but_the_write_lands(api, http, server):
    server.admin.set_faults(slow_response_rate=1.0, slow_response_ms=800, methods=["POST"])
    with pytest.raises(httpx.ReadTimeout):
        http.post(api.push_url("customers"), json=_customer("Slow"), timeout=0.2)
    server.admin.clear_faults()
    time.sleep(1.0)
    assert _count(api, http, "Slow") == 1


def test_timed_out_operations_with_and_without_the_write(api, http, server):
    server.admin.set_faults(timeout_rate=1.0)
    landed = api.push("customers", _customer("Landed"))
    assert landed["status"] == "TimedOut" and landed["changes"] == []
    assert _count(api, http, "Landed") == 1
    server.admin.set_faults(timeout_no_write_rate=1.0)
    lost = api.push("customers", _customer("NotLanded"))
    assert lost["status"] == "TimedOut"
    assert _count(api, http, "NotLanded") == 0


def test_pending_forever_never_settles(api, http, server):
    server.admin.set_faults(pending_forever_rate=1.0)
    operation = http.post(api.push_url("customers"), json=_customer("Stuck")).json()
    server.admin.clear_faults()
    assert api.settle(operation, timeout=0.3)["status"] == "Pending"
    assert _count(api, http, "Stuck") == 0
    server.admin.force_operation_status(operation["pushOperationKey"], "TimedOut")
    assert api.settle(operation)["status"] == "TimedOut"


def test_fault_settings_are_validated_and_readable(server):
    with pytest.raises(httpx.HTTPStatusError):
        server.admin.set_faults(rate_500=2)
    with pytest.raises(httpx.HTTPStatusError):
        server.admin.set_faults(no_such_fault=1)
    server.admin.set_faults(latency_ms=5, seed=7)
    assert server.admin.faults()["latency_ms"] == 5
    server.admin.clear_faults()


def test_the_same_seed_injects_the_same_faults():
    def draws(seed):
        injector = FaultInjector(FaultConfig(rate_500=0.5, seed=seed))
        return [injector.error_status("GET", "invoices") for _ in range(50)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    assert 10 < draws(3).count(500) < 40


def test_faults_load_from_a_json_file_at_start(tmp_path):
    from tests.fixtures.sandbox import start_sandbox

    proc = start_sandbox(tmp_path, faults={"rate_503": 1.0, "methods": ["GET"]})
    try:
        with proc.client() as http:
            assert http.get("/companies").status_code == 503
        assert proc.admin.faults()["rate_503"] == 1.0
    finally:
        proc.stop()
