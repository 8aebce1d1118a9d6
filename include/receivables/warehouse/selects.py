"""Parameterised SELECTs the pipeline needs, built from the table definitions (no SQL text elsewhere).

Large id lists are chunked by the caller-facing helpers into ``IN`` lists of bounded size, since
SQLite limits bound parameters and PostgreSQL plans suffer with huge literal lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Select, Table, and_, or_, select

# SQLite's default limit of bound parameters is 32766; stay far below it.
MAX_IDS_PER_QUERY = 5000


def for_companies(table: Table, company_ids: Sequence[str]) -> Select:
    """Every row of ``table`` for these companies."""
    return select(table).where(table.c.company_id.in_(list(company_ids)))


def updated_between(table: Table, company_id: str, start: datetime, end: datetime, *,
                    id_column: str | None = None, extra_ids: Iterable[str] = ()) -> Select:
    """Rows of one company with ``updated_at`` in [start, end), plus rows whose id is in ``extra_ids``."""
    in_window = and_(table.c.updated_at >= start, table.c.updated_at < end)
    ids = list(extra_ids)[:MAX_IDS_PER_QUERY]
    condition = or_(in_window, table.c[id_column].in_(ids)) if (id_column and ids) else in_window
    return select(table).where(table.c.company_id == company_id, condition)


def children_of(table: Table, company_id: str, key: str, parents: Select) -> Select:
    """Child rows (lines, allocations) of the parents that ``parents`` selects (a subquery, not an id
    list)."""
    parent_keys = parents.with_only_columns(parents.selected_columns[key])
    return select(table).where(table.c.company_id == company_id, table.c[key].in_(parent_keys))


def by_ids(table: Table, company_id: str, key: str, ids: Sequence[str]) -> Select:
    """Rows of one company whose ``key`` is one of ``ids``."""
    return select(table).where(table.c.company_id == company_id, table.c[key].in_(list(ids)))
