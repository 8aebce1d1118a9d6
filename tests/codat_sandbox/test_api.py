"""The sandbox over real HTTP: auth, platform routes, paging, query, pushes and their effects."""

from __future__ import annotations

import base64

import httpx
import pytest

from codat_sandbox import seed
from tests.codat_sandbox.builders import account_id, credit_note, invoice, invoice_line, payment

ERROR_FIELDS = {"statusCode", "service", "error", "correlationId", "validation", "canBeRetried",
                "detailedErrorCode"}


def test_requests_without_the_right_key_get_401_with_an_error_message(server, api):
    for headers in ({}, {"Authorization": "Basic " + base64.b64encode(b"wrong").decode()},
                    {"Authorization": server.api_key}):
        response = httpx.get(f"{server.base_url}/companies/{api.company_id}", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert set(body) == ERROR_FIELDS and body["statusCode"] == 401
        assert server.api_key not in response.text


def test_companies_and_connections(api, http):
    company = http.get(f"/companies/{api.company_id}").json()
    assert company["id"] == api.company_id
    listing = http.get("/companies", params={"pageSize": 2000}).json()
    assert api.company_id in [c["id"] for c in listing["results"]]
    connections = http.get(f"/companies/{api.company_id}/connections").json()
    assert [(c["id"], c["status"], c["platformName"]) for c in connections["results"]] == [
        (api.connection_id, "Linked", "Xero")]
    info = http.get(f"/companies/{api.company_id}/data/info").json()
    assert (info["companyName"], info["baseCurrency"]) == (company["name"], "GBP")
    for path in ("/companies/00000000-0000-4000-8000-000000000000",
                 f"/companies/{api.company_id}/data/invoices/nope",
                 f"/companies/{api.company_id}/connections/nope/data/bankAccounts", "/nowhere"):
        response = http.get(path)
        assert response.status_code == 404 and set(response.json()) == ERROR_FIELDS


def test_reference_data_is_seeded_with_deterministic_ids(api, http):
    accounts = http.get(f"/companies/{api.company_id}/data/accounts",
                        params={"pageSize": 200}).json()["results"]
    by_code = {a["nominalCode"]: a for a in accounts}
    assert by_code["4000"]["id"] == seed.stable_id(api.company_id, "account:4000")
    assert by_code["4090"]["status"] == "Archived"
    assert by_code["1200"]["isBankAccount"] is True and by_code["6100"]["type"] == "Expense"
    banks = http.get(f"/companies/{api.company_id}/connections/{api.connection_id}/data/bankAccounts").json()
    assert {b["nominalCode"] for b in banks["results"]} == {"1200", "1210"}
    rates = http.get(f"/companies/{api.company_id}/data/taxRates", params={"query": "code=compound"}).json()
    assert [(r["totalTaxRate"], r["effectiveTaxRate"]) for r in rates["results"]] == [(20, 21)]
    tracking = http.get(f"/companies/{api.company_id}/data/trackingCategories",
                        params={"query": "hasChildren=true", "orderBy": "name"}).json()["results"]
    assert [t["name"] for t in tracking] == ["Product line", "Region"]
    one = http.get(f"/companies/{api.company_id}/data/accounts/{by_code['4000']['id']}").json()
    assert one["name"] == "Sales"


def test_paging_envelope_walks_more_than_three_pages(api, http, server):
    customer = api.customer()
    for number in range(7):
        server.admin.insert_record(api.company_id, "invoices", {"invoiceNumber": f"X-{number}",
                                                                  "customerRef": {"id": customer}})
    path = f"/companies/{api.company_id}/data/invoices"
    seen, page, links = [], 1, None
    while True:
        body = http.get(path, params={"page": page, "pageSize": 2}).json()
        assert body["pageNumber"] == page and body["pageSize"] == 2 and body["totalResults"] == 7
        seen += [r["invoiceNumber"] for r in body["results"]]
        links = body["_links"]
        assert links["self"]["href"] == path
        assert links["current"]["href"] == f"{path}?page={page}&pageSize=2"
        assert ("previous" in links) == (page > 1)
        if "next" not in links:
            break
        page += 1
    assert page == 4 and seen == [f"X-{n}" for n in range(7)]
    assert http.get(path, params={"pageSize": 2001}).status_code == 400
    assert http.get(path, params={"page": 0}).status_code == 400
    assert http.get(path).json()["pageSize"] == 100


def test_query_and_order_by_over_http(api, http, server):
    customer = api.customer("Query Ltd")
    for number, amount in enumerate((10, 200, 50)):
        server.admin.insert_record(api.company_id, "invoices", {
            "invoiceNumber": f"Q-{number}", "totalAmount": amount,
            "status": "Submitted" if amount < 100 else "Paid",
            "customerRef": {"id": customer}, "lineItems": [{"unitAmount": amount}]})
    path = f"/companies/{api.company_id}/data/invoices"

    def numbers(**params):
        response = http.get(path, params=params)
        assert response.status_code == 200, response.text
        return [r["invoiceNumber"] for r in response.json()["results"]]

    assert numbers(query="status=SUBMITTED", orderBy="-totalAmount") == ["Q-2", "Q-0"]
    assert numbers(query="totalAmount>100 || totalAmount<20 && status=submitted") == ["Q-0", "Q-1"]
    assert numbers(query=f"customerRef.id={customer} && metadata.isDeleted!=true", orderBy="totalAmount") == [
        "Q-0", "Q-2", "Q-1"]
    assert numbers(query="note!=x") == ["Q-0", "Q-1", "Q-2"]
    assert numbers(query='invoiceNumber="q-1"') == ["Q-1"]
    # The raw URL-encoded form (%3E%3D is >=) as a client would send it.
    raw = http.get(f"{path}?query=totalAmount%3E%3D50%26%26totalAmount%3C%3D50")
    assert [r["invoiceNumber"] for r in raw.json()["results"]] == ["Q-2"]
    for bad in ("lineItems.unitAmount=10", "totalAmount>>", "{status=Paid"):
        response = http.get(path, params={"query": bad})
        assert response.status_code == 400 and response.json()["statusCode"] == 400


def test_a_push_is_pending_then_success_and_the_record_is_readable(api, http):
    response = http.post(api.push_url("customers"), json={"customerName": "Pending Ltd", "status": "Active"},
                         params={"timeoutInMinutes": 30})
    operation = response.json()
    assert response.status_code == 200
    assert operation["status"] == "Pending" and operation["statusCode"] == 202
    assert operation["timeoutInMinutes"] == 30 and "data" not in operation
    assert operation["companyId"] == api.company_id and operation["dataConnectionKey"] == api.connection_id
    final = api.settle(operation)
    assert final["status"] == "Success" and final["statusCode"] == 200
    assert final["completedOnUtc"].endswith("Z")
    change = final["changes"][0]
    assert change["type"] == "Created" and change["recordRef"]["dataType"] == "customers"
    customer = api.get("customers", change["recordRef"]["id"])
    assert customer["customerName"] == "Pending Ltd" and customer["metadata"] == {"isDeleted": False}
    assert customer["modifiedDate"].endswith("Z")


def test_a_failed_push_reports_validation_errors(api):
    operation = api.push("invoices", invoice(api.company_id, "no-such-customer"))
    assert operation["statusCode"] == 400 and operation["errorMessage"]
    item = operation["validation"]["errors"][0]
    assert item == {"itemId": "customerRef.id", "message": "Customer 'no-such-customer' does not exist.",
                    "validatorName": "Invoice"}


def test_payments_and_allocations_move_invoices_to_paid(api):
    customer = api.customer()
    invoice_id = api.create("invoices", invoice(api.company_id, customer))
    assert api.get("invoices", invoice_id)["amountDue"] == 120
    api.create("payments",
               payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id, "amount": -20}]))
    partly = api.get("invoices", invoice_id)
    assert (partly["amountDue"], partly["status"]) == (100, "PartiallyPaid")
    note_id = api.create("creditNotes", credit_note(api.company_id, customer))
    allocation = payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id, "amount": -60},
                                                     {"type": "CreditNote", "id": note_id,
                                                      "amount": 60}], amount=0)
    del allocation["accountRef"]
    api.create("payments", allocation)
    note = api.get("creditNotes", note_id)
    assert (note["remainingCredit"], note["status"]) == (0, "Paid")
    overpay = api.push("payments", payment(api.company_id, customer,
                                           [{"type": "Invoice", "id": invoice_id, "amount": -41}]))
    assert any("has amountDue 40" in m for m in api.errors(overpay))
    api.create("payments",
               payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id, "amount": -40}]))
    paid = api.get("invoices", invoice_id)
    assert (paid["amountDue"], paid["status"]) == (0, "Paid")
    assert len(paid["paymentAllocations"]) == 3
    again = api.push("payments", payment(api.company_id, customer,
                                         [{"type": "Invoice", "id": invoice_id, "amount": -1}]))
    assert any("has status 'Paid'" in m for m in api.errors(again))


