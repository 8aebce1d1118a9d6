"""(b) Every response type the sandbox returns conforms to Codat's schemas, fetched over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal as D
from typing import Any

import pytest
from tests.codat_sandbox import builders
from tests.contract.oas import oas_dir, validation_errors
from tests.fixtures.sandbox import SandboxProcess, start_sandbox

from receivables.codat import CodatClient, PushOperationStatus
from receivables.codat.models import (
    AccountRef,
    Allocation,
    AllocationPayment,
    DirectCost,
    DirectCostLineItem,
    PaymentAllocation,
)
from receivables.settings import CodatSettings

OAS = oas_dir()
ACCOUNTING = OAS / "Codat-Accounting.yaml"
PLATFORM = OAS / "Codat-Platform.yaml"

# list path (under /companies/{id}) → list schema in Codat-Accounting.yaml
LISTS = {
    "data/accounts": "Accounts",
    "data/taxRates": "TaxRates",
    "data/trackingCategories": "TrackingCategories",
    "data/customers": "Customers",
    "data/invoices": "Invoices",
    "data/creditNotes": "CreditNotes",
    "data/payments": "Payments",
    "data/directCosts": "DirectCosts",
}


def direct_cost(company_id: str) -> bytes:
    bank = AccountRef(id=builders.account_id(company_id, "1200"))
    day = datetime(2026, 5, 3)
    return DirectCost(
        reference="FEE-1", issue_date=day, currency="GBP", sub_total=D("2.5"), tax_amount=D(0), total_amount=D("2.5"),
        line_items=[DirectCostLineItem(description="Card fees", unit_amount=D("2.5"), quantity=D(1),
                                       sub_total=D("2.5"), tax_amount=D(0), total_amount=D("2.5"),
                                       account_ref=AccountRef(id=builders.account_id(company_id, "6100")))],
        payment_allocations=[PaymentAllocation(
            payment=AllocationPayment(account_ref=bank, currency="GBP", paid_on_date=day, total_amount=D("2.5")),
            allocation=Allocation(currency="GBP", allocated_on_date=day, total_amount=D("2.5")))],
    ).to_push_json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox with one company holding one record of each pushed type (pushed through our client)."""
    server = start_sandbox(tmp_path_factory.mktemp("contract"), push_delay_ms=0)
    try:
        company = server.admin.create_company("Contract Ltd", "GBP")
        cid, conn = company["id"], company["connectionId"]
        codat = CodatClient(CodatSettings(base_url=server.base_url, api_key=server.api_key,
                                          settle_poll_interval_seconds=0.05))

        def create(data_type: str, body: Any, key: str) -> dict[str, Any]:
            op = codat.push(cid, conn, data_type, body, idempotency_key=f"{cid}-{key}")
            final = codat.settle(cid, [op.push_operation_key])[op.push_operation_key]
            assert final.status is PushOperationStatus.Success, final.validation_messages()
            return {"id": final.record_id, "key": op.push_operation_key}

        customer = create("customers", {"customerName": "Contract Customer", "status": "Active"}, "cust")["id"]
        invoice = create("invoices", builders.invoice(cid, customer), "inv")["id"]
        credit = create("creditNotes", builders.credit_note(cid, customer), "cn")["id"]
        create("payments", builders.payment(cid, customer, [{"type": "Invoice", "id": invoice, "amount": -60},
                                                             {"type": "CreditNote", "id": credit, "amount": 60}],
                                            amount=0), "alloc")
        operation = create("directCosts", direct_cost(cid), "dc")
        failed = codat.push(cid, conn, "invoices", builders.invoice(cid, "no-such-customer"), idempotency_key="bad")
        codat.settle(cid, [failed.push_operation_key])
        codat.close()
        yield {"server": server, "company": company, "operation": operation["key"]}
    finally:
        server.stop()


def fetch(server: SandboxProcess, path: str, *, auth: bool = True, expect: int = 200, **params: Any) -> Any:
    with server.client() as http:
        if not auth:
            http.headers["Authorization"] = "Basic bm90LXRoZS1rZXk="
        response = http.get(path, params=params)
    assert response.status_code == expect, response.text
    return response.json()


@pytest.mark.parametrize("path", sorted(LISTS))
def test_list_envelopes_conform(world, path):
    body = fetch(world["server"], f"/companies/{world['company']['id']}/{path}", page=1, pageSize=100)
    assert body["results"], f"{path} returned no records to check"
    assert validation_errors(ACCOUNTING, LISTS[path], body) == []


def test_bank_accounts_conform(world):
    company = world["company"]
    body = fetch(world["server"], f"/companies/{company['id']}/connections/{company['connectionId']}/data/bankAccounts",
                 page=1, pageSize=100)
    assert body["results"] and validation_errors(ACCOUNTING, "BankAccounts", body) == []


def test_push_operations_conform(world):
    cid = world["company"]["id"]
    listing = fetch(world["server"], f"/companies/{cid}/push", page=1, pageSize=100)
    assert {op["status"] for op in listing["results"]} >= {"Success", "Failed"}
    assert validation_errors(PLATFORM, "PushOperations", listing) == []
    one = fetch(world["server"], f"/companies/{cid}/push/{world['operation']}")
    assert validation_errors(PLATFORM, "PushOperation", one) == []
    assert validation_errors(ACCOUNTING, "PushOperationSummary", one) == []


def test_companies_and_connections_conform(world):
    cid = world["company"]["id"]
    assert validation_errors(PLATFORM, "Companies", fetch(world["server"], "/companies", page=1, pageSize=100)) == []
    assert validation_errors(PLATFORM, "Company", fetch(world["server"], f"/companies/{cid}")) == []
    connections = fetch(world["server"], f"/companies/{cid}/connections", page=1, pageSize=100)
    assert validation_errors(PLATFORM, "Connections", connections) == []


@pytest.mark.parametrize(("path", "auth", "status", "params"), [
    ("/companies", False, 401, {}),
    ("/companies/00000000-0000-4000-8000-000000000000/data/invoices", True, 404, {"page": 1}),
    ("/companies/{cid}/data/invoices", True, 400, {"page": 1, "pageSize": 5000}),
    ("/companies/{cid}/data/invoices", True, 400, {"page": 1, "query": "lineItems.unitAmount>1"}),
])
def test_error_messages_conform(world, path, auth, status, params):
    body = fetch(world["server"], path.format(cid=world["company"]["id"]), auth=auth, expect=status, **params)
    assert body["statusCode"] == status
    assert validation_errors(PLATFORM, "ErrorMessage", body) == []
