"""Parameterised SELECTs the pipeline needs, built from the table definitions (no SQL text elsewhere).

Large id lists are chunked by the caller-facing helpers into ``IN`` lists of bounded size, since
SQLite limits bound parameters and PostgreSQL plans suffer with huge literal lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import Select, Table, and_, func, or_, select, tuple_

# SQLite's default limit of bound parameters is 32766; stay far below it.
MAX_IDS_PER_QUERY = 5000


def for_companies(table: Table, company_ids: Sequence[str]) -> Select:
    """Every row of ``table`` for these companies."""
    return select(table).where(table.c.company_id.in_(list(company_ids)))


def updated_between(table: Table, company_id: str, start: datetime, end: datetime, *,
                    id_columns: Sequence[str] = (), extra_ids: Iterable[object] = ()) -> Select:
    """Rows of one company with ``updated_at`` in [start, end), plus rows whose id is in ``extra_ids``.

    ``id_columns``: the column identifying a row, or the columns of a pair key (a credit-note allocation
    is its credit note *and* its invoice), whose ``extra_ids`` are then tuples. At most
    :data:`MAX_IDS_PER_QUERY` ids: :func:`in_chunks` splits longer lists (none is ever left out).
    """
    in_window = and_(table.c.updated_at >= start, table.c.updated_at < end)
    ids = list(extra_ids)
    if len(ids) > MAX_IDS_PER_QUERY:
        raise ValueError(f"{len(ids)} ids in one query (at most {MAX_IDS_PER_QUERY}: use in_chunks)")
    if not (id_columns and ids):
        condition = in_window
    elif len(id_columns) == 1:
        condition = or_(in_window, table.c[id_columns[0]].in_(ids))
    else:
        condition = or_(in_window, tuple_(*(table.c[c] for c in id_columns)).in_([tuple(i) for i in ids]))
    return select(table).where(table.c.company_id == company_id, condition)


def in_chunks(ids: Sequence[object]) -> list[list[object]]:
    """``ids`` in lists of at most :data:`MAX_IDS_PER_QUERY` (one empty list when there are none)."""
    return [list(ids[i:i + MAX_IDS_PER_QUERY]) for i in range(0, len(ids), MAX_IDS_PER_QUERY)] or [[]]


def children_of(table: Table, company_id: str, key: str, parents: Select) -> Select:
    """Child rows (lines, allocations) of the parents that ``parents`` selects (a subquery, not an id
    list)."""
    parent_keys = parents.with_only_columns(parents.selected_columns[key])
    return select(table).where(table.c.company_id == company_id, table.c[key].in_(parent_keys))


def by_ids(table: Table, company_id: str, key: str, ids: Sequence[str]) -> Select:
    """Rows of one company whose ``key`` is one of ``ids``."""
    return select(table).where(table.c.company_id == company_id, table.c[key].in_(list(ids)))


def first_sightings(table: Table, company_id: str, before: date) -> Select:
    """Each exception id of ``table`` (``ar_reconciliation``) reported before ``before``, with the first
    date it was seen: one row per exception, however many nights reported it (and none for the matched
    rows, which carry no exception id)."""
    seen = and_(table.c.company_id == company_id, table.c.report_date < before,
                table.c.exception_id.is_not(None), table.c.first_seen_date.is_not(None))
    return (select(table.c.exception_id, func.min(table.c.first_seen_date).label("first_seen_date"))
            .where(seen).group_by(table.c.exception_id))
