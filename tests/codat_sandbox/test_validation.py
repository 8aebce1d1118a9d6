"""Push validation rules as plain functions: each rule has a failing example and its message."""

from __future__ import annotations

import copy

import pytest

from codat_sandbox import seed
from codat_sandbox.validation import (
    DictCompanyView,
    validate_credit_note,
    validate_customer,
    validate_direct_cost,
    validate_invoice,
    validate_payment,
)
from tests.codat_sandbox.builders import (
    account_id,
    credit_note,
    invoice,
    invoice_line,
    payment,
    tax_rate_id,
    tracking_id,
)

CO = "11111111-1111-4111-8111-111111111111"
NOW = "2026-05-01T00:00:00.000Z"


@pytest.fixture
def view() -> DictCompanyView:
    records = {kind: {r["id"]: r for r in rows} for kind, rows in seed.reference_data(CO, "GBP", NOW).items()}
    records["customers"] = {
        "C1": {"id": "C1", "customerName": "One", "status": "Active"},
        "C2": {"id": "C2", "customerName": "Two", "status": "Active"},
        "OLD": {"id": "OLD", "customerName": "Old", "status": "Archived"},
    }
    records["invoices"] = {
        "I1": {"id": "I1", "customerRef": {"id": "C1"}, "status": "Submitted", "totalAmount": 120,
               "amountDue": 120},
        "I2": {"id": "I2", "customerRef": {"id": "C2"}, "status": "Submitted", "totalAmount": 60,
               "amountDue": 60},
        "IDRAFT": {"id": "IDRAFT", "customerRef": {"id": "C1"}, "status": "Draft", "totalAmount": 10,
                   "amountDue": 10},
    }
    records["creditNotes"] = {
        "N1": {"id": "N1", "customerRef": {"id": "C1"}, "status": "Submitted", "totalAmount": 60,
               "remainingCredit": 60},
    }
    return DictCompanyView("GBP", records)


def messages(items):
    return [item["message"] for item in items]


def assert_rejected(items, fragment):
    assert any(fragment in m for m in messages(items)), messages(items)


def test_valid_documents_pass(view):
    assert validate_customer({"customerName": "A", "status": "Active"}, view) == []
    assert validate_invoice(invoice(CO, "C1"), view) == []
    assert validate_credit_note(credit_note(CO, "C1"), view) == []
    assert validate_payment(payment(CO, "C1", [{"type": "Invoice", "id": "I1", "amount": -120}]), view) == []


@pytest.mark.parametrize(("body", "fragment"), [
    ({"status": "Active"}, "customerName is required"),
    ({"customerName": "A"}, "status is required"),
    ({"customerName": "A", "status": "Deleted"}, "is not one of Active, Archived"),
    ({"customerName": "A", "status": "Active", "defaultCurrency": "pounds"}, "not an ISO 4217"),
    ({"customerName": "A", "status": "Active", "addresses": [{"type": "Home"}]}, "Address type"),
])
def test_customer_rules(view, body, fragment):
    assert_rejected(validate_customer(body, view), fragment)


