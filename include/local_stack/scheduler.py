"""Run Airflow's own backfill on this machine: a short-lived scheduler, API server and DAG processor.

An Airflow 3 backfill is a row in the metadata database that a *running scheduler* turns into DAG runs;
``airflow backfill create`` alone runs nothing. So ``make backfill`` starts, for the length of the
backfill, the three processes Airflow 3.3 needs to really run tasks here (checked with 3.3.2):

- ``airflow api-server`` — tasks report to its Execution API (``[core] execution_api_server_url``) with
  JWTs signed by ``[api_auth] jwt_secret``, so both settings must match in every process;
- ``airflow dag-processor`` — parses the DAG files and serialises them (the scheduler only reads those);
- ``airflow scheduler`` with the ``LocalExecutor`` — it runs the tasks in its own worker processes.
  LocalExecutor works with the SQLite metadata database in 3.3 (tasks no longer write to the database
  themselves, they go through the API server), so the repository's SQLite ``AIRFLOW_HOME`` is enough.
  SQLite has one writer at a time, so creating a backfill can meet "database is locked" (HTTP 503);
  that is retried here. Setting ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` to PostgreSQL in ``env`` works
  the same way and avoids it.

``executor="celery"`` runs the distributed setup of ``docker-compose.yaml`` on this machine instead: the
scheduler hands tasks to the ``CeleryExecutor`` and a fourth process, ``airflow celery worker``, runs them
(``worker_concurrency`` at a time). ``env`` must then name the broker (``AIRFLOW__CELERY__BROKER_URL``,
e.g. a Redis database of its own) and a PostgreSQL metadata database; the Celery result backend defaults
to that database (``AIRFLOW__CELERY__RESULT_BACKEND`` overrides it). The worker reports task instances
under its own name (``Scheduler.worker_hostname``), so the REST API shows which tasks it ran.

Everything is set through ``AIRFLOW__…`` environment variables on the child processes only, with fresh free
ports and a fresh JWT secret per backfill, so nothing leaks into the user's ``airflow.cfg`` and two
backfills on one machine do not collide. ``[scheduler] use_job_schedule`` is off: unpausing the DAG must
not start an unrequested "latest interval" run, only the backfill's own runs.

Re-runs: the backfill uses ``reprocess_behavior="completed"`` by default — a day that already ran (with
``make sync`` or an earlier backfill, successfully or not) is cleared and run again under this backfill.
The pipeline is idempotent, so a repeat is safe, and it is visible: the day is printed like any other.
(``"failed"`` would rerun only failed days, ``"none"`` would skip every day that has a run.)

Ctrl-C (or SIGTERM): the backfill is cancelled, a day cut off mid-run is marked failed, every process
is stopped; running the same range again redoes the unfinished days in date order.

    code = run_backfill("receivables_sync", "2026-11-18", "2026-11-20", env, log_dir=Path(".state/logs"))
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import httpx

from local_stack.outcomes import DayOutcome, day_outcome, parse_time
from local_stack.processes import free_port, log_tail, stop_groups_together
from local_stack.stack_settings import API_USER, EXECUTORS, PAGE_LIMIT, check_celery_env, stack_env

REPROCESS_CHOICES = ("none", "failed", "completed")
FINISHED_STATES = frozenset({"success", "failed"})
# How often the health, the DAG and the runs are asked for: a finished backfill is seen within half a
# second (it was two), and the API server answers one such GET in ≈ 40 ms, a few % of one core.
POLL_SECONDS = 0.5
# Stopped in stages, the processes of one stage together (each takes a second or more to shut down): the
# scheduler first, so it launches no new task while the others go (the DAG processor with it: nothing
# waits on it any more); then the Celery worker (it finishes its running tasks on SIGTERM); the API server
# last, for running tasks.
STOP_STAGES = (("scheduler", "dag-processor"), ("celery-worker",), ("api-server",))
WORKER_HOSTNAME_ENV = "RS_WORKER_HOSTNAME"
WORKER_READY_MARK = " ready."
API_SERVER_FINISHED_MARK = "Finished server process"  # uvicorn's last line, with the process id
LOCKED_RETRIES = 5
LOCKED_RETRY_SECONDS = 3.0


def worker_hostname() -> str:
    """The host name a task reports to Airflow: the Celery worker's own name when it set one.

    Airflow's ``[core] hostname_callable`` for the worker this module starts, so task instances run by
    a Celery worker are told apart from others on the same machine (the default is the machine's FQDN).
    """
    return os.environ.get(WORKER_HOSTNAME_ENV) or socket.getfqdn()


class AirflowStackError(RuntimeError):
    """An Airflow process would not start, stay up, or accept the backfill (the message names the log)."""


class Scheduler:
    """The Airflow processes a backfill needs, started together and always stopped together.

        with Scheduler(env, log_dir=Path("logs")) as airflow:
            outcomes = airflow.backfill("receivables_sync", "2026-11-18", "2026-11-20")

    Each process runs in its own process group with its output in ``log_dir/<name>.log``; ``stop()``
    (or leaving the ``with`` block, also on Ctrl-C) ends the groups and anything they spawned.
    """

    def __init__(self, env: dict[str, str], *, log_dir: Path, parallelism: int = 4,
                 startup_timeout: float = 180.0, migrate: bool = True, executor: str = "local",
                 worker_concurrency: int = 2) -> None:
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {sorted(EXECUTORS)}, not {executor!r}")
        if executor == "celery":
            check_celery_env(env)
            if worker_concurrency < 1:
                raise ValueError("worker_concurrency must be at least 1")
        self.executor = executor
        self.worker_concurrency = worker_concurrency
        # Unique per Scheduler, so two workers on one machine (or one broker) never share a name.
        self.worker_hostname = f"rs-celery-{secrets.token_hex(4)}.{socket.gethostname()}"
        self.log_dir = Path(log_dir)
        self.parallelism = parallelism
        self.startup_timeout = startup_timeout
        self.migrate = migrate
        self.airflow_bin = str(Path(sys.executable).with_name("airflow"))
        self.port = 0
        self._base_env = dict(env)
        self._env: dict[str, str] = {}
        self._secret_dir: Path | None = None
        self._password = ""
        self._processes: dict[str, subprocess.Popen] = {}
        self._client: httpx.Client | None = None
        self._warmer: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Scheduler:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._env = self._process_env()
        if self.migrate:
            self._run_cli(["db", "migrate"], "db-migrate")
        # Scheduler last: by the time it looks for work, the API server is there for its tasks.
        self._spawn("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.port)])
        self._spawn("dag-processor", ["dag-processor"])
        self._spawn("scheduler", ["scheduler"])
        if self.executor == "celery":
            self._spawn("celery-worker", ["celery", "worker", "--concurrency", str(self.worker_concurrency),
                                          "--celery-hostname", self.worker_hostname,
                                          "--without-gossip", "--without-mingle"],
                        env=self._worker_env())
        self._wait_healthy()
        self._client = httpx.Client(base_url=f"{self.base_url}/api/v2", timeout=30.0,
                                    headers={"Authorization": f"Bearer {self._token()}"})
        return self

    def stop(self) -> None:
        """End every process this started (scheduler first, so it launches no new task), then clean up."""
        if self._client is not None:
            self._client.close()
            self._client = None
        interrupted = False
        staged = {name for stage in STOP_STAGES for name in stage}
        stages = [tuple(name for name in self._processes if name not in staged), *STOP_STAGES]
        for stage in stages:
            processes = {name: self._processes.pop(name) for name in stage if name in self._processes}
            # A second Ctrl-C while stopping only skips the grace period; every group is still killed.
            interrupted |= stop_groups_together(list(processes.values()), grace=0 if interrupted else 30.0,
                                                finished=self._finished_checks(processes))
        if self._warmer is not None:  # its request ended with the API server
            self._warmer.join(timeout=5.0)
            self._warmer = None
        if self._secret_dir is not None:
            shutil.rmtree(self._secret_dir, ignore_errors=True)
            self._secret_dir = None
        if interrupted:
            raise KeyboardInterrupt

    def _finished_checks(self, processes: dict[str, subprocess.Popen]) -> dict[int, Callable[[], bool]]:
        """The API server has finished once uvicorn says so: every request answered, the app shut down.

        What it then still does is the interpreter's exit, measured at ≈ 3.8 s of garbage collection
        (a faulthandler dump showed nothing else) on its large heap; nothing is written any more.
        """
        server = processes.get("api-server")
        if server is None:
            return {}
        log, mark = self.log_dir / "api-server.log", f"{API_SERVER_FINISHED_MARK} [{server.pid}]"
        return {server.pid: lambda: mark in log_tail(log)}

    def __enter__(self) -> Scheduler:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:  # never show the password or the JWT secret
        return f"Scheduler(base_url={self.base_url!r}, processes={sorted(self._processes)})"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes.values()]

    def _process_env(self) -> dict[str, str]:
        self.port = free_port()
        self._secret_dir = Path(tempfile.mkdtemp(prefix="rs-backfill-"))
        self._password = secrets.token_urlsafe(24)
        passwords = self._secret_dir / "passwords.json"
        passwords.write_text(json.dumps({API_USER: self._password}))
        passwords.chmod(0o600)
        return stack_env(self._base_env, executor=self.executor, parallelism=self.parallelism,
                         base_url=self.base_url, port=self.port, passwords=passwords)

    def _run_cli(self, args: list[str], log_name: str) -> None:
        log_path = self.log_dir / f"{log_name}.log"
        with open(log_path, "w") as log:
            code = subprocess.call([self.airflow_bin, *args], env=self._env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        if code != 0:
            raise AirflowStackError(f"`airflow {' '.join(args)}` failed with code {code} (log: {log_path})")

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.log_dir / f"{name}.log", "w") as log:
            self._processes[name] = subprocess.Popen(
                [self.airflow_bin, *args], env={**self._env, **(env or {})}, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def _check_alive(self) -> None:
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise AirflowStackError(f"airflow {name} exited with code {process.returncode} "
                                        f"(log: {self.log_dir / f'{name}.log'})")

    def _wait_healthy(self) -> None:
        """Until the API server answers and reports the database, scheduler and DAG processor healthy."""
        deadline = time.monotonic() + self.startup_timeout
        health: dict = {}
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5.0).json()
            except (httpx.HTTPError, ValueError):
                health = {}
            parts = ("metadatabase", "scheduler", "dag_processor")
            if (health and all((health.get(part) or {}).get("status") == "healthy" for part in parts)
                    and self._worker_ready()):
                return
            time.sleep(POLL_SECONDS)
        raise AirflowStackError(f"Airflow did not become healthy within {self.startup_timeout:.0f}s "
                                f"(last health: {health or 'no answer'}; logs in {self.log_dir})")

    def _worker_env(self) -> dict[str, str]:
        """The worker's extra settings: its tasks report its name, found through this module."""
        # The hostname callable is imported in every task process: make sure this package is importable.
        include = str(Path(__file__).resolve().parents[1])
        python_path = self._env.get("PYTHONPATH", "")
        if include not in python_path.split(os.pathsep):
            python_path = os.pathsep.join(part for part in (include, python_path) if part)
        return {WORKER_HOSTNAME_ENV: self.worker_hostname, "PYTHONPATH": python_path,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname"}

    def _worker_ready(self) -> bool:
        """True without a Celery worker; with one, once it says it is ready to take tasks."""
        if "celery-worker" not in self._processes:
            return True
        log = self.log_dir / "celery-worker.log"
        ready = f"{self.worker_hostname}{WORKER_READY_MARK}"
        return log.exists() and ready in log.read_text(errors="replace")

    def _warm_execution_api(self) -> None:
        """Have the API server build its Execution API now, in the background, not at the first task.

        The Execution API (cadwyn) builds its versioned routes on its first request: ≈ 5 s of CPU in the
        API server's event loop, measured, which the first task's first call waited for (timing out once,
        at 5 s, and retrying). Asked for as the backfill is created, that build overlaps the scheduler
        queueing the first task and the executor starting its workers. Once per API server.
        """
        if self._warmer is not None:
            return

        def ask() -> None:
            try:
                httpx.get(f"{self.base_url}/execution/health", timeout=60.0)
            except httpx.HTTPError:
                pass  # only a head start: the first task's own call builds it otherwise

        self._warmer = threading.Thread(target=ask, name="warm-execution-api", daemon=True)
        self._warmer.start()

    def _token(self) -> str:
        response = httpx.post(f"{self.base_url}/auth/token", timeout=10.0,
                              json={"username": API_USER, "password": self._password})
        if response.status_code not in (200, 201):
            raise AirflowStackError(f"the API server refused the backfill user ({response.status_code})")
        return response.json()["access_token"]

    # -- REST calls --------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        if self._client is None:
            raise AirflowStackError("the Airflow processes are not running (use start() or `with`)")
        return self._client.request(method, path, **kwargs)

    def _json(self, method: str, path: str, what: str, **kwargs) -> dict:
        response = self._call(method, path, **kwargs)
        for _ in range(LOCKED_RETRIES):
            # 503 = "database is locked": SQLite lets one writer in at a time and the scheduler and DAG
            # processor write all the time; the request changed nothing, so asking again is safe.
            if response.status_code != 503:
                break
            time.sleep(LOCKED_RETRY_SECONDS)
            response = self._call(method, path, **kwargs)
        if response.status_code >= 400:
            raise AirflowStackError(f"{what} failed: HTTP {response.status_code} {response.text[:500]}")
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 180.0) -> dict:
        """The DAG as the API server knows it, once the DAG processor has parsed and serialised it."""
        deadline = time.monotonic() + timeout
        errors_seen_at: float | None = None
        while time.monotonic() < deadline:
            self._check_alive()
            response = self._call("GET", f"/dags/{dag_id}")
            if response.status_code == 200:
                return response.json()
            errors = self._json("GET", "/importErrors", "reading import errors").get("import_errors", [])
            if errors:
                # A broken DAG file stays broken: give the processor one more pass, then say why.
                errors_seen_at = errors_seen_at or time.monotonic()
                if time.monotonic() - errors_seen_at > 15:
                    files = "; ".join(f"{e.get('filename')}: {str(e.get('stack_trace', '')).strip()[-300:]}"
                                      for e in errors)
                    raise AirflowStackError(f"DAG {dag_id!r} was not found; import errors: {files}")
            time.sleep(POLL_SECONDS)
        raise AirflowStackError(f"DAG {dag_id!r} was not parsed within {timeout:.0f}s "
                                f"(log: {self.log_dir / 'dag-processor.log'})")

    def check_pools(self, dag_id: str) -> None:
        """Refuse to start when a task's pool is missing: its tasks would wait for it forever."""
        tasks = self._json("GET", f"/dags/{dag_id}/tasks", "reading the DAG's tasks")["tasks"]
        missing = sorted({task["pool"] for task in tasks if task.get("pool")
                          and self._call("GET", f"/pools/{task['pool']}").status_code == 404})
        if missing:
            raise AirflowStackError(f"{dag_id} uses pool(s) {', '.join(missing)} that do not exist in "
                                    "this Airflow; create them first (`make airflow-init` or "
                                    "`airflow pools set`)")

    def set_pool(self, name: str, slots: int, description: str = "") -> None:
        """Create the pool, or resize it, so a fresh metadata database can run DAGs that use it."""
        body = {"name": name, "slots": slots, "description": description}
        if self._call("GET", f"/pools/{quote(name, safe='')}").status_code == 404:
            self._json("POST", "/pools", f"creating pool {name}", json=body)
        else:
            self._json("PATCH", f"/pools/{quote(name, safe='')}", f"updating pool {name}", json=body)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._json("PATCH", f"/dags/{dag_id}", "pausing/unpausing the DAG", json={"is_paused": paused})

    def backfill(self, dag_id: str, start: str, end: str, *, reprocess: str = "completed",
                 timeout_s: float = 3600, report: Callable[[str], None] = print) -> list[DayOutcome]:
        """Backfill [start, end] one day at a time in date order; the outcome of every day, in order.

        Prints (through ``report``) one line per day as it finishes. The DAG is unpaused for the backfill
        and put back as it was afterwards. On timeout or interruption the backfill is cancelled.
        """
        if reprocess not in REPROCESS_CHOICES:
            raise ValueError(f"reprocess must be one of {REPROCESS_CHOICES}, not {reprocess!r}")
        body = {"dag_id": dag_id, "from_date": _midnight(start), "to_date": _midnight(end),
                "run_backwards": False, "max_active_runs": 1, "reprocess_behavior": reprocess}
        dag = self.wait_for_dag(dag_id)
        self.check_pools(dag_id)
        planned = self._json("POST", "/backfills/dry_run", "planning the backfill", json=body)["backfills"]
        # A day still running from an interrupted run is not part of the new backfill (Airflow skips it
        # as "in flight") but it is one of the days asked for: wait for it and report it too.
        in_flight = self._runs(dag_id, body["from_date"], body["to_date"], states=["queued", "running"])
        for run in in_flight:
            report(f"  {str(run['logical_date'])[:10]}: already {run['state']} before this backfill; "
                   f"waiting for it")
        wanted = sorted({parse_time(item["logical_date"]) for item in planned if item.get("logical_date")}
                        | {parse_time(run["logical_date"]) for run in in_flight})
        if not wanted:
            report(f"  nothing to run for {dag_id} between {start} and {end}")
            return []
        was_paused = bool(dag.get("is_paused"))
        if was_paused:
            self.set_paused(dag_id, False)
        backfill_id: int | None = None
        finished = False
        try:
            backfill_id = self._create_backfill(body, report)
            self._warm_execution_api()
            outcomes = self._follow(dag_id, wanted, timeout_s, report)
            finished = True
            return outcomes
        finally:
            if self._client is not None:
                if backfill_id is not None:
                    # Done: closes it now rather than at the scheduler's next 30 s sweep (the processes
                    # stop before that). Interrupted: its days not started yet are failed.
                    self._cancel(backfill_id)
                if not finished:
                    # The scheduler is about to stop: a day cut off mid-run is marked failed, so the next
                    # backfill reruns it in order instead of finding it half-done.
                    self._fail_unfinished(dag_id, wanted, body)
                if was_paused:
                    self.set_paused(dag_id, True)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of one DAG run (mapped ones one per index), as the REST API returns them."""
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return self._json("GET", path, "reading the task instances",
                          params={"limit": PAGE_LIMIT})["task_instances"]

    def failed_task_errors(self, dag_id: str, run_id: str) -> list[str]:
        """``<task>[<map index>]: <one-line error>`` for each failed task of a run, read from its task log."""
        from local_stack.run_log import error_in_task_log, task_log_folder

        lines = []
        for ti in self.task_instances(dag_id, run_id):
            if ti.get("state") != "failed":
                continue
            map_index = ti.get("map_index", -1)
            folder = task_log_folder(self._env) / f"dag_id={dag_id}" / f"run_id={run_id}" \
                / f"task_id={ti['task_id']}"
            if map_index is not None and map_index >= 0:
                folder = folder / f"map_index={map_index}"
            path = folder / f"attempt={ti.get('try_number') or 1}.log"
            error = error_in_task_log(path.read_text(errors="replace")) if path.exists() else None
            label = ti["task_id"] if map_index is None or map_index < 0 else f"{ti['task_id']}[{map_index}]"
            lines.append(f"{label}: {error or f'failed (task log: {path})'}")
        return lines

    def _runs(self, dag_id: str, first: str, last: str, states: list[str] | None = None) -> list[dict]:
        """The DAG's runs with a logical date in [first, last], oldest first."""
        params: dict = {"logical_date_gte": first, "logical_date_lte": last, "order_by": "logical_date",
                        "limit": PAGE_LIMIT}
        if states:
            params["state"] = states
        return self._json("GET", f"/dags/{dag_id}/dagRuns", "reading the DAG runs", params=params)["dag_runs"]

    def _fail_unfinished(self, dag_id: str, wanted: list[datetime], body: dict) -> None:
        for run in self._runs(dag_id, body["from_date"], body["to_date"], states=["queued", "running"]):
            if parse_time(run["logical_date"]) in wanted:
                self._call("PATCH", f"/dags/{dag_id}/dagRuns/{quote(run['dag_run_id'], safe='')}",
                           json={"state": "failed"})

    def _create_backfill(self, body: dict, report: Callable[[str], None]) -> int:
        """Create the backfill (its runs are queued at once); its id.

        On SQLite the creation can hit "database is locked" (503) while the scheduler writes; Airflow
        then removes the half-made backfill, best effort, so a leftover may answer the retry with 409.
        """
        response: httpx.Response | None = None
        before = {item["id"] for item in self._backfills(body["dag_id"])}
        for _ in range(LOCKED_RETRIES):
            self._close_finished_backfills(body["dag_id"], report, known_before=before)
            response = self._call("POST", "/backfills", json=body)
            if response.status_code in (200, 201):
                return int(response.json()["id"])
            if response.status_code not in (409, 503):
                break
            time.sleep(LOCKED_RETRY_SECONDS)
        raise AirflowStackError(f"creating the backfill failed: HTTP {response.status_code} "
                                f"{response.text[:500]}")

    def _cancel(self, backfill_id: int) -> None:
        """Cancel (close) a backfill: its queued runs fail, finished ones stay; 409 = already complete."""
        for _ in range(LOCKED_RETRIES):
            if self._call("PUT", f"/backfills/{backfill_id}/cancel").status_code != 503:
                return
            time.sleep(LOCKED_RETRY_SECONDS)

    def _backfills(self, dag_id: str) -> list[dict]:
        return self._json("GET", "/backfills", "listing backfills",
                          params={"dag_id": dag_id, "limit": PAGE_LIMIT})["backfills"]

    def _close_finished_backfills(self, dag_id: str, report: Callable[[str], None],
                                  known_before: set[int] | None = None) -> None:
        """Close earlier backfills of the DAG left open although none of its runs is still going.

        Airflow allows one open backfill per DAG and marks a backfill complete only in a scheduler sweep
        every 30 s; a backfill whose scheduler was stopped (killed) before that would block this one.
        ``known_before``: the ids that existed before this creation; a newer open one is a half-made one
        of our own whose creation answered 503 — cancelled and waited out, not taken for another's.
        """
        open_ids = [item["id"] for item in self._backfills(dag_id) if item.get("completed_at") is None]
        if not open_ids:
            return
        half_made = [i for i in open_ids if known_before is not None and i not in known_before]
        for backfill_id in half_made:
            self._cancel(backfill_id)
            report(f"  backfill #{backfill_id} was left half-made by a refused creation: cancelled, retrying")
        self._wait_for_no_active_run(dag_id, seconds=120 if half_made else 0)
        open_ids = [i for i in open_ids if i not in half_made]
        active = self._active_runs(dag_id)
        if active:
            raise AirflowStackError(f"{dag_id} already has {active} queued or running run(s) from another "
                                    f"backfill or trigger; wait for them or mark them failed, then retry")
        for backfill_id in open_ids:
            self._cancel(backfill_id)
            report(f"  closed earlier backfill #{backfill_id} of {dag_id} (all its runs had finished)")

    def _active_runs(self, dag_id: str) -> int:
        return self._json("GET", f"/dags/{dag_id}/dagRuns", "reading the DAG runs",
                          params={"state": ["queued", "running"], "limit": 1})["total_entries"]

    def _wait_for_no_active_run(self, dag_id: str, *, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self._active_runs(dag_id):
            time.sleep(POLL_SECONDS)

    def _follow(self, dag_id: str, wanted: list[datetime], timeout_s: float,
                report: Callable[[str], None]) -> list[DayOutcome]:
        """Poll the runs of the wanted days until each has finished, reporting days in date order."""
        deadline = time.monotonic() + timeout_s
        first, last = (value.isoformat() for value in (wanted[0], wanted[-1]))
        outcomes: list[DayOutcome] = []
        while True:
            self._check_alive()
            by_date = {parse_time(run["logical_date"]): run for run in self._runs(dag_id, first, last)}
            # Report strictly in date order: day N is printed only after the days before it.
            while len(outcomes) < len(wanted):
                run = by_date.get(wanted[len(outcomes)])
                if run is None or run["state"] not in FINISHED_STATES:
                    break
                outcomes.append(day_outcome(run))
                report(outcomes[-1].line())
            if len(outcomes) == len(wanted):
                return outcomes
            if time.monotonic() > deadline:
                raise TimeoutError(f"the backfill of {dag_id} did not finish within {timeout_s:.0f}s; "
                                   f"{len(outcomes)} of {len(wanted)} days done")
            time.sleep(POLL_SECONDS)


def _midnight(day: str) -> str:
    return f"{date.fromisoformat(day).isoformat()}T00:00:00Z"


def run_backfill(dag_id: str, start: str, end: str, env: dict[str, str], *, log_dir: Path,
                 timeout_s: float = 3600, reprocess: str = "completed", migrate: bool = True) -> int:
    """``make backfill``: start Airflow, backfill [start, end] in date order, stop Airflow; 0 if every day
    succeeded.

    Prints one line per day (state and duration) and where the logs are. Days already run are run
    again (``reprocess="completed"``, see the module docstring). ``migrate`` runs ``airflow db migrate``
    first (idempotent, a few seconds); pass False when the metadata database is known to be current.
    """
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        print(f"backfill range is empty: {start} is after {end}", flush=True)
        return 2
    log_dir = Path(log_dir)

    def say(message: str) -> None:
        print(message, flush=True)

    def terminate(signum, frame):  # SIGTERM ends the backfill the way Ctrl-C does: processes stopped
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate) if _in_main_thread() else None
    try:
        say(f"{dag_id} backfill {start} … {end}: starting Airflow (logs: {log_dir})")
        with Scheduler(env, log_dir=log_dir, migrate=migrate) as airflow:
            outcomes = airflow.backfill(dag_id, start, end, reprocess=reprocess, timeout_s=timeout_s,
                                        report=say)
            for outcome in outcomes:
                if not outcome.succeeded and outcome.run_id:
                    seen: set[str] = set()
                    for line in airflow.failed_task_errors(dag_id, outcome.run_id):
                        if line.split(": ", 1)[-1] not in seen:  # one configuration error, said once
                            seen.add(line.split(": ", 1)[-1])
                            say(f"    {outcome.day} {line}")
    except (AirflowStackError, TimeoutError, httpx.HTTPError) as error:
        say(f"  backfill FAILED: {error}")
        return 1
    except KeyboardInterrupt:
        say("\ninterrupted: the backfill was cancelled and every Airflow process it started stopped; "
            "rerunning the range is safe")
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    failed = [outcome.day for outcome in outcomes if not outcome.succeeded]
    if failed:
        say(f"  {len(failed)} of {len(outcomes)} days failed: {', '.join(failed)} "
            f"(task logs under $AIRFLOW_HOME/logs; rerunning is safe)")
        return 1
    if not outcomes:
        return 1
    say(f"  all {len(outcomes)} days succeeded")
    return 0


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
