"""WarehouseHook: the ``warehouse_default`` connection → a SQLAlchemy engine (lazily, once)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook


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
        """A SQLAlchemy engine, created on first use and reused by this hook."""
        return self._engine

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
