"""Version 2: ``ar_platform_documents``, the incrementally refreshed copy of what the platform holds."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from receivables.warehouse.schema import ar_platform_documents


def upgrade(connection: Connection) -> None:
    ar_platform_documents.create(connection, checkfirst=True)
