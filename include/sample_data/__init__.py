"""Deterministic sample receivables for the demo, the tests and the benchmarks.

    >>> companies = provision_companies(sandbox_url, 5, api_key=key)     # companies + mappings
    >>> manifest = write_sample(engine, SampleSpec(companies=5, invoices_per_day=100), companies)
    >>> manifest.bad_rows[0]
    BadRow(document_type='invoice', company_id='…', source_id='INV-0000101', rule='unknown_customer')

Command line: ``python -m sample_data --warehouse-url URL --sandbox-url URL --companies N
--days 2026-11-20:2026-11-22 --invoices-per-day N [--bad-rows 0.02] [--seed 7]``.
"""

from sample_data.generate import generate_days, generate_sample
from sample_data.provision import MappingRow, ProvisionedCompany, ProvisioningError, provision_companies
from sample_data.spec import BAD_ROW_RULES, BadRow, SampleManifest, SampleSpec
from sample_data.write import company_rows, write_sample

__all__ = [
    "BAD_ROW_RULES",
    "BadRow",
    "MappingRow",
    "ProvisionedCompany",
    "ProvisioningError",
    "SampleManifest",
    "SampleSpec",
    "company_rows",
    "generate_days",
    "generate_sample",
    "provision_companies",
    "write_sample",
]
