"""Sample companies in the sandbox, and the mapping screen a user would have filled in for them.

    >>> companies = provision_companies("http://127.0.0.1:8000", 5, api_key="…")
    >>> companies[3].base_currency, companies[3].mappings[0]
    ('JPY', MappingRow(kind='income_account', source_code='SALES', platform_id='…'))

Each company is created through the sandbox admin API (``POST /admin/companies``), then its reference
data is read back through the public API, as the pipeline would, and turned into ``ar_mappings`` rows:
revenue codes to income accounts, card/bank-transfer payments to the bank-backed accounts, fees to the
payment-processing expense account, tax codes to tax rates, tracking codes to leaf tracking categories.

Default (``*``) mappings: every company has them for ``fee_account`` and ``payment_account``; for
``income_account`` and ``tax_rate`` only every other company (odd positions) has one, so that the other
half rejects documents with an unknown revenue or tax code (``unmapped_revenue_code``/``unmapped_tax_code``)
instead of quietly booking them on the default.

Each company's connection is on a platform (``platforms``, default: Xero; the demo's namespace ``"demo"``
takes one platform per company in turn — Xero, QuickBooks Online, Oracle NetSuite — see
:mod:`sample_data.platform_fit`).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from sample_data.platform_fit import platforms_for
from sample_data.spec import DEFAULT_CURRENCIES, company_currencies

SAMPLE_NAMESPACE = uuid.UUID("0f5d7a52-8d3c-5b8e-9a77-3f0c6c1e2b90")

# Our revenue codes → nominal codes of the seeded income accounts.
REVENUE_ACCOUNTS: dict[str, str] = {"SALES": "4000", "SERVICES": "4010", "SUBS": "4020"}
DEFAULT_REVENUE_ACCOUNT = "4000"
FEE_ACCOUNT = "6100"
# Payment methods → nominal codes of bank-backed accounts.
PAYMENT_ACCOUNTS: dict[str, str] = {"card": "1210", "bank_transfer": "1200"}
DEFAULT_PAYMENT_ACCOUNT = "1200"
# Our tax codes → the platform tax rate's code.
TAX_RATES: dict[str, str] = {"STD": "STANDARD", "RED": "REDUCED", "ZERO": "ZERO", "CMP": "COMPOUND"}
DEFAULT_TAX_RATE = "STANDARD"
# Our tracking codes → (parent category name, leaf name).
TRACKING: dict[str, tuple[str, str]] = {
    "NORTH": ("Region", "North"), "SOUTH": ("Region", "South"), "EXPORT": ("Region", "Export"),
    "HW": ("Product line", "Hardware"), "SW": ("Product line", "Software"),
    "SUPPORT": ("Product line", "Support"),
}

_NAMES = ("Acme Trading", "Northwind Services", "Globex", "Initech", "Umbrella Retail", "Stark Supplies",
          "Wayne Logistics", "Tyrell Components", "Cyberdyne Parts", "Soylent Foods")


class ProvisioningError(RuntimeError):
    """The sandbox did not create a company or lacks reference data the sample mappings need."""


@dataclass(frozen=True)
class MappingRow:
    """One ``ar_mappings`` row."""

    kind: str
    source_code: str
    platform_id: str


@dataclass(frozen=True)
class ProvisionedCompany:
    """A company that exists in the sandbox, with its mappings and the effective rate of each tax code."""

    company_id: str
    connection_id: str
    name: str
    base_currency: str
    mappings: tuple[MappingRow, ...]
    tax_rates: dict[str, Decimal] = field(default_factory=dict)
    platform: str = "Xero"  # the connection's platformName

    def has_default(self, kind: str) -> bool:
        """Whether a ``*`` mapping of ``kind`` exists (codes without their own mapping then use it)."""
        return any(m.kind == kind and m.source_code == "*" for m in self.mappings)


def sample_company_id(index: int, namespace: str = "sample") -> str:
    """Deterministic id of the ``index``-th (0-based) sample company in ``namespace``."""
    return str(uuid.uuid5(SAMPLE_NAMESPACE, f"{namespace}:{index}"))


def provision_companies(
    sandbox_base_url: str,
    n: int,
    currencies: Sequence[str] | None = None,
    *,
    api_key: str,
    namespace: str = "sample",
    transport: httpx.BaseTransport | None = None,
    platforms: Sequence[str] | None = None,
) -> list[ProvisionedCompany]:
    """Create ``n`` companies in the sandbox (idempotent per id) and read back what the mappings need.

    ``currencies`` gives each company's base currency (default GBP, USD, EUR, JPY, BHD repeated). Company
    ids are deterministic per ``namespace`` and position, so re-provisioning finds the same companies.
    """
    bases = list(currencies) if currencies is not None else company_currencies(n, DEFAULT_CURRENCIES)
    if len(bases) < n:
        bases = [bases[i % len(bases)] for i in range(n)]
    kinds = list(platforms) if platforms is not None else platforms_for(n, namespace)
    auth = "Basic " + base64.b64encode(api_key.encode()).decode()
    companies = []
    with httpx.Client(base_url=sandbox_base_url.rstrip("/"), timeout=30, transport=transport) as http:
        for index in range(n):
            name = f"{_NAMES[index % len(_NAMES)]} {index + 1:03d}"
            response = http.post("/admin/companies", json={
                "name": name, "baseCurrency": bases[index], "id": sample_company_id(index, namespace),
                "platform": kinds[index % len(kinds)]})
            if response.status_code != 200:
                raise ProvisioningError(f"the sandbox refused company {name!r}: HTTP {response.status_code}")
            created = response.json()
            company_id, connection_id = created["id"], created["connectionId"]
            reference = {
                data_type: _read_all(http, f"/companies/{company_id}/data/{data_type}", auth)
                for data_type in ("accounts", "taxRates", "trackingCategories")
            }
            mappings, rates = _mappings(company_id, reference, with_defaults=index % 2 == 1)
            companies.append(ProvisionedCompany(
                company_id=company_id, connection_id=connection_id, name=name,
                base_currency=created.get("baseCurrency", bases[index]), mappings=mappings, tax_rates=rates,
                platform=_platform_name(created, kinds[index % len(kinds)]),
            ))
    return companies


def _platform_name(created: dict[str, Any], asked: str) -> str:
    """The platform the sandbox put the connection on (an existing company keeps its own)."""
    connections = created.get("dataConnections") or [{}]
    return connections[0].get("platformName") or asked


def _read_all(http: httpx.Client, path: str, auth: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    page, page_size = 1, 2000
    while True:
        response = http.get(path, params={"page": page, "pageSize": page_size},
                            headers={"Authorization": auth})
        if response.status_code != 200:
            raise ProvisioningError(f"GET {path} answered HTTP {response.status_code}")
        body = response.json()
        results.extend(body.get("results", []))
        total = body.get("totalResults", len(results))
        if not body.get("results") or page * page_size >= total:
            return results
        page += 1


def _mappings(
    company_id: str, reference: dict[str, list[dict[str, Any]]], *, with_defaults: bool
) -> tuple[tuple[MappingRow, ...], dict[str, Decimal]]:
    accounts = {a.get("nominalCode"): a for a in reference["accounts"] if a.get("status") == "Active"}
    tax_rates = {t.get("code"): t for t in reference["taxRates"] if t.get("status") == "Active"}
    tracking = reference["trackingCategories"]
    by_id = {t.get("id"): t for t in tracking}

    def account(code: str) -> str:
        if code not in accounts:
            raise ProvisioningError(f"company {company_id} has no active account with nominal code {code}")
        return accounts[code]["id"]

    def tax_rate(code: str) -> dict[str, Any]:
        if code not in tax_rates:
            raise ProvisioningError(f"company {company_id} has no active tax rate {code}")
        return tax_rates[code]

    def leaf(parent_name: str, name: str) -> str:
        for t in tracking:
            parent = by_id.get(t.get("parentId"))
            under_parent = bool(parent) and parent.get("name") == parent_name
            if t.get("name") == name and under_parent and not t.get("hasChildren"):
                return t["id"]
        raise ProvisioningError(f"company {company_id} has no tracking category {parent_name}/{name}")

    rows = [MappingRow("income_account", code, account(nominal))
            for code, nominal in REVENUE_ACCOUNTS.items()]
    rows.append(MappingRow("fee_account", "*", account(FEE_ACCOUNT)))
    rows += [MappingRow("payment_account", method, account(nominal))
             for method, nominal in PAYMENT_ACCOUNTS.items()]
    rows.append(MappingRow("payment_account", "*", account(DEFAULT_PAYMENT_ACCOUNT)))
    rows += [MappingRow("tax_rate", code, tax_rate(platform)["id"]) for code, platform in TAX_RATES.items()]
    rows += [MappingRow("tracking_category", code, leaf(*names)) for code, names in TRACKING.items()]
    if with_defaults:
        rows.append(MappingRow("income_account", "*", account(DEFAULT_REVENUE_ACCOUNT)))
        rows.append(MappingRow("tax_rate", "*", tax_rate(DEFAULT_TAX_RATE)["id"]))
    rates = {code: Decimal(str(tax_rate(platform)["effectiveTaxRate"]))
             for code, platform in TAX_RATES.items()}
    return tuple(rows), rates
