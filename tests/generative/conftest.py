"""One sandbox and one warehouse per test module (SQLite and PostgreSQL); each example gets its own company.

Starting a sandbox and migrating a warehouse cost seconds; a fresh company per example keeps examples
independent at a fraction of that.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from receivables.warehouse import WarehouseSettings
from tests.fixtures.sandbox import start_sandbox
from tests.fixtures.warehouse import migrated, pg_schema

_names = itertools.count(1)


@pytest.fixture(scope="module")
def gen_sandbox(tmp_path_factory: pytest.TempPathFactory):
    proc = start_sandbox(tmp_path_factory.mktemp("gen-sandbox"), push_delay_ms=0)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def gen_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A migrated warehouse shared by the module's examples, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        settings = iter([WarehouseSettings.from_connection(
            "sqlite", host=str(tmp_path_factory.mktemp("gen-warehouse") / "warehouse.db"))])
    else:
        settings = pg_schema(request.getfixturevalue("pg_database_url"))
    for warehouse in settings:
        yield from migrated(warehouse)


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A namespace of company ids no other test or example of the session uses."""
    return f"gen-{request.node.name}-{next(_names)}"
