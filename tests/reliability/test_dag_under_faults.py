"""The one fault test that goes through Airflow: ``receivables_sync`` (``dag.test``) while the API answers
503s and lets push operations time out (the writes landing anyway), then a clean rerun of the same day.
"""

from __future__ import annotations

import base64
import logging

import pytest

from tests.reliability.harness import CapturedText, World, assert_clean, check_invariants

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


@pytest.mark.parametrize("e2e_stack", [{"companies": 1, "invoices_per_day": 6}], indirect=True)
@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_dag_run_under_faults_then_clean_rerun(e2e_stack):
    stack = e2e_stack
    day = stack.days[0]
    world = World(sandbox=stack.sandbox, engine=stack.engine, companies=stack.companies,
                  manifest=stack.manifest, days=(day,), report_dir=stack.report_dir)
    assert stack.run_dag("receivables_reference_data").state == "success"
    pipeline_log, codat_log = logging.getLogger("receivables"), logging.getLogger("receivables.codat")
    captured = CapturedText()
    previous_level = pipeline_log.level
    pipeline_log.setLevel(logging.DEBUG)
    pipeline_log.addHandler(captured)
    codat_log.addHandler(world.retry_counter)
    try:
        _faulty_then_clean(stack, world, day)
    finally:
        codat_log.removeHandler(world.retry_counter)
        pipeline_log.removeHandler(captured)
        pipeline_log.setLevel(previous_level)
    # What the tasks logged in both runs carries retries and errors, never the API key.
    key = stack.sandbox.api_key
    assert "retrying" in captured.text
    assert key not in captured.text and base64.b64encode(key.encode()).decode() not in captured.text


def _faulty_then_clean(stack, world, day):
    stack.sandbox.admin.set_faults(rate_503=0.3, timeout_rate=0.5, methods=["POST"], seed=4)
    stack.run_sync(day)
    stack.sandbox.admin.clear_faults()
    after = check_invariants(world, [day], expect_final=False)
    assert after.duplicates == 0, after.problems
    stats = stack.sandbox.admin.stats()["requestsByStatus"]
    assert any(route.endswith(" 503") for route in stats), "the fault did not fire"

    assert stack.run_sync(day).state == "success"
    counts = assert_clean(world, [day], "Airflow DAG under 503s and TimedOut")
    assert counts.pushed > 0
