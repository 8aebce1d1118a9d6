"""receivables_sync end to end through Airflow (``dag.test``) against the sandbox, on SQLite and PostgreSQL.

What a user would notice: every source document ends in exactly one recorded state, the platform holds
exactly one record per pushed document, planted bad rows are rejected with their rule, a rerun of the
day pushes nothing and leaves identical reports, and a dry run sends nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
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

    assert (ledger["status"] == "success").all(), ledger.loc[ledger["status"]
                                                             != "success", ["source_id", "last_error"]]
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


def _snapshot(stack) -> dict:
    """Every output table's rows in a stable order (what a dry run must leave byte-identical)."""
    from receivables.warehouse.schema import OUTPUT_TABLES

    tables = {}
    # ar_run_companies records the dry run itself (its dry_run column says so); everything else is data.
    for table in OUTPUT_TABLES:
        if table.name == "ar_run_companies":
            continue
        frame = stack.table(table.name)
        key = [c.name for c in table.primary_key] or list(frame.columns)
        tables[table.name] = frame.sort_values(key).reset_index(drop=True)
    return tables


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_dry_run_is_safe_and_says_what_would_change(e2e_stack):
    import sqlalchemy as sa

    from receivables.warehouse.schema import ar_invoices

    stack = e2e_stack
    day1 = stack.days[0]
    assert stack.run_dag("receivables_reference_data").state == "success"
    assert stack.run_sync(day1).state == "success"

    # A later edit of an invoice the platform already holds: its due date moves by a month.
    ledger = stack.table("ar_push_ledger")
    pushed = ledger[(ledger["document_type"] == "invoice") & (ledger["status"] == "success")].iloc[0]
    invoice = stack.table("ar_invoices", company_id=pushed["company_id"],
                          invoice_id=pushed["source_id"]).iloc[0]
    old_due = pd.Timestamp(invoice["due_date"]).date()
    new_due = old_due + timedelta(days=31)
    with stack.engine.begin() as conn:
        conn.execute(sa.update(ar_invoices).where(ar_invoices.c.company_id == pushed["company_id"],
                                                  ar_invoices.c.invoice_id == pushed["source_id"])
                     .values(due_date=new_due))

    real = stack.report_dir / day1.isoformat()
    report_files = {p.name: p.read_bytes() for p in real.iterdir() if p.is_file()}
    before = _snapshot(stack)
    posts = stack.post_count()

    assert stack.run_sync(day1, dry_run=True).state == "success"

    assert stack.post_count() == posts, "a dry run sends nothing"
    after = _snapshot(stack)
    for name, frame in before.items():
        assert frame.equals(after[name]), f"the dry run changed {name}"
    assert {p.name: p.read_bytes() for p in real.iterdir() if p.is_file()} == report_files

    dry = real / "dry-run"
    plan = pd.read_csv(dry / f"plan-{pushed['company_id']}.csv", dtype=str, keep_default_na=False)
    update = plan[(plan["source_id"] == pushed["source_id"]) & (plan["document_type"] == "invoice")]
    assert update["action"].tolist() == ["update"]
    assert f"dueDate: {old_due.isoformat()}" in update["changes"].iloc[0]
    assert f"→ {new_due.isoformat()}" in update["changes"].iloc[0]
    summary = (dry / "summary.txt").read_text().splitlines()
    assert summary[0].startswith(f"DRY RUN of {day1}")
    assert "1 updates" in summary[1] and "rejected" in summary[1]
    page = (dry / "plan.html").read_text()
    assert page.index("DRY RUN") < page.index("<h2>")


@pytest.mark.parametrize("e2e_stack", [{"companies": 1}], indirect=True)
@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_historic_dates_silently_do_nothing_a_run_without_companies_fails(e2e_stack):
    import sqlalchemy as sa

    from receivables.warehouse.schema import ar_companies

    stack = e2e_stack
    run = stack.run_sync(stack.days[0], company_ids=["no-such-company"])
    assert run.state == "failed", "a run that synced no company must not end green"
    with stack.engine.begin() as conn:
        conn.execute(sa.update(ar_companies).values(active=False))
    assert stack.run_sync(stack.days[0]).state == "failed"
    assert stack.table("ar_push_ledger").empty
