"""One company's nightly sync: extract → validate → transform → push → settle, in dependency order.

Phases follow what the platform needs to exist first:

1. customers (matched to platform customers through the ledger, then by exact name, else created);
2. invoices and credit notes (they reference customers);
3. payments, credit-note allocations and fees (they reference invoices and credit notes).

A document whose dependency has no platform id yet (its customer failed, its invoice is pending) is
recorded ``pending`` with the reason and retried by every later run. Every source document of the
batch ends in exactly one recorded state: pushed (ledger), rejected (``ar_rejects``) or pending.

    result = asyncio.run(sync_company(client, engine, company, settings=SyncSettings()))
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from receivables import extract, open_amounts, plan_diff, push, transform, validate
from receivables.codat import outcome as outcomes
from receivables.codat.errors import CodatError
from receivables.mappings import MappingLookup, resolve_mappings
from receivables.settings import SyncSettings
from receivables.warehouse import io, schema, selects

log = logging.getLogger("receivables.sync")
T = schema.metadata.tables

# Ledger document type → (batch table, id column) a not-final document is re-read from.
CARRY_SOURCES = {
    "customer": ("ar_customers", "customer_id"),
    "invoice": ("ar_invoices", "invoice_id"),
    "credit_note": ("ar_credit_notes", "credit_note_id"),
    "payment": ("ar_payments", "payment_id"),
    "fee": ("ar_payments", "payment_id"),
    "credit_note_allocation": ("ar_credit_note_allocations", "credit_note_id"),
}
DOCUMENT_ID = {"customer": "customer_id", "invoice": "invoice_id", "credit_note": "credit_note_id",
               "payment": "payment_id"}
NUMBER_COLUMN = {"customer": "name", "invoice": "invoice_number", "credit_note": "credit_note_number",
                 "payment": "reference"}
REJECT_COLUMNS = ["business_date", "company_id", "document_type", "source_id", "run_id", "rule", "message",
                  "created_at"]


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


@dataclass
class Context:
    """Everything validation and transform need besides the batch, read once per company."""

    companies: pd.DataFrame
    lookup: MappingLookup
    tax_rates: pd.DataFrame
    ref_customers: pd.DataFrame
    known_documents: pd.DataFrame
    known_customers: pd.DataFrame
    all_allocations: pd.DataFrame


def carried_over(ledger: pd.DataFrame, rejected_today: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """Source ids of documents whose last push is not final, per batch table (they are retried).

    ``rejected_today``: the day's earlier rejects (document_type, source_id). A rerun of the day decides
    them again: one that only waited before and was rejected has no ledger row left to carry it.
    """
    open_rows = ledger[ledger["status"].isin(list(push.NOT_FINAL)).astype(bool)][["document_type", "source_id"]]
    if rejected_today is not None and len(rejected_today):
        open_rows = pd.concat([open_rows, rejected_today[["document_type", "source_id"]]], ignore_index=True)
    carried: dict[str, set[str]] = {}
    for document_type, source_id in zip(open_rows["document_type"], open_rows["source_id"], strict=True):
        table, _ = CARRY_SOURCES[document_type]
        # An allocation's source id is "<credit_note_id>:<invoice_id>"; it is re-read by credit note.
        carried.setdefault(table, set()).add(str(source_id).split(":", 1)[0]
                                             if document_type == "credit_note_allocation" else str(source_id))
    return {table: sorted(ids) for table, ids in carried.items()}


def read_context(engine, company_id: str, ledger: pd.DataFrame) -> Context:
    """Reference data, mappings and the company's document history that rules need."""
    companies = io.read_frame(engine, T["ar_companies"], where={"company_id": company_id})
    ref = extract.read_reference(engine, [company_id])
    lookup = resolve_mappings(io.read_frame(engine, T["ar_mappings"], where={"company_id": company_id}),
                              io.read_frame(engine, T["ar_mapping_issues"], where={"company_id": company_id}))
    totals = ledger.set_index(["document_type", "source_id"])["source_total"] if len(ledger) else pd.Series(dtype=object)
    statuses = ledger.set_index(["document_type", "source_id"])["status"] if len(ledger) else pd.Series(dtype=object)
    frames = []
    for document_type, table, id_col, number_col in (("invoice", "ar_invoices", "invoice_id", "invoice_number"),
                                                     ("credit_note", "ar_credit_notes", "credit_note_id",
                                                      "credit_note_number")):
        docs = io.read_frame(engine, T[table], where={"company_id": company_id})
        keys = list(zip([document_type] * len(docs), docs[id_col].astype(str), strict=True))
        frames.append(pd.DataFrame({
            "company_id": docs["company_id"].astype(str), "document_type": document_type,
            "source_id": docs[id_col].astype(str), "document_number": docs[number_col],
            "customer_id": docs["customer_id"], "currency": docs["currency"],
            "currency_rate": docs["currency_rate"], "status": docs["status"],
            # datetime64[us] like the warehouse reads dates: a plain NaT would upcast to [ns] on concat,
            # which overflows for far-future dates (a due date in 2999 is rejected, not a crash).
            "due_date": docs["due_date"] if "due_date" in docs else pd.Series(
                pd.NaT, index=docs.index, dtype="datetime64[us]"),
            "total_amount": [totals.get(k) for k in keys],
            # Not in the platform: either rejected or never pushed; its number is still free there.
            "rejected": [statuses.get(k) != "success" for k in keys],
        }))
    known = pd.concat(frames, ignore_index=True)
    customers = io.read_frame(engine, T["ar_customers"], where={"company_id": company_id})
    allocations = _all_allocations(engine, company_id)
    return Context(companies=companies, lookup=lookup, tax_rates=ref["taxRates"], ref_customers=ref["customers"],
                   known_documents=known, known_customers=customers[["company_id", "customer_id", "name"]],
                   all_allocations=allocations)


