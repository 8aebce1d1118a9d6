"""(b) Every response type the sandbox returns conforms to Codat's schemas, fetched over real HTTP."""

from __future__ import annotations

import pytest
from tests.contract.oas import oas_dir, validation_errors
from tests.contract.world import fetch

OAS = oas_dir()
ACCOUNTING = OAS / "Codat-Accounting.yaml"
PLATFORM = OAS / "Codat-Platform.yaml"

# list path (under /companies/{id}, or its connection for direct costs) → list schema in Codat-Accounting.yaml
LISTS = {
    "data/accounts": "Accounts",
    "data/taxRates": "TaxRates",
    "data/trackingCategories": "TrackingCategories",
    "data/customers": "Customers",
    "data/invoices": "Invoices",
    "data/creditNotes": "CreditNotes",
    "data/payments": "Payments",
    "connections/{conn}/data/directCosts": "DirectCosts",
}


@pytest.mark.parametrize("path", sorted(LISTS))
def test_list_envelopes_conform(world, path):
    company = world["company"]
    body = fetch(world["server"], f"/companies/{company['id']}/{path.format(conn=company['connectionId'])}",
                 page=1, pageSize=100)
    assert body["results"], f"{path} returned no records to check"
    assert validation_errors(ACCOUNTING, LISTS[path], body) == []


def test_bank_accounts_conform(world):
    company = world["company"]
    body = fetch(world["server"],
                 f"/companies/{company['id']}/connections/{company['connectionId']}/data/bankAccounts",
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
    assert validation_errors(PLATFORM, "Companies",
                             fetch(world["server"], "/companies", page=1, pageSize=100)) == []
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


def test_refresh_history_and_data_status_conform(world):
    server, cid = world["server"], world["company"]["id"]
    with server.client() as http:
        pull = http.post(f"/companies/{cid}/data/queue/invoices")
    assert pull.status_code == 200 and validation_errors(PLATFORM, "PullOperation", pull.json()) == []
    one = fetch(server, f"/companies/{cid}/data/history/{pull.json()['id']}")
    assert validation_errors(PLATFORM, "PullOperation", one) == []
    history = fetch(server, f"/companies/{cid}/data/history", page=1, pageSize=100)
    assert history["results"] and validation_errors(PLATFORM, "PullOperations", history) == []
    status = fetch(server, f"/companies/{cid}/dataStatus")
    assert {"invoices", "chartOfAccounts", "directCosts"} <= set(status)
    assert validation_errors(PLATFORM, "DataStatuses", status) == []


@pytest.mark.parametrize("status", ["Deauthorized", "Unlinked", "PendingAuth"])
def test_broken_connections_and_their_refusals_conform(world, status):
    server = world["server"]
    company = server.admin.create_company(f"Broken Link {status}", "GBP")
    server.admin.set_connection_status(company["id"], status)
    connection = fetch(server, f"/companies/{company['id']}/connections/{company['connectionId']}")
    assert connection["status"] == status
    assert validation_errors(PLATFORM, "Connection", connection) == []
    with server.client() as http:
        refused = http.post(f"/companies/{company['id']}/connections/{company['connectionId']}"
                            "/push/customers", json={"customerName": "X", "status": "Active"})
        pull = http.post(f"/companies/{company['id']}/data/queue/customers").json()
    assert refused.status_code in (401, 403, 409)
    assert validation_errors(PLATFORM, "ErrorMessage", refused.json()) == []
    assert pull["status"] == "AuthError" and validation_errors(PLATFORM, "PullOperation", pull) == []
