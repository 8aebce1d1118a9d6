"""A small world to break on purpose: a sandbox, a warehouse, sample companies, and the day's jobs.

Reliability tests (and ``benchmarks/soak.py``) build a :class:`World`, run a business day through the
same job functions the DAG calls (``plan_run → refresh_reference → sync_company → reconcile_company →
publish_report``) with faults switched on, run it again clean, and check :func:`check_invariants`:

* every source document is in exactly one recorded state: pushed (ledger) or rejected;
* the platform holds exactly one live record per pushed document (read through the sandbox API);
* every valid document ends ``success`` (nothing lost) and the day's report agrees with the ledger.

    world = build_world(tmp_path, warehouse_settings)
    day = run_day(world, world.days[0], world.codat_settings())
    counts = check_invariants(world, world.days[:1])
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from receivables import jobs
from receivables.settings import CodatSettings, SyncSettings
from receivables.warehouse import create_warehouse_engine, io, migrate, schema

T = schema.metadata.tables

# Ledger document type → (warehouse table, id column) of the source documents counted.
SOURCE_TABLES = {"invoice": ("ar_invoices", "invoice_id"),
                 "credit_note": ("ar_credit_notes", "credit_note_id"),
                 "customer": ("ar_customers", "customer_id"), "payment": ("ar_payments", "payment_id")}
# Ledger document type → (platform data type, the field that carries its number), for the duplicate count.
PLATFORM_NUMBERS = {
    "invoice": ("invoices", "invoiceNumber"), "credit_note": ("creditNotes", "creditNoteNumber"),
    "customer": ("customers", "customerName"), "payment": ("payments", "reference"),
    "credit_note_allocation": ("payments", "reference"), "fee": ("directCosts", "reference"),
}
# Short deadlines keep a faulty run fast; the clean rerun uses the same.
FAST_CODAT = {"timeout_seconds": 2.0, "retry_deadline_seconds": 8.0, "max_retry_after_seconds": 5.0,
              "settle_deadline_seconds": 4.0, "settle_poll_interval_seconds": 0.05, "push_timeout_minutes": 1}


class RetryCounter(logging.Handler):
    """Counts the client's "retrying in" warnings: how many requests were sent again."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying in" in record.getMessage():
            self.retries += 1


