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
from datetime import date, timedelta
from pathlib import Path

from local_stack.sandbox_process import SandboxProcess

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
def local_connections(*, fresh: bool = False, force_local: bool = False) -> Generator[dict[str, str], None, None]:
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
            sandbox = SandboxProcess(state / "sandbox", state=str(state / "sandbox.sqlite"), api_key=key).start()
            key_file.write_text(sandbox.api_key)
            key_file.chmod(0o600)
            env[CODAT_ENV] = json.dumps({"conn_type": "http", "host": sandbox.base_url, "password": sandbox.api_key})
            env["RS_SANDBOX_URL"] = sandbox.base_url
        yield env
    finally:
        if sandbox is not None:
            sandbox.stop()


def airflow(args: list[str], env: dict[str, str], log_name: str) -> tuple[int, float, Path]:
    """Run an ``airflow`` CLI command; its output goes to ``.state/logs/<log_name>.log``."""
    log_path = _log_path(log_name)
    started = time.monotonic()
    with open(log_path, "w") as log:
        code = subprocess.call([str(Path(sys.executable).with_name("airflow")), *args], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    return code, time.monotonic() - started, log_path


def _log_path(name: str) -> Path:
    logs = state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{name}.log"


def run_reference(env: dict[str, str]) -> int:
    say("  receivables_reference_data … ")
    code, seconds, log = airflow(["dags", "test", "receivables_reference_data"], env, "reference_data")
    say(f"    {'ok' if code == 0 else 'FAILED'} in {seconds:.1f}s (log: {_rel(log)})")
    return code


def run_sync_day(day: str, env: dict[str, str], *, dry_run: bool = False) -> int:
    # The day is passed explicitly: a manual run's data interval ends at its logical date, so without
    # this `dags test … D` would cover the day before D.
    conf = json.dumps({"business_date": day, "dry_run": dry_run})
    code, seconds, log = airflow(["dags", "test", "receivables_sync", day, "--conf", conf], env, f"sync_{day}")
    say(f"  receivables_sync {day}: {'ok' if code == 0 else 'FAILED'} in {seconds:.1f}s (log: {_rel(log)})")
    if code == 0:
        print_day_summary(day, env)
    else:
        say(f"    see the log above for the failed task; rerunning the day is safe: make sync DATE={day}")
    return code


def print_day_summary(day: str, env: dict[str, str]) -> None:
    """Counts per outcome for the day, read from ``ar_reconciliation_summary``."""
    from receivables.warehouse.engine import WarehouseSettings, create_warehouse_engine
    from receivables.warehouse.io import read_frame
    from receivables.warehouse.schema import metadata

    conn = json.loads(env[WAREHOUSE_ENV])
    settings = WarehouseSettings.from_connection(
        conn_type=conn.get("conn_type"), host=conn.get("host"), port=conn.get("port"), login=conn.get("login"),
        password=conn.get("password"), schema=conn.get("schema"), extra=conn.get("extra") or {})
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
    report = Path(env.get("RS_REPORT_DIR", REPO / "reports")) / day / "reconciliation.html"
    if report.exists():
        say(f"    report: {_rel(report)}")


def sync(day: str, *, dry_run: bool = False) -> int:
    date.fromisoformat(day)  # a clear error for a malformed DATE
    with local_connections() as env:
        return run_sync_day(day, env, dry_run=dry_run)


def days_between(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        raise SystemExit(f"backfill range is empty: {start} is after {end}")
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def backfill(start: str, end: str) -> int:
    """Every business day in [start, end] through Airflow's own backfill, in date order.

    A scheduler, API server and dag-processor are started for the duration (``local_stack.scheduler``)
    and stopped afterwards; days that already ran are run again (safe: the pipeline is idempotent).
    """
    from local_stack.scheduler import run_backfill

    days = days_between(start, end)
    with local_connections() as env:
        code = run_backfill("receivables_sync", start, end, env, log_dir=state_dir() / "logs" / "backfill")
        if code == 0:
            for day in days:
                print_day_summary(day, env)
        return code


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)
