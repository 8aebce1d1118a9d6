"""receivables_reference_data through Airflow: one company's broken connection fails only its own task."""

from __future__ import annotations

import pandas as pd
import pytest

from receivables.warehouse import io, schema

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_a_broken_company_fails_alone_and_the_others_complete(e2e_stack):
    stack = e2e_stack
    ghost = {"company_id": "00000000-0000-0000-0000-0000000000aa",
             "connection_id": "00000000-0000-0000-0000-0000000000bb",
             "name": "Ghost Ltd", "base_currency": "GBP", "active": True}
    io.write_frame(stack.engine, schema.metadata.tables["ar_companies"], pd.DataFrame([ghost]), mode="append")

    run = stack.run_dag("receivables_reference_data")

    assert run.state == "failed", "a company whose connection fails must fail the run loudly"
    accounts = stack.table("ar_ref_accounts")
    assert set(accounts["company_id"]) == {c.company_id for c in stack.companies}
    issues = stack.table("ar_mapping_issues")
    assert issues.empty, issues[["company_id", "kind", "source_code", "message"]]