class CapturedText(logging.Handler):
    """Keeps the full text of every record (message and traceback), to search for what must not leak."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class World:
    """What a reliability test works with: a running sandbox, a warehouse and provisioned companies."""

    sandbox: Any
    engine: Any
    companies: list
    manifest: Any
    days: tuple[date, ...]
    report_dir: Path
    retry_counter: RetryCounter = field(default_factory=RetryCounter)
    runs: int = 0

    def codat_settings(self, **overrides: Any) -> CodatSettings:
        values = {**FAST_CODAT, **overrides}
        return CodatSettings.from_connection(host=self.sandbox.base_url, password=self.sandbox.api_key,
                                             extra=values)

    def sync_settings(self) -> SyncSettings:
        return SyncSettings(report_dir=str(self.report_dir))

    def table(self, name: str, **where: Any) -> pd.DataFrame:
        return io.read_frame(self.engine, T[name], where=where or None)

    def post_count(self) -> int:
        """POST/PUT push requests the sandbox has answered since its last stats reset."""
        stats = self.sandbox.admin.stats()["requests"]
        return sum(n
                   for route, n in stats.items()
                   if route.split(" ", 1)[0] in ("POST", "PUT") and "/push/" in route)


def build_world(tmp_path: Path, warehouse_settings, *, companies: int = 2, invoices_per_day: int = 10,
                days: Sequence[date] = (date(2026, 11, 20),), bad_row_fraction: float = 0.2, seed: int = 5,
                sandbox_flags: dict[str, Any] | None = None, engine=None) -> World:
    """Start a sandbox, provision companies, write sample data for ``days`` into the warehouse."""
    from sample_data import SampleSpec, provision_companies, write_sample
    from tests.fixtures.sandbox import start_sandbox

    flags = {"push_delay_ms": 5, **(sandbox_flags or {})}
    sandbox = start_sandbox(tmp_path / "sandbox", **flags)
    try:
        engine = engine or create_warehouse_engine(warehouse_settings)
        migrate(engine)
        provisioned = provision_companies(sandbox.base_url, companies, api_key=sandbox.api_key,
                                          namespace=f"rel-{tmp_path.name}")
        spec = SampleSpec(companies=companies, business_days=tuple(days), invoices_per_day=invoices_per_day,
                          bad_row_fraction=bad_row_fraction, seed=seed)
        manifest = write_sample(engine, spec, provisioned)
    except BaseException:
        sandbox.stop()
        raise
    world = World(sandbox=sandbox, engine=engine, companies=provisioned, manifest=manifest, days=tuple(days),
                  report_dir=tmp_path / "reports")
    logging.getLogger("receivables.codat").addHandler(world.retry_counter)
    return world


def close_world(world: World) -> None:
    logging.getLogger("receivables.codat").removeHandler(world.retry_counter)
    world.engine.dispose()
    world.sandbox.stop()


@dataclass
class DayRun:
    """What one run of a business day did: per-company results and the failures (as Airflow would)."""

    business_date: date
    synced: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] | None = None

    @property
    def quota_exhausted(self) -> bool:
        return any(p.get("quota_exhausted") for r in self.synced.values()
                   for p in r.get("phases", {}).values())


def run_day(world: World, business_date: date, codat: CodatSettings, *, run_id: str | None = None,
            reconcile: bool = True) -> DayRun:
    """One ``receivables_sync`` run through the job functions; a company's failure does not stop the others.

    Like the DAG: reference → sync → reconcile per company (a failed step skips that company's later
    steps), then the report for all.
    """
    from receivables.codat.client import CodatClient

    world.runs += 1
    settings = world.sync_settings()
    run_id = run_id or f"reliability-{world.runs}"
    plan = jobs.plan_run(world.engine, settings=settings, run_id=run_id,
                         params={"business_date": business_date.isoformat()})
    result = DayRun(business_date)
    for company in plan["companies"]:
        company_id = company["company_id"]
        try:
            with CodatClient(codat) as client:
                jobs.refresh_reference(client, world.engine, company)
            result.synced[company_id] = jobs.sync_company(codat, world.engine, company, settings=settings)
            if reconcile:
                with CodatClient(codat) as client:
                    jobs.reconcile_company(client, world.engine, company, settings=settings)
        except Exception as exc:  # noqa: BLE001 - a task failure, recorded like Airflow would
            result.failures[company_id] = f"{type(exc).__name__}: {exc}"
    if reconcile:
        result.report = jobs.publish_report(world.engine, plan, settings=settings)
    return result


# -- invariants -----------------------------------------------------------------------------------

def platform_records(world: World, company_id: str, data_type: str) -> list[dict[str, Any]]:
    """Every live record of a data type, read through the sandbox's public API."""
    return world.sandbox.live_records(company_id, data_type)


@dataclass
class Counts:
    """What the invariant check found, summed over companies."""

    documents: int = 0
    pushed: int = 0
    rejected: int = 0
    duplicates: int = 0
    lost: int = 0
    not_final: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self, label: str, retries: int) -> str:
        return (f"[reliability] {label}: documents={self.documents} pushed={self.pushed} "
                f"rejected={self.rejected} "
                f"duplicates={self.duplicates} lost={self.lost} retries={retries}")


def _source_keys(world: World, company_id: str, days: Iterable[date]) -> dict[str, set[str]]:
    """Source document ids per ledger document type for the company, limited to the days' batches."""
    from receivables.batches import business_day_window

    windows = [business_day_window(d, "UTC") for d in days]

    def in_days(frame: pd.DataFrame) -> pd.DataFrame:
        stamps = pd.to_datetime(frame["updated_at"])
        mask = pd.Series(False, index=frame.index)
        for start, end in windows:
            mask |= (stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))
        return frame[mask]

    keys: dict[str, set[str]] = {}
    for document_type, (table, id_column) in SOURCE_TABLES.items():
        frame = in_days(world.table(table, company_id=company_id))
        keys[document_type] = set(frame[id_column].astype(str))
    cna = in_days(world.table("ar_credit_note_allocations", company_id=company_id))
    keys["credit_note_allocation"] = set(cna["credit_note_id"].astype(str) + ":"
                                         + cna["invoice_id"].astype(str))
    return keys


