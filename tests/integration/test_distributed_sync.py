"""receivables_sync on the distributed path: a real scheduler, the CeleryExecutor, a Celery worker on Redis.

The same business day is synced twice, from identical starting points: once through Airflow as it runs
in production (API server, DAG processor, scheduler with the CeleryExecutor, ``airflow celery worker``
with three processes, PostgreSQL metadata, the local Redis as broker), once in-process with
``dag.test()``. What a user would notice: the run succeeds, the companies' tasks really ran on the
Celery worker and side by side, and the warehouse ends in the same state either way — the same ledger
statuses, the same rejects with the same rules, the same reconciliation outcomes per document.

Both stacks use one sample-data namespace and seed, so company ids and source documents are identical;
platform ids (each sandbox assigns its own) are left out of the comparison. The warehouses are
PostgreSQL schemas: on the distributed path several task processes write to the warehouse at once.
Needs PostgreSQL and Redis on 127.0.0.1 (skipped without them, failed under ``CI``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from tests.fixtures.airflow_env import Stack, _warehouse_conn
from tests.fixtures.warehouse import pg_schema

from local_stack.scheduler import DayOutcome, Scheduler

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "receivables_sync"
DAY = date(2026, 11, 20)
COMPANIES = 3
NAMESPACE = "distributed-path"
API_POOL = ("accounting_api", 8, "Requests to the accounting API")
# A real platform takes seconds to settle a push; here too, so each company's sync lasts long enough for
# companies running side by side to be visible next to the task processes' start-up time.
PUSH_DELAY_MS = 500
PER_COMPANY_TASKS = ("company.refresh_reference", "company.sync_company", "company.reconcile_company")

LEDGER = ["company_id", "document_type", "source_id", "document_number", "currency", "source_total",
          "operation", "status", "business_date"]
REJECTS = ["business_date", "company_id", "document_type", "source_id", "rule", "message"]
RECONCILIATION = ["report_date", "company_id", "document_type", "document_key", "source_id",
                  "document_number",
                  "currency", "source_total", "platform_total", "source_amount_due", "platform_amount_due",
                  "difference", "outcome", "reason", "aging_bucket", "action"]
SUMMARY = ["report_date", "company_id", "outcome", "currency", "document_count", "source_amount",
           "platform_amount", "difference"]


# -- building two identical stacks -----------------------------------------------------------------------

def _build_stack(root: Path, settings) -> Stack:
    """A sandbox and a PostgreSQL warehouse with the namespace's companies and the day's sample data."""
    from tests.fixtures.sandbox import start_sandbox

    from receivables.warehouse import create_warehouse_engine, migrate
    from sample_data import SampleSpec, provision_companies, write_sample

    sandbox = start_sandbox(root / "sandbox", push_delay_ms=PUSH_DELAY_MS)
    engine = create_warehouse_engine(settings)
    try:
        migrate(engine)
        companies = provision_companies(sandbox.base_url, COMPANIES, api_key=sandbox.api_key,
                                        namespace=NAMESPACE)
        spec = SampleSpec(companies=COMPANIES, business_days=(DAY,), invoices_per_day=3,
                          bad_row_fraction=0.25, seed=11)
        manifest = write_sample(engine, spec, companies)
    except BaseException:
        engine.dispose()
        sandbox.stop()
        raise
    return Stack(sandbox=sandbox, engine=engine, companies=companies, manifest=manifest, days=(DAY,),
                 warehouse_conn=_warehouse_conn(settings), report_dir=root / "reports")


def _connections(stack: Stack) -> dict[str, str]:
    """The two Airflow connections (and the report folder) that point the DAG at ``stack``."""
    return {
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps(stack.warehouse_conn),
        "AIRFLOW_CONN_CODAT_DEFAULT": json.dumps(
            {"conn_type": "http", "host": stack.sandbox.base_url, "password": stack.sandbox.api_key,
             "extra": {"settle_deadline_seconds": 30, "retry_deadline_seconds": 30}}),
        "RS_REPORT_DIR": str(stack.report_dir),
    }


@pytest.fixture
def two_stacks(tmp_path: Path, pg_database_url: str) -> Iterator[tuple[Stack, Stack]]:
    """Two identical stacks: one for the Celery path, one for the ``dag.test()`` path."""
    schemas = [pg_schema(pg_database_url) for _ in range(2)]
    stacks: list[Stack] = []
    try:
        for name, schema in zip(("celery", "dag_test"), schemas, strict=True):
            stacks.append(_build_stack(tmp_path / name, next(schema)))
        yield stacks[0], stacks[1]
    finally:
        for stack in stacks:
            stack.engine.dispose()
            stack.sandbox.stop()
        for schema in schemas:
            schema.close()


def _airflow_env(home: Path, metadata_url: str, broker_url: str, stack: Stack) -> dict[str, str]:
    """Environment of every Airflow process: a temporary home, the repository's DAGs, Celery on Redis."""
    result_backend = "db+" + sa.make_url(metadata_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    env = {key: value
           for key, value in os.environ.items() if not key.startswith(("AIRFLOW_CONN_", "AIRFLOW__"))}
    env.update(_connections(stack))
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "PYTHONPATH": os.pathsep.join(str(path) for path in (REPO / "include", REPO / "plugins", REPO)),
    })
    return env


# -- reading the end state -------------------------------------------------------------------------------

