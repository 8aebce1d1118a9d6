"""How long settle waits between polls: it follows how fast operations complete, never a fixed interval."""

from __future__ import annotations

from datetime import datetime, timedelta

from receivables.codat.settling import MAX_WAIT_SECONDS, MIN_WAIT_SECONDS, OperationTimes

T0 = datetime(2026, 11, 25, 10, 0, 0)


def learned(seconds: float) -> OperationTimes:
    times = OperationTimes(first_guess=0.5)
    times.completed(T0, T0 + timedelta(seconds=seconds))
    return times


def test_until_an_operation_is_seen_completing_the_first_guess_is_the_wait():
    times = OperationTimes(first_guess=0.5)
    times.seen("op-1", now=100.0)
    assert times.wait(["op-1"], now=100.0, previous=None, progressed=False) == 0.5


def test_the_next_poll_comes_when_the_last_pending_operation_is_expected_final():
    times = learned(0.05)  # fast operations: a sandbox at 50 ms
    times.seen("op-1", now=100.0)
    times.seen("op-2", now=100.2)
    assert abs(times.wait(["op-1", "op-2"], now=100.21, previous=None, progressed=True) - 0.04) < 1e-9
    slow = learned(4.0)  # a slow platform: the wait grows with it instead of polling every half second
    slow.seen("op-1", now=100.0)
    assert slow.wait(["op-1"], now=100.5, previous=None, progressed=True) == 3.5


def test_a_poll_that_saw_nothing_complete_backs_off_up_to_the_cap():
    times = learned(0.05)
    times.seen("op-1", now=100.0)
    waits, previous = [], None
    for _ in range(16):
        previous = times.wait(["op-1"], now=101.0, previous=previous, progressed=False)
        waits.append(previous)
    assert waits[0] == 0.025  # overdue: half an operation's duration, never a busy loop
    assert all(b == min(a * 1.5, MAX_WAIT_SECONDS) for a, b in zip(waits, waits[1:], strict=False))
    assert waits[-1] == MAX_WAIT_SECONDS
    # Progress starts again from the estimate.
    assert times.wait(["op-1"], now=101.0, previous=MAX_WAIT_SECONDS, progressed=True) == 0.025


def test_the_estimate_follows_recent_operations_and_never_goes_below_the_floor():
    times = learned(1.0)
    for _ in range(30):
        times.completed(T0, T0 + timedelta(seconds=0.1))
    assert abs(times.duration - 0.1) < 0.01
    times.completed(T0, T0)  # completed in no time (clock resolution)
    times.seen("op-1", now=5.0)
    assert times.wait(["op-1"], now=10.0, previous=None, progressed=True) >= MIN_WAIT_SECONDS
    before = times.duration
    times.completed(None, T0)  # no request time (or still pending): nothing learned
    times.completed(T0, None)
    assert times.duration == before