def test_put_updates_and_recomputes_amount_due(api, http):
    customer = api.customer()
    body = invoice(api.company_id, customer)
    invoice_id = api.create("invoices", body)
    api.create("payments",
               payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id, "amount": -100}]))
    bigger = invoice(api.company_id, customer, [invoice_line(api.company_id, 200)], note="revised")
    operation = api.push("invoices", bigger, record_id=invoice_id)
    assert operation["status"] == "Success" and operation["changes"][0]["type"] == "Modified"
    record = api.get("invoices", invoice_id)
    assert (record["totalAmount"], record["amountDue"], record["status"], record["note"]) == (
        240, 140, "PartiallyPaid", "revised")
    smaller = invoice(api.company_id, customer, [invoice_line(api.company_id, 50)])
    assert any("amountDue would be negative" in m for m in api.errors(api.push("invoices", smaller,
                                                                               invoice_id)))
    stale = {**bigger, "sourceModifiedDate": "2020-01-01T00:00:00Z"}
    assert any("forceUpdate" in m for m in api.errors(api.push("invoices", stale, invoice_id)))
    assert api.push("invoices", stale, invoice_id, forceUpdate="true")["status"] == "Success"
    response = http.put(api.push_url("payments", "anything"), json={})
    assert response.status_code == 405 and response.json()["statusCode"] == 405
    assert http.put(api.push_url("invoices", "no-such-id"), json=bigger).status_code == 404


