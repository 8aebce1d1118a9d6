"""The retry policy's decisions (the client only sleeps what it is told)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from receivables.codat.retry import RetryPolicy, retry_after_seconds

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def policy(**kw) -> RetryPolicy:
    return RetryPolicy(deadline_seconds=kw.pop("deadline", 60), max_retry_after_seconds=kw.pop("cap", 120),
                       jitter=kw.pop("jitter", lambda: 1.0), wall_clock=lambda: NOW, **kw)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Retry-After": "5"}, 5.0),
    ({"Retry-After": "Wed, 25 Nov 2026 20:00:30 GMT"}, 30.0),
    ({"X-Rate-Limit-Reset": "2026-11-26T00:00:00Z"}, 4 * 3600.0),
    ({"x-rate-limit-reset": str(NOW.timestamp() + 90)}, 90.0),
    ({"Retry-After": "garbage"}, None),
    ({}, None),
])
def test_retry_after_headers(headers, expected):
    assert retry_after_seconds(headers, NOW) == expected


def test_backoff_grows_by_half_and_is_capped():
    p = policy(max_backoff=2.0)
    assert [p.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 0.75, 1.125, 1.6875, 2.0]
    assert policy(jitter=lambda: 0.0).backoff(3) == 0.0  # full jitter reaches down to zero


def test_429_is_waited_out_with_retry_after_but_quota_stops():
    state = policy(cap=120).start(method="GET", idempotent=True, now=0)
    assert state.on_response(429, {"Retry-After": "3"}, now=0).wait == 3
    quota = state.on_response(429, {"Retry-After": "40000"}, now=0)
    assert not quota.retry and quota.quota_exceeded and quota.retry_after == 40000


def test_a_post_without_key_is_retried_only_when_it_surely_never_arrived():
    state = policy().start(method="POST", idempotent=False, now=0)
    assert not state.on_response(503, {}, now=0).retry
    assert not state.on_transport_error(httpx.ReadTimeout("t"), now=0).retry
    assert state.on_transport_error(httpx.ConnectError("refused"), now=0).retry
    assert state.on_response(429, {"Retry-After": "1"}, now=0).retry


def test_keyed_post_retries_5xx_408_transport_and_in_flight_conflicts():
    state = policy().start(method="POST", idempotent=True, now=0)
    assert state.on_response(500, {}, now=0).retry
    assert state.on_response(408, {}, now=0).retry
    assert state.on_transport_error(httpx.RemoteProtocolError("x"), now=0).retry
    assert state.on_response(409, {}, now=0, in_flight_conflict=True).retry
    assert not state.on_response(409, {}, now=0).retry
    assert not state.on_response(400, {}, now=0).retry


def test_the_total_deadline_bounds_all_waits():
    state = policy(deadline=10).start(method="GET", idempotent=True, now=0)
    assert state.on_response(503, {}, now=9.0).retry
    late = state.on_response(429, {"Retry-After": "5"}, now=9.0)
    assert not late.retry and late.retry_after == 5 and "deadline" in late.reason


def test_an_unknown_host_is_not_retried():
    state = policy().start(method="GET", idempotent=True, now=0)
    decision = state.on_transport_error(httpx.ConnectError("[Errno -2] Name or service not known"), now=0)
    assert not decision.retry and "does not resolve" in decision.reason


def test_a_refused_connection_is_retried_for_at_most_thirty_seconds():
    state = policy(deadline=300).start(method="GET", idempotent=True, now=0)
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    assert state.on_transport_error(refused, now=25.0).retry
    late = state.on_transport_error(refused, now=29.9)
    assert not late.retry and "30 s" in late.reason
    # Other transport errors keep the full deadline.
    assert state.on_transport_error(httpx.ReadError("reset"), now=200.0).retry


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_run_against_a_closed_port_gives_up_within_two_minutes_with_one_clear_line():
    """Issue 12: a run against a closed port was still going after ten minutes."""
    from receivables.codat.client import CodatClient
    from receivables.codat.errors import CodatUnreachable
    from receivables.settings import CodatSettings

    clock = [0.0]
    attempts = []

    def sleep(seconds: float) -> None:
        attempts.append(seconds)
        clock[0] += seconds

    settings = CodatSettings(base_url=f"http://127.0.0.1:{_closed_port()}", api_key="k", timeout_seconds=1.0)
    with CodatClient(settings, sleep=sleep, clock=lambda: clock[0]) as client, \
            pytest.raises(CodatUnreachable) as raised:
        client.list_companies()
    assert clock[0] <= 30.0, f"waited {clock[0]:.0f} s"
    assert len(attempts) >= 3, "a refused connection is retried a few times (a restart may be under way)"
    line = str(raised.value)
    assert "\n" not in line and "cannot be reached" in line and "check that the API is up" in line


def test_an_unknown_host_fails_at_once_with_one_line():
    from receivables.codat.client import CodatClient
    from receivables.codat.errors import CodatUnreachable
    from receivables.settings import CodatSettings

    def no_such_name(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    slept = []
    settings = CodatSettings(base_url="https://api.nosuch.example", api_key="k")
    with CodatClient(settings, transport=httpx.MockTransport(no_such_name), sleep=slept.append) as client, \
            pytest.raises(CodatUnreachable) as raised:
        client.list_companies()
    assert slept == []
    assert "host of https://api.nosuch.example is unknown" in str(raised.value)
    assert "check the host of connection codat_default" in str(raised.value)
