"""Targets 5 and 6 — a whole night end to end, and how it scales with volume.

At ``--scale 1`` the night is 200,000 invoices, 50,000 credit notes and 100,000 payments over 100
companies (plus the customers the sample generator creates for them), written to a fresh PostgreSQL
warehouse and pushed to a sandbox process with 50 ms added to every request.

The Airflow DAG ``receivables_sync`` is driven without Airflow, through the same job functions its
tasks call (``receivables.jobs``): ``plan_run``, then per company the chain ``refresh_reference →
sync_company → reconcile_company`` — each company's chain in its own fresh process, ``--workers``
(default 8, the ``accounting_api`` pool's slots) at a time, as the scheduler runs mapped task groups —
and finally ``publish_report``. A company process is forked from a ``forkserver`` that imported
``receivables.preload`` once, as our Airflow configuration has the LocalExecutor start its workers
(``--start-method spawn``: a fresh interpreter per company that imports everything itself). The wall
time counts from ``plan_run`` to the report; loading the sample data is set-up and reported
separately. Peak RSS is per process: this one, each company process (its own peak) and the sandbox.

CPU is reported per 1,000 documents for the pipeline (the company processes, each from its start, the
forkserver's one preload, and this process's plan and report) apart from the sandbox's (its process,
over the same window). The per-company fixed cost is measured after the night on a tiny one
(``--fixed-cost`` companies of 10 invoices each, one company process at a time): process start,
imports and each task of the chain.

    python -m benchmarks.bench_night --scale 1            # target 5
    python -m benchmarks.bench_night --scale 0.1          # a tenth of it (<= 90 s)
    python -m benchmarks.bench_night --scales 0.25,0.5,1,2  # target 6
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from pydantic import SecretStr

from benchmarks.harness import (
    GIB,
    CpuAccount,
    ProcessSampler,
    Target,
    cpu_account,
    header,
    human_bytes,
    parser,
    peak_rss_self,
    print_targets,
)

FULL = {"companies": 100, "invoices": 200_000, "credit_notes": 50_000, "payments": 100_000}
WALL_TARGET_SECONDS = 600
TENTH_WALL_TARGET_SECONDS = 90  # --scale 0.1
FIXED_COST_TARGET_SECONDS = 2.0
FIXED_COST_INVOICES = 10  # per company of the tiny night the fixed cost is measured on
RSS_TARGET = 1.5 * GIB
CHAIN_PARTS = ("process start", "imports", "refresh_reference", "sync_company", "reconcile_company")


@dataclass
class NightResult:
    """What one night did and cost."""

    scale: float
    companies: int
    rows: dict[str, int]
    load_seconds: float
    wall_seconds: float
    requests: int
    peak_self: int
    peak_company: int
    peak_sandbox: int
    outcomes: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    chains: list[dict[str, float]] = field(default_factory=list)  # per company: CHAIN_PARTS → seconds
    cpu_companies: float = 0.0   # CPU seconds of the company processes, each from its start
    cpu_driver: float = 0.0      # CPU seconds of this process from plan to report (plan_run, publish_report)
    cpu_sandbox: float = 0.0     # CPU seconds of the sandbox process over the same window
    cpu_server: float = 0.0      # CPU seconds of the forkserver (its preload), included in cpu_companies
    start_method: str = "forkserver"
    machine: CpuAccount = CpuAccount(0.0, 0.0, 0.0)  # the whole machine over the same window

    @property
    def documents(self) -> int:
        return sum(self.rows.get(t, 0)
                   for t in ("ar_customers", "ar_invoices", "ar_credit_notes", "ar_payments"))

    def cpu_per_1k(self, seconds: float) -> float:
        return 1000 * seconds / self.documents if self.documents else 0.0

    def chain_median(self, part: str | None = None) -> float:
        """The median over companies of one part of the chain (None: the whole chain)."""
        values = [c.get(part, 0.0) if part else sum(c.get(p, 0.0) for p in CHAIN_PARTS) for c in self.chains]
        return statistics.median(values) if values else 0.0


def company_chain(warehouse: dict, base_url: str, api_key: str, company: dict, report_dir: str) -> dict:
    """One company's ``refresh_reference → sync_company → reconcile_company``, as its three tasks do.

    Also what the process cost before the first task: its start (interpreter, unpickling this call) and
    the pipeline's imports; and its CPU seconds from its start to the end of the chain.
    """
    process_start = _process_age()
    started = time.perf_counter()
    from receivables import jobs
    from receivables.codat.client import CodatClient
    from receivables.settings import CodatSettings, SyncSettings
    from receivables.warehouse import WarehouseSettings, create_warehouse_engine

    seconds: dict[str, float] = {"process start": process_start, "imports": time.perf_counter() - started}
    codat = CodatSettings(base_url=base_url, api_key=SecretStr(api_key))
    settings = SyncSettings(report_dir=report_dir)
    engine = create_warehouse_engine(WarehouseSettings(**warehouse))
    try:
        started = time.perf_counter()
        with CodatClient(codat) as client:
            jobs.refresh_reference(client, engine, company)
        seconds["refresh_reference"] = time.perf_counter() - started
        started = time.perf_counter()
        synced = jobs.sync_company(codat, engine, company, settings=settings)
        seconds["sync_company"] = time.perf_counter() - started
        started = time.perf_counter()
        with CodatClient(codat) as client:
            reconciled = jobs.reconcile_company(client, engine, company, settings=settings)
        seconds["reconcile_company"] = time.perf_counter() - started
    finally:
        engine.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"company_id": company["company_id"], "peak_rss": peak_rss_self(), "seconds": seconds,
            "cpu": usage.ru_utime + usage.ru_stime,
            "outcomes": reconciled.get("outcomes", {}), "rejected": synced.get("rejected", 0)}


def _process_age() -> float:
    """Seconds since this process was created (Linux: its start in clock ticks against the uptime, both
    since boot — psutil's create_time is off by up to a second, the boot time being whole seconds)."""
    try:
        with open("/proc/uptime") as uptime, open("/proc/self/stat") as stat:
            now = float(uptime.read().split()[0])
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        return max(now - ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def spec_for_scale(scale: float, companies: int = FULL["companies"], *,
                   invoices_per_company: int | None = None):
    from benchmarks import data
    from sample_data import SampleSpec

    per_company = invoices_per_company or max(1, round(FULL["invoices"] * scale / companies))
    return SampleSpec(companies=companies, business_days=(data.BUSINESS_DAY,), invoices_per_day=per_company,
                      credit_note_ratio=FULL["credit_notes"] / FULL["invoices"],
                      payment_ratio=FULL["payments"] / FULL["invoices"])


def process_context(start_method: str) -> multiprocessing.context.BaseContext:
    """How company processes start: ``forkserver`` forks each from a server that has imported
    ``receivables.preload`` — what our Airflow configuration makes the LocalExecutor do
    (``[scheduler] mp_start_method = forkserver``, ``mp_forkserver_preload = receivables.preload``);
    ``spawn`` starts a fresh interpreter per company that imports everything itself (a default install)."""
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload(["receivables.preload"])
    return context


def _forkserver_cpu() -> float:
    """CPU seconds of the forkserver so far (its preload is the pipeline's, paid once per server)."""
    from multiprocessing import forkserver

    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    try:
        return _cpu_seconds(psutil.Process(pid)) if pid else 0.0
    except psutil.Error:
        return 0.0


def _run_chains(chain_args: list[tuple], workers: int,
                start_method: str = "forkserver") -> tuple[list[dict], list[str]]:
    """Each company's chain in a fresh process, ``workers`` at a time (0: here, one by one)."""
    if workers == 0:  # in this process, one company after another (quick checks)
        return [company_chain(*a) for a in chain_args], []
    results, failed = [], []
    context = process_context(start_method)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [(pool.submit(company_chain, *a), a[3]["company_id"]) for a in chain_args]
        for future, company_id in futures:
            try:
                results.append(future.result())
            except Exception as exc:  # noqa: BLE001 - reported per company, as Airflow would
                failed.append(f"{company_id}: {type(exc).__name__}: {exc}"[:300])
    return results, failed


def run_night(scale: float, *, workers: int, latency_ms: float, start_method: str = "forkserver",
              companies: int = FULL["companies"], invoices_per_company: int | None = None) -> NightResult:
    from benchmarks import data
    from local_stack.sandbox_process import SandboxProcess
    from receivables import jobs
    from receivables.settings import SyncSettings
    from sample_data import provision_companies, write_sample

    spec = spec_for_scale(scale, companies, invoices_per_company=invoices_per_company)
    with tempfile.TemporaryDirectory(prefix="rs-bench-night-") as tmp, \
            data.scratch_database("night") as (database, engine):
        sandbox = SandboxProcess(Path(tmp), state=str(Path(tmp) / "sandbox.sqlite")).start()
        try:
            started = time.perf_counter()
            companies = provision_companies(sandbox.base_url, spec.companies, api_key=sandbox.api_key,
                                            namespace="bench-night")
            manifest = write_sample(engine, spec, companies)
            load_seconds = time.perf_counter() - started
            sandbox.admin.set_faults(latency_ms=latency_ms)
            sandbox.admin.reset_stats()
            settings = SyncSettings(report_dir=str(Path(tmp) / "reports"))
            sandbox_ps = psutil.Process(sandbox.process.pid)
            warehouse = data.pg_settings(database).model_dump(exclude_none=True)
            # The sandbox's RSS sampled; each company process reports its own peak (ru_maxrss).
            with ProcessSampler(sandbox_ps) as sampler:
                started, cpu_started, sandbox_cpu_started = (time.perf_counter(), time.process_time(),
                                                             _cpu_seconds(sandbox_ps))
                server_cpu_started, machine_started = _forkserver_cpu(), cpu_account()
                plan = jobs.plan_run(engine, settings=settings, run_id="bench_night",
                                     params={"business_date": data.BUSINESS_DAY.isoformat()})
                results, failed = _run_chains(
                    [(warehouse, sandbox.base_url, sandbox.api_key, company, str(Path(tmp) / "reports"))
                     for company in plan["companies"]], workers, start_method)
                cpu_server = _forkserver_cpu() - server_cpu_started
                report_started = time.perf_counter()
                jobs.publish_report(engine, plan, settings=settings)
                report_seconds = time.perf_counter() - report_started
                wall = time.perf_counter() - started
                cpu_driver = time.process_time() - cpu_started
                cpu_sandbox = _cpu_seconds(sandbox_ps) - sandbox_cpu_started
                machine = cpu_account() - machine_started
                sandbox_peak = max(sandbox_ps.memory_info().rss, 0)
            requests = sandbox.admin.stats()
            api_requests = sum(n for route, n in requests["requests"].items() if " /admin" not in route)
        finally:
            sandbox.stop()
    outcomes: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    for r in results:
        outcomes.update(r["outcomes"])
        phases.update(r["seconds"])
    phases["publish_report"] = report_seconds
    company_peak = max([r["peak_rss"] for r in results], default=0)
    return NightResult(
        scale=scale, companies=spec.companies, rows=dict(manifest.row_counts), load_seconds=load_seconds,
        wall_seconds=wall, requests=api_requests,
        peak_self=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        peak_company=company_peak, peak_sandbox=max(sandbox_peak, sampler.peak_single),
        outcomes=dict(outcomes), failed=failed, phase_seconds=dict(phases),
        chains=[r["seconds"] for r in results], cpu_companies=sum(r["cpu"] for r in results) + cpu_server,
        cpu_driver=cpu_driver, cpu_sandbox=cpu_sandbox, cpu_server=cpu_server, start_method=start_method,
        machine=machine)


def print_night(result: NightResult, workers: int, latency_ms: float) -> None:
    rows = result.rows
    print(f"\n### Night at scale {result.scale:g}: {result.companies} companies, {workers} company "
          f"processes at a time ({describe_start(result)}), {latency_ms:g} ms latency\n")
    print(f"- documents: {rows.get('ar_customers', 0):,} customers, {rows.get('ar_invoices', 0):,} invoices "
          f"({rows.get('ar_invoice_lines', 0):,} lines), {rows.get('ar_credit_notes', 0):,} credit notes, "
          f"{rows.get('ar_payments', 0):,} payments")
    print(f"- sample data set-up (not in the wall time): {result.load_seconds:.0f}s")
    print(f"- wall time plan → report: {result.wall_seconds:.0f}s "
          f"({result.documents / result.wall_seconds:,.0f} "
          f"documents/s, {result.requests / result.wall_seconds:,.0f} API requests/s, {result.requests:,} "
          "requests)")
    print("- task time summed over companies: " + ", ".join(
        f"{k} {v:,.0f}s" for k, v in result.phase_seconds.items()))
    print(f"- peak RSS: this process {human_bytes(result.peak_self)}, largest company process "
          f"{human_bytes(result.peak_company)}, the sandbox "
          f"{human_bytes(result.peak_sandbox)}")
    pipeline = result.cpu_companies + result.cpu_driver
    print(f"- CPU seconds per 1,000 documents: pipeline {result.cpu_per_1k(pipeline):.2f} "
          f"(company processes {result.cpu_companies:,.0f}s, plan and report {result.cpu_driver:,.0f}s), "
          f"sandbox {result.cpu_per_1k(result.cpu_sandbox):.2f} ({result.cpu_sandbox:,.0f}s)")
    print_machine_cpu(result, pipeline)
    print_chain("- one company's chain, median over companies", result)
    print(f"- reconciliation outcomes: {result.outcomes}")
    if result.failed:
        print(f"- FAILED companies ({len(result.failed)}): " + "; ".join(result.failed[:3]))


def print_machine_cpu(result: NightResult, pipeline: float) -> None:
    """Where the cores went over the night: a night whose cores were busy throughout is CPU-bound, and
    only less CPU (or more cores) makes it shorter."""
    m = result.machine
    if not m.busy:
        return
    cores = os.cpu_count() or 1
    rest = m.busy - pipeline - result.cpu_sandbox - m.postgres
    offered = cores * result.wall_seconds
    print(f"- the machine's {cores} cores over the night: {m.busy:,.0f} of {offered:,.0f} "
          f"core-seconds busy ({m.busy / offered:.0%}) — pipeline {pipeline:,.0f}, "
          f"sandbox {result.cpu_sandbox:,.0f}, PostgreSQL {m.postgres:,.0f}, the rest {rest:,.0f}; "
          f"stolen by the host {m.steal:,.0f}")


def describe_start(result: NightResult) -> str:
    if result.start_method == "forkserver":
        return (f"each forked from a server that imported receivables.preload once: "
                f"{result.cpu_server:.1f} CPU-s, counted in the pipeline's")
    return f"each a fresh '{result.start_method}' interpreter importing everything itself"


def print_chain(title: str, result: NightResult) -> None:
    print(f"{title}: {result.chain_median():.2f}s — " + ", ".join(
        f"{part} {result.chain_median(part):.2f}s" for part in CHAIN_PARTS))


def fixed_cost(companies: int, *, latency_ms: float, start_method: str = "forkserver") -> NightResult:
    """A tiny night (FIXED_COST_INVOICES invoices per company), one company process at a time: what a
    company costs whatever its volume (process start, imports, reads, settle waits, read-back)."""
    result = run_night(FIXED_COST_INVOICES * companies / FULL["invoices"], workers=1, latency_ms=latency_ms,
                       companies=companies, invoices_per_company=FIXED_COST_INVOICES,
                       start_method=start_method)
    print(f"\n### Per-company fixed cost: {companies} companies of {FIXED_COST_INVOICES} invoices "
          f"({result.documents:,} documents), one company process at a time ({describe_start(result)}), "
          f"{latency_ms:g} ms latency\n")
    print_chain("- one company's chain (process start to the end of reconcile_company), median", result)
    per_company = (result.cpu_companies - result.cpu_server) / max(len(result.chains), 1)
    print(f"- CPU per company process: {per_company:.2f}s")
    if result.failed:
        print(f"- FAILED companies ({len(result.failed)}): " + "; ".join(result.failed[:3]))
    return result


def print_night_targets(results: list[NightResult], fixed: NightResult | None) -> None:
    """The issue's targets this run measured: the full night, its tenth, the per-company fixed cost."""
    targets = []
    for r in results:
        if r.scale == 1:
            targets += [Target("night wall seconds", r.wall_seconds, "<=", WALL_TARGET_SECONDS),
                        Target("peak RSS of any process GiB",
                               max(r.peak_self, r.peak_company, r.peak_sandbox) / GIB, "<=", RSS_TARGET / GIB,
                               "{:.2f}")]
        if r.scale == 0.1 and r.companies == FULL["companies"]:
            targets.append(Target("tenth of the night (--scale 0.1) wall seconds", r.wall_seconds, "<=",
                                  TENTH_WALL_TARGET_SECONDS))
    if fixed is not None:
        targets.append(Target("per-company fixed cost seconds", fixed.chain_median(), "<=",
                              FIXED_COST_TARGET_SECONDS, "{:.2f}"))
    if targets:
        print_targets(targets)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=0.02, help="1 = the full night of the issue (default 0.02)")
    p.add_argument("--scales", help="comma-separated scales for the scaling table, e.g. 0.25,0.5,1,2")
    p.add_argument("--workers", type=int, default=8,
                   help="company processes at a time (default 8; 0 = in this process, one by one)")
    p.add_argument("--companies", type=int, default=FULL["companies"], help="companies (default 100)")
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--fixed-cost", type=int, default=5, metavar="N",
                   help="after the night, measure the per-company fixed cost on N tiny companies (default 5; "
                        "0, or --workers 0, skips it)")
    p.add_argument("--start-method", choices=("forkserver", "spawn"), default="forkserver",
                   help="how company processes start: forked from a server that preloaded the pipeline, as "
                        "our Airflow configuration runs tasks (default), or a fresh interpreter each")
    args = p.parse_args(argv)
    scales = [float(s) for s in args.scales.split(",")] if args.scales else [args.scale]
    header(f"Whole night — scale {', '.join(f'{s:g}' for s in scales)} of "
           f"{FULL['invoices']:,} invoices, over {args.companies} companies", args)
    results = []
    for scale in scales:
        result = run_night(scale, workers=args.workers, latency_ms=args.latency_ms, companies=args.companies,
                           start_method=args.start_method)
        print_night(result, args.workers, args.latency_ms)
        results.append(result)
    if len(results) > 1:
        base = results[0]
        print("\n### Scaling\n")
        print("| scale | documents | wall s | s per 1k documents | × time vs first | × volume vs first "
              "| company peak RSS | sandbox peak RSS |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in results:
            print(f"| {r.scale:g} | {r.documents:,} | {r.wall_seconds:.0f} | "
                  f"{1000 * r.wall_seconds / r.documents:.2f} "
                  f"| {r.wall_seconds / base.wall_seconds:.2f} | {r.documents / base.documents:.2f} "
                  f"| {human_bytes(r.peak_company)} | {human_bytes(r.peak_sandbox)} |")
    fixed = None
    if args.fixed_cost and args.workers:
        fixed = fixed_cost(args.fixed_cost, latency_ms=args.latency_ms, start_method=args.start_method)
    print_night_targets(results, fixed)
    return 1 if any(r.failed for r in results) or (fixed is not None and fixed.failed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
