"""Soak: five consecutive business days with random (seeded) faults, at a realistic volume.

Each business day runs twice through the job functions the DAG calls (``plan_run`` then, per company,
``refresh_reference → sync_company → reconcile_company``, then ``publish_report``): first with one or
two faults drawn from the menu below switched on in the sandbox (429 storm, 5xx burst, lost responses,
slow responses beyond the client timeout, push operations timing out or stuck in Pending, the daily
quota running out, the sandbox restarting mid-push), then clean — as the next night would. After each
day the invariants of ``tests/reliability/harness.py`` are checked over every day so far: every source
document pushed or rejected, exactly one platform record per pushed document, nothing lost.

Per day and in total it prints: documents, pushes (POST/PUT requests the sandbox answered), retries
(requests the client sent again), duplicates, lost, time. The exit status is 1 when anything was
duplicated or lost. Not part of the test suite; run it by hand (a few minutes at the defaults):

    python -m benchmarks.soak                                  # 5 companies x 200 invoices/day, PostgreSQL
    python -m benchmarks.soak --companies 2 --invoices 20 --warehouse sqlite --seed 7   # quick look
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.reliability.harness import World, build_world, check_invariants, close_world, run_day

from benchmarks.harness import header, parser
from receivables.warehouse import WarehouseSettings

FIRST_DAY = date(2026, 11, 16)  # a Monday
# How the sandbox misbehaves on a faulty night: name → (fault settings, client settings for that run).
FAULTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "429 storm": ({"rate_429": 0.7, "retry_after_seconds": 1, "duration_seconds": 4}, {}),
    "5xx burst": ({"rate_500": 0.2, "rate_503": 0.2, "duration_seconds": 5}, {}),
    "lost responses": ({"lose_response_rate": 0.3, "methods": ["POST"]}, {}),
    "lost responses, client gives up": ({"lose_response_rate": 0.5, "methods": ["POST"]},
                                        {"retry_deadline_seconds": 0.01}),
    "slow responses": ({"slow_response_rate": 0.2, "slow_response_ms": 1500, "methods": ["POST"]},
                       {"timeout_seconds": 1.0}),
    "TimedOut, write landed": ({"timeout_rate": 0.3, "methods": ["POST"]}, {}),
    "TimedOut, no write": ({"timeout_no_write_rate": 0.2, "methods": ["POST"]}, {}),
    "Pending forever": ({"pending_forever_rate": 0.1, "methods": ["POST"]}, {"settle_deadline_seconds": 2}),
}
EVENTS = ("daily quota", "sandbox restart")


@dataclass
class DayLine:
    """One soak day's counts."""

    day: date
    faults: str
    documents: int
    pushes: int
    retries: int
    duplicates: int
    lost: int
    seconds: float

    def text(self) -> str:
        return (f"{self.day}  {self.documents:>9,} {self.pushes:>8,} {self.retries:>8,} "
                f"{self.duplicates:>10} "
                f"{self.lost:>5} {self.seconds:>8.1f}s  {self.faults}")


