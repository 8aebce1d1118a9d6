"""receivables.preload: what a forkserver imports so every forked task starts warm.

It must be safe to fork after: no thread started, no Airflow imported (the package imports without it),
and everything it lists really loaded — a silently failed import would only show as slow nights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _last_line_of(code: str) -> str:
    """What a fresh interpreter running ``code`` prints last."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ))
    return out.stdout.strip().splitlines()[-1]


def test_preloading_imports_every_listed_module_and_starts_no_thread():
    code = (
        "import json, sys, threading\n"
        "import receivables.preload as p\n"
        "print(json.dumps({'missing': [m for m in p.MODULES if m not in sys.modules],\n"
        "                  'threads': threading.active_count(),\n"
        "                  'airflow': sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')}))\n"
    )
    seen = json.loads(_last_line_of(code))
    assert seen == {"missing": [], "threads": 1, "airflow": []}


def test_what_it_imported_is_frozen_out_of_the_collectors_walks_and_collection_still_runs():
    """Full collections in a forked task must not walk (and copy-on-write) the preloaded modules, and
    the collector must be left on: a task's own cyclic garbage is still freed."""
    code = (
        "import gc, json, sys\n"
        "import receivables.preload\n"
        "frozen = gc.get_freeze_count()\n"
        "tracked = len(gc.get_objects())\n"
        "class Cycle: pass\n"
        "a = Cycle(); a.me = a; del a\n"
        "print(json.dumps({'frozen': frozen, 'tracked_after_preload': tracked,\n"
        "                  'thresholds': gc.get_threshold(), 'declared': receivables.preload.GC_THRESHOLDS,\n"
        "                  'enabled': gc.isenabled(), 'freed_a_cycle': gc.collect() >= 1}))\n"
    )
    seen = json.loads(_last_line_of(code))
    # pandas alone brings tens of thousands of objects; what is left tracked is this snippet's own.
    assert seen["frozen"] > 50_000 and seen["tracked_after_preload"] < seen["frozen"] / 10, seen
    assert seen["enabled"] and seen["freed_a_cycle"], seen
    # Young collections made rarer for the forked tasks (not this test process: it never imports it).
    assert seen["thresholds"] == seen["declared"] != [700, 10, 10], seen


def test_the_company_tasks_need_nothing_heavy_the_preload_leaves_out():
    """After the preload, importing what a company task imports, and building its clients, loads no
    further third-party package."""
    code = (
        "import sys\n"
        "import receivables.preload\n"
        "before = {m.split('.')[0] for m in sys.modules}\n"
        "from receivables import jobs, extract, sync, reconcile_scope\n"
        "from receivables.codat.client import AsyncCodatClient, CodatClient\n"
        "from receivables.settings import CodatSettings\n"
        "import asyncio\n"
        "settings = CodatSettings(api_key='k')\n"
        "CodatClient(settings).close()  # httpx imports its transport's packages here, not at import\n"
        "async def build(): await AsyncCodatClient(settings).aclose()\n"
        "asyncio.run(build())\n"
        "after = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(after - before))\n"
    )
    assert _last_line_of(code) == "[]"


def test_the_certificate_store_is_loaded_by_the_preload_not_by_each_task():
    """Loading the CA bundle is ≈ 28 ms per process; after the preload a (forked) task's first client
    reuses the context the preload loaded instead of loading its own."""
    code = (
        "import json\n"
        "import receivables.preload\n"
        "from receivables.codat import client\n"
        "loaded = client._tls_context.cache_info().currsize\n"
        "client.CodatClient(client.CodatSettings(api_key='k', base_url='https://api.codat.io')).close()\n"
        "info = client._tls_context.cache_info()\n"
        "print(json.dumps({'loaded_by_preload': loaded, 'loaded_again': info.misses - loaded}))\n"
    )
    assert json.loads(_last_line_of(code)) == {"loaded_by_preload": 1, "loaded_again": 0}
