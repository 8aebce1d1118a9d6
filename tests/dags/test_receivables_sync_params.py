"""receivables_sync through Airflow (``dag.test``): a company failing mid-run, and the ``company_ids`` and
``settings`` params.

What a user would notice: when one company's connection breaks in the middle of its push, the run ends
failed (never green), the other company's documents are all pushed and reconciled, the day's report is
still published, and the broken company's documents are recorded as not done rather than as pushed.
``company_ids`` limits the run to those companies — and one that matches none fails the run instead of
ending ``ok`` having done nothing. ``settings`` overrides reach the run (the report goes where it says),
and an invalid override fails the run before anything is pushed, without retries.
"""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
SQLITE = pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
TWO_COMPANIES = pytest.mark.parametrize("e2e_stack", [{"days": (date(2026, 11, 20),), "invoices_per_day": 6}],
                                        indirect=True)


def _states(run) -> dict[str, set[str]]:
    """task id → the states of its (mapped) task instances."""
    states: dict[str, set[str]] = {}
    for ti in run.get_task_instances():
        states.setdefault(ti.task_id, set()).add(str(ti.state))
    return states


def _ledger(stack, company_id: str):
    return stack.table("ar_push_ledger", company_id=company_id)


@SQLITE
@TWO_COMPANIES
def test_a_company_failing_mid_run_fails_the_run_while_the_others_publish(e2e_stack):
    stack = e2e_stack
    day = stack.days[0]
    broken, healthy = stack.companies[0].company_id, stack.companies[1].company_id
    # The broken company's connection is unlinked after three accepted pushes: mid-run, not at the start.
    stack.sandbox.admin.set_connection_status(broken, "Unlinked", after_pushes=3)

    run = stack.run_sync(day)

    states = _states(run)
    assert run.state == "failed", states
    assert "failed" in states["company.sync_company"] and "success" in states["company.sync_company"], states
    assert states["publish_report"] == {"success"}, "the report is published for the companies that ran"

    # The healthy company: everything pushed, reconciled, and in the platform once.
    ok = _ledger(stack, healthy)
    assert len(ok) and (ok["status"] == "success").all(), ok[["source_id", "status", "last_error"]]
    report = stack.report_rows(day)
    assert set(report.loc[report["company_id"] == healthy, "outcome"]) <= {"matched", "rejected"}
    numbers = stack.platform_numbers(healthy, "invoices", "invoiceNumber")
    assert all(numbers[n] == 1 for n in ok.loc[ok["document_type"] == "invoice", "document_number"])

    # The broken company: the pushes that went out before the link broke cannot be confirmed any more, so
    # its documents are recorded as not done (pending, with a reason) — none counted as pushed unseen.
    bad = _ledger(stack, broken)
    assert len(bad) and (bad["status"]
                         != "success").any(), "the link broke mid-run: not everything was pushed"
    live = {r["id"] for r in stack.sandbox.live_records(broken, "invoices")}
    pushed = bad[(bad["status"] == "success") & (bad["document_type"] == "invoice")]
    assert set(pushed["platform_id"]) <= live
    assert bad.loc[bad["status"] != "success", "last_error"].notna().all()
    # The report finance reads names the failed company and why, instead of showing it clean (or absent).
    assert report.loc[report["company_id"] == broken, "outcome"].isin(["matched"]).sum() == 0
    html = (stack.report_dir / day.isoformat() / "reconciliation.html").read_text()
    name = stack.companies[0].name
    assert name in html and "not Linked" in html, "the report must say which company failed and why"

    # Re-linked, the rerun of the day (the advice the failure gives) finishes it without a duplicate.
    stack.sandbox.admin.set_connection_status(broken, "Linked")
    assert stack.run_sync(day).state == "success"
    done = _ledger(stack, broken)
    assert (done["status"] == "success").all(), done[["source_id", "status", "last_error"]]
    stack.assert_one_platform_invoice_per_pushed_invoice()


@SQLITE
@TWO_COMPANIES
def test_company_ids_limit_the_run_and_a_list_matching_none_fails_it(e2e_stack):
    stack = e2e_stack
    day = stack.days[0]
    chosen, other = stack.companies[1].company_id, stack.companies[0].company_id

    assert stack.run_sync(day, company_ids=[chosen]).state == "success"
    assert len(_ledger(stack, chosen)) > 0
    assert _ledger(stack, other).empty and stack.sandbox.live_records(other, "invoices") == []
    assert set(stack.report_rows(day)["company_id"]) == {chosen}

    posts = stack.post_count()
    typo = stack.run_sync(day, company_ids=["no-such-company"])
    assert typo.state == "failed", "company_ids that match nothing must not end ok having done nothing"
    assert stack.post_count() == posts and _ledger(stack, other).empty


@SQLITE
@TWO_COMPANIES
def test_a_settings_override_reaches_the_run(e2e_stack, tmp_path):
    stack = e2e_stack
    day = stack.days[0]
    elsewhere = tmp_path / "reports-from-params"

    assert stack.run_sync(day, settings={"report_dir": str(elsewhere)}).state == "success"
    assert (elsewhere / day.isoformat() / "reconciliation.html").exists()
    assert not (stack.report_dir / day.isoformat() / "reconciliation.html").exists()


@SQLITE
@TWO_COMPANIES
def test_an_invalid_settings_override_fails_the_run_at_once_before_pushing(e2e_stack):
    stack = e2e_stack
    posts = stack.post_count()
    bad = stack.run_sync(stack.days[0], settings={"timezone": "Mars/Olympus_Mons"})
    assert bad.state == "failed"
    assert _states(bad)["plan_run"] == {"failed"}
    assert stack.post_count() == posts
    # A configuration error is permanent: no task of the run is retried over it.
    tries = {ti.task_id: ti.try_number for ti in bad.get_task_instances()}
    assert max(tries.values()) <= 1, tries