def test_foreign_currency_and_duplicates_are_the_clients_business(api):
    customer = api.customer()
    body = invoice(api.company_id, customer, currency="USD", currencyRate=None)
    assert any("currencyRate is required" in m for m in api.errors(api.push("invoices", body)))
    body["currencyRate"] = 0.78
    first, second = api.create("invoices", body), api.create("invoices", body)
    assert first != second  # §11.8: no uniqueness of invoice numbers


def test_push_operations_can_be_listed_and_queried(api, http):
    customer = api.customer()
    api.push("invoices", invoice(api.company_id, "nobody"))
    api.create("invoices", invoice(api.company_id, customer))
    path = f"/companies/{api.company_id}/push"
    failed = http.get(path, params={"query": "status=Failed && dataType=invoices"}).json()
    assert failed["totalResults"] == 1 and failed["results"][0]["statusCode"] == 400
    key = failed["results"][0]["pushOperationKey"]
    assert http.get(path, params={"query": f"pushOperationKey={key}"}).json()["totalResults"] == 1
    newest = http.get(path,
                      params={"orderBy": "-requestedOnUtc", "query": "requestedOnUtc>2020-01-01"}).json()
    assert newest["totalResults"] == 3 and newest["results"][0]["dataType"] == "invoices"
    assert http.get(f"{path}/00000000-0000-4000-8000-000000000000").status_code == 404


def test_direct_costs_push_and_read(api):
    body = {
        "issueDate": "2026-05-01T00:00:00", "currency": "GBP", "reference": "FEES",
        "lineItems": [{"description": "Fees", "unitAmount": 3, "quantity": 1, "subTotal": 3, "taxAmount": 0,
                       "totalAmount": 3, "accountRef": {"id": account_id(api.company_id, "6100")}}],
        "paymentAllocations": [{"payment": {"accountRef": {"id": account_id(api.company_id, "1210")}},
                                "allocation": {"totalAmount": 3}}],
        "subTotal": 3, "taxAmount": 0, "totalAmount": 3,
    }
    cost_id = api.create("directCosts", body)
    assert api.get("directCosts", cost_id)["reference"] == "FEES"


