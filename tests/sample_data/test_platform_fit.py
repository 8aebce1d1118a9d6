"""Sample companies on different platforms: the happy path fits each platform, one reject is planted."""

from __future__ import annotations

import dataclasses

import pytest
from tests.fixtures.sandbox import start_sandbox
from tests.sample_data.fake_sandbox import fake_companies

from codat_sandbox import platforms
from sample_data import SampleSpec, generate_sample, provision_companies
from sample_data.platform_fit import ONE_PER_PLATFORM, PLATFORM_RULE, PlatformFit, platforms_for


def test_the_demo_takes_one_platform_per_company_and_everything_else_stays_on_xero():
    assert platforms_for(4, "demo") == ["Xero", "QuickBooks Online", "Oracle NetSuite", "Xero"]
    assert platforms_for(2, "sample") == ["Xero", "Xero"]
    assert {c.platform for c in fake_companies(3)} == {"Xero"}


def test_fits_follow_the_sandbox_rules():
    fits = {name: PlatformFit.of(name) for name in ONE_PER_PLATFORM}
    assert fits["Xero"] == PlatformFit("Xero", True, True, True, True, 225, 255)
    assert fits["QuickBooks Online"] == PlatformFit("QuickBooks Online", False, False, False, True, 21, 21)
    assert fits["Oracle NetSuite"] == PlatformFit("Oracle NetSuite", False, True, True, False, 45, 45)


@pytest.fixture(scope="module")
def sample():
    companies = [dataclasses.replace(c, platform=name)
                 for c, name in zip(fake_companies(3, ["GBP", "GBP", "USD"]), ONE_PER_PLATFORM, strict=True)]
    spec = SampleSpec(companies=3, invoices_per_day=60, bad_row_fraction=0.1, foreign_currency_fraction=0.3,
                      credit_note_ratio=0.3)
    tables, bad_rows = generate_sample(spec, companies)
    return {c.platform: c for c in companies}, tables, bad_rows


def _good(table, company, bad_rows, id_column):
    planted = {b.source_id for b in bad_rows if b.company_id == company.company_id}
    rows = table[table["company_id"] == company.company_id]
    return rows[~rows[id_column].isin(planted)]


def test_the_happy_path_fits_each_platform(sample):
    companies, tables, bad_rows = sample
    for name, company in companies.items():
        fit = PlatformFit.of(name)
        invoices = _good(tables["ar_invoices"], company, bad_rows, "invoice_id")
        lines = _good(tables["ar_invoice_lines"], company, bad_rows, "invoice_id")
        assert invoices["invoice_number"].str.len().max() <= fit.number_limit
        assert tables["ar_credit_notes"]["credit_note_number"].str.len().max() <= fit.number_limit
        allocations = tables["ar_credit_note_allocations"]
        mine = allocations[allocations["company_id"] == company.company_id]
        references = mine["credit_note_id"] + ":" + mine["invoice_id"]  # the allocation's payment reference
        assert (references.str.len() <= fit.reference_limit).all()
        if not fit.drafts:
            assert set(invoices["status"]) == {"submitted"}
        if not fit.untaxed_lines:
            assert lines["tax_code"].notna().all()
        if not fit.foreign_currency:
            customers = tables["ar_customers"]
            own = customers[customers["company_id"] == company.company_id]
            assert set(own["default_currency"]) == {"GBP"}
            assert set(invoices["currency"]) == {"GBP"}
        if not fit.credit_note_links:
            allocations = tables["ar_credit_note_allocations"]
            assert (allocations["company_id"] != company.company_id).all()
            links = tables["ar_payment_allocations"]
            mine = links["company_id"] == company.company_id
            assert not (mine & (links["target_type"] == "credit_note")).any()
    # what the Xero company shows the others cannot take
    xero = companies["Xero"].company_id
    lines = tables["ar_invoice_lines"]
    assert (lines["company_id"].eq(xero) & lines["tax_code"].isna()).any()
    assert tables["ar_credit_note_allocations"]["company_id"].eq(xero).any()


def test_one_invoice_per_non_xero_company_breaks_its_platform_alone(sample):
    companies, tables, bad_rows = sample
    planted = [b for b in bad_rows if b.rule == PLATFORM_RULE]
    assert sorted(b.company_id for b in planted) == sorted(
        companies[n].company_id for n in ("QuickBooks Online", "Oracle NetSuite"))
    invoices = tables["ar_invoices"]
    for bad in planted:
        row = invoices[(invoices["company_id"] == bad.company_id) & (invoices["invoice_id"] == bad.source_id)]
        number = row["invoice_number"].iat[0]
        home = next(name for name, c in companies.items() if c.company_id == bad.company_id)
        refused = {p.name for p in platforms.PLATFORMS
                   for item in platforms.check(p, "invoices", {"invoiceNumber": number}, "GBP")
                   if item["itemId"] == "invoiceNumber"}
        assert refused == ({"QuickBooks Online"} if home == "QuickBooks Online"
                           else {"QuickBooks Online", "Oracle NetSuite"})
        assert "Xero" not in refused


def test_provisioning_puts_the_demo_companies_on_their_platforms(tmp_path):
    proc = start_sandbox(tmp_path, push_delay_ms=0)
    try:
        companies = provision_companies(proc.base_url, 3, api_key=proc.api_key, namespace="demo")
        assert [c.platform for c in companies] == list(ONE_PER_PLATFORM)
        with proc.client() as http:
            names = [http.get(f"/companies/{c.company_id}/connections").json()["results"][0]["platformName"]
                     for c in companies]
        assert names == list(ONE_PER_PLATFORM)
    finally:
        proc.stop()
