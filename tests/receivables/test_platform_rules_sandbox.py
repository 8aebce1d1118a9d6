"""Issue 16 end to end through the sandbox over HTTP: each connection's own rules, checked before any push.

Companies on Xero, QuickBooks Online and Oracle NetSuite (the sandbox's three platform kinds) get the same
kind of warehouse rows; the jobs the DAGs run (reference pull with its options read, then the sync) decide.
For each platform, a document that passes another platform's rules but breaks this one's is rejected
before push (``platform_rule``) for this company and pushed for the other. A connection whose options
answer 404, an error or an empty model gets the gate's own rules only, a note in the mapping check, and no
failed night — the platform then refuses the document at push. A rule the options never describe (the
period lock date) still fails at push with the platform's own words.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pandas as pd
import pytest

from receivables import jobs
from receivables.codat.client import CodatClient
from receivables.settings import CodatSettings, SyncSettings
from receivables.warehouse import io, schema
from receivables.warehouse.migrations import create_input_tables

DAY = date(2026, 11, 20)
UPDATED = datetime(2026, 11, 20, 10, 0)
T = schema.metadata.tables
QBO_TOO_LONG = "INV-2026-000123-LONGER"  # 22 characters: QuickBooks Online keeps 21, NetSuite 45, Xero 255
NETSUITE_TOO_LONG = (
    "Northwind Traders and Consolidated Holdings of the Greater Manchester Area (Trading)"  # 84
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.fixtures.sandbox import start_sandbox

    proc = start_sandbox(tmp_path_factory.mktemp("platforms"), push_delay_ms=0)
    try:
        yield proc
    finally:
        proc.stop()


def admin_platform(server, company_id: str, **settings: Any) -> dict:
    response = httpx.put(
        f"{server.base_url}/admin/companies/{company_id}/platform", json=settings, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


class Night:
    """A warehouse and the sandbox companies of one test, and the jobs of one business day."""

    def __init__(self, server, engine, tmp_path) -> None:
        self.server, self.engine = server, engine
        self.codat = CodatSettings(
            base_url=server.base_url, api_key=server.api_key, settle_deadline_seconds=30
        )
        self.settings = SyncSettings(report_dir=str(tmp_path / "reports"))
        create_input_tables(engine)

    def company(self, name: str, platform: str, **platform_settings: Any) -> str:
        created = self.server.admin.create_company(name, "GBP", platform=platform)
        cid = created["id"]
        if platform_settings:
            admin_platform(self.server, cid, **platform_settings)
        with CodatClient(self.codat) as client:
            accounts = client.iter_records(cid, "chartOfAccounts")
            income = next(a["id"] for a in accounts if a.get("nominalCode") == "4000")
            rate = next(
                t["id"] for t in client.iter_records(cid, "taxRates") if t.get("code") == "STANDARD"
            )
        io.write_frame(
            self.engine,
            T["ar_companies"],
            pd.DataFrame(
                [
                    {
                        "company_id": cid,
                        "connection_id": created["connectionId"],
                        "name": name,
                        "base_currency": "GBP",
                        "active": True,
                    }
                ]
            ),
        )
        io.write_frame(
            self.engine,
            T["ar_mappings"],
            pd.DataFrame(
                [
                    {
                        "company_id": cid,
                        "kind": "income_account",
                        "source_code": "*",
                        "platform_id": income,
                    },
                    {"company_id": cid, "kind": "tax_rate", "source_code": "STD", "platform_id": rate},
                ]
            ),
        )
        return cid

    def customer(self, cid: str, customer_id: str, name: str) -> None:
        io.write_frame(
            self.engine,
            T["ar_customers"],
            pd.DataFrame(
                [
                    {
                        "company_id": cid,
                        "customer_id": customer_id,
                        "name": name,
                        "email": None,
                        "default_currency": "GBP",
                        "updated_at": UPDATED,
                    }
                ]
            ),
        )

    def invoice(
        self,
        cid: str,
        invoice_id: str,
        number: str,
        *,
        customer_id: str = "cu-1",
        issue_date: date = DAY,
        currency: str = "GBP",
        rate: Decimal | None = None,
    ) -> None:
        io.write_frame(
            self.engine,
            T["ar_invoices"],
            pd.DataFrame(
                [
                    {
                        "company_id": cid,
                        "invoice_id": invoice_id,
                        "invoice_number": number,
                        "customer_id": customer_id,
                        "issue_date": issue_date,
                        "due_date": date(2026, 12, 20),
                        "currency": currency,
                        "currency_rate": rate,
                        "status": "submitted",
                        "note": None,
                        "updated_at": UPDATED,
                    }
                ]
            ),
        )
        io.write_frame(
            self.engine,
            T["ar_invoice_lines"],
            pd.DataFrame(
                [
                    {
                        "company_id": cid,
                        "invoice_id": invoice_id,
                        "line_no": 1,
                        "description": "Consulting",
                        "quantity": Decimal(2),
                        "unit_amount": Decimal("150.00"),
                        "discount_amount": Decimal(0),
                        "tax_code": "STD",
                        "revenue_code": "SALES",
                        "tracking_code": None,
                    }
                ]
            ),
        )

    def credit_note(
        self,
        cid: str,
        credit_note_id: str,
        number: str,
        *,
        note: str | None = None,
        updated: datetime = UPDATED,
    ) -> None:
        io.write_frame(
            self.engine,
            T["ar_credit_notes"],
            pd.DataFrame(
                [
                    {
                        "company_id": cid,
                        "credit_note_id": credit_note_id,
                        "credit_note_number": number,
                        "customer_id": "cu-1",
                        "issue_date": DAY,
                        "currency": "GBP",
                        "currency_rate": None,
                        "status": "submitted",
                        "note": note,
                        "updated_at": updated,
                    }
                ]
            ),
            mode="upsert",
        )
        io.write_frame(
            self.engine,
            T["ar_credit_note_lines"],
            pd.DataFrame(
                [
                    {
                        "company_id": cid,
                        "credit_note_id": credit_note_id,
                        "line_no": 1,
                        "description": "Goodwill",
                        "quantity": Decimal(1),
                        "unit_amount": Decimal("40.00"),
                        "discount_amount": Decimal(0),
                        "tax_code": "STD",
                        "revenue_code": "SALES",
                        "tracking_code": None,
                    }
                ]
            ),
            mode="upsert",
        )

    def run(self, day: date = DAY) -> dict[str, dict]:
        """Reference pull then sync for every company of the day, as the DAGs run them."""
        plan = jobs.plan_run(
            self.engine,
            settings=self.settings,
            run_id=f"run-{day}",
            params={"business_date": day.isoformat()},
        )
        results = {}
        for company in plan["companies"]:
            with CodatClient(self.codat) as client:
                reference = jobs.refresh_reference(client, self.engine, company)
            synced = jobs.sync_company(self.codat, self.engine, company, settings=self.settings)
            results[company["company_id"]] = {"reference": reference, "sync": synced}
        return results

    def rejects(self, cid: str) -> pd.DataFrame:
        return io.read_frame(self.engine, T["ar_rejects"], where={"company_id": cid})

    def ledger(self, cid: str) -> pd.DataFrame:
        return io.read_frame(self.engine, T["ar_push_ledger"], where={"company_id": cid}).set_index(
            ["document_type", "source_id"]
        )

    def mapping_issues(self, cid: str) -> pd.DataFrame:
        return io.read_frame(self.engine, T["ar_mapping_issues"], where={"company_id": cid})


@pytest.fixture
def night(server, sqlite_engine, tmp_path) -> Night:
    return Night(server, sqlite_engine, tmp_path)


def _pushed(night: Night, cid: str, document_type: str, source_id: str) -> bool:
    ledger = night.ledger(cid)
    return (document_type, source_id) in ledger.index and ledger.loc[
        (document_type, source_id), "status"
    ] == "success"


def _platform_reject(night: Night, cid: str, source_id: str) -> pd.Series:
    rejects = night.rejects(cid)
    hit = rejects[rejects["source_id"] == source_id]
    assert len(hit) == 1, f"{source_id} was not rejected in {cid}: {rejects.to_dict('records')}"
    return hit.iloc[0]


def test_each_platform_rejects_before_push_what_only_it_refuses(night):
    """QuickBooks Online: a 22-character number; NetSuite: an 84-character customer name; Xero on a plan
    without multi-currency: a EUR invoice. Each passes the other platforms' rules and is pushed there."""
    qbo, netsuite = night.company("Quickly Ltd", "qbo"), night.company("Suite Ltd", "netsuite")
    xero = night.company("Kiwi Ltd", "xero", multiCurrency=False)
    for cid in (qbo, netsuite, xero):
        night.customer(cid, "cu-1", "Acme Trading")
        night.customer(cid, "cu-long", NETSUITE_TOO_LONG)
        night.invoice(cid, "inv-long", QBO_TOO_LONG)
        night.invoice(cid, "inv-eur", "INV-EUR-1", currency="EUR", rate=Decimal("0.86"))
        night.invoice(cid, "inv-ok", "INV-OK-1")

    night.run()

    long_number = _platform_reject(night, qbo, "inv-long")
    assert long_number["rule"] == "platform_rule"
    assert long_number["message"].startswith(
        f"invoice {QBO_TOO_LONG} (id inv-long): QuickBooks Online allows at most 21 characters in a document "
        "number (this one has 22)"
    )
    assert _pushed(night, netsuite, "invoice", "inv-long") and _pushed(night, xero, "invoice", "inv-long")

    long_name = _platform_reject(night, netsuite, "cu-long")
    assert (
        long_name["rule"] == "platform_rule"
        and "Oracle NetSuite allows at most 83 characters" in long_name["message"]
    )
    assert _pushed(night, qbo, "customer", "cu-long") and _pushed(night, xero, "customer", "cu-long")

    euro = _platform_reject(night, xero, "inv-eur")
    assert euro["rule"] == "platform_rule" and "Xero accepts currency GBP only, not EUR" in euro["message"]
    assert _pushed(night, netsuite, "invoice", "inv-eur")

    for cid in (qbo, netsuite, xero):
        assert _pushed(night, cid, "invoice", "inv-ok")
        failed = night.ledger(cid)
        assert (failed["status"] == "failed").sum() == 0, (
            "push_failed must stay at zero for described rules"
        )


