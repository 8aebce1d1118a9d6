"""Version 3: ``ar_run_companies`` (each company's state per run and stage) and the open / overdue
amounts of ``ar_reconciliation_summary`` (the report's 14-night trend).

Version 1 creates its tables from the live ``Table`` objects, so a warehouse created fresh already has the
two summary columns: each column is added only where it is missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receivables.warehouse.schema import ar_reconciliation_summary, ar_run_companies

NEW_SUMMARY_COLUMNS = ("amount_open", "amount_overdue")


def upgrade(connection: Connection) -> None:
    ar_run_companies.create(connection, checkfirst=True)
    present = {c["name"] for c in sa.inspect(connection).get_columns(ar_reconciliation_summary.name)}
    preparer = connection.dialect.identifier_preparer
    table = preparer.quote(ar_reconciliation_summary.name)
    for name in NEW_SUMMARY_COLUMNS:
        if name in present:
            continue
        column = ar_reconciliation_summary.c[name]
        kind = column.type.compile(dialect=connection.dialect)
        connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {preparer.quote(name)} {kind}")
