"""A small reconciliation with hostile source text (an invoice number holding a script, a formula...)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from receivables.reconcile import Reconciliation, reconcile

REPORT_DATE = date(2026, 3, 2)
SCRIPT = "<script>document.body.setAttribute('data-pwned','1')</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
FORMULA = '=HYPERLINK("http://evil.example","click")'


def _src(source_id, number, total, due, currency="GBP", due_date=date(2026, 2, 1), company="acme"):
    return dict(company_id=company, document_type="invoice", source_id=source_id, document_number=number,
                customer_id="k1", currency=currency, source_total=Decimal(total),
                source_amount_due=Decimal(due), due_date=due_date, in_batch=True)


def _led(source_id, number, total, status="success", error=None, currency="GBP", company="acme"):
    return dict(company_id=company, document_type="invoice", source_id=source_id, document_number=number,
                currency=currency, source_total=Decimal(total), content_hash="h",
                platform_id=f"p-{source_id}" if status == "success" else None, status=status,
                last_error=error)


def _plat(source_id, number, total, due, currency="GBP", company="acme"):
    return dict(company_id=company, document_type="invoice", platform_id=f"p-{source_id}",
                document_number=number,
                customer_platform_id="pk1", currency=currency, platform_total=Decimal(total),
                platform_amount_due=Decimal(due), platform_status="Submitted", is_deleted=False,
                synced_customer=True)


def build_result() -> Reconciliation:
    sources = [
        _src("i1", "INV-1001", "1234.50", "1234.50"),                        # matched, 29 days overdue
        _src("i2", "INV-1002", "200.00", "200.00"),                          # amount mismatch
        _src("i3", SCRIPT, "75.00", "75.00", due_date=date(2025, 11, 1)),    # rejected, hostile number
        _src("i4", "-2+3+cmd|' /C calc'!A0", "10.00", "10.00"),             # push failed, formula-like number
        _src("j1", "JP-1", "5000", "5000", currency="JPY", company="nippon", due_date=date(2026, 3, 10)),
    ]
    ledger = [
        _led("i1", "INV-1001", "1234.50"), _led("i2", "INV-1002", "200.00"),
        _led("i4", "-2+3+cmd|' /C calc'!A0", "10.00", status="failed", error=IMG),
        _led("j1", "JP-1", "5000", currency="JPY", company="nippon"),
    ]
    rejects = [dict(company_id="acme", document_type="invoice", source_id="i3", rule="note_too_long",
                    message=FORMULA)]
    platform = [
        _plat("i1", "INV-1001", "1234.50", "1234.50"), _plat("i2", "INV-1002", "210.00", "200.00"),
        _plat("j1", "JP-1", "5000", "5000", currency="JPY", company="nippon"),
    ]
    return reconcile(report_date=REPORT_DATE, run_id="scheduled__2026-03-03",
                     source_docs=pd.DataFrame(sources),
                     ledger=pd.DataFrame(ledger), rejects=pd.DataFrame(rejects),
                     platform_docs=pd.DataFrame(platform), previous_exceptions=None)