def test_issue11_defect3_direct_costs_are_served_only_per_connection(api, http):
    """Regression: the sandbox served the company-scoped direct-costs path Codat lacks (hid a client bug)."""
    cost_id = api.create("directCosts", {
        "issueDate": "2026-05-01T00:00:00", "currency": "GBP", "reference": "FEES-2",
        "lineItems": [{"description": "Fees", "unitAmount": 2, "quantity": 1, "subTotal": 2, "taxAmount": 0,
                       "totalAmount": 2, "accountRef": {"id": account_id(api.company_id, "6100")}}],
        "paymentAllocations": [{"payment": {"accountRef": {"id": account_id(api.company_id, "1210")}},
                                "allocation": {"totalAmount": 2}}],
        "subTotal": 2, "taxAmount": 0, "totalAmount": 2})
    scoped = f"/companies/{api.company_id}/connections/{api.connection_id}/data/directCosts"
    assert cost_id in {r["id"] for r in http.get(scoped).json()["results"]}
    for path in (f"/companies/{api.company_id}/data/directCosts",
                 f"/companies/{api.company_id}/data/directCosts/{cost_id}",
                 f"/companies/{api.company_id}/data/bankAccounts",
                 f"/companies/{api.company_id}/connections/{api.connection_id}/data/invoices"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert set(response.json()) == ERROR_FIELDS


def test_admin_records_can_diverge_and_be_deleted(api, server, http):
    customer = api.customer()
    invoice_id = api.create("invoices", invoice(api.company_id, customer))
    server.admin.patch_record(api.company_id, "invoices", invoice_id, totalAmount=99)
    assert api.get("invoices", invoice_id)["totalAmount"] == 99
    server.admin.delete_record(api.company_id, "invoices", invoice_id)
    record = api.get("invoices", invoice_id)
    assert record["metadata"]["isDeleted"] is True and record["status"] == "Submitted"
    live = http.get(f"/companies/{api.company_id}/data/invoices",
                    params={"query": "metadata.isDeleted!=true"})
    assert live.json()["totalResults"] == 0


def test_admin_stats_count_by_route_template_and_status(server, api, http):
    server.admin.reset_stats()
    http.get(f"/companies/{api.company_id}/data/accounts")
    http.get(f"/companies/{api.company_id}/data/accounts/nope")
    stats = server.admin.stats()
    assert stats["requests"]["GET /companies/{companyId}/data/accounts"] == 1
    assert stats["requestsByStatus"]["GET /companies/{companyId}/data/accounts/{recordId} 404"] == 1
    assert stats["total"] == 2


def test_forcing_an_operation_status(api, server, http):
    response = http.post(api.push_url("customers"), json={"customerName": "X", "status": "Active"})
    key = response.json()["pushOperationKey"]
    server.admin.force_operation_status(key, "Failed")
    assert http.get(f"/companies/{api.company_id}/push/{key}").json()["status"] == "Failed"
    with pytest.raises(httpx.HTTPStatusError):
        server.admin.force_operation_status(key, "Bogus")


def test_admin_is_off_by_default_and_the_key_can_come_from_the_environment(tmp_path, monkeypatch):
    from tests.fixtures.sandbox import start_sandbox

    monkeypatch.setenv("CODAT_SANDBOX_API_KEY", "key-from-env")
    proc = start_sandbox(tmp_path, admin=False)
    try:
        assert proc.api_key == "key-from-env"
        response = httpx.get(f"{proc.base_url}/admin/stats")
        assert response.status_code == 404
        with proc.client() as http:
            assert http.get("/companies").status_code == 200
    finally:
        proc.stop()


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("10.0.0.5", False), (None, False), ("example.com", False)])
def test_the_admin_api_answers_only_loopback_clients(host, loopback):
    from codat_sandbox.app import _is_loopback

    assert _is_loopback(host) is loopback


def test_seed_demo_companies_have_deterministic_ids(tmp_path):
    from tests.fixtures.sandbox import start_sandbox

    proc = start_sandbox(tmp_path, seed_demo=2, admin=False, api_key="demo-key")
    try:
        assert proc.api_key == "demo-key"
        with proc.client() as http:
            ids = [c["id"] for c in http.get("/companies").json()["results"]]
        assert ids == [seed.demo_company_id(1), seed.demo_company_id(2)]
    finally:
        proc.stop()
