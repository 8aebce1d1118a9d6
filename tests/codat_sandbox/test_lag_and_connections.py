"""Read-after-write lag, connection states and a company still syncing, seen from a client."""

from __future__ import annotations

import time

import pytest

from tests.codat_sandbox.builders import invoice, payment
from tests.fixtures.sandbox import start_sandbox

ERROR_FIELDS = {"statusCode", "service", "error", "correlationId", "validation", "canBeRetried",
                "detailedErrorCode"}


def _listed(api, http, data_type: str, **params) -> list[dict]:
    response = http.get(f"/companies/{api.company_id}/data/{data_type}", params={"pageSize": 2000, **params})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def _ids(api, http, data_type: str) -> set[str]:
    return {r["id"] for r in _listed(api, http, data_type)}


# ---- read-after-write lag ------------------------------------------------------------------------

def test_a_pushed_record_is_invisible_until_the_data_type_is_refreshed(api, http, server):
    server.admin.set_faults(read_lag_seconds=3600)
    operation = api.push("customers", {"customerName": "Lagging Ltd", "status": "Active"})
    record_id = operation["changes"][0]["recordRef"]["id"]
    # The push operation itself is readable at once, with the new record's id …
    pushed = http.get(f"/companies/{api.company_id}/push/{operation['pushOperationKey']}").json()
    assert pushed["status"] == "Success"
    keyed = http.get(f"/companies/{api.company_id}/push",
                     params={"query": f"pushOperationKey={operation['pushOperationKey']}"})
    assert keyed.json()["totalResults"] == 1
    # … the record is not: neither listed nor found by id, though the platform holds it.
    assert record_id not in _ids(api, http, "customers")
    assert http.get(f"/companies/{api.company_id}/data/customers/{record_id}").status_code == 404
    assert record_id in {r["id"] for r in server.admin.records(api.company_id, "customers")}
    refresh = http.post(f"/companies/{api.company_id}/data/queue/customers")
    assert refresh.status_code == 200
    pull = refresh.json()
    assert (pull["status"], pull["isCompleted"], pull["dataType"], pull["companyId"]) == (
        "Complete", True, "customers", api.company_id)
    assert record_id in _ids(api, http, "customers")
    assert api.get("customers", record_id)["customerName"] == "Lagging Ltd"


def test_a_lagged_update_shows_the_old_version_until_its_lag_passes(api, http, server):
    customer = api.customer()
    invoice_id = api.create("invoices", invoice(api.company_id, customer, invoiceNumber="LAG-1"))
    server.admin.set_faults(read_lag_seconds=0.6)
    # A payment changes the invoice's amountDue: reads keep the cached, unpaid version for a while.
    paid = api.push("payments", payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id,
                                                                     "amount": -120}]))
    assert paid["status"] == "Success"
    assert api.get("invoices", invoice_id)["amountDue"] == 120
    assert paid["changes"][0]["recordRef"]["id"] not in _ids(api, http, "payments")
    # Validation sees the real state: the invoice is already paid, a second payment is refused.
    again = api.push("payments", payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id,
                                                                      "amount": -120}], reference="RCPT-2"))
    assert again["status"] == "Failed"
    time.sleep(0.7)
    assert api.get("invoices", invoice_id)["amountDue"] == 0
    assert api.get("invoices", invoice_id)["status"] == "Paid"
    assert paid["changes"][0]["recordRef"]["id"] in _ids(api, http, "payments")


def test_lag_as_a_fault_is_scoped_by_data_type(api, http, server):
    server.admin.set_faults(read_lag_seconds=3600, data_types=["invoices"])
    customer = api.customer("Unlagged Ltd")
    assert customer in _ids(api, http, "customers")
    invoice_id = api.create("invoices", invoice(api.company_id, customer, invoiceNumber="LAG-2"))
    assert invoice_id not in _ids(api, http, "invoices")
    assert http.post(f"/companies/{api.company_id}/data/queue/invoices").json()["status"] == "Complete"
    assert invoice_id in _ids(api, http, "invoices")


def test_refresh_names_codat_data_types_and_rejects_unknown_ones(api, http):
    queued = http.post(f"/companies/{api.company_id}/data/queue/chartOfAccounts").json()
    assert queued["dataType"] == "chartOfAccounts"
    for unknown in ("accounts", "widgets"):
        response = http.post(f"/companies/{api.company_id}/data/queue/{unknown}")
        assert response.status_code == 404 and set(response.json()) == ERROR_FIELDS
    other = http.post(f"/companies/{api.company_id}/data/queue/invoices",
                      params={"connectionId": "00000000-0000-4000-8000-000000000000"})
    assert other.status_code == 404


def test_the_run_setting_lags_every_push(tmp_path):
    server = start_sandbox(tmp_path / "lagged", push_delay_ms=0, read_lag_seconds=0.5)
    try:
        company = server.admin.create_company("Lag Run Ltd", "GBP")
        with server.client() as http:
            url = f"/companies/{company['id']}/connections/{company['connectionId']}/push/customers"
            operation = http.post(url, json={"customerName": "Run Lag", "status": "Active"}).json()
            record_id = operation["changes"][0]["recordRef"]["id"]
            customers_url = f"/companies/{company['id']}/data/customers"
            listed = lambda: {r["id"] for r in http.get(customers_url,  # noqa: E731
                                                        params={"pageSize": 2000}).json()["results"]}
            assert record_id not in listed()
            time.sleep(0.6)
            assert record_id in listed()
    finally:
        server.stop()


