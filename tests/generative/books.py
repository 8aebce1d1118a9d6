"""A company's books written row by row, run through the real task functions, and checked like a controller.

The sample generator writes well-formed, busy days. These helpers write whatever a test asks for —
a day with one table only, a company with no allocations, an invoice edited years later — into a real
warehouse, run ``refresh_reference → sync_company → reconcile_company → publish_report`` against a
real sandbox over HTTP (no Airflow), and check the invariants finance relies on (:func:`problems`).

    books = open_books(sandbox, engine, tmp_path, namespace="gen-1")
    books.customer("C1", day)
    books.invoice("I1", "C1", day, lines=[(1, "100.00")])
    books.run_day(day)
    assert not problems(books, day)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from receivables import jobs
from receivables.batches import business_day_window
from receivables.codat.client import CodatClient
from receivables.settings import CodatSettings, SyncSettings
from receivables.warehouse import create_input_tables, io, schema

T = schema.metadata.tables
NOON = time(12, 0)
# The platform data type each ledger document type lives in.
DATA_TYPES = {"customer": "customers", "invoice": "invoices", "credit_note": "creditNotes",
              "payment": "payments", "credit_note_allocation": "payments", "fee": "directCosts"}
# Rules that record a refused *change* of a document that stays pushed, not a refused document.
CHANGE_RULES = {"changed_after_push", "needs_manual_action"}
FAST_CODAT = {"timeout_seconds": 5.0, "retry_deadline_seconds": 10.0, "settle_deadline_seconds": 15.0,
              "settle_poll_interval_seconds": 0.02}


def stamp(day: date, minute: int = 0) -> datetime:
    """A naive-UTC ``updated_at`` inside business day ``day`` (UTC batches)."""
    return datetime.combine(day, NOON) + timedelta(minutes=minute)


@dataclass
class Books:
    """One provisioned company, its warehouse rows, and the runs made over them."""

    sandbox: Any
    engine: Any
    company: Any
    report_dir: Path
    runs: int = 0
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def company_id(self) -> str:
        return self.company.company_id

    # -- writing source rows ---------------------------------------------------------------------

    def put(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Upsert rows (a later edit of a row replaces it, as the data team's tables do)."""
        if rows:
            frame = pd.DataFrame([{"company_id": self.company_id, **r} for r in rows])
            io.write_frame(self.engine, T[table], frame, mode="upsert")

    def customer(self, customer_id: str, day: date, *, name: str | None = None, minute: int = 0,
                 email: str | None = None) -> None:
        self.put("ar_customers", [{"customer_id": customer_id, "name": name or f"Customer {customer_id}",
                                   "email": email or f"{customer_id.lower()}@example.com",
                                   "default_currency": self.company.base_currency,
                                   "updated_at": stamp(day, minute)}])

    def invoice(self, invoice_id: str, customer_id: str, day: date, lines: list[tuple[int, str]], *,
                number: str | None = None, tax_code: str | None = "ZERO", minute: int = 0,
                status: str = "submitted", issued: date | None = None) -> None:
        """An invoice of batch ``day`` (issued then, unless ``issued``) with ``lines`` of (quantity, unit
        amount)."""
        issued = issued or day
        self.put("ar_invoices", [{"invoice_id": invoice_id, "invoice_number": number or invoice_id,
                                  "customer_id": customer_id, "issue_date": issued,
                                  "due_date": issued + timedelta(days=30),
                                  "currency": self.company.base_currency, "currency_rate": None,
                                  "status": status, "note": None, "updated_at": stamp(day, minute)}])
        self.put("ar_invoice_lines", [_line("invoice_id", invoice_id, n, q, u, tax_code)
                                      for n, (q, u) in enumerate(lines, start=1)])

    def credit_note(self, credit_note_id: str, customer_id: str, day: date, lines: list[tuple[int, str]], *,
                    tax_code: str | None = "ZERO", minute: int = 0) -> None:
        self.put("ar_credit_notes", [{"credit_note_id": credit_note_id, "credit_note_number": credit_note_id,
                                      "customer_id": customer_id, "issue_date": day,
                                      "currency": self.company.base_currency, "currency_rate": None,
                                      "status": "submitted", "note": None, "updated_at": stamp(day, minute)}])
        self.put("ar_credit_note_lines", [_line("credit_note_id", credit_note_id, n, q, u, tax_code)
                                          for n, (q, u) in enumerate(lines, start=1)])

    def payment(self, payment_id: str, customer_id: str, day: date, amount: str,
                allocations: list[tuple[str, str, str]] = (), *, fee: str = "0",
                method: str = "bank_transfer", minute: int = 0, reference: str | None = None) -> None:
        """A payment of ``amount`` with ``allocations`` of (target type, target id, amount)."""
        self.put("ar_payments", [{"payment_id": payment_id, "customer_id": customer_id, "paid_on": day,
                                  "currency": self.company.base_currency, "currency_rate": None,
                                  "amount": Decimal(amount), "fee_amount": Decimal(fee), "method": method,
                                  "reference": reference or f"R-{payment_id}",
                                  "updated_at": stamp(day, minute)}])
        self.put("ar_payment_allocations", [{"payment_id": payment_id, "target_type": t, "target_id": i,
                                             "amount": Decimal(a)} for t, i, a in allocations])

    def credit_note_allocation(self, credit_note_id: str, invoice_id: str, day: date, amount: str, *,
                               minute: int = 0) -> None:
        self.put("ar_credit_note_allocations", [{"credit_note_id": credit_note_id, "invoice_id": invoice_id,
                                                 "amount": Decimal(amount), "allocated_on": day,
                                                 "updated_at": stamp(day, minute)}])

    # -- running ---------------------------------------------------------------------------------

    def codat(self) -> CodatSettings:
        return CodatSettings.from_connection(host=self.sandbox.base_url, password=self.sandbox.api_key,
                                             extra=FAST_CODAT)

    def settings(self) -> SyncSettings:
        return SyncSettings(report_dir=str(self.report_dir))

    def run_day(self, day: date) -> dict[str, Any]:
        """The day through the task functions, as the DAG runs them; a task failure propagates."""
        self.runs += 1
        settings, codat = self.settings(), self.codat()
        plan = jobs.plan_run(self.engine, settings=settings, run_id=f"{self.company_id[:8]}-{self.runs}",
                             params={"business_date": day.isoformat(), "company_ids": [self.company_id]})
        (company,) = plan["companies"]
        with CodatClient(codat) as client:
            jobs.refresh_reference(client, self.engine, company)
        synced = jobs.sync_company(codat, self.engine, company, settings=settings)
        with CodatClient(codat) as client:
            reconciled = jobs.reconcile_company(client, self.engine, company, settings=settings)
        report = jobs.publish_report(self.engine, plan, settings=settings)
        self.results = {"plan": plan, "sync": synced, "reconcile": reconciled, "report": report}
        return self.results

    # -- reading back ----------------------------------------------------------------------------

    def table(self, name: str, **where: Any) -> pd.DataFrame:
        return io.read_frame(self.engine, T[name], where={"company_id": self.company_id, **where})

    def platform(self, data_type: str) -> list[dict[str, Any]]:
        """Live records of a data type, read through the sandbox's public API as Codat serves them."""
        if data_type != "directCosts":
            return self.sandbox.live_records(self.company_id, data_type)
        with self.sandbox.client() as http:
            for path in (f"/companies/{self.company_id}/connections/{self.company.connection_id}"
                         "/data/directCosts",
                         f"/companies/{self.company_id}/data/directCosts"):
                response = http.get(path, params={"page": 1, "pageSize": 2000})
                if response.status_code == 200:
                    return [r for r in response.json()["results"]
                            if not (r.get("metadata") or {}).get("isDeleted")]
        raise AssertionError("the sandbox serves direct costs on neither path")

    def push_requests(self) -> int:
        """POST/PUT push requests the sandbox has answered so far."""
        stats = self.sandbox.admin.stats()["requests"]
        return sum(n
                   for route, n in stats.items()
                   if route.split(" ", 1)[0] in ("POST", "PUT") and "/push/" in route)


