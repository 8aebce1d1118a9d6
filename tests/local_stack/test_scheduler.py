"""`make backfill` runs Airflow's own backfill: real scheduler, API server and DAG processor, then stops them.

The slow tests share one throwaway AIRFLOW_HOME (never the repository's) with a tiny DAG whose task
records each day it runs and fails on the days listed in ``RS_TEST_FAIL_DAYS``. Two backfills run there:
three clean days, then a range over days that already ran with one failing day.
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import textwrap
from pathlib import Path

import httpx
import psutil
import pytest
from tests.fixtures.airflow_env import copy_migrated_db

from local_stack.scheduler import AirflowStackError, DayOutcome, Scheduler, day_outcome, run_backfill

TINY_DAG = textwrap.dedent('''
    import gc
    import os
    import sys

    import pendulum
    from airflow.sdk import DAG, task

    with DAG(dag_id="rs_tiny", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             catchup=False, max_active_runs=1, default_args={"retries": 0}) as dag:

        @task
        def book_day(ds=None):
            with open(os.environ["RS_TEST_MARKER"], "a") as marker:
                marker.write(ds + "\\n")
            # Was the pipeline already imported when this task process began (forked from a warm worker)?
            with open(os.environ["RS_TEST_MARKER"] + ".warm", "a") as warm:
                warm.write(f"{ds} {'receivables.preload' in sys.modules} {'pandas' in sys.modules} "
                           f"{gc.get_freeze_count() > 50_000}\\n")
            if ds in os.environ.get("RS_TEST_FAIL_DAYS", "").split(","):
                raise RuntimeError(f"planned failure on {ds}")

        book_day()
''')


def _airflow_processes(home: Path) -> list[psutil.Process]:
    """Processes (of any name) running with this AIRFLOW_HOME, i.e. started for the backfill."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get("AIRFLOW_HOME") == str(home):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


# Session-scoped, not module-scoped: the two backfills are this file's whole cost (a minute), and a
# worker that runs another module's test between two of these would tear a module fixture down and run
# both backfills again. They leave only files behind. (tests/conftest.py keeps this file on one worker.)
@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("backfill")
    (root / "dags").mkdir()
    (root / "plugins").mkdir()
    (root / "dags" / "rs_tiny.py").write_text(TINY_DAG)
    home = root / "airflow_home"
    # Initialised like `make airflow-init` leaves it (a copy of the session's migrated DB); the first
    # backfill still runs `airflow db migrate` on it, as `make backfill` does.
    copy_migrated_db(home / "airflow.db")
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "RS_TEST_MARKER": str(root / "days.txt"),
    })
    return {"root": root, "home": home, "env": env}


def _backfill(stack, start: str, end: str, *, fail_days: str = "", migrate: bool = True) -> tuple[int, str]:
    env = dict(stack["env"], RS_TEST_FAIL_DAYS=fail_days)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_backfill("rs_tiny", start, end, env, log_dir=stack["root"] / "logs", timeout_s=300,
                            migrate=migrate)
    return code, out.getvalue()


@pytest.fixture(scope="session")
def first_backfill(stack):
    return _backfill(stack, "2026-01-01", "2026-01-03")


@pytest.fixture(scope="session")
def second_backfill(stack, first_backfill):
    """Days 2 and 3 again (both already succeeded); day 3 fails this time. The first one migrated."""
    return _backfill(stack, "2026-01-02", "2026-01-03", fail_days="2026-01-03", migrate=False)


def _days_run(stack) -> list[str]:
    return (stack["root"] / "days.txt").read_text().split()


@pytest.mark.slow
def test_backfill_runs_every_day_in_date_order_and_returns_0(stack, first_backfill):
    code, output = first_backfill
    assert code == 0, output
    assert _days_run(stack)[:3] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    day_lines = [line.strip() for line in output.splitlines() if line.strip().startswith("2026-")]
    assert [line.split(":")[0] for line in day_lines] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert all(": success in " in line for line in day_lines)


@pytest.mark.slow
def test_days_that_already_ran_run_again_and_a_failed_day_returns_nonzero(stack, second_backfill):
    code, output = second_backfill
    assert code != 0
    # Both days had succeeded before; with reprocess "completed" they run again, in order.
    assert _days_run(stack)[3:] == ["2026-01-02", "2026-01-03"]
    assert "2026-01-02: success" in output
    assert "2026-01-03: failed" in output
    assert "1 of 2 days failed: 2026-01-03" in output


@pytest.mark.slow
def test_each_task_process_starts_with_the_pipeline_already_imported(stack, first_backfill):
    """The LocalExecutor's workers come from a forkserver that preloaded receivables.preload, so a task
    (whose DAG file imports nothing of ours) finds pandas and the pipeline loaded without importing them,
    and frozen out of its collector's walks."""
    lines = (stack["root"] / "days.txt.warm").read_text().splitlines()
    assert lines and all(line.split()[1:] == ["True", "True", "True"] for line in lines), lines


@pytest.mark.slow
def test_no_airflow_process_is_left_behind(stack, first_backfill, second_backfill):
    assert _airflow_processes(stack["home"]) == []


@pytest.mark.slow
def test_the_dag_is_left_paused_as_it_was(stack, first_backfill, second_backfill):
    # New DAGs start paused; the backfill unpauses it only while it runs.
    with contextlib.closing(sqlite3.connect(stack["home"] / "airflow.db")) as db:
        assert db.execute("SELECT is_paused FROM dag WHERE dag_id = 'rs_tiny'").fetchone() == (1,)


