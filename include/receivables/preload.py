"""What a worker imports once so that every task it forks starts warm.

A fresh Python process pays ≈ 0.8 s of CPU importing pandas, pyarrow, SQLAlchemy, pydantic and the
Codat client before a company task does anything — at a hundred companies and three tasks each, that
is most of a small night. Airflow 3.3's LocalExecutor can start its workers from a ``forkserver``
that has imported a list of modules first (``[scheduler] mp_start_method = forkserver`` and
``[scheduler] mp_forkserver_preload = receivables.preload``); every task process the worker's
supervisor forks then shares these modules copy-on-write instead of importing them again. The
benchmarks start their company processes the same way (``benchmarks/bench_night.py``).

Importing this module only imports, and loads the certificate store: it opens no connection, starts no
thread and reads no setting beyond ``SSL_CERT_FILE``/``SSL_CERT_DIR``, so forking after it is as safe as
forking a fresh interpreter. ``MODULES`` is the one list of what it loads; a module missing from it still
works, it is only imported again in each task.

The certificate store (:func:`receivables.codat.client.tls_context`) is built here too: loading the CA
bundle was ≈ 1.7 % of a company chain's CPU (every task process built it for its first client). It is
cached by the two variables, so a task started with different ones still loads its own.

It then *freezes* what it imported (:func:`gc.freeze`, as the ``gc`` documentation advises before a
fork): the ≈ 130,000 objects of these modules move to the collector's permanent generation, so a
task's full collections no longer walk them. Walking them was ≈ 90 ms per full collection, and in a
forked task each walk also writes to the inherited pages (copy-on-write): measured on ten companies of
≈ 4,200 documents each, the company processes' CPU fell from 64–69 s to 49–53 s. Nothing imported here
is garbage, so nothing collectable is kept.

Last, it makes the young collections rarer (:data:`GC_THRESHOLDS`, inherited by every forked task): a
company task allocates pandas' small objects by the million, and the default (a young collection every
700 allocations) spent ≈ 2 % of a small night's company CPU collecting nothing (measured side by side,
two tiny nights at once on the same code: 77.0 against 78.9 and 80.2 against 82.1 CPU-s per 1k documents).
"""

from __future__ import annotations

import gc
import importlib
import sys

# (young, middle, old): a young collection every 20,000 net allocations instead of 700, each older
# generation after 20 of the one below instead of 10. Garbage with cycles lives a little longer; a
# task's frames are freed by reference counting as before.
GC_THRESHOLDS = (20_000, 20, 20)

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
    "httpcore",  # httpx imports it (with h11, anyio) only when a client builds its first transport
    "receivables.codat.transport",
    "receivables.push.run",
    "receivables.push.settle",
    "receivables.transform",
    "receivables.warehouse",
)


def preload(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules`` and freeze them out of the cyclic collector's walks; return the ones that are
    now loaded (all of them, or the import fails)."""
    # No collection while importing: one would free objects between long-lived ones and leave holes
    # in pages every fork then shares (the ``gc`` documentation's advice for a forking server).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        loaded = [importlib.import_module(name).__name__ for name in modules]
        _warm_certificate_store()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
    finally:
        if was_enabled:
            gc.enable()
    return loaded


def _warm_certificate_store() -> None:
    # Only when the client was preloaded: a shorter list must not pull it (and httpx) in.
    client = sys.modules.get("receivables.codat.client")
    if client is not None:
        client.tls_context()


preload()
