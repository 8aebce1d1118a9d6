"""What is open on a document (receivables.open_amounts): only applied or accepted allocations count."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pandas as pd
import pytest

from receivables import open_amounts as oa
from receivables.validate import allocation_exceeds_open_amount

EMPTY_PAY_ALLOC = pd.DataFrame({c: pd.Series(dtype=object) for c in
                                ["company_id", "payment_id", "target_type", "target_id", "amount"]})
EMPTY_PAYMENTS = pd.DataFrame({c: pd.Series(dtype=object) for c in ["company_id", "payment_id",
                                                                    "updated_at"]})
EMPTY_CNA = pd.DataFrame({c: pd.Series(dtype=object) for c in
                          ["company_id", "credit_note_id", "invoice_id", "amount", "allocated_on",
                           "updated_at"]})
LEDGER_COLUMNS = ["document_type", "source_id", "status"]


def _ledger(*rows):
    return pd.DataFrame(list(rows), columns=LEDGER_COLUMNS)


def _draws():
    pay = pd.DataFrame({"company_id": "c", "payment_id": ["P1", "P2"], "target_type": "invoice",
                        "target_id": "I1", "amount": [D("300.00"), D("900.00")]})
    payments = pd.DataFrame({"company_id": "c", "payment_id": ["P1", "P2"],
                             "updated_at": [datetime(2026, 1, 2, 9), datetime(2026, 1, 2, 10)]})
    cna = pd.DataFrame({"company_id": "c", "credit_note_id": ["N1"], "invoice_id": ["I1"],
                        "amount": [D("50.00")],
                        "allocated_on": [date(2026, 1, 2)], "updated_at": [datetime(2026, 1, 2, 11)]})
    return oa.allocation_draws(pay, payments, cna)


def test_a_company_with_no_allocations_has_everything_open():
    """Defect 2's shape: no payment and no credit-note allocation at all (boolean masks, never lists)."""
    draws = oa.allocation_draws(EMPTY_PAY_ALLOC, EMPTY_PAYMENTS, EMPTY_CNA)
    assert list(draws.columns) == oa.DRAW_COLUMNS and draws.empty
    applied = oa.in_platform(draws, _ledger(("invoice", "I1", "success")))
    assert list(applied.columns) == oa.DRAW_COLUMNS, "an empty frame must keep its columns"
    docs = pd.DataFrame({"document_type": ["invoice"], "source_id": ["I1"], "total_amount": [D("10.00")]})
    assert oa.open_amounts(docs, applied)["open_amount"].tolist() == [D("10.00")]
    empty_docs = docs.iloc[0:0]
    assert oa.open_amounts(empty_docs, applied)["open_amount"].tolist() == []


def test_credit_note_allocations_draw_on_the_invoice_and_the_credit_note():
    draws = _draws()
    keys = draws.loc[draws["document_type"] == "credit_note_allocation", ["source_id", "target_type",
                                                                          "target_id"]]
    assert keys.values.tolist() == [["N1:I1", "invoice", "I1"], ["N1:I1", "credit_note", "N1"]]


def test_only_allocations_in_the_platform_count():
    """A rejected (no ledger row), failed or pending payment leaves the invoice's amount open."""
    draws = _draws()
    ledger = _ledger(("payment", "P1", "success"), ("payment", "P2", "failed"),
                     ("credit_note_allocation", "N1:I1", "success"))
    docs = pd.DataFrame({"document_type": ["invoice", "credit_note"], "source_id": ["I1", "N1"],
                         "total_amount": [D("1000.00"), D("50.00")]})
    out = oa.open_amounts(docs, oa.in_platform(draws, ledger))
    assert out["open_amount"].tolist() == [D("650.00"), D("0.00")]
    # Leaving the batch out (validation decides it again): only the credit note's earlier push counts.
    out = oa.open_amounts(docs, oa.in_platform(draws, ledger, leaving_out={("payment", "P1")}))
    assert out["open_amount"].tolist() == [D("950.00"), D("0.00")]


def test_a_refused_document_consumes_nothing_for_those_served_after_it():
    requests = pd.DataFrame({"document": ["P1", "P2", "N1", "N1"], "target": ["I1", "I1", "I1", "N1"],
                             "amount": [D("300"), D("900"), D("50"), D("50")]})
    out = oa.settle_in_order(requests, {"I1": D("1000"), "N1": D("50")})
    assert out["accepted"].tolist() == [True, False, True, True]
    assert out["available"].tolist() == [D("1000"), D("700"), D("700"), D("50")]


def test_a_document_is_refused_whole_when_one_of_its_draws_does_not_fit():
    requests = pd.DataFrame({"document": ["P1", "P1", "P2"], "target": ["I1", "I2", "I2"],
                             "amount": [D("10"), D("80"), D("60")]})
    out = oa.settle_in_order(requests, {"I1": D("100"), "I2": D("70")})
    # P1 does not fit on I2, so it takes nothing from I1 or I2, and P2 still fits on I2.
    assert out["accepted"].tolist() == [False, False, True]


@pytest.mark.parametrize("order", [["P1", "P2", "N1:I1"], ["N1:I1", "P2", "P1"]])
def test_rejected_documents_still_consume_open_amounts(order):
    """Defect 4 at the validation rule: only the bad payment is rejected, whatever the id order."""
    label = {"P1": "payment P1", "P2": "payment P2", "N1:I1": "credit note allocation N1:I1"}
    amount = {"P1": D("300.00"), "P2": D("900.00"), "N1:I1": D("50.00")}
    events = pd.DataFrame([{
        "company_id": "c", "document_type": "credit_note_allocation" if s == "N1:I1" else "payment",
        "source_id": s, "_target": ("c", "invoice", "I1"), "_amount": amount[s], "_open": D("1000.00"),
        "_target_label": "invoice 1 (id I1)", "_label": label[s], "_date": pd.Timestamp("2026-01-02"),
        "_order": 1 if s == "N1:I1" else 0} for s in order])
    rejects = allocation_exceeds_open_amount(events)
    assert rejects["source_id"].tolist() == ["P2"]
    assert "only 700.00 of 1000.00 is still open" in rejects["message"].iloc[0]