def test_a_day_is_labelled_by_its_logical_date_with_the_run_duration():
    outcome = day_outcome({"logical_date": "2026-11-18T00:00:00Z", "state": "success",
                           "start_date": "2026-11-19T01:00:00Z", "end_date": "2026-11-19T01:02:30.5Z"})
    assert outcome == DayOutcome(day="2026-11-18", state="success", seconds=150.5)
    assert outcome.succeeded
    assert outcome.line() == "  2026-11-18: success in 150.5s"


def test_a_run_that_never_started_has_no_duration():
    outcome = day_outcome({"logical_date": "2026-11-18T00:00:00+00:00", "state": "failed",
                           "start_date": None, "end_date": "2026-11-19T01:00:00Z"})
    assert not outcome.succeeded
    assert outcome.line() == "  2026-11-18: failed"


def test_an_inverted_range_is_refused_before_starting_airflow(tmp_path, capsys):
    assert run_backfill("rs_tiny", "2026-01-03", "2026-01-01", {}, log_dir=tmp_path / "logs") == 2
    assert "2026-01-03 is after 2026-01-01" in capsys.readouterr().out
    assert not (tmp_path / "logs").exists()


def test_an_unknown_reprocess_behaviour_is_refused(tmp_path):
    with pytest.raises(ValueError, match="reprocess"):
        Scheduler({}, log_dir=tmp_path).backfill("rs_tiny", "2026-01-01", "2026-01-02", reprocess="all")


def test_the_scheduler_repr_hides_its_secrets(tmp_path):
    scheduler = Scheduler({"AIRFLOW__API_AUTH__JWT_SECRET": "s3cret-value"}, log_dir=tmp_path)
    assert "s3cret" not in repr(scheduler)


def _fake_airflow(tmp_path, handler) -> Scheduler:
    """A Scheduler whose REST calls go to ``handler`` instead of a started API server."""
    scheduler = Scheduler({}, log_dir=tmp_path)
    scheduler._client = httpx.Client(base_url="http://airflow.test/api/v2",
                                     transport=httpx.MockTransport(handler))
    return scheduler


def test_a_task_pool_that_does_not_exist_stops_the_backfill_before_it_starts(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tasks"):
            return httpx.Response(200, json={"tasks": [{"task_id": "push", "pool": "accounting_api"},
                                                       {"task_id": "plan", "pool": "default_pool"}]})
        if request.url.path.endswith("/pools/default_pool"):
            return httpx.Response(200, json={"name": "default_pool"})
        return httpx.Response(404, json={"detail": "not found"})

    with pytest.raises(AirflowStackError, match="accounting_api") as error:
        _fake_airflow(tmp_path, handler).check_pools("receivables_sync")
    assert "default_pool" not in str(error.value)


def _backfill_api(answers: list[httpx.Response], listings: list[list[dict]], active: list[int] | None = None):
    """A fake REST API for backfill creation: POSTs get ``answers``, each backfill listing the next of
    ``listings``, each count of queued/running runs the next of ``active`` (0 when not given). Returns
    the handler and the list of calls it saw ("METHOD path")."""
    posts, calls = iter(answers), []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return next(posts)
        if request.url.path.endswith("/backfills"):
            return httpx.Response(200, json={"backfills": listings.pop(0)})
        if request.url.path.endswith("/dagRuns"):
            return httpx.Response(200, json={"dag_runs": [], "total_entries": active.pop(0) if active else 0})
        return httpx.Response(200, json={})

    return handler, calls


def test_a_locked_sqlite_database_is_retried_and_a_leftover_backfill_closed(tmp_path, monkeypatch):
    monkeypatch.setattr("local_stack.scheduler.LOCKED_RETRY_SECONDS", 0)
    # Listed before the first creation, then before each attempt: #6 appears after the refused one.
    handler, calls = _backfill_api(
        [httpx.Response(503, json={"detail": "Database is locked."}),
         httpx.Response(409, json={"detail": "There is already a running backfill"}),
         httpx.Response(201, json={"id": 7})],
        [[], [], [{"id": 6, "completed_at": None}], []])
    lines: list[str] = []
    backfill_id = _fake_airflow(tmp_path, handler)._create_backfill({"dag_id": "rs_tiny"}, lines.append)
    assert backfill_id == 7
    assert "PUT /api/v2/backfills/6/cancel" in calls
    assert lines == ["  backfill #6 was left half-made by a refused creation: cancelled, retrying"]


def test_a_refused_creation_that_left_a_running_half_backfill_is_waited_out_not_taken_for_another(
        tmp_path, monkeypatch):
    """Seen on SQLite: POST /backfills answered 503 after Airflow had written the backfill and queued one
    of its runs. The retry must not refuse it as "another backfill's run": it cancels it, waits for the
    run to end and creates the backfill again, so every day is run under the new one."""
    monkeypatch.setattr("local_stack.scheduler.LOCKED_RETRY_SECONDS", 0)
    monkeypatch.setattr("local_stack.scheduler.POLL_SECONDS", 0)
    earlier = {"id": 1, "completed_at": "2026-12-03T15:13:17Z"}
    handler, calls = _backfill_api(
        [httpx.Response(503, json={"detail": "Database is locked."}), httpx.Response(201, json={"id": 3})],
        [[earlier], [earlier], [earlier, {"id": 2, "completed_at": None}]],
        active=[1, 1, 0, 0])  # the half-made backfill's run still going twice, then done
    lines: list[str] = []
    assert _fake_airflow(tmp_path, handler)._create_backfill({"dag_id": "rs_tiny"}, lines.append) == 3
    assert "PUT /api/v2/backfills/2/cancel" in calls and "PUT /api/v2/backfills/1/cancel" not in calls
    assert calls.count("POST /api/v2/backfills") == 2
    assert lines == ["  backfill #2 was left half-made by a refused creation: cancelled, retrying"]