def _line(id_column: str, document_id: str, line_no: int, quantity: int, unit_amount: str,
          tax_code: str | None) -> dict[str, Any]:
    return {id_column: document_id, "line_no": line_no, "description": f"line {line_no}",
            "quantity": Decimal(quantity), "unit_amount": Decimal(unit_amount), "discount_amount": Decimal(0),
            "tax_code": tax_code, "revenue_code": "SALES", "tracking_code": None}


def open_books(sandbox, engine, tmp_path: Path, *, namespace: str, base_currency: str = "GBP") -> Books:
    """Provision one company (and its mappings) in the sandbox and the warehouse."""
    from sample_data import company_rows, provision_companies

    create_input_tables(engine)
    (company,) = provision_companies(sandbox.base_url, 1, [base_currency], api_key=sandbox.api_key,
                                     namespace=namespace)
    companies, mappings = company_rows([company])
    io.write_frame(engine, T["ar_companies"], companies, mode="upsert")
    io.write_frame(engine, T["ar_mappings"], mappings, mode="upsert")
    return Books(sandbox=sandbox, engine=engine, company=company, report_dir=tmp_path / "reports")


# -- the invariants -------------------------------------------------------------------------------

SOURCES = {"customer": ("ar_customers", "customer_id"), "invoice": ("ar_invoices", "invoice_id"),
           "credit_note": ("ar_credit_notes", "credit_note_id"), "payment": ("ar_payments", "payment_id")}


