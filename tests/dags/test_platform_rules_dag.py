"""receivables_sync through Airflow, companies on three platforms: each connection's own rules, before push.

What a user would notice: a document number QuickBooks Online cannot store (22 characters) is rejected for
the QuickBooks company before anything is sent, with the platform's name and limit in the message, while
the same length goes through for the Xero and NetSuite companies; a number too long for NetSuite (46) is
rejected there and pushed on Xero. Nothing the options describe fails at push, the night ends green, and
the report names each company's platform.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PLATFORMS = ["Xero", "QuickBooks Online", "Oracle NetSuite"]


def _ordinary_invoice(stack, company_id: str) -> str:
    """A submitted invoice of the company's batch that was not planted to break a rule."""
    planted = {b.source_id for b in stack.manifest.bad_rows if b.company_id == company_id}
    invoices = stack.table("ar_invoices", company_id=company_id)
    ok = invoices[(invoices["status"] == "submitted") & ~invoices["invoice_id"].isin(planted)]
    return str(ok["invoice_id"].iloc[0])


def _renumber(stack, company_id: str, invoice_id: str, number: str) -> None:
    from receivables.warehouse import schema

    invoices = schema.metadata.tables["ar_invoices"]
    with stack.engine.begin() as conn:
        conn.execute(sa.update(invoices).where(invoices.c.company_id == company_id,
                                               invoices.c.invoice_id == invoice_id)
                     .values(invoice_number=number))


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("e2e_stack", [{"companies": 3, "platforms": PLATFORMS, "days": (date(2026, 11, 20),),
                                        "invoices_per_day": 6, "bad_row_fraction": 0.1}], indirect=True)
def test_each_platform_rejects_what_only_it_refuses_and_the_others_push_it(e2e_stack):
    stack = e2e_stack
    day = stack.days[0]
    xero, qbo, netsuite = (c.company_id for c in stack.companies)
    assert [c.platform for c in stack.companies] == PLATFORMS

    planted = {b.company_id: b.source_id for b in stack.manifest.bad_rows if b.rule == "platform_rule"}
    assert set(planted) == {qbo, netsuite}, "each non-Xero company has one number only its platform refuses"
    # The same lengths on the platforms that accept them: 22 characters on NetSuite, 46 on Xero.
    fits_netsuite, fits_xero = "N" * 22, "X" * 46
    _renumber(stack, netsuite, (on_netsuite := _ordinary_invoice(stack, netsuite)), fits_netsuite)
    _renumber(stack, xero, (on_xero := _ordinary_invoice(stack, xero)), fits_xero)

    run = stack.run_sync(day)
    assert run.state == "success"

    rejects = stack.table("ar_rejects")
    platform_rejects = rejects[rejects["rule"] == "platform_rule"]
    by_company = dict(zip(platform_rejects["company_id"], platform_rejects["source_id"], strict=True))
    assert by_company == planted, platform_rejects[["company_id", "source_id", "message"]]
    messages = dict(zip(platform_rejects["company_id"], platform_rejects["message"], strict=True))
    assert "QuickBooks Online" in messages[qbo] and "21" in messages[qbo]
    assert "Oracle NetSuite" in messages[netsuite] and "45" in messages[netsuite]

    ledger = stack.table("ar_push_ledger")
    invoices = ledger[ledger["document_type"] == "invoice"]
    for company, source_id in planted.items():   # rejected before push: never sent
        assert source_id not in set(invoices.loc[invoices["company_id"] == company, "source_id"])
    for company, source_id, number in ((netsuite, on_netsuite, fits_netsuite), (xero, on_xero, fits_xero)):
        row = invoices[(invoices["company_id"] == company) & (invoices["source_id"] == source_id)]
        assert list(row["status"]) == ["success"], row
        assert stack.platform_numbers(company, "invoices", "invoiceNumber")[number] == 1

    # Nothing the options describe failed at push, on any platform.
    assert not (ledger["status"] == "failed").any(), ledger.loc[ledger["status"] == "failed", "last_error"]
    report = stack.table("ar_reconciliation", report_date=day)
    assert not (report["outcome"] == "push_failed").any()
    html = (stack.report_dir / day.isoformat() / "reconciliation.html").read_text()
    assert all(platform in html for platform in PLATFORMS), "the report names each company's platform"
