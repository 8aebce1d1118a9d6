"""Every DAG file imports cleanly, does no I/O at parse time, and follows the project's conventions."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS.glob("*.py"))


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_io(monkeypatch):
    """Parsing a DAG file must not touch the network or a database (Airflow's own start-up aside)."""
    import airflow.sdk  # noqa: F401  Airflow configures its metadata engine on import: not the DAG's doing

    def refuse(*args, **kwargs):
        raise AssertionError("a DAG file did I/O at parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    import sqlalchemy

    monkeypatch.setattr(sqlalchemy, "create_engine", refuse)


def test_there_are_dag_files():
    assert {p.stem for p in DAG_FILES} >= {"receivables_sync", "receivables_reference_data"}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_io(path, no_io):
    module = _import(path)
    dags = [v for v in vars(module).values() if type(v).__name__ == "DAG"]
    assert len(dags) == 1, f"{path.name} should define exactly one DAG"
    dag = dags[0]
    assert dag.dag_id == path.stem, "the DAG id is the file name, so users find one from the other"
    assert dag.tags and "receivables" in dag.tags
    assert dag.max_active_runs == 1, "days must be pushed in order"
    for task in dag.tasks:
        assert task.owner == "data-platform"
        assert task.retries >= 1, f"{task.task_id} should retry transient failures"


def test_dag_files_import_no_heavy_modules_at_parse_time():
    """pandas and the pipeline load inside tasks, keeping the dag-processor fast."""
    import subprocess

    code = ("import sys, runpy\n"
            f"for p in {[str(p) for p in DAG_FILES]!r}: runpy.run_path(p)\n"
            "heavy = [m for m in ('pandas', 'receivables', 'matplotlib') if m in sys.modules]\n"
            "print('heavy=' + ','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "heavy=", f"imported at parse time: {out.stdout}"


def test_api_tasks_use_the_accounting_api_pool():
    module = _import(DAGS / "receivables_sync.py")
    api_tasks = {t.task_id: t.pool for t in module.dag.tasks
                 if t.task_id.split(".")[-1] in {"refresh_reference", "sync_company", "reconcile_company"}}
    assert api_tasks and set(api_tasks.values()) == {"accounting_api"}


def test_sync_dag_params_are_the_documented_ones():
    module = _import(DAGS / "receivables_sync.py")
    params = module.dag.params
    assert {"business_date", "dry_run", "company_ids"} <= set(params.keys())
    assert params["dry_run"] is False