@pytest.mark.parametrize("mode", ["notFound", "error", "empty"])
def test_a_connection_that_publishes_no_options_gets_the_gates_rules_and_a_note(night, mode):
    cid = night.company(f"Silent {mode} Ltd", "qbo", optionsMode=mode)
    night.customer(cid, "cu-1", "Acme Trading")
    night.invoice(cid, "inv-long", QBO_TOO_LONG)
    night.invoice(cid, "inv-ok", "INV-OK-1")

    result = night.run()[cid]  # no exception: the night goes on

    assert set(result["reference"]["push_options"].values()) == {"none published"}
    assert night.rejects(cid).empty, "no platform rule without published options"
    ledger = night.ledger(cid)
    assert ledger.loc[("invoice", "inv-ok"), "status"] == "success"
    # The platform still enforces its rule at push, in its own words.
    assert ledger.loc[("invoice", "inv-long"), "status"] == "failed"
    assert (
        "QuickBooks Online allows at most 21 characters"
        in ledger.loc[("invoice", "inv-long"), "last_error"]
    )
    notes = night.mapping_issues(cid)
    notes = notes[notes["rule"] == "platform_options_unpublished"]
    assert sorted(notes["source_code"]) == [
        "creditNotes",
        "customers",
        "directCosts",
        "invoices",
        "payments",
    ]


