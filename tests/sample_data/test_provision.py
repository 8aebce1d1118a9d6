"""Provisioning sample companies in the sandbox and deriving the mapping screen from its reference data."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from tests.sample_data.fake_sandbox import API_KEY, FakeSandbox, fake_companies

from codat_sandbox import seed
from sample_data import ProvisioningError, provision_companies


def test_companies_get_mixed_currencies_and_mappings_to_the_seeded_records():
    companies = fake_companies(6)
    assert [c.base_currency for c in companies] == ["GBP", "USD", "EUR", "JPY", "BHD", "GBP"]
    first = companies[0]
    mapping = {(m.kind, m.source_code): m.platform_id for m in first.mappings}
    cid = first.company_id
    assert first.connection_id == seed.connection_id(cid)
    assert mapping[("income_account", "SALES")] == seed.stable_id(cid, "account:4000")
    assert mapping[("income_account", "SUBS")] == seed.stable_id(cid, "account:4020")
    assert mapping[("fee_account", "*")] == seed.stable_id(cid, "account:6100")
    assert mapping[("payment_account", "card")] == seed.stable_id(cid, "account:1210")
    assert mapping[("payment_account", "*")] == seed.stable_id(cid, "account:1200")
    assert mapping[("tax_rate", "STD")] == seed.stable_id(cid, "taxRate:STANDARD")
    assert mapping[("tracking_category", "HW")] == seed.stable_id(cid, "tracking:PRODUCT-HARDWARE")
    assert first.tax_rates == {"STD": Decimal(20), "RED": Decimal(5), "ZERO": Decimal(0), "CMP": Decimal(21)}
    # Every other company has "*" defaults for revenue and tax codes; fees and payments always have one.
    assert [c.has_default("tax_rate") for c in companies[:4]] == [False, True, False, True]
    assert [c.has_default("income_account") for c in companies[:4]] == [False, True, False, True]
    assert all(c.has_default("fee_account") and c.has_default("payment_account") for c in companies)


def test_company_ids_are_deterministic_per_namespace():
    assert [c.company_id for c in fake_companies(2, namespace="a")] == [
        c.company_id for c in fake_companies(2, namespace="a")]
    assert fake_companies(1, namespace="a")[0].company_id != fake_companies(1, namespace="b")[0].company_id


def test_reference_reads_use_basic_auth_and_fail_loudly():
    fake = FakeSandbox()
    with pytest.raises(ProvisioningError, match="401"):
        provision_companies("http://sandbox.invalid", 1, api_key="wrong", transport=httpx.MockTransport(fake))
    provision_companies("http://sandbox.invalid", 1, api_key=API_KEY, transport=httpx.MockTransport(fake))
    reads = [r for r in fake.requests if r.method == "GET"]
    assert reads and all(r.url.params["pageSize"] == "2000" for r in reads)


def test_missing_reference_data_is_a_provisioning_error():
    fake = FakeSandbox()

    def without_fee_account(request: httpx.Request) -> httpx.Response:
        response = fake(request)
        if request.url.path.endswith("/data/accounts"):
            body = response.json()
            body["results"] = [a for a in body["results"] if a["nominalCode"] != "6100"]
            return httpx.Response(200, json=body)
        return response

    with pytest.raises(ProvisioningError, match="6100"):
        provision_companies("http://sandbox.invalid", 1, api_key=API_KEY,
                            transport=httpx.MockTransport(without_fee_account))


@pytest.mark.slow
def test_provisioning_against_a_real_sandbox(sandbox):
    companies = provision_companies(sandbox.base_url, 2, ["JPY", "BHD"], api_key=sandbox.api_key,
                                    namespace="real")
    assert [c.base_currency for c in companies] == ["JPY", "BHD"]
    with sandbox.client() as http:
        for company in companies:
            accounts = {a["id"]: a for a in http.get(f"/companies/{company.company_id}/data/accounts",
                                                     params={"page": 1, "pageSize": 2000}).json()["results"]}
            for m in company.mappings:
                if m.kind in ("income_account", "fee_account", "payment_account"):
                    assert accounts[m.platform_id]["status"] == "Active"
            income = {m.platform_id for m in company.mappings if m.kind == "income_account"}
            assert {accounts[i]["type"] for i in income} == {"Income"}
            payment = {m.platform_id for m in company.mappings if m.kind == "payment_account"}
            assert all(accounts[p]["isBankAccount"] for p in payment)
    # Provisioning again finds the same companies instead of creating new ones.
    again = provision_companies(sandbox.base_url, 2, ["JPY", "BHD"], api_key=sandbox.api_key,
                                namespace="real")
    assert [c.company_id for c in again] == [c.company_id for c in companies]