def source_documents(books: Books, up_to: date) -> dict[tuple[str, str], date]:
    """Every source document of the batches up to ``up_to``: (document type, source id) → batch day."""
    _, end = business_day_window(up_to, "UTC")
    out: dict[tuple[str, str], date] = {}
    for document_type, (table, id_column) in SOURCES.items():
        frame = books.table(table)
        for source_id, updated in zip(frame[id_column].astype(str), pd.to_datetime(frame["updated_at"]),
                                      strict=True):
            if updated < pd.Timestamp(end):
                out[(document_type, source_id)] = updated.date()
    cna = books.table("ar_credit_note_allocations")
    for cn, inv, updated in zip(cna["credit_note_id"], cna["invoice_id"], pd.to_datetime(cna["updated_at"]),
                                strict=True):
        if updated < pd.Timestamp(end):
            out[("credit_note_allocation", f"{cn}:{inv}")] = updated.date()
    return out


def recorded_states(books: Books, sources: dict[tuple[str, str], date]) -> list[str]:
    """Every source document is in exactly one recorded state: in the ledger or rejected, never both
    (a refused *change* of a pushed document aside), never neither."""
    problems = []
    ledger = books.table("ar_push_ledger")
    status = dict(zip(zip(ledger["document_type"], ledger["source_id"].astype(str), strict=True),
                      ledger["status"], strict=True))
    rejects = books.table("ar_rejects")
    rejected: dict[tuple[str, str], set[date]] = {}
    for t, s, rule, day in zip(rejects["document_type"], rejects["source_id"].astype(str), rejects["rule"],
                               pd.to_datetime(rejects["business_date"]).dt.date, strict=True):
        if rule not in CHANGE_RULES:
            rejected.setdefault((t, s), set()).add(day)
    for key, batch_day in sorted(sources.items()):
        # Its current version's verdict: a reject of the day it was last changed (or later, when carried).
        rejected_now = any(d >= batch_day for d in rejected.get(key, ()))
        if key in status and rejected_now:
            problems.append(f"{key[0]} {key[1]} is both {status[key]} in the ledger and rejected")
        elif key not in status and not rejected_now:
            problems.append(f"{key[0]} {key[1]} is neither in the ledger nor rejected")
    return problems


def ledger_ids_exist(books: Books) -> list[str]:
    """Every ``platform_id`` the ledger holds is a live record of the platform."""
    ledger = books.table("ar_push_ledger")
    held = ledger[ledger["platform_id"].notna()]
    live: dict[str, set[str]] = {}
    problems = []
    for document_type, source_id, platform_id, status in zip(held["document_type"], held["source_id"],
                                                             held["platform_id"], held["status"],
                                                             strict=True):
        data_type = DATA_TYPES[document_type]
        if data_type not in live:
            live[data_type] = {str(r["id"]) for r in books.platform(data_type)}
        if str(platform_id) not in live[data_type]:
            problems.append(f"{document_type} {source_id} ({status}): platform id {platform_id} is not in "
                            "the "
                            f"platform's {data_type}")
    return problems


