"""Regression tests for defects 2 and 4 of issue 11, end to end: warehouse → task functions → sandbox →
report.

Each test is named after the defect it pins down and failed on the code before the fix.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.generative.books import open_books, problems, rerun_changes

pytestmark = pytest.mark.slow

DAY1, DAY2 = date(2026, 11, 20), date(2026, 11, 21)


def _report_row(books, day, document_type, source_id):
    rows = books.table("ar_reconciliation", report_date=day)
    match = rows[(rows["document_type"] == document_type) & (rows["source_id"] == source_id)]
    assert len(match) == 1, f"expected one report row for {document_type} {source_id}, got {len(match)}"
    return match.iloc[0]


def test_a_company_with_no_allocations_crashes(gen_sandbox, gen_engine, tmp_path, namespace):
    """Defect 2: a company's first night with invoices and no allocation of any kind (and then a night
    with nothing but a new customer) syncs and reconciles instead of failing with KeyError 'target_type'."""
    books = open_books(gen_sandbox, gen_engine, tmp_path, namespace=namespace)
    books.customer("C1", DAY1)
    books.invoice("I1", "C1", DAY1, [(2, "150.00")])
    books.credit_note("N1", "C1", DAY1, [(1, "20.00")])
    books.run_day(DAY1)
    assert not problems(books, DAY1)
    assert _report_row(books, DAY1, "invoice", "I1")["outcome"] == "matched"

    books.customer("C2", DAY2)
    result = books.run_day(DAY2)
    assert result["sync"]["batch"]["ar_customers"] == 1
    assert not problems(books, DAY2)
    assert Decimal(str(_report_row(books, DAY2, "invoice", "I1")["source_amount_due"])) == Decimal("300.00")
    assert not rerun_changes(books, DAY2)


def test_rejected_documents_still_consume_open_amounts(gen_sandbox, gen_engine, tmp_path, namespace):
    """Defect 4: invoice 1,000.00; later a valid payment allocates 300.00, an invalid one 900.00 (more
    than is open) and a credit note 50.00. Only the bad payment is rejected, the credit-note allocation
    is pushed, and the invoice is due 650.00 in the platform and in the report."""
    books = open_books(gen_sandbox, gen_engine, tmp_path, namespace=namespace)
    books.customer("C1", DAY1)
    books.invoice("I1", "C1", DAY1, [(1, "1000.00")])
    # An allocation on the first night too, so the company is not also a case of defect 2.
    books.invoice("I0", "C1", DAY1, [(1, "100.00")])
    books.payment("P0", "C1", DAY1, "100.00", [("invoice", "I0", "100.00")])
    books.run_day(DAY1)

    books.payment("P1", "C1", DAY2, "300.00", [("invoice", "I1", "300.00")])
    books.payment("P2", "C1", DAY2, "900.00", [("invoice", "I1", "900.00")])
    books.credit_note("N1", "C1", DAY2, [(1, "50.00")])
    books.credit_note_allocation("N1", "I1", DAY2, "50.00")
    books.run_day(DAY2)

    rejects = books.table("ar_rejects", business_date=DAY2)
    assert list(zip(rejects["document_type"], rejects["source_id"], rejects["rule"], strict=True)) == [
        ("payment", "P2", "allocation_exceeds_open_amount")]
    assert "only 700.00 of 1000.00 is still open" in rejects["message"].iloc[0]
    ledger = books.table("ar_push_ledger")
    status = dict(zip(zip(ledger["document_type"], ledger["source_id"], strict=True), ledger["status"],
                      strict=True))
    assert status[("credit_note_allocation", "N1:I1")] == "success"
    assert status[("payment", "P1")] == "success"

    invoice_id = ledger.loc[ledger["source_id"] == "I1", "platform_id"].iloc[0]
    (invoice,) = [r for r in books.platform("invoices") if r["id"] == invoice_id]
    assert Decimal(str(invoice["amountDue"])) == Decimal("650.00")
    row = _report_row(books, DAY2, "invoice", "I1")
    assert Decimal(str(row["source_amount_due"])) == Decimal("650.00")
    assert row["outcome"] == "matched"
    assert not problems(books, DAY2)
    assert not rerun_changes(books, DAY2)


def test_a_waiting_document_rejected_later_is_only_rejected(gen_sandbox, gen_engine, tmp_path, namespace):
    """Found by the generative tests: a payment that waited for a draft invoice and, once the invoice is
    submitted, allocates more than is open on it is rejected — and no longer also ``pending`` in the
    ledger (carried over to every later run)."""
    books = open_books(gen_sandbox, gen_engine, tmp_path, namespace=namespace)
    books.customer("C1", DAY1)
    books.invoice("I1", "C1", DAY1, [(1, "100.00")], status="draft")
    books.payment("P1", "C1", DAY1, "100.01", [("invoice", "I1", "100.01")])
    books.run_day(DAY1)
    assert books.table("ar_push_ledger", document_type="payment")["status"].tolist() == ["pending"]

    books.invoice("I1", "C1", DAY2, [(1, "100.00")], issued=DAY1)
    books.run_day(DAY2)
    rejects = books.table("ar_rejects", business_date=DAY2)
    assert rejects["rule"].tolist() == ["allocation_exceeds_open_amount"]
    assert books.table("ar_push_ledger", document_type="payment").empty
    assert _report_row(books, DAY2, "payment", "P1")["outcome"] == "rejected"
    assert not problems(books, DAY2)
    assert not rerun_changes(books, DAY2)


def test_a_rerun_decides_only_its_own_allocations_again(gen_sandbox, gen_engine, tmp_path, namespace):
    """Found by the generative tests: a rerun carries over the day's rejected credit-note allocation, and
    with it used to re-read every allocation of that credit note — an earlier day's, already pushed, was
    decided again, now against an invoice voided since ("not a known document"), and stopped counting
    against what is open on the credit note. The rerun must change nothing."""
    books = open_books(gen_sandbox, gen_engine, tmp_path, namespace=namespace)
    books.customer("C1", DAY1)
    books.invoice("I3", "C1", DAY1, [(1, "110.00")])
    books.credit_note("N4", "C1", DAY1, [(1, "100.00")])
    books.credit_note_allocation("N4", "I3", DAY1, "40.00")
    books.run_day(DAY1)
    assert not problems(books, DAY1)

    books.invoice("I6", "C1", DAY2, [(1, "200.00")])
    books.credit_note_allocation("N4", "I6", DAY2, "80.00", minute=1)   # only 60.00 is open on N4
    books.invoice("I3", "C1", DAY2, [(1, "110.00")], issued=DAY1, status="void", minute=2)
    books.run_day(DAY2)
    rejects = books.table("ar_rejects", business_date=DAY2).set_index("source_id")
    # The void of a pushed invoice is finance's to do by hand; the overdrawing allocation is rejected.
    assert rejects["rule"].to_dict() == {"N4:I6": "allocation_exceeds_open_amount",
                                         "I3": "needs_manual_action"}
    assert "only 60.00 of 100.00 is still open" in rejects.loc["N4:I6", "message"]
    assert not problems(books, DAY2)
    assert not rerun_changes(books, DAY2)
