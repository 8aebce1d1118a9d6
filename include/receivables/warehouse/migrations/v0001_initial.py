"""Version 1: every output table of WAREHOUSE.md (reference copies, push ledger, rejects, reconciliation)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from receivables.warehouse.schema import VERSION_1_TABLES, metadata


def upgrade(connection: Connection) -> None:
    """Create the output tables that do not exist yet."""
    metadata.create_all(connection, tables=list(VERSION_1_TABLES), checkfirst=True)
