"""Payload builders for sandbox tests: valid documents by default, overridable field by field."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx

from codat_sandbox import seed, validation


def account_id(company_id: str, code: str) -> str:
    return seed.stable_id(company_id, f"account:{code}")


def tax_rate_id(company_id: str, code: str) -> str:
    return seed.stable_id(company_id, f"taxRate:{code}")


def tracking_id(company_id: str, code: str) -> str:
    return seed.stable_id(company_id, f"tracking:{code}")


def exact_sum(values: Any) -> int | float:
    """The sum of JSON numbers as written (the sandbox compares totals exactly: no float drift)."""
    total = sum((validation.exact(v) for v in values), Decimal(0))
    return int(total) if total == total.to_integral_value() else float(total)


def invoice_line(company_id: str, amount: float = 100.0, **overrides: Any) -> dict[str, Any]:
    """One line at the standard 20% rate: subTotal ``amount``, tax 20%, total incl. tax."""
    tax = round(amount * 0.2, 2)
    line = {
        "description": "Widget", "unitAmount": amount, "quantity": 1, "discountAmount": 0,
        "subTotal": amount, "taxAmount": tax, "totalAmount": round(amount + tax, 2),
        "accountRef": {"id": account_id(company_id, "4000")},
        "taxRateRef": {"id": tax_rate_id(company_id, "STANDARD")},
        "tracking": {"categoryRefs": [{"id": tracking_id(company_id, "REGION-NORTH")}],
                     "isBilledTo": "Unknown", "isRebilledTo": "Unknown"},
    }
    line.update(overrides)
    return line


def invoice(company_id: str, customer_id: str, lines: list[dict[str, Any]] | None = None,
            **overrides: Any) -> dict[str, Any]:
    """A Submitted invoice whose totals are the sums of its lines."""
    lines = lines if lines is not None else [invoice_line(company_id)]
    sub, tax, total = (exact_sum(line[name] for line in lines)
                       for name in ("subTotal", "taxAmount", "totalAmount"))
    body = {
        "invoiceNumber": "INV-1", "customerRef": {"id": customer_id}, "issueDate": "2026-05-01T00:00:00",
        "dueDate": "2026-05-31T00:00:00", "currency": "GBP", "currencyRate": 1, "status": "Submitted",
        "lineItems": lines, "subTotal": sub, "totalDiscount": 0, "totalTaxAmount": tax,
        "totalAmount": total, "amountDue": total,
    }
    body.update(overrides)
    return body


def credit_note(company_id: str, customer_id: str, amount: float = 50.0, **overrides: Any) -> dict[str, Any]:
    line = invoice_line(company_id, amount)
    body = {
        "creditNoteNumber": "CN-1", "customerRef": {"id": customer_id}, "issueDate": "2026-05-02T00:00:00",
        "currency": "GBP", "currencyRate": 1, "status": "Submitted", "lineItems": [line],
        "subTotal": line["subTotal"], "totalDiscount": 0, "discountPercentage": 0,
        "totalTaxAmount": line["taxAmount"], "totalAmount": line["totalAmount"],
        "remainingCredit": line["totalAmount"],
    }
    body.update(overrides)
    return body


def payment(company_id: str, customer_id: str, links: list[dict[str, Any]], amount: float | None = None,
            **overrides: Any) -> dict[str, Any]:
    """A one-line payment into the operating bank account balancing ``links``."""
    amount = -sum(link["amount"] for link in links) if amount is None else amount
    body = {
        "customerRef": {"id": customer_id}, "accountRef": {"id": account_id(company_id, "1200")},
        "date": "2026-05-20T00:00:00", "currency": "GBP", "currencyRate": 1, "totalAmount": amount,
        "reference": "RCPT-1", "lines": [{"amount": amount, "links": links}],
    }
    body.update(overrides)
    return body


class Api:
    """Test helper: push through the real HTTP API of one company and wait for the outcome."""

    def __init__(self, http: httpx.Client, company: dict[str, Any]) -> None:
        self.http = http
        self.company_id = company["id"]
        self.connection_id = company["connectionId"]

    def push_url(self, data_type: str, record_id: str | None = None) -> str:
        url = f"/companies/{self.company_id}/connections/{self.connection_id}/push/{data_type}"
        return f"{url}/{record_id}" if record_id else url

    def settle(self, operation: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while operation["status"] == "Pending" and time.monotonic() < deadline:
            time.sleep(0.01)
            response = self.http.get(f"/companies/{self.company_id}/push/{operation['pushOperationKey']}")
            response.raise_for_status()
            operation = response.json()
        return operation

    def push(self, data_type: str, body: dict[str, Any], record_id: str | None = None,
             **params: Any) -> dict[str, Any]:
        """Push and wait until the operation leaves Pending; returns the final operation."""
        method = "PUT" if record_id else "POST"
        response = self.http.request(method, self.push_url(data_type, record_id), json=body, params=params)
        assert response.status_code == 200, response.text
        return self.settle(response.json())

    def create(self, data_type: str, body: dict[str, Any]) -> str:
        """Push and return the new record id (the push must succeed)."""
        operation = self.push(data_type, body)
        assert operation["status"] == "Success", operation["validation"]
        return operation["changes"][0]["recordRef"]["id"]

    def customer(self, name: str = "Customer Ltd") -> str:
        return self.create("customers", {"customerName": name, "status": "Active"})

    def data_url(self, data_type: str) -> str:
        """The read path Codat has for the type: direct costs and bank accounts are per connection."""
        if data_type in ("directCosts", "bankAccounts"):
            return f"/companies/{self.company_id}/connections/{self.connection_id}/data/{data_type}"
        return f"/companies/{self.company_id}/data/{data_type}"

    def get(self, data_type: str, record_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.data_url(data_type)}/{record_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def errors(self, operation: dict[str, Any]) -> list[str]:
        assert operation["status"] == "Failed", operation
        return [item["message"] for item in operation["validation"]["errors"]]


def platform_settings(server: Any, company_id: str, **settings: Any) -> dict[str, Any]:
    """``PUT /admin/companies/{id}/platform``: multiCurrency, lockDate, optionsMode, optionsDataTypes."""
    return server.admin.set_platform(company_id, **settings)


def platform_api(server: Any, http: httpx.Client, platform: str, base_currency: str = "GBP",
                 **settings: Any) -> Api:
    """A new company whose connection is on ``platform`` (``Xero``, ``qbo``, ``netsuite`` …)."""
    company = server.admin.create_company(f"{platform} {time.monotonic_ns() % 10**8}", base_currency,
                                          platform=platform)
    if settings:
        platform_settings(server, company["id"], **settings)
    return Api(http, company)
