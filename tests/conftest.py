"""Project-wide test setup: fixture plugins and a repository-local Airflow environment.

`make test` exports the same variables; setting them here too lets `pytest tests/...` run on its own.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow"))
# Under pytest-xdist each worker gets its own Airflow metadata DB (SQLite allows one writer at a time);
# the `airflow_db` fixture initialises it on first use.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["AIRFLOW_HOME"] = str(Path(os.environ["AIRFLOW_HOME"]) / f"xdist-{os.environ['PYTEST_XDIST_WORKER']}")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

_PLUGINS = ["tests.fixtures.sandbox", "tests.fixtures.warehouse", "tests.fixtures.airflow_env"]
pytest_plugins = [name for name in _PLUGINS if importlib.util.find_spec(name) is not None]
