"""The shared measuring kit of the benchmarks: timing, peak memory, result tables and machine facts.

Every benchmark script measures a few *variants* of one job (the baseline and ours), prints one table
whose rates are compared with the baseline measured in the same run, and then prints its *targets*
(from issue 7) as MET or MISSED:

    runs = [measure("pd.read_sql", lambda: pd.read_sql(...), items=rows, unit="rows")]
    print_table("Warehouse read", runs, baseline="pd.read_sql")
    print_targets([Target("rows/s", achieved, ">=", 600_000)])

Peak memory is the peak resident set size (RSS). In-process measurements reset the kernel's
high-water mark first (``/proc/self/clear_refs``), so each variant reports its own peak; a sampler
thread adds the largest total RSS of child processes seen meanwhile. :func:`measure_isolated` runs a
variant in a fresh process instead, for peaks that must not include what the parent already holds.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import psutil

GIB = 1024**3
MIB = 1024**2
LIBRARIES = ("pandas", "numpy", "pyarrow", "SQLAlchemy", "psycopg2-binary", "httpx", "orjson", "uvicorn",
             "starlette", "uvloop", "httptools", "pydantic")


@dataclass
class Run:
    """One measured variant: how long it took for how many items, and its peak memory."""

    label: str
    seconds: float
    items: int
    unit: str
    peak_rss: int | None = None  # bytes, this process (or the isolated child)
    children_rss: int | None = None  # bytes, largest sum over child processes seen while it ran
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Target:
    """One figure of the issue: what was achieved against what is required."""

    name: str
    achieved: float
    op: str  # ">=" or "<="
    required: float
    fmt: str = "{:,.0f}"

    @property
    def met(self) -> bool:
        return self.achieved >= self.required if self.op == ">=" else self.achieved <= self.required


# ------------------------------------------------------------------------------------------ memory

def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux ≥ 4.0); False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_self() -> int:
    """Peak RSS of this process since the last reset (VmHWM), else since it started."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class ChildrenSampler:
    """Samples the total RSS of this process's descendants every ``interval`` seconds; keeps the max.

    Also keeps the largest single child, since the issue caps the peak of *any* process.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_total = 0
        self.peak_single = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._me = psutil.Process()

    def _loop(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for child in self._me.children(recursive=True):
                    try:
                        rss = child.memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    self.peak_single = max(self.peak_single, rss)
            except psutil.Error:
                pass
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> ChildrenSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class ProcessSampler(ChildrenSampler):
    """Samples one known process's RSS (reading ``/proc/<pid>/statm``: microseconds), keeping the max.

    For long runs with many processes: :class:`ChildrenSampler` walks every process on the machine
    to find the descendants (≈ 2.4 ms of CPU per sample here, ≈ 5 % of a core at 20 samples a second),
    which a benchmark on 2 cores then pays for in its own figures. Processes that can report their own
    peak (``ru_maxrss``) should; this is for one that cannot (a server).
    """

    def __init__(self, process: psutil.Process, interval: float = 0.05) -> None:
        super().__init__(interval)
        self._process = process

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self._process.memory_info().rss
            except psutil.Error:
                rss = 0
            self.peak_single = max(self.peak_single, rss)
            self.peak_total = max(self.peak_total, rss)
            self._stop.wait(self.interval)


# ------------------------------------------------------------------------------------------ measuring

def measure(label: str, fn: Callable[[], Any], *, items: int, unit: str, repeat: int = 1,
            setup: Callable[[], Any] | None = None,
            extra: Callable[[Any], dict[str, Any]] | None = None) -> Run:
    """Time ``fn()`` in this process (the fastest of ``repeat`` runs, ``setup()`` untimed before each),
    with the peak RSS of this process and of its children over all runs."""
    best = float("inf")
    result: Any = None
    gc.collect()
    _reset_peak_rss()
    with ChildrenSampler() as children:
        for _ in range(repeat):
            if setup is not None:
                setup()
            result = None
            gc.collect()
            started = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - started)
    run = Run(label, best, items, unit, peak_rss=peak_rss_self(), children_rss=children.peak_total or None)
    if repeat > 1:
        run.extra["runs"] = repeat
    if extra is not None:
        run.extra.update(extra(result))
    del result
    gc.collect()
    return run


def _isolated_call(fn: Callable[..., Any], args: tuple) -> tuple[float, int, Any]:
    started = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - started
    return seconds, peak_rss_self(), result


def measure_isolated(label: str, fn: Callable[..., Any], args: tuple = (), *, items: int, unit: str,
                     repeat: int = 1) -> Run:
    """Run ``fn(*args)`` in a fresh (spawned) process; its peak RSS is that whole process's peak.

    With ``repeat`` the fastest of that many fresh processes counts (and the highest peak).
    ``fn`` must be importable (a module-level function); what it returns (small!) lands in ``extra``;
    a ``"seconds"`` entry there replaces the timing of the whole call.
    """
    best, highest, result = float("inf"), 0, None
    for _ in range(repeat):
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            seconds, peak, result = pool.submit(_isolated_call, fn, args).result()
        if isinstance(result, dict) and "seconds" in result:
            seconds = result.pop("seconds")  # the child timed the work itself, without its set-up
        best, highest = min(best, seconds), max(highest, peak)
    run = Run(label, best, items, unit, peak_rss=highest,
              extra=dict(result) if isinstance(result, dict) else {})
    if repeat > 1:
        run.extra["runs"] = repeat
    return run


# ------------------------------------------------------------------------------------------ printing

@dataclass(frozen=True)
class CpuAccount:
    """The whole machine's CPU over a window, to say what else the cores did besides our processes.

    ``busy``: core-seconds spent running anything (user, nice, system, interrupts; ``/proc/stat``);
    ``steal``: core-seconds the hypervisor gave to other guests (a slow, noisy host shows here);
    ``postgres``: core-seconds of the PostgreSQL server — its live processes plus every backend it
    has reaped (the postmaster's children times), so backends that came and went are counted.
    """

    busy: float
    steal: float
    postgres: float

    def __sub__(self, earlier: CpuAccount) -> CpuAccount:
        return CpuAccount(self.busy - earlier.busy, self.steal - earlier.steal,
                          self.postgres - earlier.postgres)


def cpu_account() -> CpuAccount:
    """The machine's :class:`CpuAccount` so far (zeros where Linux's ``/proc`` is not there)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return CpuAccount(0.0, 0.0, 0.0)
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return CpuAccount((user + nice + system + irq + softirq) / tick, steal / tick, _postgres_cpu())