def _line(**overrides):
    return invoice_line(CO, **overrides)


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda b: b.update(customerRef={"id": "NOPE"}), "Customer 'NOPE' does not exist"),
    (lambda b: b.update(customerRef={"id": "OLD"}), "Customer 'OLD' is archived"),
    (lambda b: b.pop("customerRef"), "customerRef.id is required"),
    (lambda b: b.pop("issueDate"), "issueDate is required"),
    (lambda b: b.pop("dueDate"), "dueDate is required"),
    (lambda b: b.update(issueDate="yesterday"), "is not an ISO 8601 date"),
    (lambda b: b.update(status="Void"), "status 'Void' is not allowed when a document is created"),
    (lambda b: b.pop("status"), "status is required"),
    (lambda b: b.update(currency="USD", currencyRate=None), "currencyRate is required when currency (USD)"),
    (lambda b: b.update(lineItems=[]), "At least one line item is required"),
    (lambda b: b["lineItems"][0].pop("description"), "description is required"),
    (lambda b: b["lineItems"][0].pop("taxAmount"), "taxAmount is required"),
    (lambda b: b["lineItems"][0].pop("accountRef"), "accountRef.id is required"),
    (lambda b: b["lineItems"][0].update(accountRef={"id": account_id(CO, "4090")}), "is archived"),
    (lambda b: b["lineItems"][0].update(accountRef={"id": account_id(CO, "6100")}),
     "is not an Income account"),
    (lambda b: b["lineItems"][0].update(accountRef={"id": "missing"}), "Account 'missing' does not exist"),
    (lambda b: b["lineItems"][0].update(taxRateRef={"id": tax_rate_id(CO, "OLDSTANDARD")}), "is archived"),
    (lambda b: b["lineItems"][0].update(taxAmount=25, totalAmount=125), "does not match the tax rate"),
    (lambda b: b["lineItems"][0].update(totalAmount=100), "must equal subTotal + taxAmount"),
    (lambda b: b["lineItems"][0].update(subTotal=90), "does not equal quantity × unitAmount"),
    (lambda b: b.update(subTotal=99), "subTotal 99 does not equal the sum of the line items"),
    (lambda b: b.update(totalTaxAmount=19), "totalTaxAmount 19 does not equal the sum"),
    (lambda b: b.update(totalAmount=121, amountDue=121), "totalAmount 121 does not equal the sum"),
    (lambda b: b.update(amountDue=100), "amountDue 100 must equal totalAmount 120"),
    (lambda b: b["lineItems"][0].update(tracking={"categoryRefs": [{"id": tracking_id(CO, "REGION")}]}),
     "must not be a parent tracking category"),
    (lambda b: b["lineItems"][0].update(tracking={"categoryRefs": [{"id": tracking_id(CO,
                                                                                      "REGION-LEGACY")}]}),
     "is archived"),
    (lambda b: b["lineItems"][0].update(tracking={"categoryRefs": [
        {"id": tracking_id(CO, "REGION-NORTH")}, {"id": tracking_id(CO, "REGION-SOUTH")}]}),
     "must have different parents"),
    (lambda b: b["lineItems"][0].update(tracking={"categoryRefs": [
        {"id": tracking_id(CO, "REGION-NORTH")}, {"id": tracking_id(CO, "PRODUCT-SOFTWARE")},
        {"id": tracking_id(CO, "PRODUCT-HARDWARE")}]}), "at most 2 tracking categories"),
])
def test_invoice_rules(view, change, fragment):
    body = invoice(CO, "C1")
    change(body)
    assert_rejected(validate_invoice(body, view), fragment)


def test_invoice_foreign_currency_with_rate_and_compound_tax_is_valid(view):
    line = _line(taxRateRef={"id": tax_rate_id(CO, "COMPOUND")}, taxAmount=21, totalAmount=121)
    body = invoice(CO, "C1", [line], currency="USD", currencyRate=0.781)
    assert validate_invoice(body, view) == []


def test_an_update_may_carry_a_derived_status_but_a_create_may_not(view):
    body = invoice(CO, "C1", status="PartiallyPaid")
    assert_rejected(validate_invoice(body, view), "not allowed when a document is created")
    assert validate_invoice(body, view, creating=False) == []


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda b: b.update(totalAmount=0, lineItems=[_line(amount=0)], subTotal=0, totalTaxAmount=0,
                        remainingCredit=0), "must be greater than 0"),
    (lambda b: b.update(remainingCredit=10), "remainingCredit 10 must equal totalAmount 60"),
    (lambda b: b.pop("discountPercentage"), "discountPercentage is required"),
    (lambda b: b.update(status="Paid"), "status 'Paid' is not allowed"),
])
def test_credit_note_rules(view, change, fragment):
    body = credit_note(CO, "C1")
    change(body)
    assert_rejected(validate_credit_note(body, view), fragment)


def inv(doc_id, amount):
    return {"type": "Invoice", "id": doc_id, "amount": amount}


def cn(doc_id, amount):
    return {"type": "CreditNote", "id": doc_id, "amount": amount}


