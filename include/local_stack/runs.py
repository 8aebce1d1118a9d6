"""Run the DAGs from the command line against the configured (or local) connections.

Airflow's own CLI does the running (``airflow dags test`` for one day, ``airflow backfill create`` with a
scheduler for a range); this module only prepares the environment, keeps the noisy Airflow output in
log files, and prints what a person wants to know: the outcome and where the report is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from local_stack.run_log import RunOutput, file_task_logs, parse_run_output
from local_stack.sandbox_process import SandboxProcess, real_schemas_dir

REPO = Path(__file__).resolve().parents[2]
CODAT_ENV = "AIRFLOW_CONN_CODAT_DEFAULT"
WAREHOUSE_ENV = "AIRFLOW_CONN_WAREHOUSE_DEFAULT"


def state_dir() -> Path:
    path = Path(os.environ.get("RS_STATE_DIR") or REPO / ".state")
    path.mkdir(parents=True, exist_ok=True)
    return path


def say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def local_connections(*, fresh: bool = False,
                      force_local: bool = False) -> Generator[dict[str, str], None, None]:
    """Environment with both connections set: the user's own, or the local sandbox and SQLite warehouse.

    The local sandbox keeps its state and API key in ``.state/`` so successive runs see one platform.
    ``force_local`` ignores the user's connections (the demo always runs on the embedded defaults).
    """
    state = state_dir()
    env = dict(os.environ)
    if force_local:
        env.pop(CODAT_ENV, None)
        env.pop(WAREHOUSE_ENV, None)
    env.setdefault("RS_REPORT_DIR", str(REPO / "reports"))
    sandbox: SandboxProcess | None = None
    try:
        if not env.get(WAREHOUSE_ENV):
            env[WAREHOUSE_ENV] = json.dumps({"conn_type": "sqlite", "host": str(state / "warehouse.db")})
        if not env.get(CODAT_ENV):
            key_file = state / "sandbox.key"
            key = key_file.read_text().strip() if key_file.exists() and not fresh else None
            # Codat's real request schemas when their files are at hand (the built-in ones otherwise).
            sandbox = SandboxProcess(state / "sandbox", state=str(state / "sandbox.sqlite"), api_key=key,
                                     oas_dir=real_schemas_dir()).start()
            key_file.write_text(sandbox.api_key)
            key_file.chmod(0o600)
            env[CODAT_ENV] = json.dumps({"conn_type": "http", "host": sandbox.base_url,
                                         "password": sandbox.api_key})
            env["RS_SANDBOX_URL"] = sandbox.base_url
        yield env
    finally:
        if sandbox is not None:
            sandbox.stop()


@dataclass
class DagTest:
    """One ``airflow dags test`` run: exit code, duration, its kept log and what it printed."""

    code: int
    seconds: float
    log: Path
    output: RunOutput


def dag_test(dag_id: str, args: list[str], env: dict[str, str], log_dir: str) -> DagTest:
    """Run ``airflow dags test``; keep its output as ``.state/logs/<log_dir>/<run id>.log``.

    Every run keeps its own log (the next run never overwrites it), and each task attempt's part is
    also filed where Airflow's UI finds task logs (:mod:`local_stack.run_log`).
    """
    logs = state_dir() / "logs" / log_dir
    logs.mkdir(parents=True, exist_ok=True)
    running = logs / f"running-{os.getpid()}-{time.time_ns()}.log"
    started = time.monotonic()
    with open(running, "w") as log:
        airflow = str(Path(sys.executable).with_name("airflow"))
        code = subprocess.call([airflow, "dags", "test", dag_id, *args], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    output = parse_run_output(running.read_text(errors="replace"))
    kept = running
    if output.run_id:
        kept = logs / f"{output.run_id}.log"
        running.replace(kept)
    file_task_logs(output, dag_id, env)
    return DagTest(code, seconds, kept, output)


def run_reference(env: dict[str, str]) -> int:
    say("  receivables_reference_data … ")
    run = dag_test("receivables_reference_data", [], env, "reference_data")
    failed = run.code != 0 or not run.output.succeeded("reference_done")
    say(f"    {'FAILED' if failed else 'ok'} in {run.seconds:.1f}s (log: {_rel(run.log)})")
    if failed:
        explain_failure(run)
    return 1 if failed else 0


def run_sync_day(day: str, env: dict[str, str], *, dry_run: bool = False) -> int:
    # The day is passed explicitly: a manual run's data interval ends at its logical date, so without
    # this `dags test … D` would cover the day before D.
    conf = json.dumps({"business_date": day, "dry_run": dry_run})
    if dry_run:
        say(f"  DRY RUN of {day}: nothing is pushed, the warehouse is not changed; the plan goes to "
            f"{_rel(report_dir(env) / day / 'dry-run')}")
    run = dag_test("receivables_sync", [day, "--conf", conf], env, day)
    # `dags test` exits 0 for a run that created no task at all: only a finished `finish` task, which
    # checks that every planned company was synced, makes the run a success.
    failed = run.code != 0 or not run.output.succeeded("finish")
    say(f"  receivables_sync {day}{' (DRY RUN)' if dry_run else ''}: {'FAILED' if failed else 'ok'} in "
        f"{run.seconds:.1f}s (log: {_rel(run.log)})")
    if failed:
        explain_failure(run)
        say(f"    rerunning the day is safe once the cause is fixed: make sync DATE={day}")
        return 1
    if dry_run:
        print_dry_run_summary(day, env)
    else:
        print_day_summary(day, env)
    return 0


def explain_failure(run: DagTest) -> None:
    """Each failed task's one-line error (with its advice), or why nothing ran at all."""
    errors = run.output.failed
    if not errors and not run.output.attempts:
        why = run.output.stopped_by or "Airflow created no task instance for this run"
        say(f"    no task ran: {why} (see the log)")
        return
    seen: set[str] = set()
    for error in errors:
        # A configuration error fails every task that touches it: say it once.
        if error.line in seen:
            continue
        seen.add(error.line)
        say(f"    {error.task_id}{'' if error.map_index < 0 else f'[{error.map_index}]'}: {error.line}")
    if not errors:
        say("    the run did not reach its last task (finish); see the log")


