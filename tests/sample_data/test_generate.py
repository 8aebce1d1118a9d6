"""The generator: deterministic, valid where it should be, invalid exactly where the manifest says."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from tests.sample_data.fake_sandbox import fake_companies

from sample_data import BAD_ROW_RULES, SampleSpec, generate_sample
from sample_data.spec import MINOR_UNITS

DAYS = (date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22))


@pytest.fixture(scope="module")
def companies():
    return fake_companies(5)


@pytest.fixture(scope="module")
def clean(companies):
    spec = SampleSpec(companies=5, business_days=DAYS, invoices_per_day=40, foreign_currency_fraction=0.25,
                      timezone="America/New_York", seed=11)
    return spec, *generate_sample(spec, companies)


@pytest.fixture(scope="module")
def dirty(companies):
    spec = SampleSpec(companies=5, business_days=DAYS, invoices_per_day=40, bad_row_fraction=0.25, seed=3)
    return spec, *generate_sample(spec, companies)


def _q(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency]), rounding=ROUND_HALF_UP)


def _at_minor_units(amount: Decimal, currency: str) -> bool:
    return amount == _q(amount, currency)


def broken_rules(tables: dict[str, pd.DataFrame], companies) -> dict[tuple[str, str, str], set[str]]:
    """An independent check of every document against the rules; {(type, company, id): rules broken}."""
    by_id = {c.company_id: c for c in companies}
    broken: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    customers = set(zip(tables["ar_customers"].company_id, tables["ar_customers"].customer_id, strict=True))
    invoices = tables["ar_invoices"]
    lines = tables["ar_invoice_lines"]
    lines_of = {key: group for key, group in lines.groupby(["company_id", "invoice_id"])}
    earliest: dict[tuple[str, str], pd.Timestamp] = invoices.groupby(["company_id", "invoice_number"])[
        "updated_at"].min().to_dict()
    for row in invoices.itertuples():
        key = ("invoice", row.company_id, row.invoice_id)
        company = by_id[row.company_id]
        mapped = {kind: {m.source_code for m in company.mappings if m.kind == kind}
                  for kind in ("tax_rate", "income_account")}
        if (row.company_id, row.customer_id) not in customers:
            broken[key].add("unknown_customer")
        if row.updated_at > earliest[(row.company_id, row.invoice_number)]:
            broken[key].add("duplicate_document_number")
        if row.due_date < row.issue_date:
            broken[key].add("due_before_issue")
        if row.currency not in MINOR_UNITS:
            broken[key].add("invalid_currency")
        elif row.currency != company.base_currency and row.currency_rate is None:
            broken[key].add("missing_currency_rate")
        doc_lines = lines_of.get((row.company_id, row.invoice_id))
        if doc_lines is None:
            broken[key].add("no_lines")
            continue
        for line in doc_lines.itertuples():
            if line.quantity * line.unit_amount - line.discount_amount < 0:
                broken[key].add("invalid_amount")
            if isinstance(line.tax_code, str) and line.tax_code not in mapped["tax_rate"] | {"*"} and (
                    "*" not in mapped["tax_rate"]):
                broken[key].add("unmapped_tax_code")
            if line.revenue_code not in mapped["income_account"] and "*" not in mapped["income_account"]:
                broken[key].add("unmapped_revenue_code")
    targets = set(zip(invoices.company_id, invoices.invoice_id, strict=True)) | set(
        zip(tables["ar_credit_notes"].company_id, tables["ar_credit_notes"].credit_note_id, strict=True))
    allocations = tables["ar_payment_allocations"]
    allocated = allocations.groupby(["company_id", "payment_id"])["amount"].sum().to_dict()
    for row in allocations.itertuples():
        if (row.company_id, row.target_id) not in targets:
            broken[("payment", row.company_id, row.payment_id)].add("allocation_target_unknown")
    for row in tables["ar_payments"].itertuples():
        if allocated.get((row.company_id, row.payment_id), Decimal(0)) > abs(row.amount):
            broken[("payment", row.company_id, row.payment_id)].add("allocation_exceeds_payment")
    return {k: v for k, v in broken.items() if v}


def _document_totals(tables, kind: str, companies) -> dict[tuple[str, str], Decimal]:
    """Document totals by WAREHOUSE.md: per line half-up subtotal and tax, summed."""
    rates = {c.company_id: c.tax_rates for c in companies}
    header = tables[f"ar_{kind}s"]
    id_column = f"{kind}_id"
    currency = dict(zip(zip(header.company_id, header[id_column], strict=True), header.currency, strict=True))
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in tables[f"ar_{kind}_lines"].itertuples():
        key = (line.company_id, getattr(line, id_column))
        cur = currency[key]
        subtotal = _q(line.quantity * line.unit_amount - line.discount_amount, cur)
        rate = rates[line.company_id].get(line.tax_code, Decimal(0)) if isinstance(line.tax_code, str) else 0
        totals[key] += subtotal + _q(subtotal * rate / 100, cur)
    return totals


def test_same_seed_same_rows_other_seed_other_rows(companies):
    spec = SampleSpec(companies=3, business_days=DAYS[:2], invoices_per_day=15, bad_row_fraction=0.1, seed=5)
    first, bad_first = generate_sample(spec, companies)
    second, bad_second = generate_sample(spec, companies)
    assert first.keys() == second.keys()
    for table in first:
        pd.testing.assert_frame_equal(first[table], second[table])
    assert bad_first == bad_second
    other, _ = generate_sample(spec.model_copy(update={"seed": 6}), companies)
    assert not other["ar_invoice_lines"].equals(first["ar_invoice_lines"])


def test_clean_sample_breaks_no_rule(clean, companies):
    _spec, tables, bad_rows = clean
    assert bad_rows == []
    assert broken_rules(tables, companies) == {}


def test_money_of_good_rows_is_exact_and_allocations_fit(clean, companies):
    _spec, tables, _bad = clean
    invoices, payments = tables["ar_invoices"], tables["ar_payments"]
    invoice_totals = _document_totals(tables, "invoice", companies)
    credit_totals = _document_totals(tables, "credit_note", companies)
    for row in payments.itertuples():
        assert _at_minor_units(row.amount, row.currency) and _at_minor_units(row.fee_amount, row.currency)
        assert Decimal(0) <= row.fee_amount < abs(row.amount) or row.fee_amount == 0
    currency_of = dict(zip(zip(invoices.company_id, invoices.invoice_id, strict=True), invoices.currency,
                           strict=True))
    customer_of = dict(zip(zip(invoices.company_id, invoices.invoice_id, strict=True), invoices.customer_id,
                           strict=True))
    status_of = dict(zip(zip(invoices.company_id, invoices.invoice_id, strict=True), invoices.status,
                         strict=True))
    settled: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    used_credit: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    pay = payments.set_index(["company_id", "payment_id"])
    for row in tables["ar_payment_allocations"].itertuples():
        payment = pay.loc[(row.company_id, row.payment_id)]
        assert row.amount > 0 and _at_minor_units(row.amount, payment.currency)
        if row.target_type == "invoice":
            key = (row.company_id, row.target_id)
            assert status_of[key] == "submitted"
            assert currency_of[key] == payment.currency and customer_of[key] == payment.customer_id
            settled[key] += row.amount
        else:
            assert row.target_type == "credit_note" and payment.amount < 0  # refunds only
            used_credit[(row.company_id, row.target_id)] += row.amount
    for row in tables["ar_credit_note_allocations"].itertuples():
        key = (row.company_id, row.invoice_id)
        assert currency_of[key] == tables["ar_credit_notes"].set_index(["company_id", "credit_note_id"]).loc[
            (row.company_id, row.credit_note_id), "currency"]
        settled[key] += row.amount
        used_credit[(row.company_id, row.credit_note_id)] += row.amount
    for key, amount in settled.items():
        assert amount <= invoice_totals[key], key
    for key, amount in used_credit.items():
        assert amount <= credit_totals[key], key
    # Every kind of receipt shows up: partial, exact, over-payment (on account), refund, fee, earlier
    # invoices.
    allocated = tables["ar_payment_allocations"].groupby(["company_id", "payment_id"])["amount"].sum()
    paid = pay["amount"]
    assert (paid.loc[allocated.index] > allocated).any()  # over-payments
    assert (paid < 0).any() and (pay["fee_amount"] > 0).any()
    assert len(paid) > len(allocated)  # payments wholly on account
    assert any(amount < invoice_totals[key] for key, amount in settled.items())  # partly paid invoices
    assert any(amount == invoice_totals[key] for key, amount in settled.items())  # fully paid invoices
    issue = dict(zip(zip(invoices.company_id, invoices.invoice_id, strict=True), invoices.issue_date,
                     strict=True))
    allocations = tables["ar_payment_allocations"].merge(payments[["company_id", "payment_id", "paid_on"]])
    earlier = [issue[(r.company_id, r.target_id)] < r.paid_on for r in allocations.itertuples()
               if r.target_type == "invoice"]
    assert any(earlier)


def test_currencies_rates_and_minor_units(clean, companies):
    _spec, tables, _bad = clean
    base = {c.company_id: c.base_currency for c in companies}
    for table in ("ar_invoices", "ar_credit_notes", "ar_payments"):
        frame = tables[table]
        foreign = frame.currency != frame.company_id.map(base)
        assert foreign.any()
        assert frame.loc[foreign, "currency_rate"].map(lambda r: isinstance(r, Decimal) and r > 0).all()
        assert frame.loc[~foreign, "currency_rate"].isna().all()
    lines = tables["ar_invoice_lines"].merge(tables["ar_invoices"][["company_id", "invoice_id", "currency"]])
    assert lines.apply(lambda r: _at_minor_units(r.discount_amount, r.currency), axis=1).all()
    assert lines.unit_amount.map(lambda v: -v.as_tuple().exponent <= 4).all()
    assert (lines.unit_amount.map(lambda v: -v.as_tuple().exponent) == 4).any()
    jpy = tables["ar_payments"][tables["ar_payments"].currency == "JPY"]
    bhd = tables["ar_payments"][tables["ar_payments"].currency == "BHD"]
    assert not jpy.empty and jpy.amount.map(lambda v: v == v.to_integral_value()).all()
    assert not bhd.empty and (bhd.amount.map(lambda v: -v.as_tuple().exponent) == 3).any()
    counts = tables["ar_invoice_lines"].groupby(["company_id", "invoice_id"]).size()
    assert counts.between(1, 5).all() and 2.5 < counts.mean() < 3.5
    assert tables["ar_invoice_lines"].tax_code.isna().any()


def test_updated_at_falls_inside_the_business_day_in_the_spec_timezone(clean):
    spec, tables, _bad = clean
    zone = ZoneInfo(spec.timezone)
    utc = ZoneInfo("UTC")
    days = set()
    for table in ("ar_customers", "ar_invoices", "ar_payments", "ar_credit_notes"):
        for stamp in tables[table].updated_at:
            local = stamp.to_pydatetime().replace(tzinfo=utc).astimezone(zone)
            days.add(local.date())
    assert days == set(spec.business_days)
    invoices = tables["ar_invoices"]
    for row in invoices.itertuples():
        start = datetime.combine(row.issue_date.date(), time(), zone).astimezone(utc).replace(tzinfo=None)
        assert start <= row.updated_at.to_pydatetime() < start + timedelta(hours=25)


def test_customers_are_added_daily_and_some_are_updated(companies):
    spec = SampleSpec(companies=1, business_days=DAYS, invoices_per_day=60, customer_update_fraction=0.2)
    tables, _ = generate_sample(spec, companies)
    customers = tables["ar_customers"]
    assert customers.updated_at.dt.date.nunique() == 3
    assert customers.email.str.contains("changed.example").any()
    assert not customers.duplicated(["company_id", "customer_id"]).any()
    assert not customers.duplicated(["company_id", "name"]).any()  # names identify customers in the platform


def test_manifest_lists_exactly_the_broken_documents(dirty, companies):
    _spec, tables, bad_rows = dirty
    expected = {(b.document_type, b.company_id, b.source_id): {b.rule} for b in bad_rows}
    assert broken_rules(tables, companies) == expected
    assert {b.rule for b in bad_rows} == set(BAD_ROW_RULES)
    assert len(bad_rows) == 5 * 3 * round(40 * 0.25)


def test_unmapped_codes_only_where_there_is_no_default(dirty, companies):
    _spec, _tables, bad_rows = dirty
    with_default = {c.company_id for c in companies if c.has_default("tax_rate")}
    unmapped = [b for b in bad_rows if b.rule in ("unmapped_tax_code", "unmapped_revenue_code")]
    assert unmapped and not any(b.company_id in with_default for b in unmapped)
