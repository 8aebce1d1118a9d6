"""Idempotency-Key (§4, §11.7), per-company concurrency and the daily quota (§11.11)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest


def _post_customer(api, http, key, name="Idem Ltd"):
    return http.post(api.push_url("customers"), json={"customerName": name, "status": "Active"},
                     headers={"Idempotency-Key": key})


def _customers(api, http):
    return http.get(f"/companies/{api.company_id}/data/customers").json()["totalResults"]


def test_a_repeated_key_replays_the_first_response_byte_for_byte(api, http):
    key = str(uuid.uuid4())
    first = _post_customer(api, http, key)
    second = _post_customer(api, http, key)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    api.settle(first.json())
    assert _customers(api, http) == 1
    # Whitespace or key order do not make a different body.
    third = http.post(api.push_url("customers"), content=b'{"status": "Active", "customerName": "Idem Ltd"}',
                      headers={"Idempotency-Key": key, "content-type": "application/json"})
    assert third.content == first.content


def test_the_same_key_with_a_different_body_is_422(api, http):
    key = str(uuid.uuid4())
    assert _post_customer(api, http, key).status_code == 200
    response = _post_customer(api, http, key, name="Someone Else")
    assert response.status_code == 422 and response.json()["statusCode"] == 422


def test_the_same_key_while_the_first_is_in_flight_is_409(api, http, server):
    server.admin.set_faults(latency_ms=800, methods=["POST"])
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_post_customer, api, http, key)
        time.sleep(0.15)
        second = pool.submit(_post_customer, api, http, key)
        codes = sorted([first.result().status_code, second.result().status_code])
    assert codes == [200, 409]


def test_429s_are_not_cached_and_aged_entries_expire(api, http, server):
    key = str(uuid.uuid4())
    server.admin.set_faults(rate_429=1.0, methods=["POST"])
    limited = _post_customer(api, http, key)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    server.admin.clear_faults()
    first = _post_customer(api, http, key)
    assert first.status_code == 200
    server.admin.age_idempotency(89 * 60)
    assert _post_customer(api, http, key).content == first.content
    server.admin.age_idempotency(2 * 60)
    after_expiry = _post_customer(api, http, key)
    assert after_expiry.json()["pushOperationKey"] != first.json()["pushOperationKey"]


def test_more_than_ten_concurrent_requests_for_a_company_get_429(api, http, server):
    server.admin.set_faults(latency_ms=1000, methods=["GET"])
    path = f"/companies/{api.company_id}/data/accounts"
    with ThreadPoolExecutor(14) as pool:
        responses = list(pool.map(lambda _: http.get(path), range(14)))
    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) >= 4 and all(r.headers["Retry-After"] == "1" for r in limited)
    assert sum(r.status_code == 200 for r in responses) == 10
    server.admin.clear_faults()
    assert http.get(path).status_code == 200


@pytest.fixture
def quota(server):
    yield server.admin
    server.admin.set_quota(None)


def test_daily_quota_answers_429_until_utc_midnight(api, http, quota):
    quota.set_quota(3, used=0)
    path = f"/companies/{api.company_id}/data/taxRates"
    remaining = [http.get(path).headers["X-Rate-Limit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    response = http.get(path)
    assert response.status_code == 429 and response.json()["statusCode"] == 429
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs(int(response.headers["Retry-After"]) - (midnight - now).total_seconds()) < 60
    assert response.headers["X-Rate-Limit-Limit"] == "3"
    assert response.headers["X-Rate-Limit-Reset"] == midnight.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_every_response_carries_rate_limit_headers(http, api):
    for response in (http.get("/companies"), http.get(f"/companies/{api.company_id}/data/nothing")):
        assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(response.headers)
