"""Crashes in the middle of a push: the sandbox restarts, the warehouse drops its connection, the
worker is killed with SIGKILL. After a clean rerun nothing is duplicated and nothing is missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from receivables import jobs
from receivables.codat.client import CodatClient
from tests.reliability.harness import assert_clean, build_world, check_invariants, close_world, run_day
from tests.reliability.worker import warehouse_arguments

pytestmark = [pytest.mark.slow]

DAY = date(2026, 11, 20)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(tmp_path, warehouse_settings):
    world = build_world(tmp_path, warehouse_settings, days=(DAY,))
    try:
        yield world
    finally:
        close_world(world)


def _push_posts(stats: dict) -> int:
    return sum(n for route, n in stats["requests"].items() if route.startswith("POST ") and "/push/" in route)


def _wait_for_posts(sandbox, at_least: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = _push_posts(sandbox.admin.stats())
        if posts >= at_least:
            return posts
        time.sleep(0.02)
    raise AssertionError(f"the sync sent fewer than {at_least} push(es) in {timeout:.0f} s")


def _rerun_and_check(world, label):
    clean = run_day(world, DAY, world.codat_settings())
    assert not clean.failures, clean.failures
    return assert_clean(world, [DAY], label)


@pytest.mark.parametrize("warehouse_settings", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_sandbox_restarted_while_pushing(world):
    # Slow pushes keep the run busy while the API goes away and comes back on the same port and state.
    world.sandbox.admin.set_faults(latency_ms=60, methods=["POST"])
    restarted = threading.Event()

    def restart_when_pushing():
        try:
            _wait_for_posts(world.sandbox, 3)
            world.sandbox.restart()
        finally:
            restarted.set()

    thread = threading.Thread(target=restart_when_pushing, daemon=True)
    thread.start()
    faulty = run_day(world, DAY, world.codat_settings(retry_deadline_seconds=15))
    thread.join(timeout=60)
    assert restarted.is_set() and world.sandbox.process is not None
    after = check_invariants(world, [DAY], expect_final=False)
    assert after.duplicates == 0, after.problems
    # The restart cut requests in flight and refused new ones for a moment: the client must have noticed
    # (retries) and bridged the gap within its deadline, so no company of the first run failed.
    print(f"[reliability] sandbox restart: {world.retry_counter.retries} retries, failures {faulty.failures}")
    assert world.retry_counter.retries > 0
    assert not faulty.failures, faulty.failures
    counts = _rerun_and_check(world, "sandbox restarted mid-run")
    assert counts.duplicates == 0


@pytest.mark.parametrize("warehouse_settings", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_warehouse_connection_dropped_while_pushing(world, warehouse_settings, pg_database_url):
    # Terminate every server backend of the test database repeatedly while the push runs: the ledger
    # writes of that moment fail, and the run of that company fails loudly (as an Airflow task would).
    world.sandbox.admin.set_faults(latency_ms=30, methods=["POST"])
    admin = sa.create_engine(pg_database_url, poolclass=sa.pool.NullPool)
    killed: list[int] = []
    done = threading.Event()

    def terminate_backends():
        try:
            _wait_for_posts(world.sandbox, 2)
            until = time.monotonic() + 1.5
            while time.monotonic() < until and not done.is_set():
                with admin.connect() as conn:
                    pids = conn.execute(sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend'")).scalars().all()
                killed.extend(p for p in pids if p)
                time.sleep(0.05)
        finally:
            done.set()

    thread = threading.Thread(target=terminate_backends, daemon=True)
    thread.start()
    try:
        faulty = run_day(world, DAY, world.codat_settings())
    finally:
        done.set()
        thread.join(timeout=30)
        admin.dispose()
    world.sandbox.admin.clear_faults()
    assert killed, "no warehouse connection was terminated during the push"
    print(f"[reliability] warehouse drop: {len(killed)} backend(s) terminated, "
          f"failures={list(faulty.failures.values())}")
    after = check_invariants(world, [DAY], expect_final=False)
    assert after.duplicates == 0, after.problems
    _rerun_and_check(world, "warehouse connection dropped")


@pytest.mark.parametrize("warehouse_settings",
                         ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_worker_killed_with_sigkill_mid_push(world, warehouse_settings, tmp_path):
    settings = world.sync_settings()
    plan = jobs.plan_run(world.engine, settings=settings, run_id="killed",
                         params={"business_date": DAY.isoformat()})
    company = plan["companies"][0]
    with CodatClient(world.codat_settings()) as client:
        jobs.refresh_reference(client, world.engine, company)
    # Slow pushes: the kill lands while operations are in flight and the ledger holds pending rows.
    world.sandbox.admin.set_faults(latency_ms=150, methods=["POST"])
    spec = {"warehouse": warehouse_arguments(warehouse_settings), "base_url": world.sandbox.base_url,
            "api_key": world.sandbox.api_key,
            "codat": {"max_concurrency_per_company": 2, "timeout_seconds": 5},
            "company": company, "report_dir": str(world.report_dir)}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("include", "plugins", ".")))
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "tests.reliability.worker", json.dumps(spec)],
                                  cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            posts = _wait_for_posts(world.sandbox, 4)
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL, log_path.read_text()[-2000:]
    world.sandbox.admin.clear_faults()

    ledger = world.table("ar_push_ledger", company_id=company["company_id"])
    # The crash left a trace: rows marked pending with their idempotency key before the POST.
    assert (ledger["status"] == "pending").any(), ledger[["source_id", "status"]]
    assert (ledger.loc[ledger["status"] == "pending", "idempotency_key"].str.len() > 0).all()
    if warehouse_settings.dialect == "postgresql":
        # The retry comes the next night: Codat has forgotten the keys, only the read-back protects.
        world.sandbox.admin.age_idempotency(24 * 3600)
    counts = _rerun_and_check(world, f"worker SIGKILL after {posts} POSTs")
    assert counts.duplicates == 0 and counts.lost == 0


@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_overlapping_workers_for_one_company(world):
    # A task declared dead while it still runs, and its retry: two workers sync the same company at once.
    settings = world.sync_settings()
    plan = jobs.plan_run(world.engine, settings=settings, run_id="zombie",
                         params={"business_date": DAY.isoformat()})
    for company in plan["companies"]:
        with CodatClient(world.codat_settings()) as client:
            jobs.refresh_reference(client, world.engine, company)
    world.sandbox.admin.set_faults(latency_ms=30, methods=["POST"])
    errors: list[str] = []

    def work(company):
        try:
            jobs.sync_company(world.codat_settings(), world.engine, company, settings=settings)
        except Exception as exc:  # noqa: BLE001 - one of the two may fail; neither may duplicate
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work, args=(c,)) for c in plan["companies"] for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    world.sandbox.admin.clear_faults()
    after = check_invariants(world, [DAY], expect_final=False)
    assert after.duplicates == 0, after.problems
    print(f"[reliability] overlapping workers: errors={errors}")
    _rerun_and_check(world, "two workers on one company")
