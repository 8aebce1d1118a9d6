"""platform_rules.check: the connection's published rules applied to the gate's normalised batch.

Models are built the way Codat publishes them (``PushOption`` bodies, lengths in words) and flattened by
``push_options.option_rows``, so these tests read the rules exactly as the night does. Each platform-like
model below follows what the sandbox (and the platforms' docs) say: QuickBooks-Online-like (21-character
numbers, Submitted only, a tax rate on every line, one currency), Xero-like (255 characters) and
NetSuite-like (no credit-note links on payments, credit notes create-only).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from receivables import platform_rules, push_options
from receivables.validate.normalise import normalise

D = Decimal
DAY = pd.Timestamp("2026-11-20")


def model(display: str, props: dict[str, dict], *, root_warnings: tuple[str, ...] = ()) -> dict:
    """A PushOption body from ``{"lineItems.taxRateRef.id": {"required": True, "max": 21, ...}}``."""
    body: dict = {"type": "Object", "displayName": display, "required": True, "properties": {}}
    if root_warnings:
        body["validation"] = {"warnings": [{"details": w} for w in root_warnings]}
    for path, spec in props.items():
        node = body
        for part in path.split("."):
            node = node.setdefault("properties", {}).setdefault(
                part, {"type": "Object", "displayName": part, "description": part, "required": False}
            )
        node["type"] = spec.get("type", "String")
        node["required"] = spec.get("required", False)
        if "max" in spec:
            node["validation"] = {
                "warnings": [{"field": path, "details": f"Max length of {spec['max']} characters."}],
                "information": [],
            }
        if "allowed" in spec:
            node["options"] = [{"value": v, "type": "String"} for v in spec["allowed"]]
    return body


def options(company_id: str, platform: str, models: dict[str, dict]) -> pd.DataFrame:
    from receivables.codat.models import PushOption

    return pd.concat(
        [
            push_options.option_rows(
                PushOption.model_validate(m),
                company_id=company_id,
                connection_id=f"k-{company_id}",
                data_type=data_type,
                platform_name=platform,
                fetched_at=datetime(2026, 11, 20),
            )
            for data_type, m in models.items()
        ],
        ignore_index=True,
    )


LINES = {"lineItems": {"type": "Array", "required": True}}
QBO = {
    "invoices": model(
        "Invoice",
        {
            **LINES,
            "invoiceNumber": {"max": 21},
            "dueDate": {"required": True},
            "currency": {"required": True, "allowed": ["GBP"]},
            "status": {"required": True, "allowed": ["Submitted"]},
            "lineItems.description": {"required": True},
            "lineItems.taxRateRef": {"required": True},
            "lineItems.taxRateRef.id": {"required": True},
        },
    ),
    "creditNotes": model("Credit note", {"creditNoteNumber": {"max": 21}}),
    "customers": model(
        "Customer",
        {"customerName": {"required": True, "max": 100}, "defaultCurrency": {"allowed": ["GBP"]}},
    ),
    "payments": model("Payment", {"reference": {"max": 21}}),
    "directCosts": model("Direct cost", {"reference": {"max": 21}}),
}
XERO = {
    "invoices": model(
        "Invoice",
        {
            **LINES,
            "invoiceNumber": {"max": 255},
            "dueDate": {"required": True},
            "status": {"required": True, "allowed": ["Draft", "Submitted"]},
            # required within an optional reference: lines need no tax rate
            "lineItems.taxRateRef.id": {"required": True},
        },
    ),
}
NETSUITE = {
    "payments": model(
        "Payment",
        {
            "lines": {"type": "Array", "required": True},
            "lines.links": {"type": "Array", "required": True},
            "lines.links.type": {"required": True, "allowed": ["Invoice", "PaymentOnAccount"]},
        },
    ),
    "creditNotes": model(
        "Credit note",
        {"creditNoteNumber": {"max": 45}},
        root_warnings=(
            "Oracle NetSuite does not support updating credit notes: they can only be created.",
        ),
    ),
}


def invoice(
    company: str, number: str, *, status: str = "submitted", currency: str = "GBP", invoice_id="i1", due=DAY
) -> dict:
    return {
        "company_id": company,
        "invoice_id": invoice_id,
        "invoice_number": number,
        "customer_id": "cu1",
        "issue_date": DAY,
        "due_date": due,
        "currency": currency,
        "currency_rate": None,
        "status": status,
        "note": None,
    }


def line(company: str, invoice_id="i1", line_no=1, *, tax_code="VAT20", description="Consulting") -> dict:
    return {
        "company_id": company,
        "invoice_id": invoice_id,
        "line_no": line_no,
        "quantity": D(1),
        "unit_amount": D(100),
        "discount_amount": D(0),
        "tax_code": tax_code,
        "revenue_code": "SALES",
        "tracking_code": None,
        "description": description,
    }


def batch(**tables: list[dict]) -> dict[str, pd.DataFrame]:
    return {f"ar_{name}": pd.DataFrame(rows) for name, rows in tables.items()}


def check(frames, opts, **kwargs) -> pd.DataFrame:
    return platform_rules.check(normalise(frames), opts, **kwargs)


def test_the_issues_example_is_rejected_for_quickbooks_and_passes_for_xero():
    day = batch(invoices=[invoice("qbo", "2025-000123-LONG-NUMBER")], invoice_lines=[line("qbo")])
    failures = check(day, options("qbo", "QuickBooks Online", QBO))
    assert failures[["document_type", "source_id", "rule", "platform_name", "field"]].values.tolist() == [
        ["invoice", "i1", "platform_rule", "QuickBooks Online", "invoiceNumber"]
    ]
    assert failures["message"][0] == (
        "invoice 2025-000123-LONG-NUMBER (id i1): QuickBooks Online allows at most 21 characters in a "
        "document number (this one has 23): shorten invoice_number in ar_invoices"
    )
    same_on_xero = batch(
        invoices=[invoice("xero", "2025-000123-LONG-NUMBER")], invoice_lines=[line("xero")]
    )
    assert check(same_on_xero, options("xero", "Xero", XERO)).empty


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=40))
def test_document_numbers_around_the_limit(length):
    day = batch(invoices=[invoice("qbo", "N" * length)], invoice_lines=[line("qbo")])
    failures = check(day, options("qbo", "QuickBooks Online", QBO))
    assert len(failures) == (1 if length > 21 else 0)
    if length > 21:
        assert f"(this one has {length})" in failures["message"][0]


def test_a_status_the_platform_does_not_take_and_a_currency_it_has_not_enabled():
    day = batch(
        invoices=[invoice("qbo", "INV-1", status="draft", currency="EUR")], invoice_lines=[line("qbo")]
    )
    message = check(day, options("qbo", "QuickBooks Online", QBO))["message"][0]
    assert (
        "QuickBooks Online accepts status Submitted only, not Draft: change status in ar_invoices"
        in message
    )
    assert "QuickBooks Online accepts currency GBP only, not EUR" in message
    xero = batch(
        invoices=[invoice("xero", "INV-1", status="draft", currency="EUR")], invoice_lines=[line("xero")]
    )
    assert check(xero, options("xero", "Xero", XERO)).empty


def test_a_tax_rate_on_every_line_and_a_line_description():
    day = batch(
        invoices=[invoice("qbo", "INV-1")],
        invoice_lines=[
            line("qbo", line_no=1),
            line("qbo", line_no=2, tax_code=None),
            line("qbo", line_no=3, tax_code=None, description="  "),
        ],
    )
    failures = check(day, options("qbo", "QuickBooks Online", QBO))
    assert len(failures) == 1, "one failure per document"
    message = failures["message"][0]
    assert (
        "QuickBooks Online requires a tax rate on every line (line 2): fill tax_code in ar_invoice_lines "
        "(mapped to a tax rate) (and 1 more line(s))"
    ) in message
    assert "requires a line description (line 3)" in message
    assert failures["field"][0] == "lineItems.description, lineItems.taxRateRef.id"
    # Xero publishes taxRateRef.id as required only *within* an optional taxRateRef.
    xero = batch(invoices=[invoice("xero", "INV-1")], invoice_lines=[line("xero", tax_code=None)])
    assert check(xero, options("xero", "Xero", XERO)).empty


def test_a_missing_due_date_where_the_platform_requires_one():
    day = batch(invoices=[invoice("xero", "INV-1", due=pd.NaT)], invoice_lines=[line("xero")])
    assert (
        "Xero requires a due date: fill due_date in ar_invoices"
        in check(day, options("xero", "Xero", XERO))["message"][0]
    )


def test_a_column_the_frames_do_not_carry_is_not_checked():
    import dataclasses

    frames = normalise(
        batch(invoices=[invoice("qbo", "INV-1")], invoice_lines=[line("qbo", description=None)])
    )
    assert not platform_rules.check(frames, options("qbo", "QuickBooks Online", QBO)).empty
    without = dataclasses.replace(frames, lines=frames.lines.drop(columns=["description"]))
    assert platform_rules.check(without, options("qbo", "QuickBooks Online", QBO)).empty


def test_customers_payments_and_fees():
    day = batch(
        customers=[
            {
                "company_id": "qbo",
                "customer_id": "cu1",
                "name": "A" * 101,
                "email": None,
                "default_currency": "USD",
                "updated_at": DAY,
            }
        ],
        payments=[
            {
                "company_id": "qbo",
                "payment_id": "p1",
                "customer_id": "cu1",
                "paid_on": DAY,
                "currency": "GBP",
                "currency_rate": None,
                "amount": D(10),
                "fee_amount": D("0.50"),
                "method": "card",
                "reference": "R" * 22,
                "updated_at": DAY,
            },
            {
                "company_id": "qbo",
                "payment_id": "p2",
                "customer_id": "cu1",
                "paid_on": DAY,
                "currency": "GBP",
                "currency_rate": None,
                "amount": D(10),
                "fee_amount": None,
                "method": "card",
                "reference": "SHORT",
                "updated_at": DAY,
            },
        ],
    )
    failures = check(day, options("qbo", "QuickBooks Online", QBO)).set_index("source_id")
    assert "at most 100 characters in a customer name (this one has 101)" in failures.loc["cu1", "message"]
    assert "accepts customer currency GBP only, not USD" in failures.loc["cu1", "message"]
    assert failures.loc["cu1", "document_type"] == "customer"
    # The fee is a direct cost carrying the payment's reference: the payment answers for both.
    assert failures.loc["p1", "field"] == "reference"
    assert "at most 21 characters in a payment reference (this one has 22)" in failures.loc["p1", "message"]
    assert "p2" not in failures.index


def test_payment_links_the_platform_does_not_take():
    allocations = [
        {
            "company_id": "ns",
            "payment_id": "refund",
            "target_type": "credit_note",
            "target_id": "cn1",
            "amount": D(-10),
        },
        {
            "company_id": "ns",
            "payment_id": "receipt",
            "target_type": "invoice",
            "target_id": "i1",
            "amount": D(6),
        },
    ]
    payments = [
        {
            "company_id": "ns",
            "payment_id": p,
            "customer_id": "cu1",
            "paid_on": DAY,
            "currency": "GBP",
            "currency_rate": None,
            "amount": D(a),
            "fee_amount": None,
            "method": "bank",
            "reference": p,
            "updated_at": DAY,
        }
        for p, a in (("refund", -10), ("receipt", 10))
    ]
    cn_allocations = [
        {
            "company_id": "ns",
            "credit_note_id": "cn1",
            "invoice_id": "i1",
            "amount": D(5),
            "allocated_on": DAY,
            "updated_at": DAY,
        }
    ]
    day = batch(payments=payments, payment_allocations=allocations, credit_note_allocations=cn_allocations)
    failures = check(day, options("ns", "Oracle NetSuite", NETSUITE)).set_index("source_id")
    # A receipt paying an invoice and leaving the rest on account is fine; a credit-note refund is not.
    assert sorted(failures.index) == ["cn1:i1", "refund"]
    assert (
        "accepts payment links of type Invoice, PaymentOnAccount only, not CreditNote"
        in failures.loc["refund", "message"]
    )
    assert failures.loc["cn1:i1", "message"] == (
        "credit note allocation cn1:i1: Oracle NetSuite accepts payment links of type Invoice, "
        "PaymentOnAccount only, so a credit note cannot be applied to an invoice through a payment there: "
        "apply it in Oracle NetSuite by hand"
    )


def test_a_changed_document_already_in_a_create_only_platform_is_rejected_once_with_advice():
    notes = [
        {
            "company_id": "ns",
            "credit_note_id": c,
            "credit_note_number": c.upper(),
            "customer_id": "cu1",
            "issue_date": DAY,
            "currency": "GBP",
            "currency_rate": None,
            "status": "submitted",
            "note": None,
        }
        for c in ("cn-old", "cn-new")
    ]
    day = batch(credit_notes=notes)
    failures = check(
        day, options("ns", "Oracle NetSuite", NETSUITE), pushed={("ns", "credit_note", "cn-old")}
    )
    assert failures["source_id"].tolist() == ["cn-old"]
    assert failures["field"][0] == "(update)"
    assert failures["message"][0] == (
        "credit note CN-OLD (id cn-old): Oracle NetSuite cannot update a credit note once it is created, "
        "and this one is already there, so today's change was not sent: make the change in Oracle NetSuite "
        "by hand (or void it there and issue a new credit note)"
    )
    # Where the platform updates, a pushed document is simply pushed again.
    qbo = batch(invoices=[invoice("qbo", "INV-1")], invoice_lines=[line("qbo")])
    assert check(qbo, options("qbo", "QuickBooks Online", QBO), pushed={("qbo", "invoice", "i1")}).empty


def test_no_published_model_means_no_platform_rule():
    day = batch(
        invoices=[invoice("s50", "X" * 300, status="draft")], invoice_lines=[line("s50", tax_code=None)]
    )
    silent = push_options.unpublished_rows(
        company_id="s50",
        connection_id="k",
        data_type="invoices",
        platform_name="Sage 50",
        note="404",
        fetched_at=datetime(2026, 11, 20),
    )
    assert check(day, silent).empty
    assert check(day, None).empty
    assert check(day, silent.iloc[0:0]).empty
    assert list(check(day, None).columns) == platform_rules.COLUMNS


def test_rules_apply_per_company():
    both = pd.concat(
        [options("qbo", "QuickBooks Online", QBO), options("xero", "Xero", XERO)], ignore_index=True
    )
    day = batch(
        invoices=[invoice("qbo", "N" * 30), invoice("xero", "N" * 30)],
        invoice_lines=[line("qbo"), line("xero")],
    )
    assert check(day, both)["company_id"].tolist() == ["qbo"]
