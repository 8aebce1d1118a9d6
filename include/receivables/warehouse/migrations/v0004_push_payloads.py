"""Version 4: ``ar_push_payloads``, the payload each document last reached the platform with (dry-run
diffs)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from receivables.warehouse.schema import ar_push_payloads


def upgrade(connection: Connection) -> None:
    ar_push_payloads.create(connection, checkfirst=True)
