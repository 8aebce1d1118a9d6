"""Connections on three platforms: each one's options document its rules, and its pushes enforce them.

The first tests read each platform's options (``PushOption``) and prove every documented rule is enforced:
dropping a required property, exceeding a documented maximum length or sending a value outside the allowed
ones fails the push, while a document meeting the options passes. The rest pin the differences between
the platforms end to end over HTTP, the rule the options deliberately do not describe (the period lock
date), and the admin switches (multi-currency, options answering 404 / 500 / an empty model).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from codat_sandbox import platforms, seed
from codat_sandbox.store import Store
from tests.codat_sandbox.builders import (
    account_id,
    credit_note,
    invoice,
    invoice_line,
    payment,
    platform_api,
    platform_settings,
)
from tests.fixtures.sandbox import start_sandbox

PLATFORM_NAMES = [p.name for p in platforms.PLATFORMS]
MAX_LENGTH = re.compile(r"^Max length of (\d+) characters\.$")


def direct_cost(company_id: str) -> dict[str, Any]:
    return {
        "issueDate": "2026-05-01T00:00:00",
        "currency": "GBP",
        "reference": "FEES",
        "lineItems": [
            {
                "description": "Fees",
                "unitAmount": 3,
                "quantity": 1,
                "subTotal": 3,
                "taxAmount": 0,
                "totalAmount": 3,
                "accountRef": {"id": account_id(company_id, "6100")},
            }
        ],
        "paymentAllocations": [
            {
                "payment": {"accountRef": {"id": account_id(company_id, "1210")}},
                "allocation": {"totalAmount": 3},
            }
        ],
        "subTotal": 3,
        "taxAmount": 0,
        "totalAmount": 3,
    }


class Company:
    """A company on one platform in an in-process store (no push delay), with a customer and an invoice."""

    def __init__(self, platform: str) -> None:
        self.store = Store(None, push_delay=0)
        created = self.store.create_company("Acme", "GBP", platform)
        self.id, self.connection = created["id"], created["dataConnections"][0]["id"]
        self.customer = self.created("customers", self.valid("customers"))
        self.created("invoices", self.valid("invoices"))

    def push(self, data_type: str, body: dict[str, Any], record_id: str | None = None) -> dict[str, Any]:
        return self.store.submit_push(self.id, self.connection, data_type, body, record_id=record_id)

    def created(self, data_type: str, body: dict[str, Any]) -> str:
        operation = self.push(data_type, body)
        assert operation["status"] == "Success", operation["validation"]
        return operation["changes"][0]["recordRef"]["id"]

    def valid(self, data_type: str) -> dict[str, Any]:
        """A document every platform accepts."""
        if data_type == "customers":
            return {"customerName": "Customer Ltd", "defaultCurrency": "GBP", "status": "Active"}
        if data_type == "invoices":
            return invoice(self.id, self.customer, dueDate="2026-05-31T00:00:00")
        if data_type == "creditNotes":
            return credit_note(self.id, self.customer)
        if data_type == "payments":
            # on account: each push of it stands alone (an invoice would be paid by the first)
            return payment(
                self.id, self.customer, [{"type": "PaymentOnAccount", "id": self.customer, "amount": -100}]
            )
        return direct_cost(self.id)

    def options(self, data_type: str) -> dict[str, Any]:
        return self.store.push_options(self.id, self.connection, data_type)


def walk(
    node: dict[str, Any], path: str = "", always: bool = True
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(path, property, required here and in every enclosing property) of a PushOption tree."""
    for name, child in (node.get("properties") or {}).items():
        here = f"{path}.{name}" if path else name
        required = always and child["required"]
        yield here, child, required
        yield from walk(child, here, required)


def _step(body: Any, parts: list[str]) -> tuple[Any, str] | None:
    """The container of the last part of a dotted path (arrays: their first element), or None."""
    for part in parts[:-1]:
        body = body.get(part) if isinstance(body, dict) else None
        if isinstance(body, list):
            body = body[0] if body else None
    return (body, parts[-1]) if isinstance(body, dict) and parts[-1] in body else None


def changed(body: dict[str, Any], path: str, value: Any = ..., drop: bool = False) -> dict[str, Any] | None:
    copied = copy.deepcopy(body)
    found = _step(copied, path.split("."))
    if found is None:
        return None
    container, key = found
    if drop:
        del container[key]
    else:
        container[key] = value
    return copied


