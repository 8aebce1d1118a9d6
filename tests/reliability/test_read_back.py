"""The read-back that resolves unknown outcomes must find *this* document, not a look-alike.

Codat's query language compares strings case-insensitively (CONTRACT §11.6). Two source invoices whose
numbers differ only in case are therefore refused at validation (the platform could not tell them
apart); and the read-back itself takes only an exact match, so a look-alike created outside the
pipeline is never mistaken for the document (that would record as pushed what the platform does not
hold: a lost document).
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from receivables.warehouse import io, schema
from tests.reliability.harness import build_world, check_invariants, close_world, run_day

DAY = date(2026, 11, 20)
T = schema.metadata.tables


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_read_back_does_not_take_a_number_differing_in_case_for_the_document(tmp_path, warehouse_settings):
    world = build_world(tmp_path, warehouse_settings, days=(DAY,), companies=1, bad_row_fraction=0.0)
    try:
        company = world.companies[0].company_id
        invoices = world.table("ar_invoices", company_id=company)
        lines = world.table("ar_invoice_lines", company_id=company)
        template = invoices.sort_values("invoice_id").iloc[0]
        template_lines = lines[lines["invoice_id"] == template["invoice_id"]]

        def add(invoice_id: str, number: str, hour: int) -> None:
            io.write_frame(world.engine, T["ar_invoices"], pd.DataFrame([{
                **template.to_dict(), "invoice_id": invoice_id, "invoice_number": number,
                "updated_at": datetime(2026, 11, 20, hour)}]))
            io.write_frame(world.engine, T["ar_invoice_lines"], template_lines.assign(invoice_id=invoice_id))

        add("CASE-UPPER", "CASE-0001", 10)
        assert not run_day(world, DAY, world.codat_settings()).failures
        add("CASE-LOWER", "case-0001", 11)
        world.sandbox.admin.set_faults(timeout_no_write_rate=1.0, methods=["POST"], data_types=["invoices"])
        run_day(world, DAY, world.codat_settings())
        world.sandbox.admin.clear_faults()

        rejects = world.table("ar_rejects", company_id=company).set_index("source_id")
        assert rejects.loc["CASE-LOWER", "rule"] == "duplicate_document_number"
        ledger = world.table("ar_push_ledger", company_id=company)
        assert "CASE-LOWER" not in set(ledger["source_id"]), "a refused document must never be pushed"
        after = check_invariants(world, [DAY], expect_final=False)
        assert after.lost == 0 and after.duplicates == 0, after.problems
    finally:
        close_world(world)


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_read_back_takes_only_an_exact_number(tmp_path, warehouse_settings):
    import asyncio

    from receivables.codat.client import AsyncCodatClient
    from receivables.push import read_back_by_number

    world = build_world(tmp_path, warehouse_settings, days=(DAY,), companies=1, bad_row_fraction=0.0)
    try:
        company = world.companies[0].company_id
        world.sandbox.admin.insert_record(company, "invoices",
                                          {"invoiceNumber": "CASE-0001", "status": "Submitted"})

        async def look(numbers):
            async with AsyncCodatClient(world.codat_settings()) as client:
                return await read_back_by_number(client, company, "invoice", numbers)

        assert asyncio.run(look(["case-0001"])) == {}
        found = asyncio.run(look(["CASE-0001"]))
        assert [r["invoiceNumber"] for r in found["CASE-0001"]] == ["CASE-0001"]
    finally:
        close_world(world)
