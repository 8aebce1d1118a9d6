"""Runs that explain themselves: a refused API key fails every company at once (no retries) and the
console prints each failed task's one-line error with its advice, not "see the log above"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.run_log import parse_run_output

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.airflow]


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("e2e_stack", [{"companies": 2}], indirect=True)
def test_a_refused_key_fails_each_company_once_with_one_line_of_advice(e2e_stack, tmp_path):
    stack = e2e_stack
    day = stack.days[0].isoformat()
    codat = json.loads(os.environ["AIRFLOW_CONN_CODAT_DEFAULT"])
    env = dict(os.environ, RS_STATE_DIR=str(tmp_path / "state"),
               AIRFLOW_CONN_CODAT_DEFAULT=json.dumps(dict(codat, password="not-the-key")))

    done = subprocess.run([sys.executable, "-m", "local_stack", "sync", day], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)

    out = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    assert any(f"receivables_sync {day}: FAILED" in line for line in out)
    errors = [line.strip() for line in out if "refresh_reference[" in line]
    assert len(errors) == len(stack.companies), out
    for line in errors:
        assert "the API refused the key (401)" in line and "codat_default" in line, line
    assert not any("see the log above" in line for line in out)
    assert "not-the-key" not in done.stdout + done.stderr, "a key never reaches the console"

    log = next((tmp_path / "state" / "logs" / day).glob("*.log"))
    attempts = [a
                for a in parse_run_output(log.read_text()).attempts
                if a.task_id == "company.refresh_reference"]
    assert len(attempts) == len(stack.companies), "a refused key is not retried"
    assert stack.table("ar_push_ledger").empty
