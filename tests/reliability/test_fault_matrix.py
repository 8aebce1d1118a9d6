"""The fault matrix: a business day synced while the API misbehaves, then again clean.

For each fault the day runs through the jobs (reference → sync → reconcile → report) against the
sandbox over real HTTP, then runs again without the fault. After the clean rerun: every source
document is pushed or rejected (exactly one state), the platform holds exactly one record per pushed
document, nothing is lost, and the report agrees with the ledger. Each test prints a counts line.
"""

from __future__ import annotations

from datetime import date

import pytest

from receivables import jobs
from tests.reliability.harness import (
    assert_clean,
    build_world,
    check_faulty_report,
    check_invariants,
    close_world,
    run_day,
)

pytestmark = [pytest.mark.slow]

DAY = date(2026, 11, 20)


@pytest.fixture
def world(tmp_path, warehouse_settings):
    world = build_world(tmp_path, warehouse_settings, days=(DAY,))
    try:
        yield world
    finally:
        close_world(world)


def _faulty_then_clean(world, label, *, faults=None, faulty_codat=None, between=None, report=False):
    """Run the day with ``faults`` set in the sandbox, clear them, run again, check the invariants.

    ``report``: reconcile the faulty run too and check that its report shows unfinished work as such
    (a few tests do; it costs a reconciliation per company).
    """
    if faults:
        world.sandbox.admin.set_faults(**faults)
    faulty = run_day(world, DAY, world.codat_settings(**(faulty_codat or {})), reconcile=report)
    world.sandbox.admin.clear_faults()
    if between:
        between(world)
    after_fault = check_invariants(world, [DAY], expect_final=False)
    # Even mid-fault: never a duplicate, never a document in no state at all, and the day's report
    # shows what is unfinished as unfinished.
    assert after_fault.duplicates == 0, after_fault.problems
    if report:
        assert not check_faulty_report(world, DAY, faulty)
    assert not [p
                for p in after_fault.problems
                if "neither pushed nor rejected" in p and not faulty.failures], \
        after_fault.problems
    clean = run_day(world, DAY, world.codat_settings())
    assert not clean.failures, clean.failures
    counts = assert_clean(world, [DAY], label)
    return faulty, after_fault, counts


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_429_storm_is_waited_out(world):
    # Most requests refused for a few seconds; Retry-After: 1 is honoured, so the run itself finishes.
    faulty, after, _ = _faulty_then_clean(
        world, "429 storm",
        faults={"rate_429": 0.8, "retry_after_seconds": 1, "duration_seconds": 1.5, "seed": 3})
    assert world.retry_counter.retries > 0
    assert not faulty.failures and after.not_final == 0 and after.lost == 0


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_daily_quota_stops_the_push_and_the_next_run_finishes(world):
    # Enough quota for the first company's reference pull and part of its push, then 429 until midnight.
    world.sandbox.admin.set_quota(24, used=0)
    faulty, after, _ = _faulty_then_clean(world, "daily quota", report=True,
                                          between=lambda w: w.sandbox.admin.set_quota(None, used=0))
    first = min(c.company_id for c in world.companies)  # the plan runs companies in id order
    # The push stopped and said so; it did not fail the task. What it could not finish is pending.
    assert first in faulty.synced, faulty.failures
    assert faulty.synced[first]["phases"] and faulty.quota_exhausted
    assert after.not_final + after.lost > 0, "the quota should have left work for the next run"
    assert not [p for p in after.problems if "neither pushed nor rejected" in p and first in p]


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_500_and_503_bursts(world):
    _faulty_then_clean(world, "5xx burst",
                       faults={"rate_500": 0.3, "rate_503": 0.3, "duration_seconds": 1.5, "seed": 5})
    assert world.retry_counter.retries > 0


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_slow_responses_beyond_the_client_timeout(world):
    # The write is applied, the answer comes after the client gave up; the retry is an idempotent replay.
    _faulty_then_clean(world, "slow responses", faults={
        "slow_response_rate": 0.25, "slow_response_ms": 700, "methods": ["POST"], "seed": 7},
        faulty_codat={"timeout_seconds": 0.4})
    assert world.retry_counter.retries > 0


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_lost_responses_replayed_inside_the_idempotency_window(world):
    # Every push answer is lost after the write; the retry with the same key gets Codat's cached replay.
    posts_before = world.post_count()
    faulty, after, _ = _faulty_then_clean(
        world, "lost responses (replayed)", faults={"lose_response_rate": 1.0, "methods": ["POST"]})
    assert after.not_final == 0 and world.retry_counter.retries > 0
    assert world.post_count() - posts_before > after.pushed, "every push should have been sent twice"


