"""Target 4 — push invoices to the sandbox: achieved requests/s against the bound, and against the SDK.

One sandbox process (``python -m codat_sandbox serve``), ``--companies`` companies provisioned through its
admin API, a PostgreSQL ledger, and the pipeline's own push (``receivables.push.push_documents`` with
``AsyncCodatClient``: idempotent POSTs, per-company cap 10, operations settled by listing them while the
phase still sends, waits following how long operations take). The
companies push at the same time, each with its own event loop and client as its sync task has. By default
(``--mode process``) each company pushes from its own process, as in the night (a task process per company,
forked from a server that preloaded the pipeline, like ``bench_night``), started and handed its documents
before the clock starts; ``--mode thread`` runs them as threads of this one process instead, where the
companies' pandas work queues on one GIL behind the others' event loops (the shape of earlier figures).

1. customers are pushed first (invoices need them), untimed;
2. **capacity**: half of the invoices are pushed with 0 ms added latency — the sandbox's own capacity
   as the same client sees it;
3. **achieved**: the other half with ``--latency-ms`` (50) added to every request, then every company's
   invoices are read back in pages as reconciliation does; requests are counted by the sandbox
   (``/admin/stats``);
4. **SDK**: the official ``codat-accounting`` SDK (own virtualenv ``benchmarks/.venv-sdk``) pushes
   ``--sdk-invoices`` further invoices one by one at the same latency, with its default retries.

The bound is min(total concurrency / latency, capacity, rate limit); the sandbox has no requests/s
limit (only 10 concurrent requests per company), so the rate-limit term does not bind.

    python -m benchmarks.bench_push --invoices 20000 --companies 10
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import orjson
import pandas as pd
from pydantic import SecretStr

from benchmarks import data
from benchmarks.harness import Run, Target, header, parser, print_table, print_targets
from local_stack.sandbox_process import SandboxProcess
from receivables import push, transform
from receivables.codat.client import AsyncCodatClient
from receivables.mappings import ISSUE_COLUMNS, resolve_mappings
from receivables.settings import CodatSettings
from receivables.warehouse import create_warehouse_engine, migrate
from sample_data import company_rows, provision_companies

HERE = Path(__file__).resolve().parent
SDK_PYTHON = HERE / ".venv-sdk" / "bin" / "python"
PER_COMPANY_CAP = 10
BUSINESS_DAY = date(2026, 11, 20)


class Sandbox:
    """The sandbox process and its admin API (latency, request counts)."""

    def __init__(self, workdir: Path) -> None:
        self.process = SandboxProcess(workdir, push_delay_ms=50,
                                      state=str(workdir / "sandbox.sqlite")).start()

    @property
    def admin(self):
        return self.process.admin

    def set_latency(self, ms: float) -> None:
        self.admin.set_faults(latency_ms=ms)

    def reset_stats(self) -> None:
        self.admin.reset_stats()

    def api_requests(self) -> dict[str, int]:
        """Requests per route since the last reset, without the admin API's own."""
        return {route: n for route, n in self.admin.stats()["requests"].items() if " /admin" not in route}

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system, all threads) the sandbox process has used so far."""
        assert self.process.process is not None
        return process_cpu_seconds(self.process.process.pid)

    def close(self) -> None:
        self.process.stop()


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from ``/proc/<pid>/stat`` (fields 14 and 15, after the command name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process (every company's thread, the ledger writes' client side)."""
    times = os.times()
    return times.user + times.system


def codat_settings(base_url: str, api_key: str) -> CodatSettings:
    return CodatSettings(base_url=base_url, api_key=SecretStr(api_key), max_concurrency=PER_COMPANY_CAP,
                         max_concurrency_per_company=PER_COMPANY_CAP)


def push_company(settings: CodatSettings, ledger: push.Ledger, company_id: str, connection_id: str,
                 documents: pd.DataFrame) -> dict[str, int]:
    """One company's push as its sync task runs it: its own event loop and ``AsyncCodatClient``."""
    ctx = push.PushContext(company_id=company_id, connection_id=connection_id,
                           business_date=BUSINESS_DAY, run_id="bench_push")

    async def run():
        async with AsyncCodatClient(settings) as client:
            outcome, _ = await push.push_documents(client, ledger, ctx, documents,
                                                   concurrency=PER_COMPANY_CAP)
            return outcome
    return asyncio.run(run()).by_status


def add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for status, n in counts.items():
        into[status] = into.get(status, 0) + n