@pytest.mark.parametrize(("body", "fragment"), [
    (payment(CO, "C1", [inv("I1", 50)], amount=-50), "Invoice link amounts must be negative"),
    (payment(CO, "C1", [inv("I1", -130)]), "has amountDue 120; the payment allocates 130"),
    (payment(CO, "C1", [inv("IDRAFT", -10)]), "has status 'Draft'"),
    (payment(CO, "C1", [inv("I2", -10)]), "belongs to a different customer"),
    (payment(CO, "C1", [inv("NOPE", -10)]), "Invoice 'NOPE' does not exist"),
    (payment(CO, "C1", [cn("N1", -10)], amount=10), "Credit note link amounts must be positive"),
    (payment(CO, "C1", [cn("N1", 70)], amount=-70), "has remainingCredit 60; the payment allocates 70"),
    (payment(CO, "C1", [{"type": "PaymentOnAccount", "id": "C2", "amount": -10}]),
     "PaymentOnAccount link's id must be the payment's customer id"),
    (payment(CO, "C1", [inv("I1", -100)], amount=90), "plus its links (-100) must be 0"),
    (payment(CO, "C1", [inv("I1", -100)], totalAmount=80),
     "totalAmount 80 must equal the sum of the line amounts"),
    (payment(CO, "C1", [inv("I1", -100)], accountRef={"id": account_id(CO, "4000")}),
     "is not a bank account"),
    (payment(CO, "C1", [inv("I1", -100)], accountRef=None), "accountRef.id is required"),
    (payment(CO, "C1", [{"type": "Refund", "id": "x", "amount": 1}], amount=-1),
     "Link type 'Refund' is not supported"),
    (payment(CO, "C1", [{"type": "Bogus", "id": "x", "amount": 1}], amount=-1),
     "not a valid payment link type"),
    (payment(CO, "C1", [inv("I1", -10), inv("I1", -10)], amount=0), "must not be 0 unless"),
    (payment(CO, "NOPE", [inv("I1", -10)]), "Customer 'NOPE' does not exist"),
    (payment(CO, "C1", [inv("I1", -10)], date=None), "date is required"),
    (payment(CO, "C1", [inv("I1", -10)], currency="EUR", currencyRate=None), "currencyRate is required"),
    ({**payment(CO, "C1", [inv("I1", -10)]), "lines": []}, "At least one payment line"),
])
def test_payment_rules(view, body, fragment):
    assert_rejected(validate_payment(body, view), fragment)


def test_allocations_refunds_and_payments_on_account_follow_the_sign_conventions(view):
    allocation = payment(CO, "C1", [inv("I1", -50), cn("N1", 50)], amount=0)
    del allocation["accountRef"]
    assert validate_payment(allocation, view) == []
    refund = payment(CO, "C1", [cn("N1", 60)])
    assert refund["totalAmount"] == -60 and validate_payment(refund, view) == []
    on_account = payment(CO, "C1", [{"type": "PaymentOnAccount", "id": "C1", "amount": -500}])
    assert validate_payment(on_account, view) == []
    cash_and_credit = payment(CO, "C1", [], amount=70)
    cash_and_credit["lines"] = [{"amount": 0, "links": [inv("I1", -50), cn("N1", 50)]},
                                {"amount": 70, "links": [inv("I1", -70)]}]
    assert validate_payment(cash_and_credit, view) == []
    overdrawn = copy.deepcopy(cash_and_credit)
    overdrawn["lines"][1] = {"amount": 71, "links": [inv("I1", -71)]}
    overdrawn["totalAmount"] = 71
    assert_rejected(validate_payment(overdrawn, view), "has amountDue 120; the payment allocates 121")


def _direct_cost(**overrides):
    body = {
        "issueDate": "2026-05-01T00:00:00", "currency": "GBP", "reference": "FEES",
        "lineItems": [{"description": "Stripe fees", "unitAmount": 3, "quantity": 1, "subTotal": 3,
                       "taxAmount": 0,
                       "totalAmount": 3, "accountRef": {"id": account_id(CO, "6100")}}],
        "paymentAllocations": [{"payment": {"accountRef": {"id": account_id(CO, "1210")}, "totalAmount": 3},
                                "allocation": {"totalAmount": 3}}],
        "subTotal": 3, "taxAmount": 0, "totalAmount": 3,
    }
    body.update(overrides)
    return body


def test_direct_cost_rules(view):
    assert validate_direct_cost(_direct_cost(), view) == []
    bad_account = _direct_cost()
    bad_account["lineItems"][0]["accountRef"] = {"id": "nope"}
    assert_rejected(validate_direct_cost(bad_account, view), "Account 'nope' does not exist")
    not_bank = _direct_cost()
    not_bank["paymentAllocations"][0]["payment"]["accountRef"] = {"id": account_id(CO, "6100")}
    assert_rejected(validate_direct_cost(not_bank, view), "is not a bank account")
    assert_rejected(validate_direct_cost(_direct_cost(currency=None), view), "currency is required")
    assert_rejected(validate_direct_cost(_direct_cost(totalAmount=4), view), "does not equal the sum")
