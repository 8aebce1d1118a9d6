"""Target 3 (sandbox alone) — the sandbox process's RSS per 1,000 documents pushed into it.

A direct load, much shorter than a night: one sandbox process (as the night starts it: SQLite state
file, 50 ms push delay), ``--companies`` companies, and the pipeline's own push
(``receivables.push.push_documents``, idempotent POSTs, settle, read-back) of customers, invoices
(5 lines at most), credit notes, then payments against the pushed invoices, at 0 ms added latency.
The sandbox's RSS (psutil, sampled every 50 ms) is printed before the load, after each phase and at
its peak, with bytes per document and the figure extrapolated to the full night's 485,757 documents.

    python -m benchmarks.bench_sandbox --invoices 20000 --companies 10
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from benchmarks import data
from benchmarks.bench_push import Sandbox, ThreadPusher, tax_rate_frame
from benchmarks.harness import Target, header, human_bytes, parser, print_targets
from receivables import transform
from receivables.mappings import ISSUE_COLUMNS, resolve_mappings
from receivables.warehouse import migrate
from sample_data import company_rows, provision_companies

FULL_NIGHT_DOCUMENTS = 485_757  # customers + invoices + credit notes + payments (+ fees) of --scale 1
GIB = 1024 ** 3


class PeakSampler:
    """Peak RSS of one process, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.process, self.interval, self.peak = psutil.Process(pid), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def rss(self) -> int:
        value = self.process.memory_info().rss
        self.peak = max(self.peak, value)
        return value

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def system_cpu(self) -> float:
        """The kernel's share (the loopback TCP sends and receives, SQLite's writes)."""
        return self.process.cpu_times().system

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.rss()

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class CpuMeter:
    """The sandbox's CPU seconds and API requests per phase (psutil ``cpu_times`` of its process, the
    requests its ``/admin/stats`` counted), so a phase's CPU per request can be read apart from the rest."""

    def __init__(self, sampler: PeakSampler, sandbox: Sandbox) -> None:
        self.sampler, self.sandbox, self.rows = sampler, sandbox, []
        self._cpu, self._system, self._requests = sampler.cpu(), sampler.system_cpu(), self._counts()

    def _counts(self) -> dict[str, int]:
        return self.sandbox.api_requests()

    def phase(self, label: str) -> None:
        cpu, system, requests = self.sampler.cpu(), self.sampler.system_cpu(), self._counts()
        routes = {route: n - self._requests.get(route, 0) for route, n in requests.items()}
        routes = {route: n for route, n in routes.items() if n}
        self.rows.append((label, cpu - self._cpu, system - self._system, routes))
        self._cpu, self._system, self._requests = cpu, system, requests

    def print(self) -> None:
        print("\n| phase | requests | sandbox CPU s | µs per request | µs of it kernel | requests by route |"
              "\n"
              "| --- | ---: | ---: | ---: | ---: | --- |")
        for label, cpu, system, routes in self.rows:
            n = sum(routes.values())
            by_route = ", ".join(f"{_short(route)} {count:,}" for route, count in sorted(routes.items()))
            print(f"| {label} | {n:,} | {cpu:.2f} | {cpu * 1e6 / max(n, 1):,.0f} | "
                  f"{system * 1e6 / max(n, 1):,.0f} | {by_route} |")


def _short(route: str) -> str:
    """``POST /companies/{companyId}/connections/{connectionId}/push/invoices`` → ``POST …/push/invoices``."""
    method, _, path = route.partition(" ")
    return f"{method} …/{'/'.join(path.split('/')[-2:])}"


