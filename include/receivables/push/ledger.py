"""``ar_push_ledger`` for one company: read, write (bulk upserts), and the rows of documents not sent.

    >>> ledger = Ledger(engine)
    >>> rows = ledger.load("c-1", ["invoice"])
    >>> ledger.write(rows.assign(status=LedgerStatus.SUCCESS))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from receivables.documents import NOT_FINAL, LedgerStatus
from receivables.push.plan import LEDGER_KEY, utc_now
from receivables.warehouse import io, schema

if TYPE_CHECKING:
    from receivables.push.run import PushContext

LEDGER = schema.metadata.tables["ar_push_ledger"]


class Ledger:
    """Reads and writes ``ar_push_ledger`` rows for one company (bulk, one transaction per write)."""

    def __init__(self, engine):
        self.engine = engine

    def load(self, company_id: str, document_types: Iterable[str] | None = None) -> pd.DataFrame:
        return of_types(io.read_frame(self.engine, LEDGER, where={"company_id": company_id}), document_types)

    def write(self, rows: pd.DataFrame) -> None:
        if len(rows):
            io.write_frame(self.engine, LEDGER, rows[_ledger_columns(rows)], mode="upsert",
                           key_columns=LEDGER_KEY)

    def not_final(self, company_id: str) -> pd.DataFrame:
        frame = self.load(company_id)
        return frame[frame["status"].isin(list(NOT_FINAL))].reset_index(drop=True)

    def platform_ids(self, company_id: str) -> pd.DataFrame:
        """company_id, document_type, source_id → platform_id for documents the platform holds."""
        frame = self.load(company_id)
        ok = frame[(frame["status"] == LedgerStatus.SUCCESS) & frame["platform_id"].notna()]
        return ok[LEDGER_KEY + ["platform_id"]].reset_index(drop=True)


def of_types(frame: pd.DataFrame, document_types: Iterable[str] | None) -> pd.DataFrame:
    """The rows of a company's ledger (as :meth:`Ledger.load` reads it) of some document types."""
    if document_types is not None:
        frame = frame[frame["document_type"].isin(list(document_types))]
    return frame.reset_index(drop=True)


def _ledger_columns(rows: pd.DataFrame) -> list[str]:
    return [c.name for c in LEDGER.columns if c.name in rows.columns]


def with_run(rows: pd.DataFrame, ctx: PushContext) -> pd.DataFrame:
    """``rows`` stamped with the run that writes them (and the total the ledger compares against)."""
    rows = rows.copy()
    rows["business_date"] = ctx.business_date
    rows["run_id"] = ctx.run_id
    if "total_amount" in rows.columns:
        rows["source_total"] = rows["total_amount"]
    if "created_at" not in rows.columns:
        rows["created_at"] = utc_now()
    else:
        rows["created_at"] = rows["created_at"].fillna(utc_now())
    return rows


def waiting_rows(waiting: pd.DataFrame, ctx: PushContext, ledger: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows (``pending``, never sent) for documents that wait on another document.

    ``waiting``: company_id, document_type, source_id, document_number, reason. Rows the ledger
    already knows as sent keep their state: waiting only describes documents never pushed.
    """
    if waiting.empty:
        return waiting
    known = ledger.set_index(LEDGER_KEY).index if len(ledger) else \
        pd.MultiIndex.from_tuples([], names=LEDGER_KEY)
    fresh = waiting[~waiting.set_index(LEDGER_KEY).index.isin(known)]
    now = utc_now()
    return pd.DataFrame({
        "company_id": fresh["company_id"], "document_type": fresh["document_type"],
        "source_id": fresh["source_id"], "document_number": fresh.get("document_number"),
        "content_hash": "", "idempotency_key": "", "status": LedgerStatus.PENDING, "attempts": 0,
        "last_error": fresh["reason"], "business_date": ctx.business_date, "run_id": ctx.run_id,
        "created_at": now, "updated_at": now,
    })


def record_not_sent(ledger: Ledger, ctx: PushContext, documents: pd.DataFrame, reason: str) -> pd.DataFrame:
    """Record documents that were never sent (their company stopped) as ``pending`` with ``reason``.

    Documents the ledger already knows keep their state: the next run plans them again from it.
    """
    rows = documents.assign(reason=reason)[LEDGER_KEY + ["document_number", "reason"]]
    fresh = waiting_rows(rows, ctx, ledger.load(ctx.company_id))
    ledger.write(fresh)
    return fresh
