"""Rejected documents stay in every later day's report, with the same exception id, until they are fixed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from receivables.reconcile import reconcile
from receivables.rejected_documents import open_rejects
from receivables.warehouse import create_input_tables, schema

T = schema.metadata.tables
D1, D2, D3, D4 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)
NO_LEDGER = pd.DataFrame(columns=["company_id", "document_type", "source_id", "status", "business_date"])


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(hour=9)


@pytest.fixture
def warehouse(sqlite_engine):
    create_input_tables(sqlite_engine)
    with sqlite_engine.begin() as conn:
        conn.execute(sa.insert(T["ar_companies"]).values(company_id="c1", connection_id="k", name="Acme Ltd",
                                                         base_currency="GBP", active=True))
        conn.execute(sa.insert(T["ar_customers"]).values(company_id="c1", customer_id="cu1", name="Bolt plc",
                                                         updated_at=_at(D1)))
        conn.execute(sa.insert(T["ar_invoices"]).values(
            company_id="c1", invoice_id="i1", invoice_number="INV-0001", customer_id="cu1", issue_date=D1,
            due_date=D4, currency="EUR", currency_rate=None, status="submitted", updated_at=_at(D1)))
        conn.execute(sa.insert(T["ar_invoice_lines"]).values(
            company_id="c1", invoice_id="i1", line_no=1, quantity=Decimal(3), unit_amount=Decimal("333.335"),
            discount_amount=Decimal(0), tax_code="V20", revenue_code="4000"))
        conn.execute(sa.insert(T["ar_mappings"]).values(company_id="c1", kind="tax_rate", source_code="V20",
                                                        platform_id="tr-20"))
        conn.execute(sa.insert(T["ar_ref_tax_rates"]).values(company_id="c1", platform_id="tr-20",
                                                             name="VAT 20", effective_tax_rate=Decimal(20)))
        conn.execute(sa.insert(T["ar_payments"]).values(
            company_id="c1", payment_id="p1", customer_id="cu1", paid_on=D1, currency="EUR",
            amount=Decimal("1250.00"),
            fee_amount=Decimal(0), method="bank", reference="RCPT-77", updated_at=_at(D1)))
        for source_id, kind in (("i1", "invoice"), ("p1", "payment")):
            conn.execute(sa.insert(T["ar_rejects"]).values(
                business_date=D1, company_id="c1", document_type=kind, source_id=source_id, run_id="run-D1",
                rule="missing_currency_rate", message=f"{kind} {source_id}: currency_rate is None"))
    return sqlite_engine


def _report(engine, day, ledger=NO_LEDGER, previous=None):
    rejects, facts, first_seen = open_rejects(engine, "c1", day, ledger)
    prior = pd.concat([p for p in (previous, first_seen) if p is not None], ignore_index=True)
    return reconcile(report_date=day, run_id=f"run-{day}", source_docs=facts, ledger=ledger, rejects=rejects,
                     platform_docs=None, previous_exceptions=prior).rows.set_index("document_key")


def _touch(engine, table, key, value, day, **changes):
    with engine.begin() as conn:
        conn.execute(sa.update(T[table]).where(T[table].c[key] == value).values(updated_at=_at(day),
                                                                                **changes))


def test_a_reject_is_reported_with_number_currency_and_source_total(warehouse):
    rows = _report(warehouse, D1)
    invoice, payment = rows.loc["i1"], rows.loc["p1"]
    assert invoice["outcome"] == "rejected" and invoice["document_number"] == "INV-0001"
    # 3 x 333.335 = 1000.005 -> 1000.01 (half-up), + 20% VAT 200.00
    assert invoice["currency"] == "EUR" and invoice["source_total"] == Decimal("1200.01")
    assert payment["document_number"] == "RCPT-77" and payment["source_total"] == Decimal("1250.00")
    assert invoice["first_seen_date"] == pd.Timestamp(D1)


def test_an_unfixed_reject_stays_in_every_later_report_with_the_same_id(warehouse):
    first = _report(warehouse, D1)
    later = _report(warehouse, D3)
    for key in ("i1", "p1"):
        assert later.loc[key, "outcome"] == "rejected"
        assert later.loc[key, "exception_id"] == first.loc[key, "exception_id"]
        assert later.loc[key, "first_seen_date"] == pd.Timestamp(D1)
        assert later.loc[key, "reason"].startswith("missing_currency_rate")
    assert later.loc["i1", "source_total"] == Decimal("1200.01")


def test_a_document_pushed_later_leaves_the_rejects_from_then_on_but_not_before(warehouse):
    _touch(warehouse, "ar_invoices", "invoice_id", "i1", D3, currency_rate=Decimal("0.86"))
    ledger = pd.DataFrame([dict(company_id="c1", document_type="invoice", source_id="i1", status="success",
                                platform_id="pl-1", business_date=D3, document_number="INV-0001",
                                currency="EUR", source_total=Decimal("1200.01"))])
    after = _report(warehouse, D3, ledger)
    assert "i1" not in after.index  # the ledger (source_documents) reports it from now on
    assert after.loc["p1", "outcome"] == "rejected"
    # Rerunning D2 still shows what D2 saw: the invoice was rejected then.
    assert _report(warehouse, D2, ledger).loc["i1", "outcome"] == "rejected"


def test_a_voided_or_deleted_document_leaves_the_rejects(warehouse):
    _touch(warehouse, "ar_invoices", "invoice_id", "i1", D2, status="void")
    with warehouse.begin() as conn:
        conn.execute(sa.delete(T["ar_payments"]).where(T["ar_payments"].c.payment_id == "p1"))
    rows = _report(warehouse, D3)
    assert "i1" not in rows.index and "p1" not in rows.index


def test_a_document_changed_and_accepted_later_leaves_the_rejects(warehouse):
    _touch(warehouse, "ar_payments", "payment_id", "p1", D2, currency_rate=Decimal("0.86"))
    assert "p1" not in _report(warehouse, D3).index
    assert _report(warehouse, D1).loc["p1", "outcome"] == "rejected"


def test_a_document_rejected_again_shows_the_latest_reason(warehouse):
    _touch(warehouse, "ar_invoices", "invoice_id", "i1", D2, currency_rate=Decimal("0.86"))
    with warehouse.begin() as conn:
        conn.execute(sa.insert(T["ar_rejects"]).values(
            business_date=D2, company_id="c1", document_type="invoice", source_id="i1", run_id="run-D2",
            rule="unmapped_revenue_code", message="invoice i1 line 1: revenue code 4000 has no mapping"))
    rows = _report(warehouse, D4)
    assert rows.loc["i1", "reason"].startswith("unmapped_revenue_code")
    assert rows.loc["i1", "first_seen_date"] == pd.Timestamp(D1)


def test_a_day_before_any_reject_shows_none(warehouse):
    rejects, facts, first_seen = open_rejects(warehouse, "c1", date(2026, 3, 1), NO_LEDGER)
    assert rejects.empty and facts.empty and first_seen.empty


# --- any history of one document: rejected on D exactly when its latest event up to D is a reject ------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DAYS = [date(2026, 3, 2) + pd.Timedelta(days=n).to_pytimedelta() for n in range(6)]


@st.composite
def histories(draw):
    """One invoice's nights: rejected, pushed (at most once: the ledger keeps only the last push), voided
    (only while never pushed; a void document stays void) or untouched."""
    events, pushed = [], False
    for day in DAYS:
        choices = ["reject", "nothing"] + ([] if pushed else ["push", "void"])
        event = draw(st.sampled_from(choices))
        pushed = pushed or event == "push"
        events.append((day, event))
    return events


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=histories())
def test_any_history_rejected_exactly_while_the_latest_event_is_a_reject(warehouse, events):
    with warehouse.begin() as conn:
        conn.execute(sa.delete(T["ar_rejects"]))
    ledger = NO_LEDGER
    last_change = D1
    status = "submitted"
    for day, event in events:
        if event == "nothing":
            continue
        last_change = day
        if event == "reject":
            with warehouse.begin() as conn:
                conn.execute(sa.insert(T["ar_rejects"]).values(
                    business_date=day, company_id="c1", document_type="invoice", source_id="i1",
                    run_id=f"r-{day}",
                    rule="unmapped_tax_code", message="line 1: tax code V20 has no mapping"))
        elif event == "push":
            ledger = pd.DataFrame([dict(company_id="c1", document_type="invoice", source_id="i1",
                                        status="success", business_date=day)])
        elif event == "void":
            status = "void"
    _touch(warehouse, "ar_invoices", "invoice_id", "i1", last_change, status=status)
    # The payment of the fixture is not part of this history.
    with warehouse.begin() as conn:
        conn.execute(sa.delete(T["ar_rejects"]).where(T["ar_rejects"].c.source_id == "p1"))

    first_seen_ids = set()
    voided_ever = any(e == "void" for _, e in events)
    for report_day in DAYS:
        if voided_ever and last_change > report_day:
            # A rerun of a day before the row's last change cannot see when it became void: the warehouse
            # keeps only the current row (pushes and rejects keep their own history, so those cases stay).
            continue
        happened = [(d, e) for d, e in events if d <= report_day and e != "nothing"]
        expected = bool(happened) and happened[-1][1] == "reject"
        # A void document's reject (rule void_document) is news on its own day only: nothing is left to fix.
        if expected and any(e == "void" for _, e in happened) and happened[-1][0] < report_day:
            expected = False
        rejects, facts, first_seen = open_rejects(warehouse, "c1", report_day, ledger)
        assert (len(rejects) == 1) == expected, (report_day, events)
        if expected:
            assert facts.loc[0, "document_number"] == "INV-0001"
            assert facts.loc[0, "source_total"] == Decimal("1200.01")
            first_seen_ids |= set(first_seen["exception_id"])
    assert len(first_seen_ids) <= 1  # one document, one outcome: one exception id on every night