def _all_allocations(engine, company_id: str) -> pd.DataFrame:
    """Every allocation draw of the company (:func:`receivables.open_amounts.allocation_draws`)."""
    return open_amounts.allocation_draws(
        io.read_frame(engine, T["ar_payment_allocations"], where={"company_id": company_id}),
        io.read_frame(engine, T["ar_payments"], where={"company_id": company_id}),
        io.read_frame(engine, T["ar_credit_note_allocations"], where={"company_id": company_id}))


def open_before_batch(context: Context, ledger: pd.DataFrame,
                      today: set[tuple[str, str]] = frozenset()) -> pd.DataFrame:
    """What is open on each pushed invoice/credit note before today's allocations (platform view).

    Total as pushed minus the draws the platform already applied, leaving out today's own documents
    (``today``: ledger keys of the batch's payments and allocations) — validation decides those again.
    """
    known = context.known_documents.dropna(subset=["total_amount"])
    applied = open_amounts.in_platform(context.all_allocations, ledger, leaving_out=today)
    return open_amounts.open_amounts(known[["company_id", "document_type", "source_id", "total_amount"]], applied)


def write_rejects(engine, company_id: str, business_date: date, run_id: str, rejects: pd.DataFrame) -> None:
    """Replace the company's rejects for the day (a rerun never leaves two rows for one document)."""
    rows = rejects.assign(business_date=business_date, run_id=run_id, created_at=push.utc_now())
    rows = rows.drop_duplicates(["company_id", "document_type", "source_id"], keep="first")
    io.replace_rows(engine, T["ar_rejects"], rows[REJECT_COLUMNS] if len(rows) else
                    pd.DataFrame(columns=REJECT_COLUMNS), where={"company_id": company_id,
                                                                 "business_date": business_date})


def _numbers(frame: pd.DataFrame, document_type: str) -> pd.Series:
    return frame[NUMBER_COLUMN[document_type]] if NUMBER_COLUMN.get(document_type) in frame else pd.Series(
        [None] * len(frame), index=frame.index)


def _waiting(frame: pd.DataFrame, document_type: str, mask: pd.Series, reasons: pd.Series) -> pd.DataFrame:
    rows = frame[mask]
    return pd.DataFrame({
        "company_id": rows["company_id"].astype(str), "document_type": document_type,
        "source_id": rows[DOCUMENT_ID[document_type]].astype(str),
        "document_number": _numbers(rows, document_type), "reason": reasons[mask],
    })


def _platform_id_set(platform_ids: pd.DataFrame, document_type: str) -> set[str]:
    return set(platform_ids.loc[platform_ids["document_type"] == document_type, "source_id"].astype(str))


