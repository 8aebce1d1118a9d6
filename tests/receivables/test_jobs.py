"""The task-level jobs against a real sandbox and warehouse (no Airflow): reference pulls and reconciliation.

Reconciliation is checked the way finance would meet it: after a clean sync, the platform is changed on
purpose through the sandbox's admin API, and each change must show up as its own outcome.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from receivables import jobs
from receivables.codat.client import CodatClient
from receivables.settings import CodatSettings, SyncSettings
from receivables.warehouse import io, schema

DAY = date(2026, 11, 20)
T = schema.metadata.tables


@pytest.fixture
def synced(tmp_path, sandbox, warehouse_engine):
    """One company with a day of clean sample data, synced and reconciled once."""
    from sample_data import SampleSpec, provision_companies, write_sample

    companies = provision_companies(sandbox.base_url, 1, api_key=sandbox.api_key,
                                    namespace=f"jobs-{tmp_path.name}")
    write_sample(warehouse_engine, SampleSpec(companies=1, business_days=(DAY,), invoices_per_day=6, seed=3),
                 companies)
    codat = CodatSettings(base_url=sandbox.base_url, api_key=sandbox.api_key, settle_deadline_seconds=20)
    settings = SyncSettings(report_dir=str(tmp_path / "reports"))
    plan = jobs.plan_run(warehouse_engine, settings=settings, run_id="run-1",
                         params={"business_date": DAY.isoformat()})
    company = plan["companies"][0]
    with CodatClient(codat) as client:
        jobs.refresh_reference(client, warehouse_engine, company)
    jobs.sync_company(codat, warehouse_engine, company, settings=settings)

    def reconcile():
        with CodatClient(codat) as client:
            reconcile.last = jobs.reconcile_company(client, warehouse_engine, company, settings=settings)
        rows = io.read_frame(warehouse_engine, T["ar_reconciliation"], where={"report_date": DAY})
        return rows.sort_values(["document_type", "document_key"]).reset_index(drop=True)

    return {"company": company, "codat": codat, "engine": warehouse_engine, "sandbox": sandbox,
            "reconcile": reconcile, "plan": plan, "settings": settings}


def _outcome(rows, document_type, document_key):
    match = rows[(rows["document_type"] == document_type) & (rows["document_key"] == document_key)]
    assert len(match) == 1, f"expected one row for {document_type} {document_key}, got {len(match)}"
    return match.iloc[0]


def test_second_reference_pull_fetches_only_what_changed(synced):
    sandbox, engine, company = synced["sandbox"], synced["engine"], synced["company"]
    sandbox.admin.reset_stats()
    with CodatClient(synced["codat"]) as client:
        quiet = jobs.refresh_reference(client, engine, company)
    # Records modified exactly at the watermark are fetched again (>=), so allow those, but no full pull.
    full = len(io.read_frame(engine, T["ar_ref_accounts"], where={"company_id": company["company_id"]}))
    assert quiet["fetched"]["accounts"] < full
    queries = [route for route in sandbox.admin.stats()["requests"] if "/data/" in route]
    assert queries, "the pull made no requests"

    accounts = io.read_frame(engine, T["ar_ref_accounts"], where={"company_id": company["company_id"]})
    target = accounts[accounts["nominal_code"] == "4010"].iloc[0]
    sandbox.admin.patch_record(company["company_id"], "accounts", target["platform_id"],
                               name="Consulting income")
    with CodatClient(synced["codat"]) as client:
        changed = jobs.refresh_reference(client, engine, company)
    assert changed["fetched"]["accounts"] >= 1
    assert changed["fetched"]["accounts"] < full
    after = io.read_frame(engine, T["ar_ref_accounts"], where={"company_id": company["company_id"]})
    assert after.set_index("platform_id").loc[target["platform_id"], "name"] == "Consulting income"
    assert len(after) == full, "an incremental pull must not lose the records it did not fetch again"


def test_unknown_company_fails_with_advice(synced):
    bogus = dict(synced["company"], company_id="00000000-0000-0000-0000-000000000000", name="Ghost Ltd")
    with CodatClient(synced["codat"]) as client, pytest.raises(jobs.CompanyFailed, match="404"):
        jobs.refresh_reference(client, synced["engine"], bogus)


def test_a_clean_sync_reconciles_as_matched_and_a_rerun_gives_the_same_rows(synced):
    first = synced["reconcile"]()
    assert set(first["outcome"]) == {"matched"}
    assert synced["reconcile"].last["read_back"]["invoices"] > 0
    again = synced["reconcile"]()
    # Nothing changed in the platform: the second read-back fetches no record at all.
    assert sum(synced["reconcile"].last["read_back"].values()) == 0
    cols = ["document_type", "document_key", "outcome", "source_total", "platform_total", "exception_id"]
    assert again[cols].equals(first[cols])


def test_divergence_in_the_platform_shows_as_each_outcome(synced):
    sandbox, engine, company = synced["sandbox"], synced["engine"], synced["company"]
    cid = company["company_id"]
    ledger = io.read_frame(engine, T["ar_push_ledger"], where={"company_id": cid, "document_type": "invoice"})
    ledger = ledger.sort_values("source_id").reset_index(drop=True)
    changed, deleted, duplicated = ledger.iloc[0], ledger.iloc[1], ledger.iloc[2]

    sandbox.admin.patch_record(cid, "invoices", changed["platform_id"],
                               totalAmount=float(changed["source_total"]) + 10)
    sandbox.admin.delete_record(cid, "invoices", deleted["platform_id"])
    original = sandbox.client().get(f"/companies/{cid}/data/invoices/{duplicated['platform_id']}").json()
    copy = {k: v for k, v in original.items() if k not in ("id", "modifiedDate", "sourceModifiedDate")}
    sandbox.admin.insert_record(cid, "invoices", copy)
    stranger = dict(copy, invoiceNumber="MANUAL-0001")
    sandbox.admin.insert_record(cid, "invoices", stranger)

    rows = synced["reconcile"]()
    assert _outcome(rows, "invoice", changed["source_id"])["outcome"] == "amount_mismatch"
    assert _outcome(rows, "invoice", deleted["source_id"])["outcome"] == "missing_in_platform"
    assert _outcome(rows, "invoice", duplicated["source_id"])["outcome"] == "duplicate_in_platform"
    unexpected = rows[rows["outcome"] == "unexpected_in_platform"]
    assert list(unexpected["document_number"]) == ["MANUAL-0001"]
    assert unexpected["source_id"].isna().all(), "a platform record with no source has no source_id"

    mismatch = _outcome(rows, "invoice", changed["source_id"])
    assert str(mismatch["difference"]) in {"10", "10.0", "10.00"}
    # Exceptions carry a stable id and the action finance should take.
    exceptions = rows[rows["outcome"] != "matched"]
    assert exceptions["exception_id"].notna().all() and exceptions["action"].notna().all()
    assert synced["reconcile"]()["exception_id"].tolist() == rows["exception_id"].tolist()

    report = jobs.publish_report(engine, synced["plan"], settings=synced["settings"])
    html = open(report["html"]).read()
    assert "MANUAL-0001" in html and "amount_mismatch" in html
    assert report["alert"]["fire"]


def _sync_day(synced, day):
    plan = jobs.plan_run(synced["engine"], settings=synced["settings"], run_id=f"run-{day}",
                         params={"business_date": day.isoformat()})
    return jobs.sync_company(synced["codat"], synced["engine"], plan["companies"][0],
                             settings=synced["settings"])


def _touch(engine, table, key_col, key, day, **changes):
    """Change a warehouse row the way the data team would: new values and a new updated_at."""
    from datetime import datetime

    import sqlalchemy as sa

    tbl = T[table]
    with engine.begin() as conn:
        conn.execute(sa.update(tbl).where(tbl.c[key_col] == key).values(
            updated_at=datetime.combine(day, datetime.min.time()).replace(hour=9), **changes))


def test_a_changed_invoice_is_updated_in_place_and_a_changed_payment_is_reported(synced):
    from datetime import timedelta

    engine, cid, sandbox = synced["engine"], synced["company"]["company_id"], synced["sandbox"]
    day2 = DAY + timedelta(days=1)
    ledger = io.read_frame(engine, T["ar_push_ledger"], where={"company_id": cid})
    invoice = ledger[ledger["document_type"] == "invoice"].sort_values("source_id").iloc[0]
    payment = ledger[ledger["document_type"] == "payment"].sort_values("source_id").iloc[0]
    count_before = len(sandbox.client().get(f"/companies/{cid}/data/invoices",
                                            params={"pageSize": 2000}).json()["results"])

    lines = T["ar_invoice_lines"]
    import sqlalchemy as sa

    with engine.begin() as conn:  # one more unit on the first line
        conn.execute(sa.update(lines).where(lines.c.company_id == cid,
                                            lines.c.invoice_id == invoice["source_id"],
                                            lines.c.line_no == 1).values(quantity=lines.c.quantity + 1))
    _touch(engine, "ar_invoices", "invoice_id", invoice["source_id"], day2, note="corrected quantity")
    _touch(engine, "ar_payments", "payment_id", payment["source_id"], day2, reference="CHANGED-REF")

    result = _sync_day(synced, day2)

    after = io.read_frame(engine, T["ar_push_ledger"],
                          where={"company_id": cid}).set_index(["document_type", "source_id"])
    updated = after.loc[("invoice", invoice["source_id"])]
    assert updated["operation"] == "update" and updated["status"] == "success"
    assert updated["platform_id"] == invoice["platform_id"], "an update keeps the platform record"
    assert updated["source_total"] > invoice["source_total"]
    platform = sandbox.client().get(f"/companies/{cid}/data/invoices/{invoice['platform_id']}").json()
    assert Decimal(str(platform["totalAmount"])) == updated["source_total"]
    count_after = len(sandbox.client().get(f"/companies/{cid}/data/invoices",
                                           params={"pageSize": 2000}).json()["results"])
    assert count_after == count_before, "an update must not create a second invoice"

    rejects = io.read_frame(engine, T["ar_rejects"], where={"company_id": cid, "business_date": day2})
    changed = rejects[rejects["source_id"] == payment["source_id"]]
    assert list(changed["rule"]) == ["changed_after_push"], result
    assert after.loc[("payment", payment["source_id"]), "content_hash"] == payment["content_hash"]


def test_an_existing_platform_customer_with_the_same_name_is_adopted_not_duplicated(tmp_path, sandbox,
                                                                                    sqlite_engine):
    from sample_data import SampleSpec, provision_companies, write_sample

    companies = provision_companies(sandbox.base_url, 1, api_key=sandbox.api_key,
                                    namespace=f"adopt-{tmp_path.name}")
    write_sample(sqlite_engine, SampleSpec(companies=1, business_days=(DAY,), invoices_per_day=4, seed=5),
                 companies)
    cid = companies[0].company_id
    customer = io.read_frame(sqlite_engine, T["ar_customers"], where={"company_id": cid}).iloc[0]
    existing = sandbox.admin.insert_record(cid, "customers",
                                           {"customerName": customer["name"], "status": "Active"})

    codat = CodatSettings(base_url=sandbox.base_url, api_key=sandbox.api_key)
    settings = SyncSettings(report_dir=str(tmp_path / "reports"))
    company = jobs.plan_run(sqlite_engine, settings=settings, run_id="r",
                            params={"business_date": DAY.isoformat()})[
        "companies"][0]
    with CodatClient(codat) as client:
        jobs.refresh_reference(client, sqlite_engine, company)
    jobs.sync_company(codat, sqlite_engine, company, settings=settings)

    names = [c["customerName"] for c in
             sandbox.client().get(f"/companies/{cid}/data/customers",
                                  params={"pageSize": 2000}).json()["results"]]
    assert names.count(customer["name"]) == 1
    row = io.read_frame(sqlite_engine, T["ar_push_ledger"],
                        where={"company_id": cid, "document_type": "customer",
                               "source_id": customer["customer_id"]})
    assert row.iloc[0]["platform_id"] == existing["id"]


def test_rerunning_an_old_day_reports_the_same_documents(tmp_path, sandbox, sqlite_engine):
    """A day-1 invoice still open on day 2 and paid on day 3: day 2 rerun after day 3 still reports it."""
    from datetime import datetime, timedelta

    import pandas as pd

    from sample_data import SampleSpec, provision_companies, write_sample

    day2, day3 = DAY + timedelta(days=1), DAY + timedelta(days=2)
    companies = provision_companies(sandbox.base_url, 1, api_key=sandbox.api_key,
                                    namespace=f"old-{tmp_path.name}")
    write_sample(sqlite_engine,
                 SampleSpec(companies=1, business_days=(DAY, day2), invoices_per_day=12, seed=9,
                            payment_ratio=0.2), companies)
    codat = CodatSettings(base_url=sandbox.base_url, api_key=sandbox.api_key)
    settings = SyncSettings(report_dir=str(tmp_path / "reports"))
    cid = companies[0].company_id

    def run(day):
        company = jobs.plan_run(sqlite_engine, settings=settings, run_id=f"r-{day}",
                                params={"business_date": day.isoformat()})["companies"][0]
        with CodatClient(codat) as client:
            jobs.refresh_reference(client, sqlite_engine, company)
            jobs.sync_company(codat, sqlite_engine, company, settings=settings)
            jobs.reconcile_company(client, sqlite_engine, company, settings=settings)
        return io.read_frame(sqlite_engine, T["ar_reconciliation"], where={"report_date": day}).sort_values(
            ["document_type", "document_key"]).reset_index(drop=True)

    def keys(rows):
        return rows[["document_type", "document_key", "outcome"]]

    run(DAY)
    first = run(day2)
    ledger = io.read_frame(sqlite_engine, T["ar_push_ledger"],
                           where={"company_id": cid, "document_type": "invoice"})
    from_day1 = set(ledger.loc[pd.to_datetime(ledger["business_date"]).dt.date == DAY, "source_id"])
    carried = first[(first["document_type"] == "invoice") & first["document_key"].isin(from_day1)]
    assert len(carried), "day 2's report should carry a day-1 invoice that is still open"
    target = carried.iloc[0]
    invoice = io.read_frame(sqlite_engine, T["ar_invoices"],
                            where={"company_id": cid, "invoice_id": target["document_key"]}).iloc[0]
    method = io.read_frame(sqlite_engine, T["ar_payments"], where={"company_id": cid}).iloc[0]["method"]
    paid_at = datetime.combine(day3, datetime.min.time()).replace(hour=9)
    io.write_frame(sqlite_engine, T["ar_payments"], pd.DataFrame([{
        "company_id": cid, "payment_id": "PAY-DAY3", "customer_id": invoice["customer_id"], "paid_on": day3,
        "currency": invoice["currency"], "currency_rate": invoice["currency_rate"],
        "amount": target["source_amount_due"], "fee_amount": 0, "method": method, "reference": "RCPT-DAY3",
        "updated_at": paid_at}]))
    io.write_frame(sqlite_engine, T["ar_payment_allocations"], pd.DataFrame([{
        "company_id": cid, "payment_id": "PAY-DAY3", "target_type": "invoice",
        "target_id": target["document_key"], "amount": target["source_amount_due"]}]))

    third = run(day3)
    assert third.set_index("document_key").loc["PAY-DAY3", "outcome"] == "matched"
    assert keys(run(day2)).equals(keys(first))


def _statements(engine):
    """A list that every SQL statement ``engine`` runs from now on is appended to."""
    import sqlalchemy as sa

    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement,
                    *rest: seen.append(statement))
    return seen


def test_a_job_on_a_current_warehouse_asks_the_version_once_and_then_nothing(sqlite_settings, sqlite_engine):
    from receivables.warehouse import create_input_tables, create_warehouse_engine, migrations

    create_input_tables(sqlite_engine)
    engine = create_warehouse_engine(sqlite_settings)  # a new task's engine on the migrated warehouse
    try:
        seen = _statements(engine)
        assert migrations.ensure_current(engine) == []
        assert [s for s in seen if s != "BEGIN"] == [s for s in seen if "ar_schema_version" in s]
        assert len([s for s in seen if s != "BEGIN"]) == 1, seen
        seen.clear()
        jobs.active_companies(engine)  # a job on the same engine: no migration statement at all
        assert not [s for s in seen if "ar_schema_version" in s or "IMMEDIATE" in s], seen
    finally:
        engine.dispose()


def test_a_company_job_trusts_its_plans_stamp_and_a_job_without_one_asks(sqlite_settings, sqlite_engine):
    from receivables.warehouse import create_input_tables, create_warehouse_engine, migrations

    create_input_tables(sqlite_engine)
    plan = jobs.plan_run(sqlite_engine, settings=SyncSettings(), run_id="r",
                         params={"business_date": DAY.isoformat()})
    assert all(c[migrations.STAMP] == migrations.code_version() for c in plan["companies"])
    for item, asks in (({"company_id": "c1", **migrations.stamp()}, 0), ({"company_id": "c1"}, 1),
                       ({"company_id": "c1", migrations.STAMP: migrations.code_version() - 1}, 1)):
        engine = create_warehouse_engine(sqlite_settings)  # each a new task's engine
        try:
            seen = _statements(engine)
            assert migrations.ensure_stamped(engine, item) == []
            assert len([s for s in seen if "ar_schema_version" in s]) == asks, (item, seen)
        finally:
            engine.dispose()


def _one_migration_behind(engine) -> list[str]:
    """Input tables and only the first migration applied; every version this code has."""
    from receivables.warehouse import create_input_tables, migrations

    create_input_tables(engine)
    everything = [m.version for m in migrations.available_migrations()]
    assert migrations.migrate(engine, migrations.available_migrations()[:1]) == everything[:1]
    return everything


def test_a_stamp_does_not_stop_a_warehouse_behind_the_code_from_being_migrated(sqlite_settings):
    from receivables.warehouse import create_warehouse_engine, migrations

    engine = create_warehouse_engine(sqlite_settings)
    try:
        everything = _one_migration_behind(engine)
        # A stamp from older code (one migration fewer) is not this code's: the job still migrates.
        assert migrations.ensure_stamped(engine, {migrations.STAMP: everything[0]}) == everything[1:]
    finally:
        engine.dispose()


def test_a_warehouse_behind_the_code_is_still_migrated_by_the_first_job(sqlite_settings):
    from receivables.warehouse import create_warehouse_engine, migrations

    engine = create_warehouse_engine(sqlite_settings)
    try:
        everything = _one_migration_behind(engine)
        assert jobs.active_companies(engine) == []
        assert migrations.applied_versions(engine) == everything
    finally:
        engine.dispose()


def test_a_new_warehouse_is_migrated_by_the_first_job(sqlite_settings):
    from receivables.warehouse import create_warehouse_engine, migrations

    engine = create_warehouse_engine(sqlite_settings)
    try:
        everything = [m.version for m in migrations.available_migrations()]
        assert migrations.ensure_current(engine) == everything
        assert migrations.ensure_current(engine) == []
    finally:
        engine.dispose()


@pytest.fixture
def lagging(tmp_path, sandbox, sqlite_engine):
    """A company synced while the platform lists a pushed record only after a refresh (Codat's lag)."""
    from sample_data import SampleSpec, provision_companies, write_sample

    sandbox.admin.set_faults(read_lag_seconds=86400)
    companies = provision_companies(sandbox.base_url, 1, api_key=sandbox.api_key,
                                    namespace=f"lag-{tmp_path.name}")
    write_sample(sqlite_engine, SampleSpec(companies=1, business_days=(DAY,), invoices_per_day=4, seed=4),
                 companies)
    codat = CodatSettings(base_url=sandbox.base_url, api_key=sandbox.api_key, settle_deadline_seconds=20)
    settings = SyncSettings(report_dir=str(tmp_path / "reports"))
    company = jobs.plan_run(sqlite_engine, settings=settings, run_id="run-1",
                            params={"business_date": DAY.isoformat()})["companies"][0]
    with CodatClient(codat) as client:
        jobs.refresh_reference(client, sqlite_engine, company)
    jobs.sync_company(codat, sqlite_engine, company, settings=settings)
    return {"company": company, "settings": settings, "sandbox": sandbox, "engine": sqlite_engine,
            "codat": codat.model_copy(update={"settle_deadline_seconds": 1.0})}


def _reconcile(world):
    with CodatClient(world["codat"]) as client:
        result = jobs.reconcile_company(client, world["engine"], world["company"], settings=world["settings"])
    rows = io.read_frame(world["engine"], T["ar_reconciliation"], where={"report_date": DAY})
    return result, rows


def _watermark(engine, company_id, data_type):
    state = io.read_frame(engine, T["ar_sync_state"], where={"company_id": company_id,
                                                             "data_type": f"platform:{data_type}"})
    return state["watermark"].iloc[0] if len(state) else None


def test_under_read_after_write_lag_the_read_back_refreshes_first_and_fresh_pushes_match(lagging):
    cid = lagging["company"]["company_id"]
    listed = lagging["sandbox"].client().get(f"/companies/{cid}/data/invoices").json()["results"]
    assert listed == [], "before a refresh the platform lists none of the invoices just pushed"
    result, rows = _reconcile(lagging)
    assert result["stale_read_back"] == {}
    assert "missing_in_platform" not in set(rows["outcome"]), rows[["document_key", "outcome", "reason"]]
    assert set(rows["outcome"]) == {"matched"}
    assert _watermark(lagging["engine"], cid, "invoices") is not None


def test_a_refresh_that_does_not_complete_reports_fresh_pushes_pending_never_missing(lagging):
    sandbox, engine, cid = lagging["sandbox"], lagging["engine"], lagging["company"]["company_id"]
    sandbox.admin.set_syncing(cid, seconds=None, data_types=["invoices"])  # its refresh stays Queued
    result, rows = _reconcile(lagging)
    assert set(result["stale_read_back"]) == {"invoices"}
    invoices = rows[rows["document_type"] == "invoice"]
    assert len(invoices) and set(invoices["outcome"]) == {"pending"}, invoices[["outcome", "reason"]]
    assert invoices["reason"].str.contains("may not show it yet").all()
    assert "missing_in_platform" not in set(rows["outcome"])
    assert _watermark(engine, cid, "invoices") is None, "no watermark moves without a completed refresh"

    sandbox.admin.set_syncing(cid, seconds=0)
    result, rows = _reconcile(lagging)
    assert result["stale_read_back"] == {} and set(rows["outcome"]) == {"matched"}
