"""Codat's read-after-write lag and broken connections, against the sandbox over real HTTP (issue 15).

Lag: Codat does not cache written records, so until the company's data is refreshed a list does not
show a record that was just written. A read-back that trusted the list would create the document a
second time. Here the sandbox shows writes only after a refresh (``--read-lag-seconds 86400``). Lost
answers and ``TimedOut`` operations, inside and beyond the idempotency window, must end with exactly
one platform record per document.

Connections: a company whose connection is not ``Linked`` (before the run, or breaking mid-run) fails
as a company, in one sentence with advice. Its documents are left ``pending`` (never ``failed``), and
once the connection is re-linked the next run finishes them without duplicates.
"""

from __future__ import annotations

from datetime import date

import pytest

from receivables import jobs
from tests.reliability.harness import build_world, check_invariants, close_world, run_day

pytestmark = [pytest.mark.slow]

DAY = date(2026, 11, 20)
PUSH_TYPES = ["customers", "invoices", "creditNotes", "payments", "directCosts"]
ONLY_AFTER_A_REFRESH = {"read_lag_seconds": 86400}


@pytest.fixture
def lagging_world(tmp_path, warehouse_settings):
    world = build_world(tmp_path, warehouse_settings, days=(DAY,), sandbox_flags=ONLY_AFTER_A_REFRESH)
    try:
        yield world
    finally:
        close_world(world)


@pytest.fixture
def world(tmp_path, warehouse_settings):
    world = build_world(tmp_path, warehouse_settings, days=(DAY,), companies=2)
    try:
        yield world
    finally:
        close_world(world)


def _no_duplicates_nothing_lost(world, *, expect_final: bool = True):
    counts = check_invariants(world, [DAY], expect_final=expect_final)
    assert counts.duplicates == 0, counts.problems
    assert counts.lost == 0, counts.problems
    return counts


def _faulty_night_then_clean(world, faults, *, faulty_codat=None, between=None):
    world.sandbox.admin.set_faults(**faults, methods=["POST"], data_types=PUSH_TYPES)
    faulty = run_day(world, DAY, world.codat_settings(**(faulty_codat or {})), reconcile=False)
    world.sandbox.admin.clear_faults()  # the lag is the run's setting: it stays
    after_fault = _no_duplicates_nothing_lost(world, expect_final=False)
    if between:
        between(world)
    posts = world.post_count()
    clean = run_day(world, DAY, world.codat_settings(), reconcile=False)
    assert not clean.failures, clean.failures
    counts = _no_duplicates_nothing_lost(world)
    assert counts.pushed > 0
    print(counts.line("under read-after-write lag", world.retry_counter.retries))
    return faulty, after_fault, world.post_count() - posts


def _forget_keys(world):
    world.sandbox.admin.age_idempotency(2 * 3600)  # the next run comes after Codat forgot the keys


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_lost_answers_under_lag_beyond_the_idempotency_window_make_no_duplicates(lagging_world):
    # Every push lands and its answer is lost; the client gives up at once, so the night ends unknown.
    # Only the read-back stands between the next night and a second copy, and the list lags.
    faulty, after, resent = _faulty_night_then_clean(
        lagging_world, {"lose_response_rate": 1.0}, faulty_codat={"retry_deadline_seconds": 0.01},
        between=_forget_keys)
    assert after.not_final > 0
    ledger = lagging_world.table("ar_push_ledger")
    assert "failed" not in set(ledger["status"]), "a lost answer is never a definite failure"


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_timed_out_operations_whose_write_landed_are_found_under_lag_in_the_same_run(lagging_world):
    faulty, after, resent = _faulty_night_then_clean(lagging_world, {"timeout_rate": 1.0},
                                                     between=_forget_keys)
    # The refresh before the read-back shows every landed write at once: nothing is left for later,
    # and the next night sends nothing again.
    assert after.not_final == 0
    assert resent == 0


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_timed_out_operations_without_a_write_are_sent_again_once_under_lag(lagging_world):
    faulty, after, resent = _faulty_night_then_clean(
        lagging_world, {"timeout_no_write_rate": 0.5, "seed": 2}, between=_forget_keys)
    assert after.not_final > 0 and resent > 0  # what never landed was sent again, once (no duplicates above)


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_a_deauthorized_connection_fails_the_company_with_advice_not_its_documents(world):
    broken, healthy = sorted(c.company_id for c in world.companies)
    world.sandbox.admin.set_connection_status(broken, "Deauthorized")
    posts = world.post_count()
    night = run_day(world, DAY, world.codat_settings(), reconcile=False)

    assert set(night.failures) == {broken}, night.failures
    message = night.failures[broken]
    assert "Deauthorized" in message and "re-link the connection in Codat" in message
    assert message.count("\n") == 0
    ledger = world.table("ar_push_ledger", company_id=broken)
    assert len(ledger) > 0 and set(ledger["status"]) == {"pending"}, ledger["status"].value_counts()
    customers = ledger[ledger["document_type"] == "customer"]
    assert len(customers) and customers["last_error"].str.contains("Deauthorized").all()
    assert world.post_count() - posts == len(world.table("ar_push_ledger", company_id=healthy)), \
        "nothing is sent to a connection that is not Linked"

    # The task fails at once (no retries can help), with the same sentence.
    plan = jobs.plan_run(world.engine, settings=world.sync_settings(), run_id="again",
                         params={"business_date": DAY.isoformat()})
    company = next(c for c in plan["companies"] if c["company_id"] == broken)
    with pytest.raises(jobs.CompanyFailed) as failed:
        jobs.sync_company(world.codat_settings(), world.engine, company, settings=world.sync_settings())
    assert not failed.value.retryable

    world.sandbox.admin.set_connection_status(broken, "Linked")
    assert not run_day(world, DAY, world.codat_settings(), reconcile=False).failures
    _no_duplicates_nothing_lost(world)


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("status", ["Unlinked", "Deauthorized"])
def test_a_connection_that_breaks_mid_run_stops_the_company_and_leaves_the_rest_pending(world, status):
    broken = sorted(c.company_id for c in world.companies)[0]
    world.sandbox.admin.set_connection_status(broken, status, after_pushes=4)
    night = run_day(world, DAY, world.codat_settings(), reconcile=False)

    assert set(night.failures) == {broken}, night.failures
    assert status in night.failures[broken] and "re-link the connection in Codat" in night.failures[broken]
    ledger = world.table("ar_push_ledger", company_id=broken)
    assert (ledger["status"] == "success").sum() >= 1
    assert "failed" not in set(ledger["status"]), ledger[["status", "last_error"]].to_string()
    assert (ledger["status"] != "success").sum() > 0
    _no_duplicates_nothing_lost(world, expect_final=False)

    world.sandbox.admin.set_connection_status(broken, "Linked")
    assert not run_day(world, DAY, world.codat_settings(), reconcile=False).failures
    _no_duplicates_nothing_lost(world)