def test_a_rule_the_options_do_not_describe_still_fails_at_push(night):
    cid = night.company("Closed Books Ltd", "qbo", lockDate="2026-11-15")
    night.customer(cid, "cu-1", "Acme Trading")
    night.invoice(cid, "inv-closed", "INV-CLOSED-1", issue_date=date(2026, 11, 10))
    night.invoice(cid, "inv-open", "INV-OPEN-1")

    night.run()

    ledger = night.ledger(cid)
    assert ledger.loc[("invoice", "inv-open"), "status"] == "success"
    closed = ledger.loc[("invoice", "inv-closed")]
    assert closed["status"] == "failed"
    assert "Account Period Closed" in closed["last_error"]
    assert night.rejects(cid).empty


def test_a_platform_that_only_creates_gets_a_changed_document_once_with_advice(night):
    """Oracle NetSuite creates credit notes but never updates them; Xero updates them in place."""
    from datetime import timedelta

    netsuite, xero = night.company("Suite Two Ltd", "netsuite"), night.company("Kiwi Two Ltd", "xero")
    for cid in (netsuite, xero):
        night.customer(cid, "cu-1", "Acme Trading")
        night.credit_note(cid, "cn-1", "CN-0001")
    night.run()
    assert _pushed(night, netsuite, "credit_note", "cn-1") and _pushed(night, xero, "credit_note", "cn-1")
    before = night.ledger(netsuite).loc[("credit_note", "cn-1")]

    day2 = DAY + timedelta(days=1)
    for cid in (netsuite, xero):
        night.credit_note(
            cid,
            "cn-1",
            "CN-0001",
            note="goodwill agreed by phone",
            updated=datetime.combine(day2, datetime.min.time()).replace(hour=9),
        )
    night.run(day2)

    refused = _platform_reject(night, netsuite, "cn-1")
    assert refused["rule"] == "platform_rule"
    assert "Oracle NetSuite cannot update a credit note once it is created" in refused["message"]
    assert "make the change in Oracle NetSuite by hand" in refused["message"]
    after = night.ledger(netsuite).loc[("credit_note", "cn-1")]
    assert after["status"] == "success" and after["content_hash"] == before["content_hash"], (
        "nothing was sent: no refused update, no failed push"
    )
    updated = night.ledger(xero).loc[("credit_note", "cn-1")]
    assert updated["operation"] == "update" and updated["status"] == "success"
    assert night.rejects(xero).empty


