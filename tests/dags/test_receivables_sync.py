"""receivables_sync end to end through Airflow (``dag.test``) against the sandbox, on SQLite and PostgreSQL.

What a user would notice: every source document ends in exactly one recorded state, the platform holds
exactly one record per pushed document, planted bad rows are rejected with their rule, a rerun of the
day pushes nothing and leaves identical reports, and a dry run sends nothing.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def test_nightly_sync_end_to_end_then_rerun_changes_nothing(e2e_stack):
    stack = e2e_stack
    day1, day2 = stack.days

    assert stack.run_dag("receivables_reference_data").state == "success"
    assert len(stack.table("ar_ref_accounts")) > 0

    for day in (day1, day2):
        assert stack.run_sync(day).state == "success"

    ledger = stack.table("ar_push_ledger")
    rejects = stack.table("ar_rejects")
    invoices = stack.table("ar_invoices")

    # Every invoice of both days is in exactly one recorded state.
    pushed = set(ledger.loc[ledger["document_type"] == "invoice", "source_id"])
    rejected = set(rejects.loc[rejects["document_type"] == "invoice", "source_id"])
    assert pushed.isdisjoint(rejected)
    assert set(invoices["invoice_id"]) == pushed | rejected

    # The planted bad rows are rejected with the rule they break.
    found = {(r.document_type, r.source_id): r.rule for r in rejects.itertuples()}
    for bad in stack.manifest.bad_rows:
        assert found.get((bad.document_type, bad.source_id)) == bad.rule, bad

    # The platform holds exactly one invoice per pushed invoice, none for rejected ones.
    stack.assert_one_platform_invoice_per_pushed_invoice()

    assert (ledger["status"] == "success").all(), ledger.loc[ledger["status"] != "success", ["source_id", "last_error"]]
    report = stack.report_rows(day2)
    assert set(report["outcome"]) <= {"matched", "rejected"}
    assert (stack.report_dir / day2.isoformat() / "reconciliation.html").exists()

    # A rerun of a synced day pushes nothing and leaves the same report.
    posts_before = stack.post_count()
    assert stack.run_sync(day2).state == "success"
    assert stack.post_count() == posts_before
    assert stack.report_rows(day2).equals(report)
    assert len(stack.table("ar_push_ledger")) == len(ledger)


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_dry_run_plans_but_sends_nothing(e2e_stack):
    stack = e2e_stack
    day1 = stack.days[0]
    assert stack.run_dag("receivables_reference_data").state == "success"
    stack.sandbox.admin.reset_stats()

    assert stack.run_sync(day1, dry_run=True).state == "success"

    assert stack.post_count() == 0
    assert stack.table("ar_push_ledger").empty
    plans = list((stack.report_dir / day1.isoformat() / "dry-run").glob("plan-*.csv"))
    assert len(plans) == len(stack.companies)
    assert "create" in plans[0].read_text()
