"""Deterministic reference data for a sandbox company: chart of accounts, bank accounts, tax rates, tracking.

Every id is ``uuid5`` of the company id and a stable code, so the same company id always yields the
same ids (tests and demos can rely on them across restarts and machines).

    >>> data = reference_data("6f1c3b1e-0000-4000-8000-000000000001", "GBP", "2026-01-01T00:00:00.000Z")
    >>> sorted(data)
    ['accounts', 'bankAccounts', 'taxRates', 'trackingCategories']
"""

from __future__ import annotations

import uuid
from typing import Any

SANDBOX_NAMESPACE = uuid.UUID("4b0c6f0e-3f5e-5d1c-9a51-7d1a3c0d5e10")

INVOICE_LINE_ACCOUNT = "Invoice.LineItems.AccountRef.Id"
CREDIT_NOTE_LINE_ACCOUNT = "CreditNote.LineItems.AccountRef.Id"
PAYMENT_ACCOUNT = "Payment.AccountRef.Id"
DIRECT_COST_LINE_ACCOUNT = "DirectCost.LineItems.AccountRef.Id"

# (code, name, type, fullyQualifiedCategory, status, isBankAccount)
_ACCOUNTS: tuple[tuple[str, str, str, str, str, bool], ...] = (
    ("1100", "Accounts receivable", "Asset", "Asset.Current.Receivables", "Active", False),
    ("1200", "Operating bank", "Asset", "Asset.Current.Bank", "Active", True),
    ("1210", "Clearing (Stripe)", "Asset", "Asset.Current.Bank", "Active", True),
    ("1500", "Office equipment", "Asset", "Asset.Fixed.Equipment", "Active", False),
    ("2100", "Accounts payable", "Liability", "Liability.Current.Payables", "Active", False),
    ("2200", "VAT / sales tax payable", "Liability", "Liability.Current.Tax", "Active", False),
    ("3000", "Share capital", "Equity", "Equity.Capital", "Active", False),
    ("3100", "Retained earnings", "Equity", "Equity.RetainedEarnings", "Active", False),
    ("4000", "Sales", "Income", "Income.Revenue.Sales", "Active", False),
    ("4010", "Services", "Income", "Income.Revenue.Services", "Active", False),
    ("4020", "Subscriptions", "Income", "Income.Revenue.Subscriptions", "Active", False),
    ("4090", "Legacy sales (archived)", "Income", "Income.Revenue.Sales", "Archived", False),
    ("5000", "Cost of sales", "Expense", "Expense.CostOfSales", "Active", False),
    ("6100", "Payment processing fees", "Expense", "Expense.Operating.BankCharges", "Active", False),
    ("6200", "Bad debts", "Expense", "Expense.Operating.BadDebts", "Active", False),
)

# (code, name, status, components[(name, rate, isCompound)])
_TAX_RATES: tuple[tuple[str, str, str, tuple[tuple[str, float, bool], ...]], ...] = (
    ("STANDARD", "Standard 20%", "Active", (("VAT", 20.0, False),)),
    ("REDUCED", "Reduced 5%", "Active", (("VAT", 5.0, False),)),
    ("ZERO", "Zero rated 0%", "Active", (("VAT", 0.0, False),)),
    ("EXEMPT", "Exempt", "Active", ()),
    ("COMPOUND", "Compound 10% + 10%", "Active", (("State", 10.0, False), ("Local", 10.0, True))),
    ("OLDSTANDARD", "Old standard 17.5% (archived)", "Archived", (("VAT", 17.5, False),)),
)

# (code, name, parent code or None, status)
_TRACKING: tuple[tuple[str, str, str | None, str], ...] = (
    ("REGION", "Region", None, "Active"),
    ("REGION-NORTH", "North", "REGION", "Active"),
    ("REGION-SOUTH", "South", "REGION", "Active"),
    ("REGION-EXPORT", "Export", "REGION", "Active"),
    ("REGION-LEGACY", "Legacy region (archived)", "REGION", "Archived"),
    ("PRODUCT", "Product line", None, "Active"),
    ("PRODUCT-HARDWARE", "Hardware", "PRODUCT", "Active"),
    ("PRODUCT-SOFTWARE", "Software", "PRODUCT", "Active"),
    ("PRODUCT-SUPPORT", "Support", "PRODUCT", "Active"),
)


def stable_id(company_id: str, code: str) -> str:
    """The deterministic id of ``code`` within ``company_id``."""
    return str(uuid.uuid5(SANDBOX_NAMESPACE, f"{company_id}:{code}"))


def connection_id(company_id: str) -> str:
    """The id of the company's one accounting connection."""
    return stable_id(company_id, "connection")


def demo_company_id(index: int) -> str:
    """Deterministic id of the ``index``-th demo company (1-based)."""
    return str(uuid.uuid5(SANDBOX_NAMESPACE, f"demo-company-{index}"))


_DEMO_NAMES = ("Acme Trading Ltd", "Northwind Services Inc", "Globex GmbH", "Initech LLC",
               "Umbrella Retail Ltd")