def failed(company: Company, data_type: str, body: dict[str, Any]) -> bool:
    return company.push(data_type, body)["status"] == "Failed"


@pytest.fixture(scope="module", params=PLATFORM_NAMES)
def company(request) -> Company:
    return Company(request.param)


@pytest.mark.parametrize("data_type", ["customers", "invoices", "creditNotes", "payments", "directCosts"])
def test_every_rule_the_options_document_is_enforced_at_push(company, data_type):
    valid = company.valid(data_type)
    assert company.push(data_type, valid)["status"] == "Success"
    checked = 0
    for path, prop, always_required in walk(company.options(data_type)):
        if always_required and (body := changed(valid, path, drop=True)) is not None:
            assert failed(company, data_type, body), f"{path} is documented as required"
            checked += 1
        for warning in (prop.get("validation") or {}).get("warnings") or []:
            match = MAX_LENGTH.match(warning["details"])
            if match and (body := changed(valid, path, "N" * (int(match.group(1)) + 1))) is not None:
                assert failed(company, data_type, body), f"{path}: {warning['details']}"
                fits = changed(valid, path, "N" * int(match.group(1)))
                assert not failed(company, data_type, fits), f"{path} at its maximum length must pass"
                checked += 1
        allowed = [choice["value"] for choice in prop.get("options") or []]
        if allowed and (body := changed(valid, path, "NotAnAllowedValue")) is not None:
            assert failed(company, data_type, body), f"{path} allows only {allowed}"
            checked += 1
    assert checked >= 3


def test_options_differ_where_the_platforms_differ():
    models = {name: Company(name) for name in PLATFORM_NAMES}

    def prop(name: str, data_type: str, path: str) -> dict[str, Any]:
        node = models[name].options(data_type)
        for part in path.split("."):
            node = node["properties"][part]
        return node

    lengths = {
        name: prop(name, "invoices", "invoiceNumber")["validation"]["warnings"][0]["details"]
        for name in PLATFORM_NAMES
    }
    assert lengths == {
        "Xero": "Max length of 255 characters.",
        "QuickBooks Online": "Max length of 21 characters.",
        "Oracle NetSuite": "Max length of 45 characters.",
    }
    assert [prop(n, "invoices", "dueDate")["required"] for n in PLATFORM_NAMES] == [True, True, False]
    assert [prop(n, "invoices", "lineItems.taxRateRef.id")["required"] for n in PLATFORM_NAMES] == [
        False,
        True,
        False,
    ]
    assert [prop(n, "customers", "defaultCurrency")["required"] for n in PLATFORM_NAMES] == [
        False,
        False,
        True,
    ]
    described = [prop(n, "invoices", "lineItems.description")["required"] for n in PLATFORM_NAMES]
    assert described == [True, True, False]
    statuses = [[c["value"] for c in prop(n, "invoices", "status")["options"]] for n in PLATFORM_NAMES]
    assert statuses == [["Draft", "Submitted"], ["Submitted"], ["Submitted"]]
    assert [c["value"] for c in prop("QuickBooks Online", "invoices", "currency")["options"]] == ["GBP"]
    assert prop("Xero", "invoices", "currency")["options"] is None
    links = [[c["value"] for c in prop(n, "payments", "lines.links.type")["options"]] for n in PLATFORM_NAMES]
    assert "CreditNote" in links[0] and "CreditNote" in links[1] and "CreditNote" not in links[2]
    root = models["Oracle NetSuite"].options("creditNotes")["validation"]["warnings"]
    assert root == [
        {"details": "Oracle NetSuite does not support updating credit notes: they can only be created."}
    ]
    assert models["Oracle NetSuite"].options("invoices")["validation"]["warnings"] == []


def test_the_lock_date_is_enforced_but_never_documented():
    for name in PLATFORM_NAMES:
        company = Company(name)
        company.store.set_platform_settings(company.id, {"lockDate": "2026-04-30"})
        late = company.push("invoices", company.valid("invoices"))
        assert late["status"] == "Success"
        early = company.push(
            "invoices", invoice(company.id, company.customer, issueDate="2026-04-30T00:00:00")
        )
        assert early["status"] == "Failed"
        [item] = early["validation"]["errors"]
        assert item["itemId"] == "issueDate" and "2026-04-30" in item["message"]
        text = str(
            [company.options(t) for t in ("invoices", "creditNotes", "payments", "directCosts")]
        ).lower()
        assert "lock" not in text and "period" not in text and "closed" not in text


