"""One company's nightly sync: a loop over the document kinds in dependency order.

    result = await CompanySync(client, engine, company, settings=SyncSettings()).run()

The company's state (:mod:`receivables.company_state`) is read once; the batch is extracted and
checked by the gate (:mod:`receivables.validate`), which only rejects. Then, kind by kind in
:func:`receivables.documents.in_push_order` — kinds that do not depend on each other pushed together
as one *wave* (customers; invoices and credit notes; payments, fees and credit-note allocations):

    ready (:mod:`receivables.readiness`) → transform → push → settle → record

A document whose dependency has no platform id yet (its customer failed, its invoice is pending) waits:
it is recorded ``pending`` with the reason and retried by every later run. Every source document of
the batch ends in exactly one recorded state: pushed (ledger), rejected (``ar_rejects``) or pending.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from receivables import company_state, extract, plan_diff, push, push_options, readiness, validate
from receivables.codat.errors import CodatError
from receivables.company_state import CompanyState
from receivables.documents import KIND, DocumentKind, LedgerStatus, in_push_order
from receivables.push import outcome as outcomes
from receivables.settings import SyncSettings
from receivables.validate.normalise import label
from receivables.warehouse import io, schema

log = logging.getLogger("receivables.sync")
T = schema.metadata.tables

REJECT_COLUMNS = ["business_date", "company_id", "document_type", "source_id", "run_id", "rule", "message",
                  "created_at"]
_FAILURE_COLUMNS = ["company_id", "document_type", "source_id", "rule", "message"]
# The kinds whose documents reference a customer (a customer they need is pushed with the customers).
_CUSTOMER_TABLES = tuple(KIND[k].table for k in ("invoice", "credit_note", "payment"))


@dataclass
class CompanyRun:
    """What one company's sync did, in counts (what XCom carries) plus the plan rows of a dry run."""

    company_id: str
    business_date: date
    batch: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    waiting: int = 0
    manual_action: int = 0
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    plan: list[pd.DataFrame] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"company_id": self.company_id, "business_date": self.business_date.isoformat(),
                "batch": self.batch, "rejected": self.rejected, "waiting": self.waiting,
                "manual_action": self.manual_action, "phases": self.phases, "seconds": round(self.seconds, 2)}


def push_waves() -> Iterator[tuple[DocumentKind, ...]]:
    """The kinds in push order, grouped: a kind joins the current wave unless it depends on one in it."""
    wave: list[DocumentKind] = []
    for kind in in_push_order():
        if any(dep in {k.name for k in wave} for dep in kind.depends_on):
            yield tuple(wave)
            wave = []
        wave.append(kind)
    if wave:
        yield tuple(wave)


def wave_name(wave: tuple[DocumentKind, ...]) -> str:
    """``customers``, ``invoices and credit notes``: how the progress lines and the counts name a wave."""
    names = [f"{k.label}s" for k in wave]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def write_rejects(engine, company_id: str, business_date: date, run_id: str, rejects: pd.DataFrame) -> None:
    """Replace the company's rejects for the day (a rerun never leaves two rows for one document)."""
    rows = rejects.assign(business_date=business_date, run_id=run_id, created_at=push.utc_now())
    rows = rows.drop_duplicates(["company_id", "document_type", "source_id"], keep="first")
    io.replace_rows(engine, T["ar_rejects"], rows[REJECT_COLUMNS] if len(rows) else
                    pd.DataFrame(columns=REJECT_COLUMNS), where={"company_id": company_id,
                                                                 "business_date": business_date})