# ---- connection states ---------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "code"), [("Deauthorized", 401), ("Unlinked", 403), ("PendingAuth", 409)])
def test_a_push_to_a_broken_link_is_refused_with_codats_error_and_reads_still_work(api, http, server, status,
                                                                                   code):
    customer = api.customer()
    server.admin.set_connection_status(api.company_id, status)
    response = http.post(api.push_url("invoices"), json=invoice(api.company_id, customer))
    assert response.status_code == code
    body = response.json()
    assert set(body) == ERROR_FIELDS and body["statusCode"] == code
    assert status in body["error"] and api.connection_id in body["error"]
    connection = http.get(f"/companies/{api.company_id}/connections").json()["results"][0]
    assert connection["status"] == status and connection["dataConnectionErrors"]
    assert customer in _ids(api, http, "customers")  # data already pulled stays readable
    pull = http.post(f"/companies/{api.company_id}/data/queue/invoices").json()
    assert (pull["status"], pull["isErrored"]) == ("AuthError", True)
    server.admin.set_connection_status(api.company_id, "Linked")
    assert api.push("invoices", invoice(api.company_id, customer))["status"] == "Success"
    connection = http.get(f"/companies/{api.company_id}/connections").json()["results"][0]
    assert connection["dataConnectionErrors"] == []


def test_a_link_that_breaks_mid_run_refuses_the_pushes_after_it(api, http, server):
    customer = api.customer()
    server.admin.set_connection_status(api.company_id, "Deauthorized", after_pushes=2)
    codes = [http.post(api.push_url("invoices"),
                       json=invoice(api.company_id, customer, invoiceNumber=f"MID-{n}"))
             for n in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 401, 401]
    # The operations accepted before the link broke were still Pending (50 ms push delay): they fail
    # with the link's status code instead of landing.
    finals = [api.settle(r.json()) for r in codes[:2]]
    assert [(op["status"], op["statusCode"]) for op in finals] == [("Failed", 401), ("Failed", 401)]
    assert "Deauthorized" in finals[0]["errorMessage"]
    assert not [r for r in _listed(api, http, "invoices") if str(r.get("invoiceNumber")).startswith("MID-")]


def test_operations_settled_before_the_link_breaks_keep_their_outcome(fresh):
    company = fresh.admin.create_company("Settled Ltd", "GBP")
    fresh.admin.set_connection_status(company["id"], "Unlinked", after_pushes=1)
    with fresh.client() as http:
        url = f"/companies/{company['id']}/connections/{company['connectionId']}/push/customers"
        first = http.post(url, json={"customerName": "Before", "status": "Active"})
        second = http.post(url, json={"customerName": "After", "status": "Active"})
    assert first.json()["status"] == "Success"
    assert second.status_code == 403


def test_a_bad_status_is_refused_by_the_admin_api(api, server):
    with pytest.raises(Exception, match="400"):
        server.admin.set_connection_status(api.company_id, "Broken")


# ---- a company still syncing ---------------------------------------------------------------------

def test_reads_answer_409_while_the_company_is_syncing(api, http, server):
    customer = api.customer()
    server.admin.set_syncing(api.company_id, seconds=0.5, data_types=["invoices"])
    response = http.get(f"/companies/{api.company_id}/data/invoices")
    assert response.status_code == 409 and response.json()["statusCode"] == 409
    assert "still syncing" in response.json()["error"]
    assert customer in _ids(api, http, "customers")  # other data types are ready
    status = http.get(f"/companies/{api.company_id}/dataStatus").json()
    assert status["invoices"]["currentStatus"] == "Fetching"
    assert status["customers"]["currentStatus"] == "Complete"
    assert status["chartOfAccounts"]["dataType"] == "chartOfAccounts"
    assert api.push("invoices", invoice(api.company_id, customer))["status"] == "Success"  # pushes go on
    time.sleep(0.6)
    assert http.get(f"/companies/{api.company_id}/data/invoices").status_code == 200
    after = http.get(f"/companies/{api.company_id}/dataStatus").json()
    assert after["invoices"]["currentStatus"] == "Complete"


def test_a_refresh_queued_while_syncing_completes_when_the_sync_ends(api, http, server):
    server.admin.set_faults(read_lag_seconds=3600)
    customer = api.customer("Queued Ltd")
    server.admin.set_syncing(api.company_id, seconds=0.4, data_types=["customers"])
    pull = http.post(f"/companies/{api.company_id}/data/queue/customers").json()
    assert (pull["status"], pull["isCompleted"]) == ("Queued", False) and "completed" not in pull
    time.sleep(0.5)
    done = http.get(f"/companies/{api.company_id}/data/history/{pull['id']}").json()
    assert (done["status"], done["isCompleted"]) == ("Complete", True)
    assert customer in _ids(api, http, "customers")
    history = http.get(f"/companies/{api.company_id}/data/history").json()
    assert pull["id"] in {p["id"] for p in history["results"]}
    assert http.get(f"/companies/{api.company_id}/data/history/nope").status_code == 404


def test_syncing_until_cleared(api, http, server):
    server.admin.set_syncing(api.company_id, seconds=None)
    assert http.get(f"/companies/{api.company_id}/data/accounts").status_code == 409
    server.admin.set_syncing(api.company_id, seconds=0)
    assert http.get(f"/companies/{api.company_id}/data/accounts").status_code == 200