class CompanySync:
    """Runs the phases for one company and day with one client, one ledger and one context."""

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
        # Set when the company cannot push (a connection not Linked, a refused key): later phases record
        # their documents as pending without sending, and the run ends by raising it.
        self.stopped: CodatError | None = None

    # -- phases ----------------------------------------------------------------------------------

    async def run(self) -> CompanyRun:
        started = time.monotonic()
        if not self.ctx.dry_run:
            await self._check_connection()
        ledger = self.ledger.load(self.company_id)
        batch = extract.load_batch(self.engine, company_id=self.company_id, business_date=self.business_date,
                                   timezone=self.settings.timezone, carried_over=carried_over(
                                       ledger, io.read_frame(self.engine, T["ar_rejects"], where={
                                           "company_id": self.company_id, "business_date": self.business_date})))
        self._add_missing_customers(batch, ledger)
        self.result.batch = batch.counts()
        context = read_context(self.engine, self.company_id, ledger)
        checked = validate.validate_batch(
            batch.frames, companies=context.companies, mappings=context.lookup, tax_rates=context.tax_rates,
            known_documents=context.known_documents[~context.known_documents["source_id"].isin(
                self._batch_ids(batch))],
            open_amounts=open_before_batch(context, ledger, self._allocating_keys(batch)),
            platform_ids=self.ledger.platform_ids(self.company_id),
            known_customers=context.known_customers)
        rejects = pd.concat([checked.rejects, self._manual_rejects(checked.needs_manual_action)], ignore_index=True)
        self.result.rejected = len(checked.rejects)
        self.result.manual_action = len(checked.needs_manual_action)
        self._log_rejects(checked.rejects)
        if not self.ctx.dry_run:
            self._forget_waiting(checked.rejects, ledger)
        accepted = checked.accepted

        await self._customers(accepted, context)
        await self._sales_documents(accepted, context)
        changed = await self._payments(accepted, context, checked.waiting)
        rejects = pd.concat([rejects, changed], ignore_index=True)
        if not self.ctx.dry_run:
            write_rejects(self.engine, self.company_id, self.business_date, self.run_id, rejects)
        else:
            self.result.plan.append(plan_diff.side_rows(rejects, "reject", "message"))
        self.result.seconds = time.monotonic() - started
        log.info("company %s, business day %s: done in %.1fs — %s", self.company_id, self.business_date,
                 self.result.seconds, self._summary_line())
        if self.stopped is not None:
            raise self.stopped
        return self.result

    async def _check_connection(self) -> None:
        """Push only to a Linked connection; a broken link becomes the company's failure, not the documents'."""
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

    def _add_missing_customers(self, batch: extract.Batch, ledger: pd.DataFrame) -> None:
        """Put the customers of the batch's documents that the platform does not hold into the batch.

        A customer belongs to the batch of the day it last changed; a document of an earlier day (a
        backfill, a rerun, a customer that failed before) would otherwise wait for it until that day
        comes round again. Pulled in here, it is validated and pushed first like any batch customer.
        """
        referenced: set[str] = set()
        for table in ("ar_invoices", "ar_credit_notes", "ar_payments"):
            referenced |= set(batch[table]["customer_id"].astype(str))
        pushed = ledger[(ledger["document_type"] == "customer") & (ledger["status"] == "success")]
        missing = sorted(referenced - set(pushed["source_id"].astype(str))
                         - set(batch["ar_customers"]["customer_id"].astype(str)))
        if not missing:
            return
        extra = io.read_frame(self.engine, selects.by_ids(T["ar_customers"], self.company_id, "customer_id", missing))
        if len(extra):
            batch.frames["ar_customers"] = pd.concat([batch["ar_customers"], extra], ignore_index=True)

    async def _customers(self, accepted: Mapping[str, pd.DataFrame], context: Context) -> None:
        customers = accepted.get("ar_customers", pd.DataFrame())
        needed = self._customers_needed(accepted, customers)
        customers = pd.concat([customers, needed], ignore_index=True).drop_duplicates("customer_id", keep="first")
        if customers.empty:
            return
        self._adopt_existing_customers(customers, context)
        await self._push("customers", transform.customers_to_payloads(customers))

    def _customers_needed(self, accepted: Mapping[str, pd.DataFrame], batch_customers: pd.DataFrame) -> pd.DataFrame:
        """Customers of today's documents that the platform does not hold yet (e.g. failed earlier)."""
        ids: set[str] = set()
        for table in ("ar_invoices", "ar_credit_notes", "ar_payments"):
            frame = accepted.get(table)
            if frame is not None and len(frame):
                ids |= set(frame["customer_id"].astype(str))
        have = _platform_id_set(self.ledger.platform_ids(self.company_id), "customer")
        missing = sorted(ids - have - set(batch_customers.get("customer_id", pd.Series(dtype=str)).astype(str)))
        if not missing:
            return pd.DataFrame()
        return io.read_frame(self.engine, selects.by_ids(T["ar_customers"], self.company_id, "customer_id", missing))

    def _adopt_existing_customers(self, customers: pd.DataFrame, context: Context) -> None:
        """A customer we never pushed but the platform has by exact name: record it, don't duplicate it.

        The ledger row gets the platform id and an empty content hash, so the planner sends an update
        that brings the platform record in line with the source (e.g. its email).
        """
        ledger = self.ledger.load(self.company_id, ["customer"])
        known = set(ledger["source_id"].astype(str))
        ref = context.ref_customers
        if ref.empty:
            return
        live = ref[~ref["is_deleted"].astype(bool)]
        by_name = dict(zip(live["name"].astype(str), live["platform_id"].astype(str), strict=True))
        fresh = customers[~customers["customer_id"].astype(str).isin(known)]
        matches = [(cid, name, by_name[str(name)]) for cid, name in zip(fresh["customer_id"], fresh["name"], strict=True)
                   if str(name) in by_name]
        if not matches or self.ctx.dry_run:
            return
        now = push.utc_now()
        rows = pd.DataFrame({
            "company_id": self.company_id, "document_type": "customer",
            "source_id": [m[0] for m in matches], "document_number": [m[1] for m in matches],
            "platform_id": [m[2] for m in matches], "content_hash": "", "idempotency_key": "adopted",
            "status": "success", "attempts": 0, "operation": "adopt", "business_date": self.business_date,
            "run_id": self.run_id, "created_at": now, "updated_at": now, "settled_at": now,
            "last_error": None,
        })
        self.ledger.write(rows)
        log.info("company %s: %d customer(s) matched to existing platform customers by name", self.company_id, len(rows))

    async def _sales_documents(self, accepted: Mapping[str, pd.DataFrame], context: Context) -> None:
        ids = self._platform_ids()
        customers = _platform_id_set(ids, "customer")
        payloads, waiting = [], []
        for document_type, table, lines_table, to_payloads in (
            ("invoice", "ar_invoices", "ar_invoice_lines", transform.invoices_to_payloads),
            ("credit_note", "ar_credit_notes", "ar_credit_note_lines", transform.credit_notes_to_payloads),
        ):
            docs = accepted.get(table, pd.DataFrame())
            if docs.empty:
                continue
            ready = docs["customer_id"].astype(str).isin(customers)
            reasons = "waiting for customer " + docs["customer_id"].astype(str) + " to reach the platform"
            waiting.append(_waiting(docs, document_type, ~ready, reasons))
            if ready.any():
                payloads.append(to_payloads(docs[ready], accepted[lines_table], companies=context.companies,
                                            mappings=context.lookup, tax_rates=context.tax_rates, platform_ids=ids))
        self._record_waiting(waiting)
        if payloads:
            await self._push("invoices and credit notes", pd.concat(payloads, ignore_index=True))

    async def _payments(self, accepted: Mapping[str, pd.DataFrame], context: Context,
                        waiting_from_validation: pd.DataFrame) -> pd.DataFrame:
        ids = self._platform_ids()
        have = set(zip(ids["document_type"], ids["source_id"].astype(str), strict=True))
        payments = accepted.get("ar_payments", pd.DataFrame())
        allocations = accepted.get("ar_payment_allocations", pd.DataFrame())
        cn_allocations = accepted.get("ar_credit_note_allocations", pd.DataFrame())
        waiting = [waiting_from_validation.assign(
            document_number=None) if len(waiting_from_validation) else pd.DataFrame()]
        payloads = []
        if len(payments):
            blocked = self._blocked_payments(payments, allocations, have)
            ready = ~payments["payment_id"].astype(str).isin(blocked)
            reasons = payments["payment_id"].astype(str).map(lambda pid: blocked.get(pid, ""))
            waiting.append(_waiting(payments, "payment", ~ready, reasons))
            ready_ids = set(payments.loc[ready, "payment_id"].astype(str))
            ready_allocs = allocations[allocations["payment_id"].astype(str).isin(ready_ids)] if len(allocations) else allocations
            if ready.any():
                payloads.append(transform.payments_to_payloads(
                    payments[ready], ready_allocs, companies=context.companies, mappings=context.lookup,
                    platform_ids=ids))
                payloads.append(transform.fees_to_payloads(payments[ready], companies=context.companies,
                                                            mappings=context.lookup))
        if len(cn_allocations):
            keys = open_amounts.credit_note_allocation_key(cn_allocations["credit_note_id"], cn_allocations["invoice_id"])
            ok_cn = [("credit_note", c) in have for c in cn_allocations["credit_note_id"].astype(str)]
            ok_inv = [("invoice", i) in have for i in cn_allocations["invoice_id"].astype(str)]
            ready = pd.Series([a and b for a, b in zip(ok_cn, ok_inv, strict=True)], index=cn_allocations.index,
                              dtype=bool)
            if (~ready).any():
                waiting.append(pd.DataFrame({
                    "company_id": self.company_id, "document_type": "credit_note_allocation",
                    "source_id": keys[~ready], "document_number": keys[~ready],
                    "reason": "waiting for credit note " + cn_allocations.loc[~ready, "credit_note_id"].astype(str)
                              + " and invoice " + cn_allocations.loc[~ready, "invoice_id"].astype(str)
                              + " to reach the platform"}))
            if ready.any():
                payloads.append(transform.credit_note_allocations_to_payloads(
                    cn_allocations[ready], documents=context.known_documents, companies=context.companies,
                    platform_ids=ids))
        self._record_waiting(waiting)
        payloads = [p for p in payloads if len(p)]
        if not payloads:
            return pd.DataFrame(columns=["company_id", "document_type", "source_id", "rule", "message"])
        outcome = await self._push("payments, allocations and fees", pd.concat(payloads, ignore_index=True))
        return self._changed_after_push_rejects(outcome)

    @staticmethod
    def _blocked_payments(payments: pd.DataFrame, allocations: pd.DataFrame, have: set) -> dict[str, str]:
        """Payments that cannot be pushed yet, with the document they wait for."""
        blocked: dict[str, str] = {}
        for pid, cid in zip(payments["payment_id"].astype(str), payments["customer_id"].astype(str), strict=True):
            if ("customer", cid) not in have:
                blocked[pid] = f"waiting for customer {cid} to reach the platform"
        if len(allocations):
            for pid, ttype, tid in zip(allocations["payment_id"].astype(str), allocations["target_type"].astype(str),
                                       allocations["target_id"].astype(str), strict=True):
                if (ttype, tid) not in have and pid not in blocked:
                    blocked[pid] = f"waiting for {ttype.replace('_', ' ')} {tid} to reach the platform"
        return blocked

    # -- helpers ---------------------------------------------------------------------------------

    async def _push(self, phase: str, documents: pd.DataFrame) -> push.PushOutcome:
        started = time.monotonic()
        if self.stopped is not None:
            push.record_not_sent(self.ledger, self.ctx, documents, f"not sent: {self.stopped}")
            self.result.phases[phase] = push.PushOutcome(by_status={"pending": len(documents)},
                                                         stopped_by=self.stopped).as_dict()
            return push.PushOutcome()
        progress = replace(self.ctx, progress_label=f"company {self.company_name}: {phase}")
        outcome, final = await push.push_documents(self.client, self.ledger, progress, documents,
                                                   concurrency=self.concurrency)
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
        self._last_outcome = outcome
        return outcome

    def _changed_after_push_rejects(self, outcome: push.PushOutcome) -> pd.DataFrame:
        ids = outcome.changed_after_push
        return pd.DataFrame({
            "company_id": self.company_id, "document_type": "payment", "source_id": ids,
            "rule": "changed_after_push",
            "message": [f"payment {i} changed after it was pushed; payments are create-only in the platform: "
                        "record the correction as a new payment or refund" for i in ids],
        })

    def _platform_ids(self) -> pd.DataFrame:
        ids = self.ledger.platform_ids(self.company_id)
        if self.ctx.dry_run:
            # Nothing is created in a dry run: pretend planned creates exist so dependants can be planned.
            planned = pd.concat(self.result.plan, ignore_index=True) if self.result.plan else pd.DataFrame(
                columns=plan_diff.PLAN_COLUMNS)
            # Only creates: a waiting document would not exist after a real run either.
            planned = planned[(planned["action"] == "create").astype(bool)]
            ids = pd.concat([ids, planned[["company_id", "document_type", "source_id"]].assign(
                platform_id="dry-run:" + planned["source_id"].astype(str))], ignore_index=True)
        return ids

    def _record_waiting(self, parts: list[pd.DataFrame]) -> None:
        parts = [p for p in parts if len(p)]
        if not parts:
            return
        waiting = pd.concat(parts, ignore_index=True)
        self.result.waiting += len(waiting)
        if self.ctx.dry_run:
            self.result.plan.append(plan_diff.side_rows(waiting, "wait", "reason"))
            return
        ledger = self.ledger.load(self.company_id)
        self.ledger.write(push.waiting_rows(waiting, self.ctx, ledger))
        for row in waiting.head(5).itertuples():
            log.info("company %s: %s %s is pending: %s", self.company_id, row.document_type, row.source_id, row.reason)

    def _forget_waiting(self, rejects: pd.DataFrame, ledger: pd.DataFrame) -> None:
        """A document that so far only waited (``pending``, never sent) and is rejected now leaves the ledger.

        Nothing of it reached the platform, so the reject is its one recorded state; left ``pending`` it
        would be both, and carried over to every later run (e.g. a payment that waited for a draft
        invoice and, once the invoice is submitted, allocates more than is open on it).
        """
        if rejects.empty or ledger.empty:
            return
        never_sent = ledger[((ledger["status"] == "pending") & (ledger["idempotency_key"].fillna("") == "")
                             ).astype(bool)]
        rejected = set(zip(rejects["document_type"].astype(str), rejects["source_id"].astype(str), strict=True))
        keys = pd.Series(list(zip(never_sent["document_type"].astype(str), never_sent["source_id"].astype(str),
                                  strict=True)), index=never_sent.index, dtype=object)
        gone = never_sent[keys.isin(rejected).astype(bool)]
        for document_type, rows in gone.groupby("document_type"):
            # The status and key in the condition: a row sent meanwhile by another run stays.
            io.delete_rows(self.engine, push.LEDGER, where={
                "company_id": self.company_id, "document_type": document_type,
                "source_id": sorted(rows["source_id"].astype(str)), "status": "pending", "idempotency_key": ""})

    def _manual_rejects(self, manual: pd.DataFrame) -> pd.DataFrame:
        if manual.empty:
            return pd.DataFrame(columns=["company_id", "document_type", "source_id", "rule", "message"])
        return pd.DataFrame({
            "company_id": manual["company_id"], "document_type": manual["document_type"],
            "source_id": manual["source_id"], "rule": "needs_manual_action", "message": manual["reason"]})

    @staticmethod
    def _allocating_keys(batch: extract.Batch) -> set[tuple[str, str]]:
        """Ledger keys of the batch's payments and credit-note allocations."""
        cna = batch["ar_credit_note_allocations"]
        return ({("payment", p) for p in batch["ar_payments"]["payment_id"].astype(str)}
                | {("credit_note_allocation", k) for k in
                   open_amounts.credit_note_allocation_key(cna["credit_note_id"], cna["invoice_id"])})

    def _batch_ids(self, batch: extract.Batch) -> set[str]:
        return set(batch["ar_invoices"]["invoice_id"].astype(str)) | set(
            batch["ar_credit_notes"]["credit_note_id"].astype(str))

    def _log_rejects(self, rejects: pd.DataFrame) -> None:
        if rejects.empty:
            return
        by_rule = rejects["rule"].value_counts().to_dict()
        log.warning("company %s: %d document(s) rejected %s; first: %s", self.company_id, len(rejects), by_rule,
                    " | ".join(rejects["message"].head(5)))

    def _summary_line(self) -> str:
        statuses: dict[str, int] = {}
        for phase in self.result.phases.values():
            for status, n in phase.get("by_status", {}).items():
                statuses[status] = statuses.get(status, 0) + n
        return (f"batch {self.result.batch}, rejected {self.result.rejected}, waiting {self.result.waiting}, "
                f"ledger {statuses}")


def write_plan(plan: list[pd.DataFrame], path: Path) -> Path:
    """A dry run's plan as CSV: what would be created, updated (field by field), left alone, held back
    or rejected. Written also when empty, so no earlier dry run's plan is left standing for the company."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [p for p in plan if len(p)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=plan_diff.PLAN_COLUMNS)
    frame.reindex(columns=plan_diff.PLAN_COLUMNS).to_csv(path, index=False)
    return path
