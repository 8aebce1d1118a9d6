"""The read-back that resolves unknown outcomes must find *this* document, not a look-alike.

Codat's query language compares strings case-insensitively (CONTRACT §11.6), and the warehouse may hold
two invoices whose numbers differ only in case. When a push of one of them times out without writing,
the read-back must not mistake the other for it (that would record a document as pushed that the
platform does not hold: a lost document).
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from receivables.warehouse import io, schema
from tests.reliability.harness import assert_clean, build_world, check_invariants, close_world, run_day

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

        after = check_invariants(world, [DAY], expect_final=False)
        ledger = world.table("ar_push_ledger", company_id=company).set_index("source_id")
        assert ledger.loc["CASE-LOWER", "status"] != "success", (
            "the lower-case invoice was taken as pushed although the platform holds only CASE-0001")
        assert after.lost == 0 and after.duplicates == 0, after.problems

        world.sandbox.admin.age_idempotency(24 * 3600)  # the next night
        assert not run_day(world, DAY, world.codat_settings()).failures
        assert_clean(world, [DAY], "numbers differing only in case")
    finally:
        close_world(world)
