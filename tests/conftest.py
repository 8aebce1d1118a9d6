"""Project-wide test setup: fixture plugins and a repository-local Airflow environment.

`make test` exports the same variables; setting them here too lets `pytest tests/...` run on its own.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow"))
# Under pytest-xdist each worker gets its own Airflow metadata DB (SQLite allows one writer at a time);
# the `airflow_db` fixture initialises it on first use.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["AIRFLOW_HOME"] = str(Path(os.environ["AIRFLOW_HOME"])
                                     / f"xdist-{os.environ['PYTEST_XDIST_WORKER']}")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

_PLUGINS = ["tests.fixtures.sandbox", "tests.fixtures.warehouse", "tests.fixtures.airflow_env"]
pytest_plugins = [name for name in _PLUGINS if importlib.util.find_spec(name) is not None]


# --------------------------------------------------------------------------------- contract tests
# They read Codat's OpenAPI files from CODAT_OAS_DIR and skip when it is unset (the specs are never copied
# into this repository). Say so at the top and at the end of the run, so a skip is never mistaken for a pass.
def _contract_status() -> str | None:
    """None when the contract tests can run, else why they are skipped."""
    value = os.environ.get("CODAT_OAS_DIR")
    if not value:
        return ("CODAT_OAS_DIR is unset (`make test` sets it to ../shared/codat when that folder exists; "
                "pytest alone does not)")
    return None


def pytest_report_header(config) -> list[str]:
    why = _contract_status()
    if why:
        return [f"contract tests: SKIPPED - {why}"]
    return [f"contract tests: Codat OpenAPI files from {os.environ['CODAT_OAS_DIR']}"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "CODAT_OAS_DIR" in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"contract tests NOT RUN: {len(skipped)} contract module(s)/test(s) skipped because "
            f"{_contract_status() or 'CODAT_OAS_DIR was not usable'}", yellow=True, bold=True)


# ------------------------------------------------------------------------------- PostgreSQL tests
# `-m "not postgres"` must leave out every test that needs a PostgreSQL server. A test parametrized
# straight onto the PostgreSQL warehouse (`parametrize("warehouse_settings", ["postgres"], indirect=True)`)
# overrides the fixture's own params and so loses their `postgres` mark; one that asks for the server's
# fixtures needs it too. Both get the mark here, before `-m` selects (tryfirst). Any other test that opens
# a PostgreSQL connection without the mark fails (checked on every new DBAPI connection, which is cheap).
_PG_FIXTURES = frozenset({"pg_admin_url", "pg_database_url"})
XDIST_SERIAL = "one-worker"  # an xdist group: tests that run real schedulers or share Redis, one at a time
SERIAL_DIRS = ("tests/integration/", "tests/local_stack/")  # the group's tests (paths from the repository)


def _uses_postgres(item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("warehouse_settings") == "postgres":
        return True
    return bool(_PG_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if _uses_postgres(item) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)
        # Real Airflow schedulers (two cores cannot run two side by side within their timeouts) and the
        # Redis database the integration tests pick: one worker runs them one after another.
        if Path(str(item.fspath)).relative_to(REPO).as_posix().startswith(SERIAL_DIRS):
            item.add_marker(pytest.mark.xdist_group(XDIST_SERIAL))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` that really groups: pytest-xdist 3.8 marks a group by rewriting ``item._nodeid``,
    which pytest 9.2 no longer reads (``nodeid`` comes from ``item._id``), so every test was its own work
    unit and two Airflow stacks ran side by side — and a module's shared fixtures ran once per worker that
    took one of its tests (test_scheduler's two backfills twice: 70–90 s more). The scheduler sees only
    node ids, so the group is told by path, as the marker above is given."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SerialGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return XDIST_SERIAL if nodeid.startswith(SERIAL_DIRS) else super()._split_scope(nodeid)

    return SerialGroupScheduling(config, log)


_running: dict[str, Any] = {"item": None}
_unmarked_pg: set[str] = set()


def _on_connect(dbapi_connection, connection_record) -> None:
    item = _running["item"]
    if item is None or item.get_closest_marker("postgres") is not None:
        return
    if type(dbapi_connection).__module__.split(".")[0] in {"psycopg2", "psycopg", "asyncpg", "pg8000"}:
        _unmarked_pg.add(item.nodeid)


def pytest_configure(config) -> None:
    try:
        import sqlalchemy
    except ImportError:  # pragma: no cover - every environment of this project has it
        return
    sqlalchemy.event.listen(sqlalchemy.pool.Pool, "connect", _on_connect)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _running["item"] = item
    try:
        return (yield)
    finally:
        _running["item"] = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and item.nodeid in _unmarked_pg and not report.failed:
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} opened a PostgreSQL connection but is not marked "
                           "@pytest.mark.postgres: mark it, so that -m 'not postgres' leaves it out")
    return report
