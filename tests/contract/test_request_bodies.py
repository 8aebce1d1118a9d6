"""(a) Every request body our models produce conforms to Codat's schemas (Codat-Accounting.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import orjson
import pytest
from tests.contract.oas import oas_dir, validation_errors

from receivables.codat.models import (
    AccountRef,
    Address,
    AddressType,
    Allocation,
    AllocationPayment,
    Contact,
    ContactRef,
    CreditNote,
    Customer,
    CustomerRef,
    DirectCost,
    DirectCostLineItem,
    Invoice,
    InvoiceLineItem,
    InvoiceStatus,
    ItemRef,
    LineTracking,
    Payment,
    PaymentAllocation,
    PaymentLine,
    PaymentLineLink,
    PaymentLinkType,
    PhoneNumber,
    PhoneNumberType,
    RecordStatus,
    TaxRateRef,
    TrackingCategoryRef,
)

ACCOUNTING = oas_dir() / "Codat-Accounting.yaml"
DAY = datetime(2024, 5, 1)


def line(amount: str = "100", tax: str = "20") -> InvoiceLineItem:
    net, vat = D(amount), D(tax)
    return InvoiceLineItem(description="Consulting", unit_amount=net, quantity=D(1), discount_amount=D(0),
                           sub_total=net, tax_amount=vat, total_amount=net + vat,
                           account_ref=AccountRef(id="ACC-4000"), tax_rate_ref=TaxRateRef(id="TAX-20"),
                           item_ref=ItemRef(id="ITEM-1"),
                           tracking=LineTracking(category_refs=[TrackingCategoryRef(id="TC-N")]))


def link(kind: PaymentLinkType, ref: str, amount: str) -> PaymentLineLink:
    return PaymentLineLink(type=kind, id=ref, amount=D(amount))


def pay(total: str, lines: list[PaymentLine], **kw) -> Payment:
    return Payment(customer_ref=CustomerRef(id="CUST-1"), account_ref=AccountRef(id="BANK-1"), date=DAY,
                   currency="GBP", currency_rate=D(1), total_amount=D(total), reference="RCPT-1", lines=lines, **kw)


BODIES = {
    "invoice": ("Invoice", Invoice(
        invoice_number="INV-1001", customer_ref=CustomerRef(id="CUST-1"), issue_date=DAY,
        due_date=datetime(2024, 5, 31, tzinfo=UTC), currency="EUR", currency_rate=D("0.856123456"),
        status=InvoiceStatus.Submitted, line_items=[line(), line("50.55", "10.11")], sub_total=D("150.55"),
        total_discount=D(0), total_tax_amount=D("30.11"), total_amount=D("180.66"), amount_due=D("180.66"),
        note="Thank you")),
    "credit note": ("CreditNote", CreditNote(
        credit_note_number="CN-7", customer_ref=CustomerRef(id="CUST-1"), issue_date=DAY, currency="GBP",
        status=InvoiceStatus.Submitted, line_items=[line("50", "10")], sub_total=D(50), total_discount=D(0),
        discount_percentage=D(0), total_tax_amount=D(10), total_amount=D(60), remaining_credit=D(60))),
    "invoice payment": ("Payment", pay("240", [PaymentLine(amount=D(240), links=[
        link(PaymentLinkType.Invoice, "INV-9", "-240")])])),
    "credit note allocation": ("Payment", pay("0", [PaymentLine(amount=D(0), links=[
        link(PaymentLinkType.Invoice, "INV-9", "-50"), link(PaymentLinkType.CreditNote, "CN-7", "50")])])),
    "credit note plus cash": ("Payment", pay("250", [
        PaymentLine(amount=D(0), links=[link(PaymentLinkType.Invoice, "INV-9", "-750"),
                                        link(PaymentLinkType.CreditNote, "CN-7", "750")]),
        PaymentLine(amount=D(250), links=[link(PaymentLinkType.Invoice, "INV-9", "-250")])])),
    "payment on account": ("Payment", pay("1000", [PaymentLine(amount=D(1000), links=[
        link(PaymentLinkType.PaymentOnAccount, "CUST-1", "-1000")])])),
    "credit note refund": ("Payment", pay("-60", [PaymentLine(amount=D(-60), links=[
        link(PaymentLinkType.CreditNote, "CN-7", "60")])])),
    "foreign payment": ("Payment", pay("100", [PaymentLine(amount=D(100), links=[PaymentLineLink(
        type=PaymentLinkType.Invoice, id="INV-USD", amount=D("-128.05"), currency_rate=D("0.781"))])],
        note="USD invoice paid in GBP")),
    "customer": ("Customer", Customer(
        customer_name="Acme & Sons Ltd", contact_name="Ada", email_address="ap@acme.test", default_currency="GBP",
        phone="+44 20 7946 0000", registration_number="01234567", tax_number="GB123456789",
        status=RecordStatus.Active,
        addresses=[Address(type=AddressType.Billing, line1="1 High St", city="London", postal_code="N1 1AA",
                           country="GB")],
        contacts=[Contact(name="Ada", email="ada@acme.test", status=RecordStatus.Active,
                          phone=[PhoneNumber(number="+44 7700 900000", type=PhoneNumberType.Mobile)])])),
    "direct cost": ("DirectCost", DirectCost(
        reference="BANK-FEE-5", contact_ref=ContactRef(id="SUPP-1", data_type="suppliers"), issue_date=DAY,
        currency="GBP", line_items=[DirectCostLineItem(description="Bank charges", unit_amount=D("2.50"),
                                                       quantity=D(1), sub_total=D("2.50"), tax_amount=D(0),
                                                       total_amount=D("2.50"), account_ref=AccountRef(id="ACC-7900"))],
        payment_allocations=[PaymentAllocation(
            payment=AllocationPayment(account_ref=AccountRef(id="BANK-1"), currency="GBP", paid_on_date=DAY,
                                      total_amount=D("2.50")),
            allocation=Allocation(currency="GBP", allocated_on_date=DAY, total_amount=D("2.50")))],
        sub_total=D("2.50"), tax_amount=D(0), total_amount=D("2.50"))),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_request_body_conforms_to_the_schema(name):
    schema, model = BODIES[name]
    body = orjson.loads(model.to_push_json())
    assert validation_errors(ACCOUNTING, schema, body) == []


def test_a_broken_body_is_caught_by_the_check():
    body = orjson.loads(BODIES["invoice payment"][1].to_push_json())
    body["lines"][0]["links"][0]["surprise"] = 1  # paymentLineLink forbids extra properties
    assert validation_errors(ACCOUNTING, "Payment", body)