def test_a_credit_note_allocation_where_payments_cannot_link_credit_notes(night):
    """Oracle NetSuite's payments link invoices and payments on account only; Xero applies the credit."""
    netsuite, xero = night.company("Suite Three Ltd", "netsuite"), night.company("Kiwi Three Ltd", "xero")
    for cid in (netsuite, xero):
        night.customer(cid, "cu-1", "Acme Trading")
        night.invoice(cid, "inv-1", "INV-0001")
        night.credit_note(cid, "cn-1", "CN-0001")
        io.write_frame(
            night.engine,
            T["ar_credit_note_allocations"],
            pd.DataFrame(
                [
                    {
                        "company_id": cid,
                        "credit_note_id": "cn-1",
                        "invoice_id": "inv-1",
                        "amount": Decimal("10.00"),
                        "allocated_on": DAY,
                        "updated_at": UPDATED,
                    }
                ]
            ),
        )

    night.run()

    refused = _platform_reject(night, netsuite, "cn-1:inv-1")
    assert refused["rule"] == "platform_rule" and refused["document_type"] == "credit_note_allocation"
    assert (
        "a credit note cannot be applied to an invoice through a payment there: apply it in Oracle NetSuite "
        "by hand" in refused["message"]
    )
    assert _pushed(night, netsuite, "invoice", "inv-1") and _pushed(night, netsuite, "credit_note", "cn-1")
    assert _pushed(night, xero, "credit_note_allocation", "cn-1:inv-1")
    assert (night.ledger(netsuite)["status"] == "failed").sum() == 0