def _end_state(stack: Stack) -> dict[str, pd.DataFrame]:
    """What the day left in the warehouse, by document keys only (no platform ids, run ids or timestamps)."""
    wanted = {"ar_push_ledger": LEDGER, "ar_rejects": REJECTS, "ar_reconciliation": RECONCILIATION,
              "ar_reconciliation_summary": SUMMARY}
    state = {}
    for table, columns in wanted.items():
        frame = stack.table(table)[columns].astype(str)
        state[table] = frame.sort_values(columns).reset_index(drop=True)
    return state


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _overlapping_companies(instances: list[dict]) -> list[tuple[str, int, int]]:
    """Pairs of per-company task instances of different companies that were running at the same time."""
    found = []
    for a, b in combinations(instances, 2):
        if a["map_index"] != b["map_index"] and _when(a["start_date"]) < _when(b["end_date"]) \
                and _when(b["start_date"]) < _when(a["end_date"]):
            found.append((a["task_id"], a["map_index"], b["map_index"]))
    return found


def _celery_results(metadata_url: str, run_id: str) -> dict[tuple[str, int], tuple[str | None, str | None]]:
    """Per task instance of the run: the Celery task id it was sent as and that task's result status."""
    engine = sa.create_engine(metadata_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT ti.task_id, ti.map_index, ti.external_executor_id, meta.status "
                "FROM task_instance ti LEFT JOIN celery_taskmeta meta ON meta.task_id = "
                "ti.external_executor_id "
                "WHERE ti.dag_id = :dag AND ti.run_id = :run"), {"dag": DAG_ID, "run": run_id}).all()
    finally:
        engine.dispose()
    return {(row.task_id, row.map_index): (row.external_executor_id, row.status) for row in rows}


# -- the test ----------------------------------------------------------------------------------------------

@dataclass
class CeleryRun:
    """What the real scheduler and Celery worker did with the day: its outcome and its task instances."""

    outcomes: list[DayOutcome]
    instances: list[dict]
    worker_hostname: str


def _run_on_celery(env: dict[str, str], log_dir: Path) -> CeleryRun:
    """Start Airflow with the CeleryExecutor and a worker, backfill the one day, stop everything."""
    with Scheduler(env, log_dir=log_dir, executor="celery", worker_concurrency=COMPANIES) as airflow:
        airflow.set_pool(*API_POOL)
        outcomes = airflow.backfill(DAG_ID, DAY.isoformat(), DAY.isoformat(), timeout_s=240,
                                    report=lambda _: None)
        instances = airflow.task_instances(DAG_ID, outcomes[0].run_id) if outcomes else []
        return CeleryRun(outcomes=outcomes, instances=instances, worker_hostname=airflow.worker_hostname)


def test_celery_worker_runs_companies_in_parallel_and_ends_like_dag_test(
        two_stacks, tmp_path, airflow_metadata_url, redis_broker_url, airflow_db, monkeypatch):
    distributed, reference = two_stacks
    env = _airflow_env(tmp_path / "airflow_home", airflow_metadata_url, redis_broker_url, distributed)
    log_dir = tmp_path / "airflow_logs"

    # Airflow starts and runs the day in a thread while the dag.test() path runs here: the two share
    # nothing (separate sandboxes, warehouse schemas, metadata databases), and waiting for one Airflow
    # start is most of the test's time.
    for key, value in _connections(reference).items():
        monkeypatch.setenv(key, value)
    with ThreadPoolExecutor(max_workers=1) as background:
        celery_run = background.submit(_run_on_celery, env, log_dir)
        dag_test_state = reference.run_sync(DAY).state
        run = celery_run.result()
    assert dag_test_state == "success"
    assert [(o.day, o.state) for o in run.outcomes] == [(DAY.isoformat(), "success")], f"logs in {log_dir}"

    # Every task ran, and ran on the Celery worker: it reported each one under its own host name, each
    # was sent as a Celery task the worker logged, and the result backend recorded that task's success.
    instances = run.instances
    assert instances and all(ti["state"] == "success" for ti in instances), \
        [(ti["task_id"], ti["map_index"], ti["state"]) for ti in instances]
    assert {ti["hostname"] for ti in instances} == {run.worker_hostname}
    per_company = [ti for ti in instances if ti["task_id"] in PER_COMPANY_TASKS]
    assert sorted((ti["task_id"], ti["map_index"]) for ti in per_company) == sorted(
        (task, index) for task in PER_COMPANY_TASKS for index in range(COMPANIES))
    celery = _celery_results(airflow_metadata_url, run.outcomes[0].run_id)
    worker_log = (log_dir / "celery-worker.log").read_text(errors="replace")
    for ti in instances:
        celery_id, status = celery[(ti["task_id"], ti["map_index"])]
        assert celery_id and status == "SUCCESS", (ti["task_id"], ti["map_index"], celery_id, status)
        assert f"[{celery_id}] Executing workload in Celery" in worker_log, (ti["task_id"], ti["map_index"])

    # Companies were processed side by side, not one after another.
    assert _overlapping_companies(per_company), [(ti["task_id"], ti["map_index"], ti["start_date"],
                                                  ti["end_date"]) for ti in per_company]

    # The same day through dag.test() on the identical second stack ended in the same warehouse state.
    celery_state, dag_test_state = _end_state(distributed), _end_state(reference)
    ledger = celery_state["ar_push_ledger"]
    assert set(ledger["company_id"]) == {company.company_id for company in distributed.companies}
    assert (ledger["status"] == "success").all() and len(celery_state["ar_rejects"]) > 0
    assert set(celery_state["ar_reconciliation"]["outcome"]) >= {"matched", "rejected"}
    for table, frame in celery_state.items():
        pd.testing.assert_frame_equal(frame, dag_test_state[table], obj=table)
