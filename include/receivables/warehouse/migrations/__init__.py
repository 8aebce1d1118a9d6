"""Versioned, explicit schema changes for the tables the pipeline owns (the outputs).

Each change is a module ``vNNNN_<name>.py`` in this package with an ``upgrade(connection)`` function.
:func:`migrate` applies the pending ones in version order, each in its own transaction together with
its row in ``ar_schema_version``, so a failed step leaves the warehouse at the previous version.

    >>> applied = migrate(engine)      # e.g. [1] on a fresh warehouse, [] afterwards
    >>> ensure_current(engine)         # what every job calls: one SELECT, then nothing for this engine

A run migrates once: its first task goes through :func:`ensure_current`, which finds the warehouse
behind the code and calls :func:`migrate`; every later job of the run asks the version table once
(one small query) and finds nothing to do, and a job asking again with the same engine asks nothing.
A job given the version its run's plan found (``checked_version``, the plan's stamp) asks nothing
either when that is this code's version: the plan checked, and versions only ever go up. A job run
alone (a backfill, the reference-data DAG) has no stamp and asks.

Two workers may call :func:`migrate` at once: on PostgreSQL each step runs under a transaction-scoped
advisory lock, on SQLite under ``BEGIN IMMEDIATE``; the loser of the race re-reads the version table
inside the lock and skips what the winner applied.

Input tables belong to the data team and are never migrated; :func:`create_input_tables` makes them for
the demo, tests and the sample-data generator.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from receivables.warehouse.engine import begin_write
from receivables.warehouse.schema import INPUT_TABLES, ar_schema_version, metadata

log = logging.getLogger(__name__)

# Arbitrary constant naming "receivables-sync schema migrations" among the server's advisory locks.
ADVISORY_LOCK_ID = 0x52_53_4D_49_47  # "RSMIG"

_MODULE_NAME = re.compile(r"^v(\d{4})_(\w+)$")


@dataclass(frozen=True)
class Migration:
    """One numbered schema change."""

    version: int
    name: str
    upgrade: Callable[[Connection], None]


def available_migrations() -> list[Migration]:
    """Every ``vNNNN_*`` module of this package, in version order."""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        match = _MODULE_NAME.match(info.name)
        if not match:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(Migration(int(match.group(1)), match.group(2), module.upgrade))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


@functools.cache
def _code_versions() -> frozenset[int]:
    """The versions this code expects (the package's modules do not change while a process runs).

    From the module names alone: a warehouse that is current never needs the modules imported.
    """
    names = (_MODULE_NAME.match(info.name) for info in pkgutil.iter_modules(__path__))
    return frozenset(int(match.group(1)) for match in names if match)


def code_version() -> int:
    """The newest version this code expects: what a checked warehouse is stamped with for a run."""
    return max(_code_versions(), default=0)


# Engines already seen at the code's version in this process: a job using one asks nothing more.
_current: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_current(engine: Engine, *, checked_version: int | None = None) -> list[int]:
    """Bring the warehouse to the code's version, cheaply when it is there already; returns what was applied.

    One ``SELECT`` of the version table decides: when every migration of this code is applied nothing
    else happens, and the engine is not asked again in this process. A warehouse behind the code (or
    never migrated, or unreadable) goes through :func:`migrate`, locks and all, exactly as before.
    ``checked_version``: the :func:`code_version` an earlier task of the same run found the warehouse at
    (the plan's stamp); equal to this code's, nothing is asked. Any other value (older code planned the
    run) is ignored and the version table asked as without it.
    """
    if engine in _current:
        return []
    if checked_version is not None and checked_version == code_version():
        _current.add(engine)
        return []
    applied = migrate(engine) if _behind(engine) else []
    _current.add(engine)
    return applied


# The key of a run's work items (``jobs.plan_run``'s companies) that carries the plan's stamp.
STAMP = "schema_version"


def stamp() -> dict[str, int]:
    """What the plan puts in each work item once it has brought the warehouse to this code's version."""
    return {STAMP: code_version()}


def ensure_stamped(engine: Engine, item: Mapping[str, Any]) -> list[int]:
    """:func:`ensure_current` for a job given a work item: its plan's stamp, if any, saves the query."""
    return ensure_current(engine, checked_version=item.get(STAMP))


def _behind(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            have = set(conn.execute(sa.select(ar_schema_version.c.version)).scalars())
    except sa.exc.DBAPIError:  # no version table yet, or a broken warehouse: migrate() creates or reports it
        return True
    return not _code_versions() <= have


def applied_versions(engine: Engine) -> list[int]:
    """Versions already applied to this warehouse (empty when it was never migrated)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(ar_schema_version.name):
            return []
        return sorted(conn.execute(sa.select(ar_schema_version.c.version)).scalars())


def migrate(engine: Engine, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the pending migrations in order; return the versions this call applied."""
    steps = available_migrations() if migrations is None else sorted(migrations, key=lambda m: m.version)
    applied: list[int] = []
    for step in steps:
        with begin_write(engine) as conn:
            _lock(conn)
            metadata.create_all(conn, tables=[ar_schema_version], checkfirst=True)
            done = conn.execute(
                sa.select(ar_schema_version.c.version).where(ar_schema_version.c.version == step.version)
            ).first()
            if done:
                continue
            log.info("applying warehouse migration %04d_%s", step.version, step.name)
            step.upgrade(conn)
            conn.execute(
                sa.insert(ar_schema_version).values(
                    version=step.version, name=step.name, applied_at=datetime.now(UTC).replace(tzinfo=None)
                )
            )
            applied.append(step.version)
    return applied


def _lock(conn: Connection) -> None:
    # SQLite: begin_write already holds the write lock (BEGIN IMMEDIATE).
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_ID})


def create_input_tables(engine: Engine) -> None:
    """Create the data team's input tables that are missing (demo, tests and sample data only)."""
    with begin_write(engine) as conn:
        _lock(conn)
        metadata.create_all(conn, tables=list(INPUT_TABLES), checkfirst=True)
