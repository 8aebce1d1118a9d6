"""SQL for the pipeline's own bookkeeping, so the modules that keep it need no SQLAlchemy of their own.

- :func:`replace_stage_row`, :func:`stage_rows` — ``ar_run_companies`` (:mod:`receivables.run_state`);
- :func:`summaries_between` — earlier nights of ``ar_reconciliation_summary`` (the report's trend);
- :func:`stored_payloads` — what ``ar_push_payloads`` holds for a company (:mod:`receivables.plan_diff`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from receivables.warehouse import io
from receivables.warehouse.engine import begin_write
from receivables.warehouse.schema import ar_push_payloads, ar_run_companies, metadata


def replace_stage_row(engine: Engine, key: Mapping[str, Any],
                      row: Callable[[Mapping[str, Any] | None], Mapping[str, Any]]) -> None:
    """Replace the ``ar_run_companies`` row of ``key`` (run, company, stage) by ``row(previous)``.

    ``previous`` is the row's ``attempts`` and ``started_at`` before (None when there was none); reading
    it and writing the new row happen in one write transaction, so two attempts cannot both count one.
    """
    match = [ar_run_companies.c[column] == value for column, value in key.items()]
    with begin_write(engine) as conn:
        previous = conn.execute(sa.select(ar_run_companies.c.attempts, ar_run_companies.c.started_at)
                                .where(*match)).mappings().first()
        conn.execute(sa.delete(ar_run_companies).where(*match))
        conn.execute(sa.insert(ar_run_companies).values(**key, **row(previous)))


def stage_rows(engine: Engine, run_id: str, company_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Every ``ar_run_companies`` row of one run for these companies."""
    table = ar_run_companies
    with engine.connect() as conn:
        found = conn.execute(sa.select(table).where(table.c.run_id == run_id,
                                                    table.c.company_id.in_(list(company_ids))))
        return [dict(row) for row in found.mappings()]


def summaries_between(engine: Engine, start: date, end: date) -> pd.DataFrame:
    """``ar_reconciliation_summary`` rows with ``start <= report_date < end``."""
    table = metadata.tables["ar_reconciliation_summary"]
    return io.read_frame(engine, sa.select(table).where(table.c.report_date >= start,
                                                        table.c.report_date < end))


def stored_payloads(engine: Engine, company_id: str, columns: Iterable[str]) -> pd.DataFrame:
    """Some columns of one company's ``ar_push_payloads`` rows."""
    table = ar_push_payloads
    chosen = sa.select(*(table.c[c] for c in columns))
    return io.read_frame(engine, chosen.where(table.c.company_id == company_id))
