"""``Scheduler(executor="celery")`` and the REST helpers the distributed-path test relies on (fast, no
Airflow).

A Celery setup that would silently use someone's default broker, or SQLite as shared metadata, is refused
before any process starts; pools are created on a fresh metadata database; a run's task instances and
its run id are read back for checking where and when tasks ran.
"""

from __future__ import annotations

import json

import httpx
import pytest

from local_stack.scheduler import WORKER_HOSTNAME_ENV, Scheduler, day_outcome, worker_hostname

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/rs_airflow_x"
BROKER = "redis://:br0ker-pass@127.0.0.1:6379/15"


def _fake_airflow(tmp_path, handler) -> Scheduler:
    """A Scheduler whose REST calls go to ``handler`` instead of a started API server."""
    scheduler = Scheduler({}, log_dir=tmp_path)
    scheduler._client = httpx.Client(base_url="http://airflow.test/api/v2",
                                     transport=httpx.MockTransport(handler))
    return scheduler


def test_an_unknown_executor_is_refused(tmp_path):
    with pytest.raises(ValueError, match="executor must be one of"):
        Scheduler({}, log_dir=tmp_path, executor="kubernetes")


def test_celery_without_a_broker_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(ValueError, match="AIRFLOW__CELERY__BROKER_URL"):
        Scheduler({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": PG}, log_dir=tmp_path / "logs", executor="celery")
    assert not (tmp_path / "logs").exists()


def test_celery_on_sqlite_metadata_is_refused(tmp_path):
    env = {"AIRFLOW__CELERY__BROKER_URL": BROKER, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/a.db"}
    with pytest.raises(ValueError, match="PostgreSQL") as error:
        Scheduler(env, log_dir=tmp_path, executor="celery")
    assert "br0ker-pass" not in str(error.value)


def test_each_celery_scheduler_names_its_worker_uniquely_and_hides_the_broker(tmp_path):
    env = {"AIRFLOW__CELERY__BROKER_URL": BROKER, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": PG}
    first = Scheduler(env, log_dir=tmp_path, executor="celery", worker_concurrency=3)
    second = Scheduler(env, log_dir=tmp_path, executor="celery")
    assert first.worker_hostname != second.worker_hostname
    assert first.worker_concurrency == 3
    assert "br0ker-pass" not in repr(first)


def test_tasks_report_the_worker_name_when_the_worker_set_one(monkeypatch):
    monkeypatch.setenv(WORKER_HOSTNAME_ENV, "rs-celery-1234.host")
    assert worker_hostname() == "rs-celery-1234.host"
    monkeypatch.delenv(WORKER_HOSTNAME_ENV)
    assert worker_hostname() and worker_hostname() != "rs-celery-1234.host"


def test_a_missing_pool_is_created_and_an_existing_one_resized(tmp_path):
    pools: dict[str, dict] = {}
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        name = request.url.path.rsplit("/", 1)[-1]
        if request.method == "GET":
            return httpx.Response(200, json=pools[name]) if name in pools else httpx.Response(404, json={})
        body = json.loads(request.content)
        pools[body["name"]] = body
        return httpx.Response(201 if request.method == "POST" else 200, json=body)

    airflow = _fake_airflow(tmp_path, handler)
    airflow.set_pool("accounting_api", 8, "Requests to the accounting API")
    airflow.set_pool("accounting_api", 4)
    assert calls == ["GET", "POST", "GET", "PATCH"]
    assert pools["accounting_api"]["slots"] == 4


def test_a_runs_task_instances_are_read_by_its_run_id(tmp_path):
    run = {"dag_run_id": "backfill__2026-11-21T00:00:00+00:00", "logical_date": "2026-11-20T00:00:00Z",
           "state": "success", "start_date": None, "end_date": None}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"task_instances": [{"task_id": "plan_run", "map_index": -1}],
                                         "total_entries": 1})

    outcome = day_outcome(run)
    assert outcome.run_id == run["dag_run_id"]
    instances = _fake_airflow(tmp_path, handler).task_instances("receivables_sync", outcome.run_id)
    assert instances == [{"task_id": "plan_run", "map_index": -1}]
    assert seen[0].startswith("/api/v2/dags/receivables_sync/dagRuns/"
                              "backfill__2026-11-21T00%3A00%3A00%2B00%3A00/")
