"""The warehouse layer: the only code in the pipeline that speaks SQL.

- :mod:`.engine` — :class:`WarehouseSettings` and :func:`create_warehouse_engine`;
- :mod:`.schema` — every table of WAREHOUSE.md as SQLAlchemy Core ``Table`` objects;
- :mod:`.migrations` — :func:`migrate` (output tables) and :func:`create_input_tables` (demo/tests);
- :mod:`.io` — :func:`read_frame`, :func:`write_frame`, :func:`replace_rows`, :func:`delete_rows`.
"""

from receivables.warehouse.engine import WarehouseSettings, begin_write, create_warehouse_engine
from receivables.warehouse.io import (
    delete_rows,
    execute_in_transaction,
    read_frame,
    replace_rows,
    write_frame,
)
from receivables.warehouse.migrations import create_input_tables, migrate

__all__ = [
    "WarehouseSettings",
    "begin_write",
    "create_input_tables",
    "create_warehouse_engine",
    "delete_rows",
    "execute_in_transaction",
    "migrate",
    "read_frame",
    "replace_rows",
    "write_frame",
]
