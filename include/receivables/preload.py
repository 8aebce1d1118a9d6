"""What a worker imports once so that every task it forks starts warm.

A fresh Python process pays ≈ 0.8 s of CPU importing pandas, pyarrow, SQLAlchemy, pydantic and the
Codat client before a company task does anything — at a hundred companies and three tasks each, that
is most of a small night. Airflow 3.3's LocalExecutor can start its workers from a ``forkserver``
that has imported a list of modules first (``[scheduler] mp_start_method = forkserver`` and
``[scheduler] mp_forkserver_preload = receivables.preload``); every task process the worker's
supervisor forks then shares these modules copy-on-write instead of importing them again. The
benchmarks start their company processes the same way (``benchmarks/bench_night.py``).

Importing this module only imports: it opens no connection, starts no thread and reads no setting,
so forking after it is as safe as forking a fresh interpreter. ``MODULES`` is the one list of what it
loads; a module missing from it still works, it is only imported again in each task.
"""

from __future__ import annotations

import importlib

# What the company tasks (refresh_reference → sync_company → reconcile_company) import, including
# the ones they import lazily on purpose (a fresh process that only reads skips aiohttp; a forked
# one gets it for free). The report's libraries are left out: one task per run uses them.
MODULES = (
    "pandas",
    "pyarrow",
    "pyarrow.compute",
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql.psycopg2",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "psycopg2.extras",
    "receivables.jobs",
    "receivables.codat.client",
    "receivables.codat.transport",
    "receivables.push.run",
    "receivables.push.settle",
    "receivables.transform",
    "receivables.warehouse",
)


def preload(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules``; return the ones that are now loaded (all of them, or the import fails)."""
    return [importlib.import_module(name).__name__ for name in modules]


preload()