class Pusher:
    """Pushes documents of many companies at once, each as its sync task does: its own event loop and
    ``AsyncCodatClient`` (per-company cap 10); :class:`ThreadPusher` or :class:`ProcessPusher` says where
    each company runs."""

    mode = ""

    def __init__(self, sandbox: Sandbox, engine, companies) -> None:
        self.settings = codat_settings(sandbox.process.base_url, sandbox.process.api_key)
        self.ledger = push.Ledger(engine)
        self.companies = {c.company_id: c for c in companies}

    def push(self, documents: pd.DataFrame) -> dict[str, int]:
        """Hands out, then pushes (:meth:`load` + :meth:`go`)."""
        self.load(documents)
        return self.go()

    def load(self, documents: pd.DataFrame) -> None:
        self.loaded = list(documents.groupby("company_id", sort=True))

    def go(self) -> dict[str, int]:
        raise NotImplementedError

    def cpu_seconds(self) -> float:
        """CPU seconds the pushing side has used so far (this process, and company processes if any)."""
        return own_cpu_seconds()

    def close(self) -> None:
        pass

    def platform_ids(self) -> pd.DataFrame:
        return pd.concat([self.ledger.platform_ids(cid) for cid in self.companies], ignore_index=True)

    def read_back(self, data_type: str) -> int:
        async def count(client, company_id):
            return sum([1 async for _ in client.iter_records(company_id, data_type)])

        async def run():
            async with AsyncCodatClient(self.settings) as client:
                return await asyncio.gather(*(count(client, cid) for cid in self.companies))
        return sum(asyncio.run(run()))


class ThreadPusher(Pusher):
    """A thread per company in this one process."""

    mode = "thread: a thread per company in one process (one GIL for every company's pandas and loop)"

    def go(self) -> dict[str, int]:
        statuses: dict[str, int] = {}
        groups, self.loaded = self.loaded, []

        def one(group):
            company_id, documents = group
            return push_company(self.settings, self.ledger, company_id,
                                self.companies[company_id].connection_id, documents)
        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            for counts in pool.map(one, groups):
                add_counts(statuses, counts)
        return statuses


def _company_process(conn, base_url: str, api_key: str, database: str, company_id: str,
                     connection_id: str) -> None:
    """A company's own process: its engine and settings once, then ``("load", documents)`` and
    ``("push",)`` until ``("stop",)``; answers each with its result (or the error's text)."""
    engine = create_warehouse_engine(data.pg_settings(database))
    ledger, settings = push.Ledger(engine), codat_settings(base_url, api_key)
    documents = None
    try:
        while (message := conn.recv())[0] != "stop":
            try:
                if message[0] == "load":
                    documents = message[1]
                    conn.send(("ok", None))
                else:
                    conn.send(("ok", push_company(settings, ledger, company_id, connection_id, documents)))
                    documents = None
            except Exception as exc:  # noqa: BLE001 - the parent raises it with the company's name
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()


class ProcessPusher(Pusher):
    """A process per company, as the night runs each company's sync task: forked from a ``forkserver``
    that preloaded the pipeline (``receivables.preload``), started once, before anything is timed; each
    half's documents are handed over before the clock starts (in the night they are made in the process)."""

    mode = "process: a process per company (forkserver, receivables.preload), as the night runs them"

    def __init__(self, sandbox: Sandbox, engine, companies, database: str) -> None:
        super().__init__(sandbox, engine, companies)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["receivables.preload"])
        self.workers: dict[str, tuple] = {}
        for company_id, company in self.companies.items():
            parent, child = context.Pipe()
            process = context.Process(target=_company_process, daemon=True, name=f"push-{company_id}",
                                      args=(child, sandbox.process.base_url, sandbox.process.api_key,
                                            database, company_id, company.connection_id))
            process.start()
            child.close()
            self.workers[company_id] = (process, parent)

    def _ask(self, messages: dict[str, tuple]) -> dict[str, object]:
        for company_id, message in messages.items():
            self.workers[company_id][1].send(message)
        answers = {}
        for company_id in messages:
            status, answer = self.workers[company_id][1].recv()
            if status != "ok":
                raise RuntimeError(f"company {company_id}: {answer}")
            answers[company_id] = answer
        return answers

    def load(self, documents: pd.DataFrame) -> None:
        super().load(documents)
        self._ask({company_id: ("load", frame) for company_id, frame in self.loaded})

    def go(self) -> dict[str, int]:
        statuses: dict[str, int] = {}
        answers = self._ask({company_id: ("push",) for company_id, _ in self.loaded})
        self.loaded = []
        for counts in answers.values():
            add_counts(statuses, counts)
        return statuses

    def cpu_seconds(self) -> float:
        return own_cpu_seconds() + sum(process_cpu_seconds(p.pid) for p, _ in self.workers.values())

    def close(self) -> None:
        for process, conn in self.workers.values():
            if process.is_alive():
                conn.send(("stop",))
        for process, conn in self.workers.values():
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
            conn.close()


