"""The report step of a run (``jobs.publish_report``) on the warehouse: the failure report, reruns, dry
runs."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from receivables import jobs, run_state
from receivables.settings import SyncSettings
from receivables.warehouse import create_input_tables, io, schema

T = schema.metadata.tables
DAY = date(2026, 3, 2)
COMPANIES = [{"company_id": "c-acme", "connection_id": "k1", "name": "Acme Ltd", "base_currency": "GBP"},
             {"company_id": "c-brick", "connection_id": "k2", "name": "Brick & Co", "base_currency": "EUR"}]


def _plan(run_id: str, dry_run: bool = False) -> dict:
    return {"business_date": DAY.isoformat(), "run_id": run_id, "dry_run": dry_run,
            "companies": [dict(c, business_date=DAY.isoformat(), run_id=run_id, dry_run=dry_run)
                          for c in COMPANIES]}


@pytest.fixture
def warehouse(warehouse_engine):
    create_input_tables(warehouse_engine)
    with warehouse_engine.begin() as conn:
        for c in COMPANIES:
            conn.execute(sa.insert(T["ar_companies"]).values(company_id=c["company_id"],
                                                             connection_id=c["connection_id"], name=c["name"],
                                                             base_currency=c["base_currency"], active=True))
    return warehouse_engine


def test_a_night_where_the_key_was_refused_writes_the_failure_report_and_alerts(warehouse, tmp_path):
    plan = _plan("run-1")
    for company in plan["companies"]:
        run_state.record(warehouse, company, "reference", "failed", error="the API refused the key (401).",
                         advice="Check the password of connection codat_default.")
    settings = SyncSettings(report_dir=str(tmp_path / "reports"))
    result = jobs.publish_report(warehouse, plan, settings=settings)  # empty tables for the day: no crash
    html = open(result["html"], encoding="utf-8").read()
    assert 'id="run-failures"' in html and "Acme Ltd" in html and "Brick &amp; Co" in html
    assert "every document agrees" not in html
    assert result["alert"]["fire"] and "2 companies FAILED" in result["alert"]["message"]
    assert [f["name"] for f in result["failed_companies"]] == ["Acme Ltd", "Brick & Co"]


def test_a_rerun_of_an_earlier_day_that_fails_is_not_restamped_as_pushed(warehouse, tmp_path):
    settings = SyncSettings(report_dir=str(tmp_path / "reports"))
    first = _plan("run-1")
    for company in first["companies"]:
        for stage in run_state.STAGES:
            run_state.record(warehouse, company, stage, "success")
    clean = jobs.publish_report(warehouse, first, settings=settings)
    assert "Complete: every company synced and reconciled" in open(clean["html"], encoding="utf-8").read()

    rerun = _plan("manual__rerun")
    run_state.record(warehouse, rerun["companies"][0], "reference", "success")
    run_state.record(warehouse, rerun["companies"][0], "sync", "failed",
                     error="the API refused the key (401).",
                     advice="Check the password of connection codat_default.")
    result = jobs.publish_report(warehouse, rerun, settings=settings)
    html = open(result["html"], encoding="utf-8").read()
    assert result["html"] == clean["html"]
    assert "Complete: every company" not in html and "INCOMPLETE: 2 of 2 companies" in html
    assert "sync failed: the API refused the key (401)." in html


def test_a_dry_run_writes_only_under_dry_run(warehouse, tmp_path):
    settings = SyncSettings(report_dir=str(tmp_path / "reports"))
    result = jobs.publish_report(warehouse, _plan("dry-1", dry_run=True), settings=settings)
    assert result["html"] == str(tmp_path / "reports" / DAY.isoformat() / "dry-run" / "reconciliation.html")
    assert sorted(p.name for p in (tmp_path / "reports" / DAY.isoformat()).iterdir()) == ["dry-run"]


def test_an_unreadable_warehouse_still_gives_a_report_that_says_so(warehouse, tmp_path):
    with warehouse.begin() as conn:
        conn.execute(sa.text("DROP TABLE ar_reconciliation"))
    result = jobs.publish_report(warehouse, _plan("run-1"), settings=SyncSettings(report_dir=str(tmp_path)))
    html = open(result["html"], encoding="utf-8").read()
    assert 'id="report-problem"' in html and result["problem"] and result["alert"]["fire"]
    assert io.read_frame(warehouse, T["ar_companies"]).shape[0] == 2
