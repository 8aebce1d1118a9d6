"""Write generated sample data into the warehouse's input tables, day by day, through bulk writes."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy.engine import Engine

from receivables.warehouse import create_input_tables, write_frame
from receivables.warehouse.schema import INPUT_TABLES, ar_companies, ar_customers, ar_mappings
from sample_data.generate import CompanyGenerator
from sample_data.provision import ProvisionedCompany
from sample_data.spec import SampleManifest, SampleSpec

_FLUSH_ROWS = 300_000
_TABLES = {t.name: t for t in INPUT_TABLES}
# Written in this order each day so that a reader never sees a line before its document.
_ORDER = ("ar_customers", "ar_invoices", "ar_invoice_lines", "ar_credit_notes", "ar_credit_note_lines",
          "ar_credit_note_allocations", "ar_payments", "ar_payment_allocations")


def company_rows(companies: Sequence[ProvisionedCompany]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``ar_companies`` and ``ar_mappings`` rows for provisioned companies."""
    company_frame = pd.DataFrame({
        "company_id": [c.company_id for c in companies],
        "connection_id": [c.connection_id for c in companies],
        "name": [c.name for c in companies],
        "base_currency": [c.base_currency for c in companies],
        "active": [True] * len(companies),
    })
    mapping_frame = pd.DataFrame(
        [(c.company_id, m.kind, m.source_code, m.platform_id) for c in companies for m in c.mappings],
        columns=["company_id", "kind", "source_code", "platform_id"],
    )
    return company_frame, mapping_frame


def write_sample(engine: Engine, spec: SampleSpec, companies: Sequence[ProvisionedCompany]) -> SampleManifest:
    """Generate ``spec`` for ``companies`` and write every input table (created first when missing).

    Companies and mappings are upserted; customers too (a changed customer replaces its row, as in the
    data team's tables); documents are appended, so write a spec's days into a warehouse only once.
    Rows go out in batches of about ``_FLUSH_ROWS`` so memory stays bounded at the benchmark size.
    """
    if len(companies) < spec.companies:
        raise ValueError(f"the spec asks for {spec.companies} companies, {len(companies)} were provisioned")
    companies = list(companies)[: spec.companies]
    create_input_tables(engine)
    manifest = SampleManifest(row_counts={name: 0 for name in ("ar_companies", "ar_mappings", *_ORDER)})
    company_frame, mapping_frame = company_rows(companies)
    manifest.row_counts["ar_companies"] = write_frame(engine, ar_companies, company_frame, mode="upsert")
    manifest.row_counts["ar_mappings"] = write_frame(engine, ar_mappings, mapping_frame, mode="upsert")
    generators = [CompanyGenerator(spec, company, position) for position, company in enumerate(companies)]
    for index, day in enumerate(spec.business_days):
        pending: dict[str, list[pd.DataFrame]] = {}
        pending_rows = 0
        for generator in generators:
            produced = generator.day(day, first_day=index == 0)
            manifest.bad_rows.extend(produced.bad_rows)
            for name, frames in produced.tables.items():
                pending.setdefault(name, []).extend(frames)
                pending_rows += sum(len(f) for f in frames)
            if pending_rows >= _FLUSH_ROWS:
                _flush(engine, pending, manifest)
                pending, pending_rows = {}, 0
        _flush(engine, pending, manifest)
    return manifest


def _flush(engine: Engine, pending: dict[str, list[pd.DataFrame]], manifest: SampleManifest) -> None:
    for name in _ORDER:
        frames = pending.get(name)
        if not frames:
            continue
        frame = pd.concat(frames, ignore_index=True)
        if name == "ar_customers":
            frame = frame.drop_duplicates(["company_id", "customer_id"], keep="last")
            manifest.row_counts[name] += write_frame(engine, ar_customers, frame, mode="upsert")
        else:
            manifest.row_counts[name] += write_frame(engine, _TABLES[name], frame)
