"""The sandbox's fault injection as the reliability tests use it: faults that pass by themselves."""

from __future__ import annotations

import pytest

from codat_sandbox.faults import FaultConfig, FaultInjector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_storm_with_a_duration_stops_by_itself():
    clock = Clock()
    injector = FaultInjector(FaultConfig(rate_429=1.0, lose_response_rate=1.0, duration_seconds=2.0),
                             clock=clock)
    assert injector.error_status("GET", "invoices") == 429
    assert injector.lose_response("POST", "invoices")
    clock.now += 2.0
    assert injector.expired()
    assert injector.error_status("GET", "invoices") is None
    assert not injector.lose_response("POST", "invoices")
    assert injector.push_fate("POST", "invoices") == "normal"


def test_setting_faults_again_restarts_the_clock():
    clock = Clock()
    injector = FaultInjector(FaultConfig(rate_503=1.0, duration_seconds=1.0), clock=clock)
    clock.now += 5
    assert injector.error_status("GET", None) is None
    injector.configure(FaultConfig(rate_503=1.0, duration_seconds=1.0))
    assert injector.error_status("GET", None) == 503


def test_without_a_duration_faults_last_until_replaced():
    clock = Clock()
    injector = FaultInjector(FaultConfig(rate_500=1.0), clock=clock)
    clock.now += 10_000
    assert injector.error_status("POST", "payments") == 500


@pytest.mark.parametrize("duration", [0, -1, "soon"])
def test_a_duration_must_be_a_positive_number(duration):
    with pytest.raises(ValueError, match="duration_seconds"):
        FaultConfig.from_dict({"rate_429": 0.5, "duration_seconds": duration})