_DEMO_CURRENCIES = ("GBP", "USD", "EUR", "USD", "GBP")


# The demo companies' platforms in turn: one company per platform (codat_sandbox.platforms).
_DEMO_PLATFORMS = ("Xero", "QuickBooks Online", "Oracle NetSuite")


def demo_company(index: int) -> dict[str, str]:
    """Name, base currency and platform of the ``index``-th demo company."""
    slot = (index - 1) % len(_DEMO_NAMES)
    suffix = "" if index <= len(_DEMO_NAMES) else f" {index}"
    return {"id": demo_company_id(index), "name": _DEMO_NAMES[slot] + suffix,
            "baseCurrency": _DEMO_CURRENCIES[slot], "platform": _DEMO_PLATFORMS[(index - 1) % 3]}


def _links(account_type: str, is_bank: bool, status: str) -> list[dict[str, Any]]:
    if status != "Active":
        return []
    if account_type == "Income":
        return [{"property": INVOICE_LINE_ACCOUNT, "links": ["Income"]},
                {"property": CREDIT_NOTE_LINE_ACCOUNT, "links": ["Income"]}]
    if is_bank:
        return [{"property": PAYMENT_ACCOUNT, "links": ["Bank"]},
                {"property": "DirectCost.PaymentAllocations.Payment.AccountRef.Id", "links": ["Bank"]}]
    if account_type == "Expense":
        return [{"property": DIRECT_COST_LINE_ACCOUNT, "links": ["Expense"]}]
    return []


def _meta(now: str) -> dict[str, Any]:
    return {"metadata": {"isDeleted": False}, "modifiedDate": now, "sourceModifiedDate": now}


def accounts(company_id: str, currency: str, now: str) -> list[dict[str, Any]]:
    """The chart of accounts (CONTRACT §1 ``Account``)."""
    return [
        {
            "id": stable_id(company_id, f"account:{code}"), "nominalCode": code, "name": name,
            "description": name, "fullyQualifiedCategory": category,
            "fullyQualifiedName": f"{category}.{name}", "currency": currency, "currentBalance": 0,
            "type": kind, "status": status, "isBankAccount": is_bank,
            "validDatatypeLinks": _links(kind, is_bank, status), **_meta(now),
        }
        for code, name, kind, category, status, is_bank in _ACCOUNTS
    ]


def bank_accounts(company_id: str, currency: str, now: str) -> list[dict[str, Any]]:
    """Bank accounts matching the bank-backed ledger accounts (same ids, as Xero does)."""
    return [
        {
            "id": stable_id(company_id, f"account:{code}"), "accountName": name, "accountType": "Debit",
            "nominalCode": code, "sortCode": "40-00-00", "accountNumber": f"1000{code}",
            "currency": currency, "balance": 0, "availableBalance": 0, "overdraftLimit": 0,
            "institution": "Sandbox Bank", "status": "Active", **_meta(now),
        }
        for code, name, _kind, _category, _status, is_bank in _ACCOUNTS if is_bank
    ]


def _effective_rate(components: tuple[tuple[str, float, bool], ...]) -> tuple[float, float]:
    total = sum(rate for _name, rate, _compound in components)
    simple = sum(rate for _name, rate, compound in components if not compound)
    effective = simple
    for _name, rate, compound in components:
        if compound:
            effective += rate * (1 + simple / 100)
    return round(effective, 4), round(total, 4)


def tax_rates(company_id: str, now: str) -> list[dict[str, Any]]:
    """Tax rates including a compound one (total 20, effective 21) and an archived one."""
    rates = []
    for code, name, status, components in _TAX_RATES:
        effective, total = _effective_rate(components)
        rates.append({
            "id": stable_id(company_id, f"taxRate:{code}"), "name": name, "code": code, "status": status,
            "effectiveTaxRate": effective, "totalTaxRate": total,
            "components": [{"name": n, "rate": r, "isCompound": c} for n, r, c in components],
            "validDatatypeLinks": [], **_meta(now),
        })
    return rates


def tracking_categories(company_id: str, now: str) -> list[dict[str, Any]]:
    """Two parents ("Region", "Product line") with active leaves and one archived leaf."""
    parents = {parent for _code, _name, parent, _status in _TRACKING if parent}
    return [
        {
            "id": stable_id(company_id, f"tracking:{code}"), "name": name,
            "parentId": stable_id(company_id, f"tracking:{parent}") if parent else None,
            "hasChildren": code in parents, "status": status, **_meta(now),
        }
        for code, name, parent, status in _TRACKING
    ]


def reference_data(company_id: str, currency: str, now: str) -> dict[str, list[dict[str, Any]]]:
    """All seeded data types of one company; customers start empty (the pipeline pushes them)."""
    return {
        "accounts": accounts(company_id, currency, now),
        "bankAccounts": bank_accounts(company_id, currency, now),
        "taxRates": tax_rates(company_id, now),
        "trackingCategories": tracking_categories(company_id, now),
    }