# ---- over HTTP ------------------------------------------------------------------------------------


def test_the_seeded_demo_companies_take_one_platform_each(tmp_path):
    proc = start_sandbox(tmp_path, seed_demo=4, push_delay_ms=0)
    try:
        with proc.client() as http:
            names = [http.get(f"/companies/{seed.demo_company_id(i)}/connections").json()["results"][0]
                     ["platformName"] for i in range(1, 5)]
    finally:
        proc.stop()
    assert names == ["Xero", "QuickBooks Online", "Oracle NetSuite", "Xero"]


def test_connections_name_their_platform(server, http):
    for name, key in (("Xero", "gbol"), ("qbo", "qhyg"), ("NETSUITE", "akxx")):
        api = platform_api(server, http, name)
        [connection] = http.get(f"/companies/{api.company_id}/connections").json()["results"]
        assert connection["integrationKey"] == key and connection["sourceType"] == "Accounting"
        assert connection["platformName"] == platforms.platform(name).name
    response = server.admin.http.post("/admin/companies", json={"name": "X", "platform": "Sage 50"})
    assert response.status_code == 400 and "unknown platform 'Sage 50'" in response.json()["error"]


def test_default_companies_stay_on_xero(api, http):
    [connection] = http.get(f"/companies/{api.company_id}/connections").json()["results"]
    assert connection["platformName"] == "Xero"


def test_a_long_document_number_passes_xero_and_netsuite_but_not_quickbooks_online(server, http):
    number = "INV-2025-000123-LONGER"  # 22 characters
    outcomes = {}
    for name in PLATFORM_NAMES:
        api = platform_api(server, http, name)
        customer = api.create(
            "customers", {"customerName": "C", "defaultCurrency": "GBP", "status": "Active"}
        )
        outcomes[name] = api.push("invoices", invoice(api.company_id, customer, invoiceNumber=number))
    assert outcomes["Xero"]["status"] == outcomes["Oracle NetSuite"]["status"] == "Success"
    failure = outcomes["QuickBooks Online"]
    assert failure["status"] == "Failed" and failure["statusCode"] == 400
    assert failure["validation"]["errors"] == [
        {
            "itemId": "invoiceNumber",
            "validatorName": "Invoice",
            "message": f"QuickBooks Online allows at most 21 characters in invoiceNumber; '{number}' has 22.",
        }
    ]


def test_due_date_tax_rate_status_and_currency_rules_differ(server, http):
    xero, qbo, netsuite = (platform_api(server, http, name) for name in PLATFORM_NAMES)
    customers = {
        api.company_id: api.create(
            "customers", {"customerName": "C", "defaultCurrency": "GBP", "status": "Active"}
        )
        for api in (xero, qbo, netsuite)
    }

    def push(api, **changes):
        body = invoice(api.company_id, customers[api.company_id], **changes)
        return api.push("invoices", {k: v for k, v in body.items() if v is not None})

    assert push(netsuite, dueDate=None)["status"] == "Success"
    assert "dueDate is required on Xero." in xero.errors(push(xero, dueDate=None))
    untaxed = [invoice_line(qbo.company_id, 100.0, taxRateRef=None, taxAmount=0, totalAmount=100)]
    untaxed[0].pop("taxRateRef")
    assert qbo.errors(push(qbo, lineItems=untaxed, totalTaxAmount=0, totalAmount=100, amountDue=100)) == [
        "lineItems[0].taxRateRef is required on QuickBooks Online."
    ]
    assert push(xero, status="Draft")["status"] == "Success"
    assert qbo.errors(push(qbo, status="Draft")) == [
        "status 'Draft' is not accepted by QuickBooks Online; use Submitted."
    ]
    foreign = {"currency": "EUR", "currencyRate": 0.85}
    assert push(xero, **foreign)["status"] == "Success"
    assert qbo.errors(push(qbo, **foreign)) == [
        "currency 'EUR' is not accepted by QuickBooks Online; use GBP."
    ]
    platform_settings(server, qbo.company_id, multiCurrency=True)
    assert push(qbo, **foreign)["status"] == "Success"
    no_currency = netsuite.push("customers", {"customerName": "D", "status": "Active"})
    assert netsuite.errors(no_currency) == ["defaultCurrency is required on Oracle NetSuite."]