def payloads(batch, companies, tax_rates, platform_ids, kind: str) -> pd.DataFrame:
    company_frame, mapping_frame = company_rows(companies)
    lookup = resolve_mappings(mapping_frame, pd.DataFrame(columns=ISSUE_COLUMNS))
    if kind == "invoice":
        return transform.invoices_to_payloads(batch["ar_invoices"], batch["ar_invoice_lines"],
                                              companies=company_frame,
                                              mappings=lookup, tax_rates=tax_rates, platform_ids=platform_ids)
    if kind == "credit_note":
        return transform.credit_notes_to_payloads(batch["ar_credit_notes"], batch["ar_credit_note_lines"],
                                                  companies=company_frame, mappings=lookup,
                                                  tax_rates=tax_rates, platform_ids=platform_ids)
    return transform.payments_to_payloads(batch["ar_payments"], batch["ar_payment_allocations"],
                                          companies=company_frame, mappings=lookup, platform_ids=platform_ids)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--invoices", type=int, default=4_000, help="invoices in all (default 4,000)")
    p.add_argument("--companies", type=int, default=10)
    args = p.parse_args(argv)
    header(f"Sandbox memory — {args.invoices:,} invoices, {args.companies} companies, direct load", args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rs-bench-sandbox-") as tmp, \
            data.scratch_database("sandbox") as (_db, engine):
        migrate(engine)
        sandbox = Sandbox(Path(tmp))
        try:
            sandbox.set_latency(0)
            with PeakSampler(sandbox.process.process.pid) as sampler:
                companies = provision_companies(sandbox.process.base_url, args.companies,
                                                api_key=sandbox.process.api_key, namespace="bench-sandbox")
                spec = data.spec_for(args.companies, invoices=args.invoices, credit_note_ratio=0.25,
                                     payment_ratio=0.5)
                batch = data.generated_batch(companies, spec)
                # Threads in this process, as before: this bench measures the sandbox, not the client.
                pusher = ThreadPusher(sandbox, engine, companies)
                taxes = tax_rate_frame(companies)
                before, cpu_before = sampler.rss(), sampler.cpu()
                rows.append(("before the load (companies provisioned)", 0, before, 0.0))
                pushed, statuses = 0, {}
                meter = CpuMeter(sampler, sandbox)
                for kind in ("customer", "invoice", "credit_note", "payment"):
                    if kind == "customer":
                        docs = transform.customers_to_payloads(batch["ar_customers"])
                    else:
                        docs = payloads(batch, companies, taxes, pusher.platform_ids(), kind)
                    started = time.perf_counter()
                    for status, n in pusher.push(docs).items():
                        statuses[f"{kind} {status}"] = statuses.get(f"{kind} {status}", 0) + n
                    pushed += len(docs)
                    meter.phase(f"{kind}s")
                    rows.append((f"after {kind}s", pushed, sampler.rss(), time.perf_counter() - started))
                started = time.perf_counter()
                read = sum(pusher.read_back(t) for t in ("invoices", "creditNotes", "payments"))
                meter.phase("read-back")
                rows.append((f"after reading back {read:,} records (pages of 2,000)", pushed, sampler.rss(),
                             time.perf_counter() - started))
                requests = sum(sandbox.api_requests().values())
                cpu = sampler.cpu() - cpu_before
            peak = sampler.peak
        finally:
            sandbox.close()
    print(f"\nledger: {statuses}; {requests:,} API requests; sandbox CPU {cpu:.1f} s = "
          f"{cpu * 1e6 / max(requests, 1):,.0f} µs per request, {cpu * 1000 / max(pushed, 1):.2f} s per "
          "1,000 documents")
    meter.print()
    print("\n| point | documents | sandbox RSS | seconds |\n| --- | ---: | ---: | ---: |")
    for label, documents, rss, seconds in rows:
        print(f"| {label} | {documents:,} | {human_bytes(rss)} | {seconds:.1f} |")
    per_document = (peak - before) / max(pushed, 1)
    night = before + per_document * FULL_NIGHT_DOCUMENTS
    print(f"\npeak {human_bytes(peak)}; growth {per_document * 1000 / 1024 ** 2:.2f} MiB per 1,000 documents "
          f"({per_document:,.0f} B per document); extrapolated to the full night's {FULL_NIGHT_DOCUMENTS:,} "
          f"documents: {night / GIB:.2f} GiB")
    print_targets([Target("sandbox peak RSS GiB, extrapolated to the full night", night / GIB, "<=", 1.5,
                          "{:.2f}")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