def check_invariants(world: World, days: Sequence[date], *, expect_final: bool = True) -> Counts:
    """Check the three promises over ``days`` for every company; problems are listed, not raised."""
    counts = Counts()
    ledger_all = world.table("ar_push_ledger")
    rejects_all = world.table("ar_rejects")
    for company in world.companies:
        cid = company.company_id
        ledger = ledger_all[ledger_all["company_id"] == cid]
        rejects = rejects_all[rejects_all["company_id"] == cid]
        sources = _source_keys(world, cid, days)
        for document_type, ids in sources.items():
            led = ledger[ledger["document_type"] == document_type]
            status = dict(zip(led["source_id"].astype(str), led["status"], strict=True))
            rejected = set(rejects.loc[rejects["document_type"] == document_type, "source_id"].astype(str))
            for source_id in ids:
                counts.documents += 1
                in_ledger = source_id in status
                if source_id in rejected:
                    counts.rejected += 1
                    if in_ledger and status[source_id] == "success":
                        counts.problems.append(f"{document_type} {source_id} is both pushed and rejected")
                    continue
                if not in_ledger:
                    counts.lost += 1
                    counts.problems.append(f"{document_type} {source_id} is neither pushed nor rejected")
                elif status[source_id] == "success":
                    counts.pushed += 1
                else:
                    counts.not_final += 1
                    if expect_final:
                        counts.lost += 1
                        counts.problems.append(f"{document_type} {source_id} ended {status[source_id]}")
        # The platform side: one live record per pushed number, and nothing we did not push.
        records_by_type: dict[str, list[dict[str, Any]]] = {}
        for document_type, (data_type, number_field) in PLATFORM_NUMBERS.items():
            if data_type not in records_by_type:
                records_by_type[data_type] = platform_records(world, cid, data_type)
            live = Counter(str(r.get(number_field)) for r in records_by_type[data_type])
            mine = ledger.loc[(ledger["document_type"] == document_type) & (ledger["status"] == "success"),
                              "document_number"].astype(str)
            for number in mine:
                if live[number] > 1:
                    counts.duplicates += live[number] - 1
                    counts.problems.append(f"{document_type} {number}: {live[number]} records in the "
                                           "platform")
                elif live[number] == 0:
                    counts.lost += 1
                    counts.problems.append(f"{document_type} {number}: ledger says success, platform has "
                                           "none")
            if document_type in ("invoice", "credit_note"):
                for number in sorted(set(live) - set(mine)):
                    counts.problems.append(f"{document_type} {number} is in the platform but not pushed by "
                                           "us")
    return counts


def check_report(world: World, business_date: date) -> list[str]:
    """The day's reconciliation agrees with the ledger: only matched/rejected, one row per document."""
    problems: list[str] = []
    rows = world.table("ar_reconciliation", report_date=business_date)
    outcomes = Counter(rows["outcome"])
    unexpected = {o: n for o, n in outcomes.items() if o not in ("matched", "rejected")}
    if unexpected:
        problems.append(f"report has exception outcomes after the clean rerun: {unexpected}")
    keys = rows[["company_id", "document_type", "document_key"]]
    if keys.duplicated().any():
        problems.append("report has two rows for one document")
    rejects = world.table("ar_rejects", business_date=business_date)
    if outcomes.get("rejected", 0) != len(rejects):
        problems.append(f"report says {outcomes.get('rejected', 0)} rejected, ar_rejects holds "
                        f"{len(rejects)}")
    html = world.report_dir / business_date.isoformat() / "reconciliation.html"
    if not html.exists():
        problems.append(f"no HTML report at {html}")
    return problems


def check_faulty_report(world: World, business_date: date, run: DayRun) -> list[str]:
    """After a faulty run: every document the ledger holds as not final is reported ``pending`` (or
    ``push_failed``) for the companies whose reconciliation ran — none is shown as matched."""
    problems: list[str] = []
    rows = world.table("ar_reconciliation", report_date=business_date)
    outcome = {(r.company_id, r.document_type, r.source_id): r.outcome for r in rows.itertuples()}
    ledger = world.table("ar_push_ledger", business_date=business_date)
    open_rows = ledger[ledger["status"] != "success"]
    for row in open_rows.itertuples():
        if row.company_id in run.failures:
            continue
        shown = outcome.get((row.company_id, row.document_type, str(row.source_id)))
        if shown not in ("pending", "push_failed", "rejected"):
            problems.append(f"{row.document_type} {row.source_id} is {row.status} in the ledger but the "
                            f"report says {shown!r}")
    return problems


def assert_clean(world: World, days: Sequence[date], label: str) -> Counts:
    """Invariants and the report hold after a clean run; prints the counts line."""
    counts = check_invariants(world, days)
    print(counts.line(label, world.retry_counter.retries))
    problems = counts.problems + [p for d in days for p in check_report(world, d)]
    assert not problems, "\n".join(problems[:30])
    assert counts.duplicates == 0 and counts.lost == 0
    assert counts.pushed > 0
    return counts
