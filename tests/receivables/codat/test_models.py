"""Models: lenient when reading what the API returns, strict about what we send."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from receivables.codat.models import (
    Account,
    AccountType,
    Company,
    CreditNote,
    Customer,
    CustomerRef,
    Invoice,
    InvoiceLineItem,
    InvoiceStatus,
    Page,
    Payment,
    PaymentLine,
    PaymentLineLink,
    PaymentLinkType,
    PushOperation,
    PushOperationStatus,
)


def test_reads_ignore_unknown_fields_and_unknown_enum_values():
    account = Account.model_validate({"id": "a1", "type": "Revenue", "status": "active",
                                      "isBankAccount": False,
                                      "brandNewField": {"x": 1}, "currentBalance": 12.34})
    assert account.type is AccountType.Unknown and account.status.value == "Active"
    assert account.current_balance == Decimal("12.34")
    op = PushOperation.model_validate({"pushOperationKey": "k", "status": "Cancelled", "statusCode": 0})
    assert op.status is PushOperationStatus.Unknown and not op.is_final


def test_reads_accept_all_documented_date_forms():
    for raw in ("2021-11-15T06:00:00Z", "2021-11-15T01:00:00", "2021-11-15T01:00:00-05:00"):
        assert Invoice.model_validate({"issueDate": raw}).issue_date.hour in (6, 1)


def test_paging_envelope_parses_into_typed_results():
    page = Page[Company].model_validate({"results": [{"id": "c", "name": "Acme", "dataConnections": [
        {"id": "k", "status": "Linked", "platformName": "Xero"}]}], "pageNumber": 1, "pageSize": 100,
        "totalResults": 1, "_links": {"self": {"href": "/companies"},
                                      "current": {"href": "/companies?page=1"}}})
    assert page.results[0].data_connections[0].status.value == "Linked"


def test_invoice_push_json_has_no_read_only_fields_and_exact_numbers():
    invoice = Invoice.model_validate({
        "id": "platform-1", "modifiedDate": "2024-01-01T00:00:00Z",
        "sourceModifiedDate": "2024-01-01T00:00:00Z",
        "metadata": {"isDeleted": False}, "paymentAllocations": [], "paidOnDate": None,
        "invoiceNumber": "INV-1",
        "customerRef": {"id": "C-1"}, "issueDate": "2024-05-01T00:00:00", "dueDate": "2024-05-31T00:00:00Z",
        "status": "Submitted", "totalTaxAmount": 40, "totalAmount": "240.10", "amountDue": "240.10",
        "lineItems": [{"unitAmount": "0.10", "quantity": 3, "description": None}]})
    raw = invoice.to_push_json()
    body = orjson.loads(raw)
    assert not {"id", "modifiedDate", "sourceModifiedDate", "metadata", "paymentAllocations",
                "paidOnDate"} & set(body)
    assert b'"totalAmount":240.10' in raw and b'"unitAmount":0.10' in raw and b'"totalTaxAmount":40' in raw
    assert body["dueDate"] == "2024-05-31T00:00:00Z" and body["issueDate"] == "2024-05-01T00:00:00"
    assert body["lineItems"] == [{"unitAmount": 0.1, "quantity": 3}]  # unset and null optionals omitted
    assert "sourceModifiedDate" in invoice.push_dict(include_source_modified_date=True)


def test_push_refuses_a_record_missing_required_fields():
    with pytest.raises(ValueError, match="dueDate"):
        Invoice(customer_ref=CustomerRef(id="C"), issue_date=datetime(2024, 1, 1),
                total_tax_amount=Decimal(0),
                total_amount=Decimal(1), amount_due=Decimal(1), status=InvoiceStatus.Submitted).to_push_json()
    with pytest.raises(ValueError, match="remainingCredit"):
        CreditNote(total_amount=Decimal(1), total_discount=Decimal(0), sub_total=Decimal(1),
                   total_tax_amount=Decimal(0), discount_percentage=Decimal(0),
                   status=InvoiceStatus.Submitted).to_push_json()


def test_payment_on_account_and_customer_serialise_as_codat_expects():
    payment = Payment(customer_ref=CustomerRef(id="C-1"), date=datetime(2024, 5, 20, tzinfo=UTC),
                      total_amount=Decimal("1000"), currency="GBP",
                      lines=[PaymentLine(amount=Decimal("1000"), links=[
                          PaymentLineLink(type=PaymentLinkType.PaymentOnAccount, id="C-1",
                                          amount=Decimal("-1000"))])])
    assert orjson.loads(payment.to_push_json())["lines"] == [
        {"amount": 1000, "links": [{"type": "PaymentOnAccount", "id": "C-1", "amount": -1000}]}]
    customer = orjson.loads(Customer(customer_name="Acme").to_push_json())
    assert customer == {"customerName": "Acme", "status": "Active"}


def test_line_item_requires_amount_and_quantity():
    with pytest.raises(ValueError):
        InvoiceLineItem(description="x")


def test_push_operation_exposes_record_id_and_validation():
    op = PushOperation.model_validate({"pushOperationKey": "k", "status": "Failed", "statusCode": 400,
                                       "validation": {"errors": [{"itemId": "lineItems[0]",
                                                                  "message": "bad"}]},
                                       "changes": [{"type": "Created", "recordRef": {"id": "r-1"}}]})
    assert op.is_final and op.record_id == "r-1" and op.validation_messages() == ["lineItems[0]: bad"]
