"""Historic dates silently did nothing: `make sync DATE=<a day before the DAGs' start_date>` printed `ok`
having run no task. Any past business day must run every company task; impossible and future days are
refused in one line with exit code 2, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from local_stack.run_log import parse_run_output

REPO = Path(__file__).resolve().parents[2]


def _console(*args: str, env: dict[str, str] | None = None,
             timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_stack", *args], cwd=REPO, capture_output=True,
                          text=True, env=env or dict(os.environ), timeout=timeout)


def _two_years_back() -> date:
    today = datetime.now(UTC).date()
    return today.replace(year=today.year - 2) if not (today.month == 2 and today.day == 29) else \
        today - timedelta(days=730)


@pytest.mark.parametrize(("args", "says"), [
    (("sync", "2024-13-45"), "DATE=2024-13-45: business date '2024-13-45' is not a calendar date"),
    (("sync", "yesterday"), "is not a calendar date"),
    (("sync", (datetime.now(UTC).date() + timedelta(days=2)).isoformat()), "is in the future"),
    (("sync", "1999-12-31"), "days before 2000-01-01 cannot be run"),
    (("backfill", "2024-01-01", "2024-02-30"), "TO=2024-02-30"),
], ids=["impossible", "not-a-date", "future", "before-start-date", "backfill-impossible"])
def test_historic_dates_bad_days_are_refused_in_one_line(args, says, tmp_path):
    env = dict(os.environ, RS_STATE_DIR=str(tmp_path / "state"))
    done = _console(*args, env=env, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], lines
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "state" / "sandbox.key").exists(), "nothing was started"


@pytest.mark.slow
@pytest.mark.airflow
@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("e2e_stack", [{"companies": 2, "days": (_two_years_back(),)}], indirect=True)
def test_historic_dates_silently_do_nothing_make_sync_two_years_back_runs_every_company(e2e_stack, tmp_path):
    stack = e2e_stack
    day = stack.days[0].isoformat()
    env = dict(os.environ, RS_STATE_DIR=str(tmp_path / "state"))

    done = _console("sync", day, env=env)

    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert f"receivables_sync {day}: ok" in out
    logs = list((tmp_path / "state" / "logs" / day).glob("*.log"))
    assert len(logs) == 1, "the run's log is kept under .state/logs/<D>/<run id>.log"
    ran = parse_run_output(logs[0].read_text())
    for task in ("company.refresh_reference", "company.sync_company", "company.reconcile_company"):
        states = {a.map_index: a.state for a in ran.attempts if a.task_id == task}
        assert states == {i: "success" for i in range(len(stack.companies))}, (task, states)
    assert ran.succeeded("finish")
    ledger = stack.table("ar_push_ledger")
    pushed_on = {(r.company_id, str(r.business_date)[:10]) for r in ledger.itertuples()}
    assert {(c.company_id, day) for c in stack.companies} <= pushed_on, "every company pushed its day"
