"""WarehouseHook: the ``warehouse_default`` connection → a SQLAlchemy engine (lazily, once)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

# Words of a PostgreSQL connection error that no retry can fix, and what to tell the user.
_PERMANENT_PG_ERRORS = (
    ("does not exist", "the warehouse database or login does not exist ({detail}): check the schema "
                       "(database name) and login of connection {conn_id}"),
    ("password authentication failed", "the warehouse refused the login ({detail}): check the login and "
                                       "password of connection {conn_id}"),
    ("no pg_hba.conf entry", "the warehouse does not accept this login from here ({detail}): check the login "
                             "of connection {conn_id} and the server's pg_hba.conf"),
    ("could not translate host name", "the warehouse host is unknown ({detail}): check the host of "
                                      "connection {conn_id}"),
)


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be opened. ``permanent``: a setting is wrong, retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def classify_connect_error(error: BaseException, *, where: str,
                           conn_id: str = "warehouse_default") -> WarehouseUnavailable:
    """A connect failure as one sentence; permanent when it names a missing database, login or host."""
    raw = str(getattr(error, "orig", None) or error).strip()
    text = " ".join(raw.splitlines()[0].split()) if raw else ""
    lowered = text.lower()
    for words, advice in _PERMANENT_PG_ERRORS:
        if words in lowered:
            return WarehouseUnavailable(advice.format(detail=text, conn_id=conn_id), permanent=True)
    return WarehouseUnavailable(f"cannot reach the warehouse at {where} ({text or type(error).__name__}); "
                                "it will be retried", permanent=False)


class WarehouseHook(BaseHook):
    """The warehouse Receivables Sync reads its inputs from and writes its outputs to.

    Any SQLAlchemy database; ``postgres`` and ``sqlite`` connections are first-class:

        AIRFLOW_CONN_WAREHOUSE_DEFAULT='{"conn_type": "sqlite", "host": "/abs/path/warehouse.db"}'
        engine = WarehouseHook().get_conn()
    """

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "warehouse_default"
    conn_type = "generic"
    hook_name = "Warehouse (Receivables Sync)"

    def __init__(self, warehouse_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    @cached_property
    def settings(self):
        from receivables.warehouse.engine import WarehouseSettings

        conn = self.get_connection(self.warehouse_conn_id)
        return WarehouseSettings.from_connection(
            conn_type=conn.conn_type, host=conn.host, port=conn.port, login=conn.login,
            password=conn.password, schema=conn.schema, extra=conn.extra_dejson,
        )

    def get_conn(self):
        """A SQLAlchemy engine, created on first use and reused by this hook; the database is checked once.

        Raises :class:`WarehouseUnavailable` when it cannot be opened: a SQLite file that does not exist
        (SQLite would silently create an empty one), a PostgreSQL database, login or host that does not
        exist (permanent), or a server that does not answer (worth a retry).
        """
        engine = self._engine
        if not self._checked:
            self._check(engine)
            self._checked = True
        return engine

    _checked = False

    def _check(self, engine) -> None:
        import os

        from sqlalchemy.exc import DBAPIError

        settings = self.settings
        if settings.dialect == "sqlite":
            if not os.path.exists(settings.host):
                raise WarehouseUnavailable(
                    f"the warehouse database {settings.host} does not exist: check the host (file path) of "
                    f"connection {self.warehouse_conn_id}, or create the warehouse first", permanent=True)
            return
        try:
            with engine.connect():
                pass
        except DBAPIError as exc:
            raise classify_connect_error(exc, where=settings.display_url(),
                                         conn_id=self.warehouse_conn_id) from None

    @cached_property
    def _engine(self):
        from receivables.warehouse.engine import create_warehouse_engine

        return create_warehouse_engine(self.settings)

    def test_connection(self) -> tuple[bool, str]:
        from sqlalchemy import text

        try:
            with self.get_conn().connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # the UI's Test button shows the reason
            return False, f"cannot reach the warehouse: {type(exc).__name__}"
        return True, "warehouse reachable"
