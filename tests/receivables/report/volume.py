"""A reconciliation at real volume: thousands of exceptions over three companies and currencies."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from receivables.reconcile import Reconciliation, reconcile
from receivables.run_state import summarise_company

REPORT_DATE = date(2026, 3, 2)
COMPANIES = {"2b0c6a51-9d3e-4c1f-8a55-0f6e2d7c9b10": "Acme Manufacturing Ltd",
             "7f1e9c22-3a4b-4d5e-9f60-1a2b3c4d5e6f": "Nippon Trading KK",
             "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b": "Brick & Mortar GmbH"}
CURRENCY = dict(zip(COMPANIES, ("GBP", "JPY", "EUR"), strict=True))


def build_volume(exceptions: int = 2000, matched: int = 500, seed: int = 7) -> Reconciliation:
    rng = random.Random(seed)
    sources, ledger, rejects, platform = [], [], [], []
    for n in range(exceptions + matched):
        company = list(COMPANIES)[n % 3]
        currency = CURRENCY[company]
        total = Decimal(rng.randint(100, 2_500_000)) / (1 if currency == "JPY" else 100)
        sid, number = f"inv-{n:05d}", f"INV-{20000 + n}"
        due = REPORT_DATE - timedelta(days=rng.randint(-30, 150))
        sources.append(dict(company_id=company, document_type="invoice", source_id=sid,
                            document_number=number,
                            customer_id="k", currency=currency, source_total=total, source_amount_due=total,
                            due_date=due, in_batch=True))
        kind = "matched" if n >= exceptions else rng.choice(["rejected", "push_failed", "amount_mismatch",
                                                             "pending", "pending", "rejected"])
        if kind == "rejected":
            rejects.append(dict(company_id=company, document_type="invoice", source_id=sid,
                                rule="unmapped_tax_code",
                                message=f"invoice {sid} line 1: tax code T{n % 17} has no mapping (and no "
                                        "'*' "
                                        "default mapping): add it in the mapping screen"))
            continue
        status = {"push_failed": "failed", "pending": "pending"}.get(kind, "success")
        ledger.append(dict(company_id=company, document_type="invoice", source_id=sid, document_number=number,
                           currency=currency, source_total=total, content_hash="h", status=status,
                           platform_id=f"pl-{n}" if status == "success" else None,
                           last_error="the platform refused the account 4000: AccountNotFound — validation "
                                      "failed "
                                      "for lineItems[0].accountRef.id" if status == "failed" else None))
        if status == "success":
            shown = total + (Decimal("12.34") if kind == "amount_mismatch" else 0)
            platform.append(dict(company_id=company, document_type="invoice", platform_id=f"pl-{n}",
                                 document_number=number, customer_platform_id="pk", currency=currency,
                                 platform_total=shown, platform_amount_due=shown, platform_status="Submitted",
                                 is_deleted=False, synced_customer=True))
    return reconcile(report_date=REPORT_DATE, run_id="scheduled__2026-03-03",
                     source_docs=pd.DataFrame(sources),
                     ledger=pd.DataFrame(ledger), rejects=pd.DataFrame(rejects),
                     platform_docs=pd.DataFrame(platform), previous_exceptions=None)


def ok_states():
    return [summarise_company(c, name,
                              [{"stage": s, "state": "success"} for s in ("reference", "sync", "reconcile")])
            for c, name in COMPANIES.items()]


def failed_states():
    """The second company's key was refused; the third never ran."""
    first, second, third = COMPANIES.items()
    return [
        summarise_company(*first,
                          [{"stage": s, "state": "success"} for s in ("reference", "sync", "reconcile")]),
        summarise_company(*second,
                          [{"stage": "reference", "state": "failed",
                            "error": "the API refused the key (401).",
                            "advice": "Check the password of connection codat_default."}]),
        summarise_company(*third, []),
    ]