class PushTally:
    """Push requests the sandbox answered, kept across restarts (a restart zeroes its own counters)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.before_restarts = 0

    def __call__(self) -> int:
        return self.before_restarts + self.world.post_count()

    def restart_when_pushing(self, done: threading.Event) -> None:
        """Restart the sandbox once it has answered a few pushes (from another thread, like a crash)."""
        start = self.world.post_count()
        deadline = time.monotonic() + 120
        while not done.is_set() and time.monotonic() < deadline:
            posts = self.world.post_count()
            if posts >= start + 5:
                self.before_restarts += posts
                self.world.sandbox.restart()
                return
            time.sleep(0.05)


def faulty_night(world: World, day: date, rng: random.Random, tally: PushTally) -> str:
    """Run ``day`` with one or two faults (and maybe an event) switched on; returns what was broken."""
    names = rng.sample(sorted(FAULTS), k=rng.choice((1, 2)))
    settings: dict[str, Any] = {"seed": rng.randrange(1_000_000)}
    client: dict[str, Any] = {}
    for name in names:
        settings.update(FAULTS[name][0])
        client.update(FAULTS[name][1])
    event = rng.choice((None, None, *EVENTS))
    if event:
        names.append(event)
    world.sandbox.admin.set_faults(**settings)
    if event == "daily quota":
        world.sandbox.admin.set_quota(max(40, world.post_count() // 4), used=0)
    restart_done = threading.Event()
    restarter = None
    if event == "sandbox restart":
        restarter = threading.Thread(target=tally.restart_when_pushing, args=(restart_done,), daemon=True)
        restarter.start()
    try:
        run_day(world, day, world.codat_settings(**{"retry_deadline_seconds": 20, **client}))
    finally:
        restart_done.set()
        if restarter is not None:
            restarter.join(timeout=60)
    world.sandbox.admin.clear_faults()
    world.sandbox.admin.set_quota(None, used=0)
    if any(n.startswith(("TimedOut", "Pending", "lost responses, client")) for n in names):
        _next_night(world)
    return " + ".join(names)


def _next_night(world: World) -> None:
    """What a day passing does to the platform: stuck operations time out, cached keys expire."""
    ledger = world.table("ar_push_ledger")
    stuck = ledger[(ledger["status"] == "pending") & ledger["push_operation_key"].notna()]
    for key in stuck["push_operation_key"]:
        world.sandbox.admin.force_operation_status(key, "TimedOut")
    world.sandbox.admin.age_idempotency(24 * 3600)


def soak(world: World, days: list[date], seed: int) -> list[DayLine]:
    rng = random.Random(seed)
    lines = []
    world.sandbox.admin.reset_stats()
    tally = PushTally(world)
    documents_so_far = 0
    for number, day in enumerate(days):
        started = time.monotonic()
        posts_before, retries_before = tally(), world.retry_counter.retries
        faults = faulty_night(world, day, rng, tally)
        clean = run_day(world, day, world.codat_settings(retry_deadline_seconds=20))
        counts = check_invariants(world, days[: number + 1])
        if clean.failures:
            counts.problems[:0] = [f"clean rerun failed for {c}: {e}" for c, e in clean.failures.items()]
        line = DayLine(day, faults, counts.documents - documents_so_far, tally() - posts_before,
                       world.retry_counter.retries - retries_before, counts.duplicates, counts.lost,
                       time.monotonic() - started)
        documents_so_far = counts.documents
        print(line.text(), flush=True)
        for problem in counts.problems[:10]:
            print(f"    ! {problem}", flush=True)
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--companies", type=int, default=5)
    p.add_argument("--invoices", type=int, default=200, help="invoices per company per business day")
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--warehouse", choices=("postgres", "sqlite"), default="postgres")
    args = p.parse_args(argv)
    header(f"Soak: {args.days} business days, {args.companies} companies x {args.invoices} invoices/day, "
           f"seed {args.seed}", args)
    days = [FIRST_DAY + timedelta(days=i + 2 * (i // 5)) for i in range(args.days)]  # weekdays only
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rs-soak-")))
        if args.warehouse == "postgres":
            from benchmarks.data import pg_settings, scratch_database

            name, engine = stack.enter_context(scratch_database("soak"))
            warehouse: WarehouseSettings = pg_settings(name)
        else:
            engine = None
            warehouse = WarehouseSettings.from_connection("sqlite", host=str(workdir / "warehouse.db"))
        started = time.monotonic()
        world = build_world(workdir, warehouse, companies=args.companies, invoices_per_day=args.invoices,
                            days=days, bad_row_fraction=0.05, seed=args.seed,
                            sandbox_flags={"push_delay_ms": 20}, engine=engine)
        print(f"set-up (sandbox, companies, {sum(world.manifest.row_counts.values()):,} sample rows): "
              f"{time.monotonic() - started:.1f}s\n")
        print("day         documents   pushes  retries duplicates  lost     time  faults")
        try:
            lines = soak(world, days, args.seed)
        finally:
            close_world(world)
    total = DayLine(days[-1], "", sum(x.documents for x in lines), sum(x.pushes for x in lines),
                    sum(x.retries for x in lines),
                    lines[-1].duplicates, lines[-1].lost, sum(x.seconds for x in lines))
    print("total      " + total.text()[10:])
    ok = all(x.duplicates == 0 and x.lost == 0 for x in lines)
    print("RESULT: " + ("nothing lost, nothing duplicated" if ok else "FAILED: duplicates or lost documents"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