def test_a_line_without_a_description_passes_netsuite_but_not_xero_or_quickbooks_online(server, http):
    outcomes = {}
    for name in PLATFORM_NAMES:
        api = platform_api(server, http, name)
        customer = api.create("customers", {"customerName": "C", "defaultCurrency": "GBP",
                                            "status": "Active"})
        line = invoice_line(api.company_id)
        del line["description"]
        outcomes[name] = (api, api.push("invoices", invoice(api.company_id, customer, lineItems=[line])))
    assert outcomes["Oracle NetSuite"][1]["status"] == "Success"
    for name in ("Xero", "QuickBooks Online"):
        api, operation = outcomes[name]
        assert api.errors(operation) == [f"lineItems[0].description is required on {name}."]


def test_netsuite_neither_allocates_credit_notes_through_payments_nor_updates_them(server, http):
    for name in ("QuickBooks Online", "Oracle NetSuite"):
        api = platform_api(server, http, name)
        customer = api.create(
            "customers", {"customerName": "C", "defaultCurrency": "GBP", "status": "Active"}
        )
        invoice_id = api.create("invoices", invoice(api.company_id, customer))
        note_id = api.create("creditNotes", credit_note(api.company_id, customer))
        allocation = payment(
            api.company_id,
            customer,
            [
                {"type": "Invoice", "id": invoice_id, "amount": -60},
                {"type": "CreditNote", "id": note_id, "amount": 60},
            ],
        )
        allocated = api.push("payments", allocation)
        update = api.push(
            "creditNotes", credit_note(api.company_id, customer, note="changed"), record_id=note_id
        )
        if name == "QuickBooks Online":
            assert allocated["status"] == update["status"] == "Success"
            continue
        assert api.errors(allocated) == [
            "Oracle NetSuite requires totalAmount to be greater than zero; it is 0.",
            "lines[0].links[1].type 'CreditNote' is not accepted by Oracle NetSuite; use Invoice or "
            "PaymentOnAccount.",
        ]
        assert api.errors(update) == [
            "Oracle NetSuite does not support updating credit notes: they can only be created."
        ]


def _options_url(api, data_type: str = "invoices") -> str:
    return f"/companies/{api.company_id}/connections/{api.connection_id}/options/{data_type}"


def test_options_endpoint_auth_and_not_found_like_the_other_endpoints(server, http, api):
    assert http.get(_options_url(api)).status_code == 200
    with httpx.Client(base_url=server.base_url, headers={"Authorization": "Basic bm9wZQ=="}) as wrong:
        assert wrong.get(_options_url(api)).status_code == 401
    unknown_company = http.get(
        _options_url(api).replace(api.company_id, "00000000-0000-4000-8000-000000000000")
    )
    unknown_connection = http.get(
        _options_url(api).replace(api.connection_id, "00000000-0000-4000-8000-000000000000")
    )
    assert unknown_company.status_code == unknown_connection.status_code == 404
    assert (
        "was not found" in unknown_company.json()["error"]
        and "Connection" in unknown_connection.json()["error"]
    )
    assert http.get(_options_url(api, "journals")).status_code == 404


def test_admin_can_make_the_options_answer_404_500_or_an_empty_model(server, http):
    api = platform_api(server, http, "qbo", optionsMode="notFound", optionsDataTypes=["invoices"])
    missing = http.get(_options_url(api))
    assert (
        missing.status_code == 404
        and "not supported by platform(s) QuickBooks Online" in missing.json()["error"]
    )
    assert http.get(_options_url(api, "customers")).status_code == 200
    platform_settings(server, api.company_id, optionsMode="error", optionsDataTypes=None)
    assert http.get(_options_url(api, "payments")).status_code == 500
    platform_settings(server, api.company_id, optionsMode="empty")
    empty = http.get(_options_url(api)).json()
    assert empty["properties"] == {} and empty["displayName"] == "Invoice"
    # the platform's rules still apply at push, whatever its options say
    customer = api.create("customers", {"customerName": "C", "status": "Active"})
    assert api.errors(api.push("invoices", invoice(api.company_id, customer, invoiceNumber="N" * 22)))
    platform_settings(server, api.company_id, optionsMode="published")
    assert http.get(_options_url(api)).json()["properties"]
    bad = server.admin.http.put(
        f"/admin/companies/{api.company_id}/platform", json={"optionsMode": "sometimes"}
    )
    assert bad.status_code == 400