def amounts_due_agree(books: Books, day: date) -> list[str]:
    """The report's source amount due is the platform's ``amountDue`` for every matched open invoice, and
    no amount due is negative unless the source really allocated more than the document's total."""
    rows = books.table("ar_reconciliation", report_date=day)
    platform = {str(r["id"]): r for r in books.platform("invoices")}
    problems = []
    for row in rows.itertuples():
        if row.document_type != "invoice" or row.source_amount_due is None or pd.isna(row.source_amount_due):
            continue
        due = Decimal(str(row.source_amount_due))
        live = platform.get(str(row.platform_id))
        if row.outcome == "matched" and live is not None:
            platform_due = Decimal(str(live.get("amountDue")))
            if (due != 0 or platform_due != 0) and due != platform_due:
                problems.append(f"invoice {row.source_id} is matched with source amount due {due} but the "
                                f"platform's amountDue is {platform_due}")
        if due < 0 and not _really_overpaid(books, row.source_id, Decimal(str(row.source_total))):
            problems.append(f"invoice {row.source_id}: source amount due {due} is negative, but the source's "
                            "accepted allocations do not exceed its total")
    return problems


def _really_overpaid(books: Books, invoice_id: str, total: Decimal) -> bool:
    """Whether allocations no one rejected add up to more than ``total`` (an honest overpayment)."""
    rejects = books.table("ar_rejects")
    refused = set(zip(rejects["document_type"], rejects["source_id"].astype(str), strict=True))
    pay = books.table("ar_payment_allocations")
    pay = pay[(pay["target_type"] == "invoice") & (pay["target_id"].astype(str) == invoice_id)]
    amounts = [Decimal(str(a)) for p, a in zip(pay["payment_id"].astype(str), pay["amount"], strict=True)
               if ("payment", p) not in refused]
    cna = books.table("ar_credit_note_allocations")
    cna = cna[cna["invoice_id"].astype(str) == invoice_id]
    amounts += [Decimal(str(a)) for c, a in zip(cna["credit_note_id"].astype(str), cna["amount"], strict=True)
                if ("credit_note_allocation", f"{c}:{invoice_id}") not in refused]
    return sum(amounts, Decimal(0)) > total


# Outcomes that say the platform and the books diverged: nobody edits the platform in these tests, so
# each of them is the pipeline's own doing.
DIVERGED = ("amount_mismatch", "status_mismatch", "missing_in_platform", "duplicate_in_platform",
            "unexpected_in_platform")


def no_divergence(books: Books, day: date) -> list[str]:
    """The report shows no divergence between source and platform that the pipeline did not cause."""
    rows = books.table("ar_reconciliation", report_date=day)
    bad = rows[rows["outcome"].isin(DIVERGED).astype(bool)]
    return [f"{r.document_type} {r.document_key} is {r.outcome}: {r.reason}" for r in bad.itertuples()]


def problems(books: Books, day: date) -> list[str]:
    """All the invariants after running ``day``."""
    sources = source_documents(books, day)
    return [*recorded_states(books, sources), *ledger_ids_exist(books), *amounts_due_agree(books, day),
            *no_divergence(books, day)]


def snapshot(books: Books, day: date) -> dict[str, pd.DataFrame]:
    """The rows a rerun of ``day`` must leave as they are (run ids and timestamps aside)."""
    ledger = books.table("ar_push_ledger")[["document_type", "source_id", "document_number", "source_total",
                                            "content_hash", "platform_id", "status", "last_error"]]
    rejects = books.table("ar_rejects", business_date=day)[["document_type", "source_id", "rule", "message"]]
    report = books.table("ar_reconciliation", report_date=day)[
        ["document_type", "document_key", "outcome", "source_total", "platform_total", "source_amount_due",
         "platform_amount_due", "exception_id", "reason"]]
    summary = books.table("ar_reconciliation_summary", report_date=day)[
        ["outcome", "currency", "document_count", "source_amount", "platform_amount"]]
    return {name: frame.astype(str).sort_values(list(frame.columns)).reset_index(drop=True)
            for name, frame in {"ledger": ledger, "rejects": rejects, "report": report,
                                "summary": summary}.items()}


def rerun_changes(books: Books, day: date) -> list[str]:
    """Rerun ``day``: it must push nothing and leave the same rows."""
    before, sent = snapshot(books, day), books.push_requests()
    books.run_day(day)
    after, sent_again = snapshot(books, day), books.push_requests()
    problems = [f"a rerun of {day} sent {sent_again - sent} push request(s)"] if sent_again != sent else []
    for name in before:
        if not before[name].equals(after[name]):
            merged = before[name].merge(after[name], how="outer", indicator=True)
            diff = merged[merged["_merge"] != "both"].head(6).to_dict("records")
            problems.append(f"a rerun of {day} changed {name}: {diff}")
    return problems


def outcome_counts(books: Books, day: date) -> Counter:
    rows = books.table("ar_reconciliation", report_date=day)
    return Counter(rows["outcome"])
