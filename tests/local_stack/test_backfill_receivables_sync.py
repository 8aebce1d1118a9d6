"""`make backfill` on the real DAG: days that never ran end as a nightly run would leave them, and a
backfill over days that already synced pushes nothing and leaves identical reports.

Runs Airflow's own backfill (scheduler + API server + dag-processor, LocalExecutor) in a throwaway
AIRFLOW_HOME against the e2e stack (sandbox + SQLite warehouse + sample data).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.fixtures.airflow_env import copy_migrated_db

from local_stack.scheduler import Scheduler

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.airflow]


def _airflow_env(tmp_path: Path) -> dict[str, str]:
    """A throwaway AIRFLOW_HOME whose metadata DB is a copy of the session's freshly migrated one."""
    metadata = copy_migrated_db(tmp_path / "airflow" / "airflow.db")
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{metadata}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": os.pathsep.join([str(REPO / "include"), str(REPO / "plugins"), str(REPO)]),
    })
    return env


# One company keeps the four scheduled runs short; the per-company fan-out is covered elsewhere.
@pytest.mark.parametrize("e2e_stack", [{"companies": 1}], indirect=True)
@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_backfill_syncs_days_like_nightly_runs_and_repeats_without_pushing(e2e_stack, tmp_path):
    stack = e2e_stack
    first_day, last_day = (d.isoformat() for d in stack.days)
    lines: list[str] = []

    # Migrated already (the copy): `migrate=True` is covered by tests/local_stack/test_scheduler.py.
    with Scheduler(_airflow_env(tmp_path), log_dir=tmp_path / "logs", migrate=False) as airflow:
        airflow.set_pool("accounting_api", 8, "Requests to the accounting API")

        outcomes = airflow.backfill("receivables_sync", first_day, last_day, report=lines.append)
        assert [(o.day, o.state) for o in outcomes] == [(first_day, "success"), (last_day, "success")], lines

        # What a nightly run leaves behind: every valid document pushed once, the rest rejected, and a
        # report per day that matches the platform.
        ledger = stack.table("ar_push_ledger")
        assert (ledger["status"] == "success").all()
        stack.assert_one_platform_invoice_per_pushed_invoice()
        for day in stack.days:
            assert set(stack.report_rows(day)["outcome"]) <= {"matched", "rejected"}
            assert (stack.report_dir / day.isoformat() / "reconciliation.html").exists()
        posts = stack.post_count()
        reports = [stack.report_rows(day) for day in stack.days]

        again = airflow.backfill("receivables_sync", first_day, last_day, report=lines.append)
        assert [o.state for o in again] == ["success", "success"], lines

    assert stack.post_count() == posts, "a backfill over synced days must push nothing"
    for day, before in zip(stack.days, reports, strict=True):
        assert stack.report_rows(day).equals(before)
    assert len(stack.table("ar_push_ledger")) == len(ledger)
