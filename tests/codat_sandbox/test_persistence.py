"""State survives a restart (SQLite write-through) and the CLI shuts down cleanly."""

from __future__ import annotations

import uuid

from tests.codat_sandbox.builders import Api, invoice, payment


def test_state_survives_a_restart(fresh):
    company = fresh.admin.create_company("Persist Ltd", "EUR")
    with fresh.client() as http:
        api = Api(http, company)
        customer = api.customer()
        body = invoice(api.company_id, customer, currency="EUR")
        invoice_id = api.create("invoices", body)
        api.create("payments", payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id,
                                                                     "amount": -20}], currency="EUR"))
        key = str(uuid.uuid4())
        first = http.post(api.push_url("customers"), json={"customerName": "Idem", "status": "Active"},
                          headers={"Idempotency-Key": key})
        before = api.get("invoices", invoice_id)
    process = fresh.process
    fresh.restart()
    assert process.returncode == 0
    with fresh.client() as http:
        api = Api(http, company)
        after = api.get("invoices", invoice_id)
        assert after == before and after["amountDue"] == 100
        replay = http.post(api.push_url("customers"), json={"customerName": "Idem", "status": "Active"},
                           headers={"Idempotency-Key": key})
        assert replay.content == first.content
        operations = http.get(f"/companies/{api.company_id}/push").json()
        assert operations["totalResults"] == 4
        accounts = http.get(f"/companies/{api.company_id}/data/accounts").json()
        assert accounts["totalResults"] == 15
        # New pushes keep working against the reloaded state.
        api.create("payments", payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id,
                                                                     "amount": -100}], currency="EUR"))
        assert api.get("invoices", invoice_id)["status"] == "Paid"


def test_admin_reset_forgets_everything(sandbox):
    sandbox.admin.create_company("Gone Ltd", "GBP")
    sandbox.admin.reset()
    with sandbox.client() as http:
        assert http.get("/companies").json()["totalResults"] == 0
