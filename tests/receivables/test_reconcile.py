"""Reconciliation outcomes, aging, exception ids and the summary, on small hand-built frames."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from receivables.reconcile import ROW_COLUMNS, SUMMARY_COLUMNS, reconcile

D = Decimal
DAY = date(2026, 3, 2)


def src(source_id, *, document_type="invoice", number=None, total="100.00", due=None, currency="GBP",
        due_date=date(2026, 3, 20), company="c1"):
    return dict(company_id=company, document_type=document_type, source_id=source_id,
                document_number=number or f"N-{source_id}", customer_id="k1", currency=currency,
                source_total=None if total is None else D(total),
                source_amount_due=None if due is None else D(due),
                due_date=due_date if document_type == "invoice" else None, in_batch=True)


def led(source_id, *, document_type="invoice", status="success", platform_id=None, error=None,
        number=None, total="100.00", currency="GBP", company="c1"):
    return dict(company_id=company, document_type=document_type, source_id=source_id,
                document_number=number or f"N-{source_id}", currency=currency,
                source_total=None if total is None else D(total), content_hash="h",
                platform_id=platform_id if platform_id is not None or status != "success"
                else f"p-{source_id}", status=status, last_error=error)


def plat(platform_id, *, document_type="invoice", number, total="100.00", due=None, deleted=False,
         synced=True, currency="GBP", company="c1"):
    return dict(company_id=company, document_type=document_type, platform_id=platform_id,
                document_number=number, customer_platform_id="pk1", currency=currency,
                platform_total=D(total), platform_amount_due=None if due is None else D(due),
                platform_status="Submitted", is_deleted=deleted, synced_customer=synced)


def run(sources=(), ledger=(), rejects=(), platform=(), previous=None, *, day=DAY, tolerance=0,
        run_id="run-1"):
    return reconcile(
        report_date=day, run_id=run_id,
        source_docs=pd.DataFrame(list(sources)) if sources else None,
        ledger=pd.DataFrame(list(ledger)) if ledger else None,
        rejects=pd.DataFrame(list(rejects)) if rejects else None,
        platform_docs=pd.DataFrame(list(platform)) if platform else None,
        previous_exceptions=previous, tolerance_minor_units=tolerance,
    )


def one(result, key):
    rows = result.rows[result.rows["document_key"] == key]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def pushed_invoice(source_id="i1", *, total="100.00", due="100.00", platform_total=None, platform_due=None):
    """A source invoice, its successful ledger row and its platform record."""
    return (
        [src(source_id, total=total, due=due)],
        [led(source_id, total=total)],
        [plat(f"p-{source_id}", number=f"N-{source_id}", total=platform_total or total,
              due=platform_due if platform_due is not None else due)],
    )


def test_invoice_that_agrees_everywhere_is_matched_with_no_exception():
    s, lg, p = pushed_invoice()
    row = one(run(s, lg, platform=p), "i1")
    assert row["outcome"] == "matched"
    assert row["platform_id"] == "p-i1"
    assert row["difference"] == D("0.00")
    assert pd.isna(row["exception_id"]) and pd.isna(row["action"]) and pd.isna(row["reason"])


def test_rejected_document_carries_every_rule_in_reason_and_action():
    rejects = [
        dict(company_id="c1", document_type="invoice", source_id="i1", rule="unknown_tax_code",
             message="tax code ZZ has no mapping"),
        dict(company_id="c1", document_type="invoice", source_id="i1", rule="bad_currency", message="XYZ"),
    ]
    result = run([src("i1")], rejects=rejects)
    row = one(result, "i1")
    assert row["outcome"] == "rejected"
    assert row["reason"] == "bad_currency: XYZ; unknown_tax_code: tax code ZZ has no mapping"
    assert "rule: bad_currency, unknown_tax_code" in row["action"]
    assert row["source_total"] == D("100.00")


def test_reject_wins_over_an_earlier_successful_push_and_stays_one_row():
    s, lg, p = pushed_invoice()
    rejects = [dict(company_id="c1", document_type="invoice", source_id="i1", rule="r", message="m")]
    result = run(s, lg, rejects, p)
    assert len(result.rows) == 1
    assert one(result, "i1")["outcome"] == "rejected"


def test_failed_push_reports_the_platform_message():
    result = run([src("i1")], [led("i1", status="failed", error="Validation: customer is archived")])
    row = one(result, "i1")
    assert row["outcome"] == "push_failed"
    assert row["reason"] == "Validation: customer is archived"


@pytest.mark.parametrize("status", ["pending", "timed_out", "unknown"])
def test_unsettled_push_is_pending(status):
    row = one(run([src("i1")], [led("i1", status=status)]), "i1")
    assert row["outcome"] == "pending"
    assert status in row["reason"]


def test_document_never_pushed_is_pending_waiting():
    row = one(run([src("pay1", document_type="payment")]), "pay1")
    assert row["outcome"] == "pending"
    assert "not pushed yet" in row["reason"]


def test_unresolved_ledger_row_without_a_source_row_is_still_reported():
    result = run(ledger=[led("i7", status="failed", error="boom")])
    assert one(result, "i7")["outcome"] == "push_failed"
    assert one(result, "i7")["document_number"] == "N-i7"


def test_pushed_document_the_platform_does_not_have_is_missing():
    row = one(run([src("i1")], [led("i1")]), "i1")
    assert row["outcome"] == "missing_in_platform"
    assert "no such record" in row["reason"]


def test_pushed_document_deleted_in_the_platform_is_missing():
    s, lg, _ = pushed_invoice()
    row = one(run(s, lg, platform=[plat("p-i1", number="N-i1", deleted=True, due="100.00")]), "i1")
    assert row["outcome"] == "missing_in_platform"
    assert "deleted" in row["reason"]


def test_two_live_platform_invoices_with_one_number_are_one_duplicate_row():
    s, lg, p = pushed_invoice()
    p.append(plat("p-copy", number="N-i1", due="100.00"))
    result = run(s, lg, platform=p)
    row = one(result, "i1")
    assert row["outcome"] == "duplicate_in_platform"
    assert "p-copy" in row["reason"] and "p-i1" in row["reason"]
    # The extra copy is covered by the duplicate row, not reported a second time as unexpected.
    assert list(result.rows["document_key"]) == ["i1"]


def test_amount_beyond_tolerance_is_a_mismatch_with_signed_difference():
    s, lg, p = pushed_invoice(platform_total="100.03")
    row = one(run(s, lg, platform=p, tolerance=2), "i1")
    assert row["outcome"] == "amount_mismatch"
    assert row["difference"] == D("0.03")
    assert "100.03" in row["reason"]


def test_amount_within_tolerance_is_matched():
    s, lg, p = pushed_invoice(platform_total="99.98")
    assert one(run(s, lg, platform=p, tolerance=2), "i1")["outcome"] == "matched"
    assert one(run(s, lg, platform=p, tolerance=1), "i1")["outcome"] == "amount_mismatch"


def test_tolerance_is_in_minor_units_of_the_document_currency():
    # 1 minor unit of JPY is 1 yen; a 1-yen difference passes, 2 yen do not.
    sources = [src("j1", total="1000", due="1000", currency="JPY"),
               src("j2", total="1000", due="1000", currency="JPY")]
    ledger = [led("j1", total="1000", currency="JPY"), led("j2", total="1000", currency="JPY")]
    platform = [plat("p-j1", number="N-j1", total="1001", due="1000", currency="JPY"),
                plat("p-j2", number="N-j2", total="1002", due="1000", currency="JPY")]
    result = run(sources, ledger, platform=platform, tolerance=1)
    assert one(result, "j1")["outcome"] == "matched"
    assert one(result, "j2")["outcome"] == "amount_mismatch"


def test_currency_differing_in_the_platform_is_an_amount_mismatch():
    s, lg, _ = pushed_invoice()
    row = one(run(s, lg, platform=[plat("p-i1", number="N-i1", currency="EUR", due="100.00")]), "i1")
    assert row["outcome"] == "amount_mismatch"
    assert "currency differs" in row["reason"]


def test_paid_in_source_but_still_due_in_platform_is_status_mismatch():
    s, lg, p = pushed_invoice(due="0.00", platform_due="100.00")
    row = one(run(s, lg, platform=p), "i1")
    assert row["outcome"] == "status_mismatch"
    assert row["platform_amount_due"] == D("100.00") and row["source_amount_due"] == D("0.00")


def test_credit_note_remaining_credit_is_compared():
    sources = [src("cn1", document_type="credit_note", total="20.00", due="20.00")]
    ledger = [led("cn1", document_type="credit_note", total="20.00")]
    platform = [plat("p-cn1", document_type="credit_note", number="N-cn1", total="20.00", due="5.00")]
    assert one(run(sources, ledger, platform=platform), "cn1")["outcome"] == "status_mismatch"


def test_customers_fees_and_allocations_match_on_a_successful_ledger_row():
    sources = [src("k1", document_type="customer", total=None, currency=None),
               src("pay1", document_type="fee", total="2.50"),
               src("cn1:i1", document_type="credit_note_allocation", total="0")]
    ledger = [led("k1", document_type="customer", total=None, currency=None),
              led("pay1", document_type="fee", total="2.50"),
              led("cn1:i1", document_type="credit_note_allocation", total="0")]
    result = run(sources, ledger)
    assert set(result.rows["outcome"]) == {"matched"}
    assert len(result.rows) == 3


def test_payment_is_matched_only_when_the_platform_record_has_the_same_total():
    sources = [src("pay1", document_type="payment", total="40.00"),
               src("pay2", document_type="payment", total="40.00"),
               src("pay3", document_type="payment", total="40.00")]
    ledger = [led("pay1", document_type="payment", total="40.00"),
              led("pay2", document_type="payment", total="40.00"),
              led("pay3", document_type="payment", total="40.00")]
    platform = [plat("p-pay1", document_type="payment", number="N-pay1", total="40.00"),
                plat("p-pay2", document_type="payment", number="N-pay2", total="39.00")]
    result = run(sources, ledger, platform=platform)
    assert one(result, "pay1")["outcome"] == "matched"
    assert one(result, "pay2")["outcome"] == "amount_mismatch"
    assert one(result, "pay3")["outcome"] == "missing_in_platform"


def test_platform_record_nobody_pushed_is_unexpected_only_for_live_synced_customers():
    platform = [plat("p-x", number="MANUAL-1", due="5.00", total="5.00"),
                plat("p-gone", number="MANUAL-2", deleted=True),
                plat("p-other", number="MANUAL-3", synced=False)]
    result = run(platform=platform)
    row = one(result, "platform:p-x")
    assert list(result.rows["document_key"]) == ["platform:p-x"]
    assert row["outcome"] == "unexpected_in_platform"
    assert pd.isna(row["source_id"])
    assert row["platform_total"] == D("5.00") and pd.isna(row["difference"])
    assert "MANUAL-1" in row["reason"]


def test_platform_record_explained_by_any_ledger_row_is_not_unexpected():
    # The ledger knows p-old (an earlier, long-matched push) even though the day's report doesn't list it.
    result = run(ledger=[led("old", platform_id="p-old")], platform=[plat("p-old", number="N-old")])
    assert result.rows.empty


@pytest.mark.parametrize(
    ("due_date", "days", "bucket"),
    [
        (date(2026, 3, 3), -1, "current"),
        (date(2026, 3, 2), 0, "current"),
        (date(2026, 3, 1), 1, "1-30"),
        (date(2026, 1, 31), 30, "1-30"),
        (date(2026, 1, 30), 31, "31-60"),
        (date(2026, 1, 1), 60, "31-60"),
        (date(2025, 12, 31), 61, "61-90"),
        (date(2025, 12, 2), 90, "61-90"),
        (date(2025, 12, 1), 91, "90+"),
    ],
)
def test_aging_bucket_boundaries(due_date, days, bucket):
    row = one(run([src("i1", due="10.00", due_date=due_date)]), "i1")
    assert row["days_overdue"] == days
    assert row["aging_bucket"] == bucket


def test_aging_accepts_datetime64_dates_and_skips_paid_invoices():
    sources = pd.DataFrame([src("i1", due="10.00"), src("i2", due="0.00")])
    sources["due_date"] = pd.to_datetime(sources["due_date"])
    result = reconcile(report_date=pd.Timestamp(DAY), run_id="r", source_docs=sources, ledger=None,
                       rejects=None, platform_docs=None, previous_exceptions=None)
    assert one(result, "i1")["aging_bucket"] == "current"
    assert pd.isna(one(result, "i2")["aging_bucket"]) and pd.isna(one(result, "i2")["days_overdue"])


def test_aging_uses_the_platform_amount_due_when_the_source_has_none():
    s, lg, p = pushed_invoice(due=None, platform_due="30.00")
    s[0]["due_date"] = date(2026, 2, 1)
    row = one(run(s, lg, platform=p), "i1")
    assert row["aging_bucket"] == "1-30" and row["days_overdue"] == 29


def test_exception_id_is_stable_across_nights_and_first_seen_is_carried():
    night1 = run([src("i1")], [led("i1", status="failed", error="x")], day=date(2026, 3, 2))
    first = one(night1, "i1")
    assert first["first_seen_date"] == pd.Timestamp("2026-03-02")
    previous = night1.exceptions[["exception_id", "first_seen_date"]]
    night2 = run([src("i1")], [led("i1", status="failed", error="x")], previous=previous,
                 day=date(2026, 3, 3))
    second = one(night2, "i1")
    assert second["exception_id"] == first["exception_id"]
    assert second["first_seen_date"] == pd.Timestamp("2026-03-02")
    assert second["report_date"] == pd.Timestamp("2026-03-03")


def test_a_different_problem_gets_a_new_exception_id():
    failed = one(run([src("i1")], [led("i1", status="failed", error="x")]), "i1")
    pending = one(run([src("i1")], [led("i1", status="pending")]), "i1")
    other_company = one(run([src("i1", company="c2")], [led("i1", status="failed", company="c2")]), "i1")
    assert len({failed["exception_id"], pending["exception_id"], other_company["exception_id"]}) == 3


def test_summary_sums_amounts_per_company_outcome_and_currency():
    sources = [src("i1", total="10.10", due="10.10"), src("i2", total="20.20", due="20.20"),
               src("e1", total="7.00", currency="EUR", due="7.00"), src("i3", total="1.00", company="c2")]
    ledger = [led("i1", total="10.10"), led("i2", total="20.20"), led("e1", total="7.00", currency="EUR")]
    platform = [plat("p-i1", number="N-i1", total="10.10", due="10.10"),
                plat("p-i2", number="N-i2", total="20.25", due="20.20"),
                plat("p-e1", number="N-e1", total="7.00", currency="EUR", due="7.00")]
    result = run(sources, ledger, platform=platform)
    summary = result.summary
    assert list(summary.columns) == SUMMARY_COLUMNS
    gbp_matched = summary[(summary["company_id"] == "c1") & (summary["outcome"] == "matched")
                          & (summary["currency"] == "GBP")].iloc[0]
    assert gbp_matched["document_count"] == 1 and gbp_matched["source_amount"] == D("10.10")
    mismatch = summary[summary["outcome"] == "amount_mismatch"].iloc[0]
    assert (mismatch["source_amount"], mismatch["platform_amount"], mismatch["difference"]) == (
        D("20.20"), D("20.25"), D("0.05"))
    eur = summary[summary["currency"] == "EUR"].iloc[0]
    assert eur["source_amount"] == D("7.00") and eur["outcome"] == "matched"
    pending_c2 = summary[summary["company_id"] == "c2"].iloc[0]
    assert pending_c2["outcome"] == "pending" and pending_c2["platform_amount"] is None
    assert summary["document_count"].sum() == len(result.rows) == 4
    assert all(isinstance(v, Decimal) for v in summary["source_amount"])


def test_rerun_gives_identical_rows_and_summary():
    s, lg, p = pushed_invoice(platform_total="101.00")
    s.append(src("i2"))
    p.append(plat("p-x", number="X"))
    first = run(s, lg, platform=p)
    again = run(list(reversed(s)), lg, platform=list(reversed(p)))
    pd.testing.assert_frame_equal(first.rows, again.rows)
    pd.testing.assert_frame_equal(first.summary, again.summary)


def test_output_has_the_contract_columns_and_one_row_per_document():
    s, lg, p = pushed_invoice()
    result = run(s + [src("i2")], lg + [led("i2", status="pending")], platform=p)
    assert list(result.rows.columns) == ROW_COLUMNS
    assert not result.rows.duplicated(["report_date", "company_id", "document_type", "document_key"]).any()
    assert all(isinstance(v, Decimal) for v in result.rows["source_total"])


def test_empty_inputs_give_empty_frames_with_the_columns():
    result = run()
    assert result.rows.empty and list(result.rows.columns) == ROW_COLUMNS
    assert result.summary.empty and list(result.summary.columns) == SUMMARY_COLUMNS


def test_missing_input_column_is_a_clear_error():
    with pytest.raises(ValueError, match="ledger lacks the columns"):
        reconcile(report_date=DAY, run_id="r", source_docs=None, ledger=pd.DataFrame({"company_id": ["c1"]}),
                  rejects=None, platform_docs=None, previous_exceptions=None)


def test_document_waiting_on_another_says_which_one():
    payment = src("pay1", document_type="payment")
    payment["waiting_on"] = "invoice INV-7 (rejected)"
    row = one(run([payment, src("i2")]), "pay1")
    assert row["outcome"] == "pending"
    assert row["reason"] == "waiting on invoice INV-7 (rejected)"


def test_first_seen_comes_from_the_earliest_previous_sighting_given_as_dates():
    failing = ([src("i1")], [led("i1", status="failed", error="x")])
    exception_id = one(run(*failing), "i1")["exception_id"]
    previous = pd.DataFrame({"exception_id": [exception_id, exception_id, "EX-OTHER"],
                             "first_seen_date": [date(2026, 2, 27), date(2026, 2, 20), date(2026, 1, 1)]})
    assert one(run(*failing, previous=previous), "i1")["first_seen_date"] == pd.Timestamp("2026-02-20")


def test_summary_carries_the_open_and_overdue_amounts_of_open_invoices():
    sources = [src("i1", total="100.00", due="60.00", due_date=date(2026, 2, 1)),   # 29 days overdue
               src("i2", total="50.00", due="50.00", due_date=date(2026, 3, 20)),   # current
               src("i3", total="30.00", due="0.00", due_date=date(2026, 1, 1)),     # paid: not open
               src("c9", document_type="credit_note", total="5.00", due="5.00")]    # not an invoice
    ledger = [led("i1", total="100.00"), led("i2", total="50.00"), led("i3", total="30.00"),
              led("c9", document_type="credit_note", total="5.00")]
    platform = [plat("p-i1", number="N-i1", total="100.00", due="60.00"),
                plat("p-i2", number="N-i2", total="50.00", due="50.00"),
                plat("p-i3", number="N-i3", total="30.00", due="0.00"),
                plat("p-c9", document_type="credit_note", number="N-c9", total="5.00", due="5.00")]
    summary = run(sources, ledger, platform=platform).summary
    matched = summary[summary["outcome"] == "matched"].iloc[0]
    assert matched["amount_open"] == D("110.00")
    assert matched["amount_overdue"] == D("60.00")


def test_a_pushed_document_a_stale_read_back_does_not_show_is_pending_not_missing():
    stale = {"invoice": "its refresh is Queued, not complete"}
    result = reconcile(report_date=DAY, run_id="run-1", source_docs=pd.DataFrame([src("i1"), src("i2")]),
                       ledger=pd.DataFrame([led("i1"), led("i2")]), rejects=None,
                       platform_docs=pd.DataFrame([plat("p-i2", number="N-i2", total="90.00")]),
                       previous_exceptions=None, stale_read_back=stale)
    unseen = one(result, "i1")
    assert unseen["outcome"] == "pending"
    assert unseen["reason"] == ("pushed as p-i1, but the platform's list may not show it yet (its refresh is "
                                "Queued, not complete): the next run checks it again")
    # What the stale list does show is still compared: a stale read-back never hides a real difference.
    assert one(result, "i2")["outcome"] == "amount_mismatch"
    deleted = reconcile(report_date=DAY, run_id="run-1", source_docs=pd.DataFrame([src("i3")]),
                        ledger=pd.DataFrame([led("i3")]), rejects=None, previous_exceptions=None,
                        platform_docs=pd.DataFrame([plat("p-i3", number="N-i3", deleted=True)]),
                        stale_read_back=stale)
    assert one(deleted, "i3")["outcome"] == "missing_in_platform", "a deletion the list shows is a fact"
    # Only the stale kinds: a payment whose list was refreshed is still missing when it is not there.
    result = reconcile(report_date=DAY, run_id="run-1",
                       source_docs=pd.DataFrame([src("pay1", document_type="payment")]),
                       ledger=pd.DataFrame([led("pay1", document_type="payment")]), rejects=None,
                       platform_docs=None, previous_exceptions=None, stale_read_back=stale)
    assert one(result, "pay1")["outcome"] == "missing_in_platform"
