"""A backfill: day D synced after its customers changed again on a later day.

A customer belongs to the batch of the day it last changed. When day D runs late (a catch-up after an
outage, a rerun), a customer changed on D+1 is not in D's batch; D's invoices must not wait for it.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from tests.reliability.harness import assert_clean, build_world, close_world, run_day

DAY, NEXT_DAY = date(2026, 11, 20), date(2026, 11, 23)


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_backfilled_day_pushes_documents_whose_customer_changed_later(tmp_path, warehouse_settings):
    world = build_world(tmp_path, warehouse_settings, days=(DAY,), bad_row_fraction=0.0)
    try:
        customers = world.table("ar_customers")
        invoices = world.table("ar_invoices")
        used = set(zip(invoices["company_id"], invoices["customer_id"], strict=True))
        moved = customers[[k in used for k in zip(customers["company_id"], customers["customer_id"],
                                                  strict=True)]]
        table = sa.table("ar_customers", sa.column("company_id"), sa.column("customer_id"),
                         sa.column("email"), sa.column("updated_at"))
        with world.engine.begin() as conn:
            for row in moved.itertuples():
                conn.execute(sa.update(table).where(table.c.company_id == row.company_id,
                                                    table.c.customer_id == row.customer_id)
                             .values(email="changed@example.com", updated_at=datetime(2026, 11, 23, 9, 0)))
        assert len(moved) > 0

        day = run_day(world, DAY, world.codat_settings())
        assert not day.failures, day.failures
        counts = assert_clean(world, [DAY], "backfill, customers changed later")
        # The next day's run finds the customers already pushed and updates them (new email).
        assert not run_day(world, NEXT_DAY, world.codat_settings()).failures
        ledger = world.table("ar_push_ledger")
        customers_in_ledger = ledger[ledger["document_type"] == "customer"]
        assert (customers_in_ledger["status"] == "success").all()
        assert not customers_in_ledger.duplicated(["company_id", "source_id"]).any()
        assert counts.pushed > 0
    finally:
        close_world(world)