def write_plan(plan: list[pd.DataFrame], path: Path) -> Path:
    """A dry run's plan as CSV: what would be created, updated (field by field), left alone, held back
    or rejected. Written also when empty, so no earlier dry run's plan is left standing for the company."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [p for p in plan if len(p)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=plan_diff.PLAN_COLUMNS)
    frame.reindex(columns=plan_diff.PLAN_COLUMNS).to_csv(path, index=False)
    return path


def keyed(kind: DocumentKind, frame: pd.DataFrame) -> pd.DataFrame:
    """A batch frame of ``kind`` with the ledger key (``source_id``), number and label readiness reads."""
    ids = kind.source_ids(frame)
    numbers = frame[kind.number_column] if kind.number_column in frame else pd.Series(ids, index=frame.index)
    return frame.assign(source_id=ids, document_number=numbers, label=[
        label(kind.name, n if n is not None and n == n else i, i) for n, i in zip(numbers, ids, strict=True)])


class CompanySync:
    """Runs one company and day: one client, one ledger, one company state."""

    def __init__(self, client, engine, company: Mapping[str, Any], *, settings: SyncSettings,
                 concurrency: int = 10, settle_deadline_seconds: float | None = None) -> None:
        self.client = client
        self.engine = engine
        self.company_id = company["company_id"]
        self.company_name = company.get("name") or self.company_id
        self.business_date = date.fromisoformat(str(company["business_date"]))
        self.run_id = company["run_id"]
        self.settings = settings
        self.concurrency = concurrency
        self.ledger = push.Ledger(engine)
        self.ctx = push.PushContext(
            company_id=self.company_id, connection_id=company["connection_id"],
            business_date=self.business_date, run_id=self.run_id, dry_run=bool(company.get("dry_run")),
            settle_deadline_seconds=settle_deadline_seconds)
        self.result = CompanyRun(self.company_id, self.business_date)
        self.state: CompanyState | None = None
        self._ledger_written = False   # a push wrote the ledger since the state last read it
        # Nothing at all (push, pending rows, adoptions, deletions) wrote the ledger since the state read
        # it: the push may plan from the state's rows instead of reading the same rows again.
        self._ledger_as_read = False
        # Set when the company cannot push (a connection not Linked, a refused key): later kinds record
        # their documents as pending without sending, and the run ends by raising it.
        self.stopped: CodatError | None = None

    async def run(self) -> CompanyRun:
        started = time.monotonic()
        if not self.ctx.dry_run:
            await self._check_connection()
        self.state = company_state.load(
            self.engine, self.company_id, business_date=self.business_date,
            push_options=push_options.read_push_options(self.engine, self.company_id, self.ctx.connection_id))
        self._ledger_as_read = True
        batch = self._load_batch()
        checked = self._validate(batch)
        self._record_waiting(checked.waiting.assign(document_number=None))
        rejects = [checked.rejects, self._manual_rejects(checked.needs_manual_action)]
        for wave in push_waves():
            rejects.append(await self._push_wave(wave, checked.accepted))
        self._record_rejects(pd.concat([r for r in rejects if len(r)], ignore_index=True)
                             if any(len(r) for r in rejects) else pd.DataFrame(columns=_FAILURE_COLUMNS))
        self.result.seconds = time.monotonic() - started
        log.info("company %s, business day %s: done in %.1fs — %s", self.company_id, self.business_date,
                 self.result.seconds, self._summary_line())
        if self.stopped is not None:
            raise self.stopped
        return self.result

    # -- before the pushes -----------------------------------------------------------------------

    async def _check_connection(self) -> None:
        """Push only to a Linked connection; a broken link fails the company, not its documents."""
        try:
            await push.check_connection(self.client, self.ctx)
        except CodatError as exc:
            verdict = outcomes.of_error(exc)
            if verdict.stop and verdict.retryable:
                # The daily quota: the pushes meet it too, and record what they cannot send as pending.
                log.warning("company %s: the connection could not be checked: %s", self.company_id, exc)
                return
            if not verdict.stop:
                raise
            self.stopped = exc
            log.error("company %s: %s", self.company_id, exc)

    def _load_batch(self) -> extract.Batch:
        state = self.state
        carried = company_state.carried_over(state.ledger, state.rejected_today)
        batch = extract.load_batch(self.engine, company_id=self.company_id, business_date=self.business_date,
                                   timezone=self.settings.timezone, carried_over=carried)
        self._add_missing_customers(batch)
        self.result.batch = batch.counts()
        return batch

    def _add_missing_customers(self, batch: extract.Batch) -> None:
        """Put the customers of the batch's documents that the platform does not hold into the batch.

        A customer belongs to the batch of the day it last changed; a document of an earlier day (a
        backfill, a rerun, a customer that failed before) would otherwise wait for it until that day
        comes round again. Pulled in here, it is validated and pushed first like any batch customer.
        """
        ledger = self.state.ledger
        pushed = ledger[((ledger["document_type"] == "customer") & (ledger["status"] == LedgerStatus.SUCCESS))
                        .astype(bool)]
        extra = self._customers_of(batch.frames, set(pushed["source_id"].astype(str))
                                   | set(batch["ar_customers"]["customer_id"].astype(str)))
        if len(extra):
            batch.frames["ar_customers"] = pd.concat([batch["ar_customers"], extra], ignore_index=True)

    def _customers_of(self, frames: Mapping[str, pd.DataFrame], leaving_out: set[str]) -> pd.DataFrame:
        """The company's customers referenced by ``frames``' documents, but for those ``leaving_out``."""
        referenced: set[str] = set()
        for table in _CUSTOMER_TABLES:
            frame = frames.get(table)
            if frame is not None and len(frame):
                referenced |= set(frame["customer_id"].astype(str))
        missing = referenced - leaving_out
        customers = self.state.history.customers
        wanted = customers["customer_id"].astype(str).isin(missing).astype(bool)
        return customers[wanted].reset_index(drop=True)

    def _validate(self, batch: extract.Batch) -> validate.ValidationResult:
        state = self.state
        in_batch = set(batch["ar_invoices"]["invoice_id"].astype(str)) | set(
            batch["ar_credit_notes"]["credit_note_id"].astype(str))
        checked = validate.validate_batch(
            batch.frames, companies=state.companies, mappings=state.lookup, tax_rates=state.tax_rates,
            known_documents=state.known_documents[~state.known_documents["source_id"].isin(in_batch)],
            open_amounts=company_state.open_before_batch(state, company_state.allocating_keys(batch)),
            platform_ids=state.platform_ids, known_customers=state.history.customers[
                ["company_id", "customer_id", "name"]], platform_options=state.push_options)
        self.result.rejected = len(checked.rejects)
        self.result.manual_action = len(checked.needs_manual_action)
        self._log_rejects(checked.rejects)
        if not self.ctx.dry_run:
            self._forget_waiting(checked.rejects)
        return checked

    # -- the kinds, wave by wave -----------------------------------------------------------------

    async def _push_wave(self, wave: tuple[DocumentKind, ...], accepted: Mapping[str, pd.DataFrame]
                         ) -> pd.DataFrame:
        """Ready → transform → push → settle → record, for the kinds of one wave; the rejects it finds."""
        if self._ledger_written:  # an earlier wave pushed: its platform ids are in the ledger now
            self.state.refresh_ledger(self.engine)
            self._ledger_written = False
            self._ledger_as_read = True
        ids = self._platform_ids()
        ready: dict[str, pd.DataFrame] = {}
        payloads, waiting = [], []
        for kind in wave:
            documents, waits = self._ready(kind, accepted, ids, ready)
            ready[kind.name] = documents
            waiting.append(waits)
            if len(documents):
                payloads.append(self._payloads(kind, documents, accepted, ids))
        self._record_waiting(readiness.concat_waiting(*waiting) if any(len(w) for w in waiting)
                             else pd.DataFrame())
        payloads = [p for p in payloads if len(p)]
        if not payloads:
            return pd.DataFrame(columns=_FAILURE_COLUMNS)
        outcome = await self._push(wave_name(wave), pd.concat(payloads, ignore_index=True))
        self._ledger_written = True
        return self._changed_after_push_rejects(outcome)

    def _ready(self, kind: DocumentKind, accepted: Mapping[str, pd.DataFrame], ids: pd.DataFrame,
               ready: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The kind's accepted documents that can be pushed now, and those that wait (with the reason)."""
        if kind.name == "customer":
            return self._customers_to_push(accepted, ids), pd.DataFrame()
        if kind.name == "fee":
            return ready.get("payment", pd.DataFrame()), pd.DataFrame()  # a fee goes with its payment
        frame = accepted.get(kind.table, pd.DataFrame())
        if frame.empty:
            return frame, pd.DataFrame()
        documents = keyed(kind, frame)
        lines = None
        if kind.allocates:  # its lines carry targets of their own (a payment's allocations)
            lines = accepted[kind.lines_table]
            lines = lines.assign(source_id=lines[kind.id_column].astype(str))
        have = set(zip(ids["document_type"], ids["source_id"].astype(str), strict=True))

        def standing(company, on_type, on_id) -> readiness.Standing:
            in_platform = (on_type, str(on_id)) in have
            return readiness.Standing.READY if in_platform else readiness.Standing.NOT_IN_PLATFORM

        def on_label(company, on_type, on_id) -> str:
            if on_type == "customer":
                return readiness.default_label(on_type, on_id)
            return self.state.label(on_type, on_id)

        waits = readiness.waiting(readiness.needs(kind.name, documents, lines), standing, on_label)
        waiting_ids = set(waits["source_id"])
        ids = documents["source_id"].tolist()  # a list: iterating an Arrow-backed column is slow
        going = pd.Series([s not in waiting_ids for s in ids], index=frame.index, dtype=bool)
        numbers = dict(zip(ids, documents["document_number"].tolist(), strict=True))
        return frame[going], waits.assign(document_number=[numbers.get(s) for s in waits["source_id"]])

    def _customers_to_push(self, accepted: Mapping[str, pd.DataFrame], ids: pd.DataFrame) -> pd.DataFrame:
        """Today's accepted customers, and the customers of today's documents the platform does not hold."""
        customers = accepted.get("ar_customers", pd.DataFrame())
        have = set(ids.loc[(ids["document_type"] == "customer").astype(bool), "source_id"].astype(str))
        needed = self._customers_of(accepted, have | set(customers.get("customer_id", pd.Series(dtype=str))
                                                         .astype(str)))
        customers = pd.concat([customers, needed], ignore_index=True)
        customers = customers.drop_duplicates("customer_id", keep="first")
        if len(customers):
            self._adopt_existing_customers(customers)
        return customers

    def _payloads(self, kind: DocumentKind, documents: pd.DataFrame, accepted: Mapping[str, pd.DataFrame],
                  ids: pd.DataFrame) -> pd.DataFrame:
        """The kind's request bodies (its payload function, given what that function needs)."""
        state, to_payloads = self.state, kind.payload_function()
        if kind.name == "customer":
            return to_payloads(documents)
        if kind.name == "fee":
            return to_payloads(documents, companies=state.companies, mappings=state.lookup)
        if kind.name == "credit_note_allocation":
            return to_payloads(documents, documents=state.known_documents, companies=state.companies,
                               platform_ids=ids)
        context = {"companies": state.companies, "mappings": state.lookup, "platform_ids": ids}
        lines = accepted[kind.lines_table]
        if kind.allocates:  # only the ready documents' allocations
            mine = lines[kind.id_column].astype(str).isin(set(documents[kind.id_column].astype(str)))
            return to_payloads(documents, lines[mine.astype(bool)], **context)
        return to_payloads(documents, lines, tax_rates=state.tax_rates, **context)

    def _adopt_existing_customers(self, customers: pd.DataFrame) -> None:
        """A customer we never pushed but the platform has by exact name: record it, don't duplicate it.

        The ledger row gets the platform id and an empty content hash, so the planner sends an update
        that brings the platform record in line with the source (e.g. its email).
        """
        ledger = self.state.ledger
        known = set(ledger.loc[(ledger["document_type"] == "customer").astype(bool), "source_id"].astype(str))
        ref = self.state.reference["customers"]
        if ref.empty:
            return
        live = ref[~ref["is_deleted"].astype(bool)]
        by_name = dict(zip(live["name"].astype(str), live["platform_id"].astype(str), strict=True))
        fresh = customers[~customers["customer_id"].astype(str).isin(known)]
        matches = [(cid, name, by_name[str(name)])
                   for cid, name in zip(fresh["customer_id"], fresh["name"], strict=True)
                   if str(name) in by_name]
        if not matches or self.ctx.dry_run:
            return
        now = push.utc_now()
        rows = pd.DataFrame({
            "company_id": self.company_id, "document_type": "customer",
            "source_id": [m[0] for m in matches], "document_number": [m[1] for m in matches],
            "platform_id": [m[2] for m in matches], "content_hash": "", "idempotency_key": "adopted",
            "status": LedgerStatus.SUCCESS.value, "attempts": 0, "operation": "adopt",
            "business_date": self.business_date, "run_id": self.run_id, "created_at": now, "updated_at": now,
            "settled_at": now, "last_error": None,
        })
        self.ledger.write(rows)
        self._ledger_as_read = False
        log.info("company %s: %d customer(s) matched to existing platform customers by name", self.company_id,
                 len(rows))

    # -- pushing and recording -------------------------------------------------------------------

    async def _push(self, phase: str, documents: pd.DataFrame) -> push.PushOutcome:
        started = time.monotonic()
        if self.stopped is not None:
            push.record_not_sent(self.ledger, self.ctx, documents, f"not sent: {self.stopped}")
            self.result.phases[phase] = push.PushOutcome(by_status={"pending": len(documents)},
                                                         stopped_by=self.stopped).as_dict()
            return push.PushOutcome()
        progress = replace(self.ctx, progress_label=f"company {self.company_name}: {phase}")
        outcome, final = await push.push_documents(
            self.client, self.ledger, progress, documents, concurrency=self.concurrency,
            ledger_rows=self.state.ledger if self._ledger_as_read else None)
        self._ledger_as_read = False
        self.stopped = self.stopped or outcome.stopped_by
        if self.ctx.dry_run:
            self.result.plan.append(plan_diff.planned_rows(self.engine, final))
        else:
            plan_diff.record_pushed(self.engine, final)  # what a later dry run diffs against
        self.result.phases[phase] = outcome.as_dict()
        log.info("company %s: %s — %d document(s): %s (%.1fs)%s", self.company_id, phase, len(documents),
                 outcome.planned if self.ctx.dry_run else outcome.by_status, time.monotonic() - started,
                 " — daily API quota exhausted: the rest stays pending for the next run"
                 if outcome.quota_exhausted else "")
        return outcome

    def _changed_after_push_rejects(self, outcome: push.PushOutcome) -> pd.DataFrame:
        ids = outcome.changed_after_push
        return pd.DataFrame({
            "company_id": self.company_id, "document_type": "payment", "source_id": ids,
            "rule": "changed_after_push",
            "message": [f"payment {i} changed after it was pushed; payments are create-only in the platform: "
                        "record the correction as a new payment or refund" for i in ids],
        }, columns=_FAILURE_COLUMNS)

    def _platform_ids(self) -> pd.DataFrame:
        ids = self.state.platform_ids
        if self.ctx.dry_run:
            # Nothing is created in a dry run: pretend planned creates exist so dependants can be planned.
            planned = pd.concat(self.result.plan, ignore_index=True) if self.result.plan else pd.DataFrame(
                columns=plan_diff.PLAN_COLUMNS)
            # Only creates: a waiting document would not exist after a real run either.
            planned = planned[(planned["action"] == "create").astype(bool)]
            ids = pd.concat([ids, planned[["company_id", "document_type", "source_id"]].assign(
                platform_id="dry-run:" + planned["source_id"].astype(str))], ignore_index=True)
        return ids

    def _record_waiting(self, waiting: pd.DataFrame) -> None:
        if waiting.empty:
            return
        self.result.waiting += len(waiting)
        if self.ctx.dry_run:
            self.result.plan.append(plan_diff.side_rows(waiting, "wait", "reason"))
            return
        self.ledger.write(push.waiting_rows(waiting, self.ctx, self.state.ledger))
        self._ledger_as_read = False
        for row in waiting.head(5).itertuples():
            log.info("company %s: %s %s is pending: %s", self.company_id, row.document_type, row.source_id,
                     row.reason)

    def _record_rejects(self, rejects: pd.DataFrame) -> None:
        if not self.ctx.dry_run:
            write_rejects(self.engine, self.company_id, self.business_date, self.run_id, rejects)
        else:
            self.result.plan.append(plan_diff.side_rows(rejects, "reject", "message"))

    def _forget_waiting(self, rejects: pd.DataFrame) -> None:
        """A document that so far only waited (``pending``, never sent) and is rejected now leaves the ledger.

        Nothing of it reached the platform, so the reject is its one recorded state; left ``pending`` it
        would be both, and carried over to every later run (e.g. a payment that waited for a draft
        invoice and, once the invoice is submitted, allocates more than is open on it).
        """
        ledger = self.state.ledger
        if rejects.empty or ledger.empty:
            return
        never_sent = ledger[((ledger["status"] == LedgerStatus.PENDING)
                             & (ledger["idempotency_key"].fillna("") == "")).astype(bool)]
        rejected = set(zip(rejects["document_type"].astype(str), rejects["source_id"].astype(str),
                           strict=True))
        keys = pd.Series(list(zip(never_sent["document_type"].astype(str),
                                  never_sent["source_id"].astype(str), strict=True)),
                         index=never_sent.index, dtype=object)
        gone = never_sent[keys.isin(rejected).astype(bool)]
        for document_type, rows in gone.groupby("document_type"):
            self._ledger_as_read = False
            # The status and key in the condition: a row sent meanwhile by another run stays.
            io.delete_rows(self.engine, push.LEDGER, where={
                "company_id": self.company_id, "document_type": document_type,
                "source_id": sorted(rows["source_id"].astype(str)), "status": LedgerStatus.PENDING.value,
                "idempotency_key": ""})

    @staticmethod
    def _manual_rejects(manual: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({
            "company_id": manual["company_id"], "document_type": manual["document_type"],
            "source_id": manual["source_id"], "rule": "needs_manual_action", "message": manual["reason"]},
            columns=_FAILURE_COLUMNS)

    def _log_rejects(self, rejects: pd.DataFrame) -> None:
        if rejects.empty:
            return
        by_rule = rejects["rule"].value_counts().to_dict()
        log.warning("company %s: %d document(s) rejected %s; first: %s", self.company_id, len(rejects),
                    by_rule, " | ".join(rejects["message"].head(5)))

    def _summary_line(self) -> str:
        statuses: dict[str, int] = {}
        for phase in self.result.phases.values():
            for status, n in phase.get("by_status", {}).items():
                statuses[status] = statuses.get(status, 0) + n
        return (f"batch {self.result.batch}, rejected {self.result.rejected}, waiting {self.result.waiting}, "
                f"ledger {statuses}")
