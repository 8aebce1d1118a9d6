"""Writing a sample into the warehouse (both dialects), and the command line."""

from __future__ import annotations

from datetime import date

import pytest
from tests.sample_data.fake_sandbox import fake_companies

from receivables.warehouse import read_frame
from receivables.warehouse.schema import (
    ar_companies,
    ar_customers,
    ar_invoice_lines,
    ar_mappings,
    ar_payment_allocations,
    ar_payments,
)
from sample_data import SampleSpec, generate_sample, write_sample
from sample_data import __main__ as cli

DAYS = (date(2026, 11, 20), date(2026, 11, 21))


def test_write_sample_fills_every_input_table_exactly(warehouse_engine):
    companies = fake_companies(2)
    spec = SampleSpec(companies=2, business_days=DAYS, invoices_per_day=12, bad_row_fraction=0.2,
                      customer_update_fraction=0.3)
    manifest = write_sample(warehouse_engine, spec, companies)
    expected, bad = generate_sample(spec, companies)
    assert manifest.bad_rows == bad
    assert len(read_frame(warehouse_engine, ar_companies)) == manifest.row_counts["ar_companies"] == 2
    mappings = read_frame(warehouse_engine, ar_mappings)
    assert len(mappings) == sum(len(c.mappings) for c in companies)
    customers = read_frame(warehouse_engine, ar_customers)
    assert len(customers) == len(expected["ar_customers"])  # an updated customer replaced its row
    lines = read_frame(warehouse_engine,
                       ar_invoice_lines).sort_values(["company_id", "invoice_id", "line_no"])
    want = expected["ar_invoice_lines"].sort_values(["company_id", "invoice_id", "line_no"])
    assert lines["unit_amount"].tolist() == want["unit_amount"].tolist()  # exact decimals, both dialects
    assert lines["tax_code"].isna().sum() == want["tax_code"].isna().sum()
    payments = read_frame(warehouse_engine, ar_payments).sort_values(["company_id", "payment_id"])
    want_payments = expected["ar_payments"].sort_values(["company_id", "payment_id"])
    assert payments["amount"].tolist() == want_payments["amount"].tolist()
    assert payments["updated_at"].tolist() == want_payments["updated_at"].tolist()
    assert len(read_frame(warehouse_engine,
                          ar_payment_allocations)) == len(expected["ar_payment_allocations"])


def test_write_sample_needs_enough_companies(sqlite_engine):
    with pytest.raises(ValueError, match="provisioned"):
        write_sample(sqlite_engine, SampleSpec(companies=3), fake_companies(2))


def test_days_option_parses_ranges():
    assert cli.parse_days("2026-11-20:2026-11-22") == (date(2026, 11, 20), date(2026, 11, 21),
                                                       date(2026, 11, 22))
    assert cli.parse_days("2026-11-20") == (date(2026, 11, 20),)


@pytest.mark.slow
def test_cli_against_a_real_sandbox_writes_and_prints_a_summary(sandbox, tmp_path, capsys):
    code = cli.main([
        "--warehouse-url", f"sqlite:///{tmp_path}/w.db", "--sandbox-url", sandbox.base_url,
        "--api-key", sandbox.api_key, "--companies", "2", "--days", "2026-11-20:2026-11-21",
        "--invoices-per-day", "5", "--bad-rows", "0.2", "--seed", "7",
    ])
    out = capsys.readouterr().out
    assert code == 0
    assert "ar_invoices: " in out and "bad rows: 4" in out
    assert sandbox.api_key not in out
    with sandbox.client() as http:
        companies = http.get("/companies", params={"page": 1, "pageSize": 100}).json()["results"]
    assert len(companies) == 2


def test_cli_without_api_key_says_how_to_give_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CODAT_SANDBOX_API_KEY", raising=False)
    code = cli.main(["--warehouse-url", f"sqlite:///{tmp_path}/w.db", "--sandbox-url", "http://x",
                     "--days", "2026-11-20"])
    assert code == 2 and "--api-key" in capsys.readouterr().err