def print_day_summary(day: str, env: dict[str, str]) -> None:
    """Counts per outcome for the day, read from ``ar_reconciliation_summary``."""
    from receivables.warehouse.engine import WarehouseSettings, create_warehouse_engine
    from receivables.warehouse.io import read_frame
    from receivables.warehouse.schema import metadata

    conn = json.loads(env[WAREHOUSE_ENV])
    settings = WarehouseSettings.from_connection(
        conn_type=conn.get("conn_type"), host=conn.get("host"), port=conn.get("port"),
        login=conn.get("login"), password=conn.get("password"), schema=conn.get("schema"),
        extra=conn.get("extra") or {})
    engine = create_warehouse_engine(settings)
    try:
        summary = read_frame(engine, metadata.tables["ar_reconciliation_summary"],
                             where={"report_date": date.fromisoformat(day)})
    finally:
        engine.dispose()
    if summary.empty:
        say("    (no reconciliation rows for this day)")
        return
    counts = summary.groupby("outcome")["document_count"].sum().sort_index()
    say("    " + ", ".join(f"{outcome} {int(n)}" for outcome, n in counts.items()))
    report = report_dir(env) / day / "reconciliation.html"
    if report.exists():
        say(f"    report: {_rel(report)}")


def print_dry_run_summary(day: str, env: dict[str, str]) -> None:
    """The dry run's counts and where its plan is (written by the run under reports/D/dry-run/)."""
    folder = report_dir(env) / day / "dry-run"
    summary = folder / "summary.txt"
    if summary.exists():
        for line in summary.read_text().splitlines():
            say(f"    {line}")
    plan = folder / "plan.html"
    if plan.exists():
        say(f"    plan: {_rel(plan)} (the real report and the warehouse are unchanged)")


def report_dir(env: dict[str, str]) -> Path:
    return Path(env.get("RS_REPORT_DIR") or REPO / "reports")


class BadDate(ValueError):
    """A DATE / FROM / TO the console refuses before starting anything (one line, exit 2)."""


def checked_day(text: str, *, what: str = "DATE") -> str:
    """``YYYY-MM-DD`` that can be synced: a calendar date, not after today, not before the DAGs' start."""
    from receivables import jobs
    from receivables.settings import SyncSettings
    from receivables_airflow import EARLIEST_BUSINESS_DAY

    try:
        day = jobs.parse_business_date(text)
        if day is None:
            raise jobs.RunRefused(f"{what} is empty: use YYYY-MM-DD")
        # The DAG's own check uses the run's timezone setting; the console knows only the default.
        jobs.refuse_future_day(day, SyncSettings().timezone)
    except jobs.RunRefused as exc:
        raise BadDate(f"{what}={text}: {exc}") from None
    earliest = EARLIEST_BUSINESS_DAY.date()
    if day < earliest:
        raise BadDate(f"{what}={text}: days before {earliest} cannot be run (the DAGs' start_date)")
    return day.isoformat()


def sync(day: str, *, dry_run: bool = False) -> int:
    try:
        day = checked_day(day)
    except BadDate as exc:
        say(str(exc))
        return 2
    with local_connections() as env:
        return run_sync_day(day, env, dry_run=dry_run)


def days_between(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        raise BadDate(f"backfill range is empty: {start} is after {end}")
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def backfill(start: str, end: str) -> int:
    """Every business day in [start, end] through Airflow's own backfill, in date order.

    A scheduler, API server and dag-processor are started for the duration (``local_stack.scheduler``)
    and stopped afterwards; days that already ran are run again (safe: the pipeline is idempotent).
    """
    from local_stack.scheduler import run_backfill

    try:
        days = days_between(checked_day(start, what="FROM"), checked_day(end, what="TO"))
    except BadDate as exc:
        say(str(exc))
        return 2
    with local_connections() as env:
        # One folder per backfill: a later backfill never overwrites an earlier one's logs.
        log_dir = state_dir() / "logs" / "backfill" / f"{days[0]}_{days[-1]}-{time.strftime('%Y%m%dT%H%M%S')}"
        code = run_backfill("receivables_sync", days[0], days[-1], env, log_dir=log_dir)
        if code == 0:
            for day in days:
                say(f"  {day}:")
                print_day_summary(day, env)
        return code


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)