def _postgres_cpu() -> float:
    total = 0.0
    for process in psutil.process_iter(["name", "ppid"]):
        try:
            if process.info["name"] != "postgres":
                continue
            times = process.cpu_times()
            total += times.user + times.system
            parent = process.parent()
            if parent is None or parent.name() != "postgres":  # the postmaster: it reaps the backends
                total += times.children_user + times.children_system
        except (psutil.Error, OSError):
            continue
    return total


def human_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / GIB:.2f} GiB" if value >= GIB else f"{value / MIB:.0f} MiB"


def print_table(title: str, runs: Sequence[Run], *, baseline: str | None = None) -> None:
    """A Markdown table of the runs, with each rate as a multiple of the baseline's."""
    base = next((r for r in runs if r.label == baseline), None)
    print(f"\n### {title}\n")
    print("| variant | items | seconds | rate | × baseline | peak RSS | children RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in runs:
        ratio = f"{r.rate / base.rate:.1f}×" if base is not None else "-"
        print(f"| {r.label} | {r.items:,} {r.unit} | {r.seconds:.2f} | {r.rate:,.0f} {r.unit}/s | {ratio} "
              f"| {human_bytes(r.peak_rss)} | {human_bytes(r.children_rss)} |")
    notes = [f"- {r.label}: " + ", ".join(f"{k}={v}" for k, v in r.extra.items()) for r in runs if r.extra]
    if notes:
        print()
        print("\n".join(notes))
    sys.stdout.flush()


def print_targets(targets: Sequence[Target]) -> None:
    print(f"\n- speed probe at the end: {speed_probe():.0f} ms (at the start: see Machine)")
    for t in targets:
        print(f"target {t.name}: {t.fmt.format(t.achieved)} {t.op} {t.fmt.format(t.required)} → "
              f"{'MET' if t.met else 'MISSED'}")
    sys.stdout.flush()


def ratio(runs: Sequence[Run], label: str, baseline: str) -> float:
    by = {r.label: r for r in runs}
    return by[label].rate / by[baseline].rate


# ------------------------------------------------------------------------------------------ machine

def machine_facts() -> dict[str, str]:
    """Cores, memory, CPU, Python and library versions: what a reader needs to compare figures."""
    facts = {
        "cores": f"{os.cpu_count()} logical ({psutil.cpu_count(logical=False)} physical)",
        "memory": human_bytes(psutil.virtual_memory().total),
        "cpu": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
    }
    for name in LIBRARIES:
        try:
            facts[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    facts["postgresql"] = postgres_version()
    facts["speed probe"] = f"{speed_probe():.0f} ms (a fixed pure-Python loop, best of 3: lower is faster)"
    return facts


SPEED_PROBE_STEPS = 2_000_000


def speed_probe() -> float:
    """Milliseconds for a fixed pure-Python loop, best of three.

    This machine's speed drifts by half within an afternoon with nothing else running (RESULTS.md §7),
    so every benchmark prints this at its start and at its end: figures compare only between runs whose
    probes agree, and a figure's miss or pass can be read against the speed it was taken at."""
    best = float("inf")
    for _ in range(3):
        start, total = time.perf_counter(), 0
        for i in range(SPEED_PROBE_STEPS):
            total += i & 7
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def postgres_version() -> str:
    try:
        import psycopg2

        conn = psycopg2.connect(PG_ADMIN_DSN, connect_timeout=3)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                return cur.fetchone()[0]
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - a fact we cannot read is reported as such
        return "not reachable"


def print_machine_facts() -> None:
    print("\n### Machine\n")
    for name, value in machine_facts().items():
        print(f"- {name}: {value}")
    sys.stdout.flush()


# ------------------------------------------------------------------------------------------ CLI

PG_ADMIN_DSN = os.environ.get("RS_BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def parser(description: str) -> argparse.ArgumentParser:
    """The common command line of a benchmark script (each adds its own size flags)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quiet-machine", action="store_true", help="do not print the machine facts")
    return p


def header(title: str, args: argparse.Namespace) -> None:
    print(f"\n## {title}")
    if not getattr(args, "quiet_machine", False):
        print_machine_facts()