LOST_AND_GIVEN_UP = {"faults": {"lose_response_rate": 1.0, "methods": ["POST"]},
                     # The client gives up at once: the outcome of every push is unknown after the run.
                     "faulty_codat": {"retry_deadline_seconds": 0.01}}


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_unknown_outcomes_resolved_inside_the_idempotency_window(world):
    faulty, after, _ = _faulty_then_clean(world, "lost responses, unknown (inside window)",
                                          **LOST_AND_GIVEN_UP, report=True)
    assert after.not_final > 0


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_unknown_outcomes_resolved_beyond_the_idempotency_window(world):
    # The next run comes after Codat forgot the keys: only the read-back prevents duplicates.
    faulty, after, _ = _faulty_then_clean(world, "lost responses, unknown (beyond window)",
                                          **LOST_AND_GIVEN_UP,
                                          between=lambda w: w.sandbox.admin.age_idempotency(2 * 3600))
    assert after.not_final > 0


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_push_operations_timing_out_with_the_write_landing(world):
    faulty, after, _ = _faulty_then_clean(world, "TimedOut, write landed",
                                          faults={"timeout_rate": 1.0, "methods": ["POST"]})
    # The read-back after TimedOut finds every write in the same run.
    assert after.not_final == 0 and after.lost == 0


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_push_operations_timing_out_without_a_write(world):
    # Half the operations time out without writing; the next night (keys forgotten) resends them.
    faulty, after, _ = _faulty_then_clean(
        world, "TimedOut, no write", faults={"timeout_no_write_rate": 0.5, "methods": ["POST"], "seed": 2},
        between=lambda w: w.sandbox.admin.age_idempotency(2 * 3600))
    assert after.not_final > 0


def _time_out_stuck_operations(world):
    """The platform gives up on operations stuck in Pending (their timeoutInMinutes passes)."""
    ledger = world.table("ar_push_ledger")
    stuck = ledger[(ledger["status"] == "pending") & ledger["push_operation_key"].notna()]
    for key in stuck["push_operation_key"]:
        world.sandbox.admin.force_operation_status(key, "TimedOut")
    world.sandbox.admin.age_idempotency(2 * 3600)


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_push_operations_pending_forever(world):
    # A short settle deadline (connection extra settle_deadline_seconds) leaves them pending, not lost.
    faulty, after, _ = _faulty_then_clean(
        world, "Pending forever", faults={"pending_forever_rate": 1.0, "methods": ["POST"],
                                          "data_types": ["invoices"]},
        faulty_codat={"settle_deadline_seconds": 0.5}, between=_time_out_stuck_operations, report=True)
    assert after.not_final > 0


@pytest.mark.parametrize("warehouse_settings", ["postgres"], indirect=True)
def test_quota_gone_before_unknown_outcomes_are_checked(world):
    # Night 1 leaves unknown outcomes; night 2 starts with no quota left: the sync stops at once,
    # records every document of the day as pending, and fails nothing. Night 3 finishes the work.
    world.sandbox.admin.set_faults(**LOST_AND_GIVEN_UP["faults"])
    run_day(world, DAY, world.codat_settings(**LOST_AND_GIVEN_UP["faulty_codat"]), reconcile=False)
    world.sandbox.admin.clear_faults()
    world.sandbox.admin.set_quota(0, used=0)
    plan = jobs.plan_run(world.engine, settings=world.sync_settings(), run_id="no-quota",
                         params={"business_date": DAY.isoformat()})
    for company in plan["companies"]:
        result = jobs.sync_company(world.codat_settings(), world.engine, company,
                                   settings=world.sync_settings())
        assert any(p["quota_exhausted"] for p in result["phases"].values()), result
    world.sandbox.admin.set_quota(None, used=0)  # midnight
    stopped = check_invariants(world, [DAY], expect_final=False)
    assert stopped.not_final > 0 and stopped.duplicates == 0
    assert not [p for p in stopped.problems if "neither pushed nor rejected" in p], stopped.problems
    assert not run_day(world, DAY, world.codat_settings()).failures
    assert_clean(world, [DAY], "quota gone before the read-back")
