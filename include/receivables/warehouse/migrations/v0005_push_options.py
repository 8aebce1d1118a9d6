"""Version 5: ``ar_ref_push_options``, each connection's push rules per data type (Codat's options models)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from receivables.warehouse.schema import ar_ref_push_options


def upgrade(connection: Connection) -> None:
    ar_ref_push_options.create(connection, checkfirst=True)