def invoice_payloads(batch, companies, tax_rates, platform_ids) -> pd.DataFrame:
    company_frame, mapping_frame = company_rows(companies)
    lookup = resolve_mappings(mapping_frame, pd.DataFrame(columns=ISSUE_COLUMNS))
    return transform.invoices_to_payloads(batch["ar_invoices"], batch["ar_invoice_lines"],
                                          companies=company_frame, mappings=lookup, tax_rates=tax_rates,
                                          platform_ids=platform_ids)


def tax_rate_frame(companies) -> pd.DataFrame:
    from datetime import datetime

    from receivables import extract

    taxes = extract.REFERENCE_TYPES[2]
    return pd.concat([extract.reference_frame(taxes, data.reference_records(c)["taxRates"],
                                              company_id=c.company_id, fetched_at=datetime(2026, 11, 20))
                      for c in companies], ignore_index=True)


def split(documents: pd.DataFrame, sdk_share: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per company: the first half (capacity), the second half (achieved), and ``sdk_share`` held back."""
    per_company = -(-sdk_share // documents["company_id"].nunique())  # ceil: at least one each when asked
    held = documents.groupby("company_id", sort=False).tail(per_company) if sdk_share else documents.iloc[0:0]
    rest = documents.drop(held.index)
    order = rest.groupby("company_id", sort=False).cumcount()
    size = rest.groupby("company_id", sort=False)["source_id"].transform("size")
    first = order < size // 2
    return rest[first], rest[~first], held


def run_sdk(base_url: str, api_key: str, documents: pd.DataFrame, companies, workdir: Path) -> Run | None:
    if documents.empty:
        return None
    if not SDK_PYTHON.exists():
        print(f"\n(SDK baseline skipped: {SDK_PYTHON} is missing — "
              "python3.11 -m venv benchmarks/.venv-sdk && "
              "benchmarks/.venv-sdk/bin/pip install codat-accounting==0.36.0)")
        return None
    connection = {c.company_id: c.connection_id for c in companies}
    path = workdir / "sdk-invoices.jsonl"
    with open(path, "wb") as f:
        for cid, payload in zip(documents["company_id"], documents["payload"], strict=True):
            f.write(orjson.dumps({"company_id": cid, "connection_id": connection[cid],
                                  "payload": orjson.loads(payload)}) + b"\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"CODAT_API_KEY": api_key}
    done = subprocess.run([str(SDK_PYTHON), str(HERE / "sdk_push.py"), base_url, str(path)], env=env,
                          capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        print(f"\n(SDK baseline failed: {done.stderr.strip().splitlines()[-1:]})")
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Run("codat-accounting SDK, one by one", result["seconds"], result["documents"], "docs",
               extra={"accepted": result["accepted"], "requests": result["documents"]})


def timed_push(sandbox: Sandbox, pusher: Pusher, label: str, docs: pd.DataFrame) -> Run:
    """One half: its requests (counted by the sandbox), seconds, and CPU per request on both sides (the
    client's: this process and the company processes). The documents are handed out before the clock."""
    pusher.load(docs)
    sandbox.reset_stats()
    client_cpu, sandbox_cpu = pusher.cpu_seconds(), sandbox.cpu_seconds()
    started = time.perf_counter()
    statuses = pusher.go()
    seconds = time.perf_counter() - started
    client_cpu, sandbox_cpu = pusher.cpu_seconds() - client_cpu, sandbox.cpu_seconds() - sandbox_cpu
    requests = sum(sandbox.api_requests().values())
    return Run(label, seconds, requests, "requests",
               extra={"documents": len(docs), "docs/s": round(len(docs) / seconds), "ledger": statuses,
                      "load after": load_average(),
                      # Target 2's budget is CPU per request: the pipeline's and the sandbox's, apart.
                      "CPU ms/request: client": round(client_cpu / requests * 1000, 3),
                      "sandbox": round(sandbox_cpu / requests * 1000, 3)})


def load_average() -> str:
    """The machine's load (1/5/15 min): on a shared box it moves every figure here, so each run states it."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--invoices", type=int, default=4_000, help="invoices in all (default 4,000)")
    p.add_argument("--companies", type=int, default=10)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--sdk-invoices", type=int, default=50,
                   help="invoices the SDK pushes (default 50; 0 skips the SDK)")
    p.add_argument("--mode", choices=("process", "thread"), default="process",
                   help="where each company pushes from: its own process, as in the night (default), or a "
                        "thread of this process")
    args = p.parse_args(argv)
    header(f"Push — {args.invoices:,} invoices, {args.companies} companies, {args.latency_ms:g} ms latency",
           args)
    print(f"\nload average at the start (1/5/15 min): {load_average()}")
    with tempfile.TemporaryDirectory(prefix="rs-bench-push-") as tmp, \
            data.scratch_database("push") as (database, engine):
        workdir = Path(tmp)
        migrate(engine)
        sandbox = Sandbox(workdir)
        pusher = None
        try:
            companies = provision_companies(sandbox.process.base_url, args.companies,
                                            api_key=sandbox.process.api_key, namespace="bench-push")
            spec = data.spec_for(args.companies, invoices=args.invoices + args.sdk_invoices,
                                 payment_ratio=0.0)
            batch = data.generated_batch(companies, spec)
            pusher = ProcessPusher(sandbox, engine, companies, database) if args.mode == "process" else \
                ThreadPusher(sandbox, engine, companies)
            print(f"companies push from: {pusher.mode}")
            sandbox.set_latency(0)
            customers = pusher.push(transform.customers_to_payloads(batch["ar_customers"]))
            documents = invoice_payloads(batch, companies, tax_rate_frame(companies), pusher.platform_ids())
            capacity_docs, achieved_docs, sdk_docs = split(documents, args.sdk_invoices)
            runs = []
            for label, docs, latency in (("capacity: ours at 0 ms", capacity_docs, 0.0),
                                         (f"achieved: ours at {args.latency_ms:g} ms", achieved_docs,
                                          args.latency_ms)):
                sandbox.set_latency(latency)
                run = timed_push(sandbox, pusher, label, docs)
                runs.append(run)
            sandbox.reset_stats()
            read_started = time.perf_counter()
            on_platform = pusher.read_back("invoices")
            read_seconds = time.perf_counter() - read_started
            read_requests = sum(sandbox.api_requests().values())
            sdk = run_sdk(sandbox.process.base_url, sandbox.process.api_key, sdk_docs, companies, workdir)
        finally:
            if pusher is not None:
                pusher.close()
            sandbox.close()
    capacity, achieved = runs
    achieved.extra["read-back"] = \
        f"{read_requests} requests for {on_platform} invoices in {read_seconds:.1f}s"
    concurrency = PER_COMPANY_CAP * args.companies
    by_latency = concurrency / (args.latency_ms / 1000) if args.latency_ms else float("inf")
    bound = min(by_latency, capacity.rate)
    per_document = (achieved.items + read_requests) / achieved.extra["documents"]
    print(f"\ncompanies pushed from: {pusher.mode}")
    print(f"customers pushed first: {customers}")
    print_table("Push (requests counted by the sandbox: push, settle; docs/s in the notes)", runs,
                baseline="capacity: ours at 0 ms")
    print(f"\nbound = min(concurrency {concurrency} / {args.latency_ms:g} ms = {by_latency:,.0f} req/s, "
          f"capacity {capacity.rate:,.0f} req/s, rate limit: none) = {bound:,.0f} req/s")
    targets = [
        Target("achieved req/s ÷ bound", achieved.rate / bound, ">=", 0.9, "{:.2f}"),
        Target("requests per document (push + settle + read-back)", per_document, "<=", 1.1, "{:.3f}"),
    ]
    if sdk is not None:
        docs_rate = achieved.extra["documents"] / achieved.seconds
        print_table("Official SDK at the same latency (documents/s)", [
            sdk, Run("ours (achieved run)", achieved.seconds, achieved.extra["documents"], "docs")],
            baseline="codat-accounting SDK, one by one")
        targets.append(Target("ours docs/s × SDK docs/s", docs_rate / sdk.rate, ">=", 25, "{:.1f}"))
    print_targets(targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
