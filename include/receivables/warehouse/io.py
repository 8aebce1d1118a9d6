"""Bulk reads and writes between warehouse tables and pandas DataFrames, fast on each dialect.

    >>> invoices = read_frame(engine, ar_invoices, where={"company_id": "c1"})
    >>> for chunk in read_frame(engine, ar_invoice_lines, chunksize=100_000): ...
    >>> write_frame(engine, ar_push_ledger, ledger_rows, mode="upsert")
    >>> replace_rows(engine, ar_rejects, rejects, where={"business_date": day})

Frames carry explicit dtypes taken from the table definition, never guessed from the data:

=============  ===================================================================
column type    pandas dtype
=============  ===================================================================
NUMERIC        ``object`` of ``decimal.Decimal`` (None for NULL), never floats
DATE           ``datetime64[us]`` (midnight, naive)
TIMESTAMP      ``datetime64[us]`` (naive, UTC)
TEXT / CHAR    ``string``
INTEGER        ``Int64``
BOOLEAN        ``bool`` for NOT NULL columns, ``boolean`` otherwise
=============  ===================================================================

PostgreSQL reads stream ``COPY (SELECT …) TO STDOUT`` through a pipe into pyarrow's CSV reader (explicit
column types), and writes ``COPY`` into a temporary table followed by ``INSERT … SELECT`` (``ON CONFLICT
DO UPDATE`` for upserts). NUMERIC columns cross the pipe as text and become ``Decimal`` from their exact
digits: the columns are unscaled, so a fixed-scale ``decimal128`` could not hold every stored value.
Small PostgreSQL reads (<= 5,000 rows) and writes (<= 1,000) skip COPY: a plain cursor, one INSERT. SQLite
reads through a plain cursor and writes with ``executemany``. Each write call is one transaction.
Identifiers come only from the ``Table`` objects; values are always parameters (or COPY data). What a read
hands over becomes typed columns in :mod:`receivables.warehouse.columns`.
"""

from __future__ import annotations

import io
import math
import types
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select

from receivables.warehouse.columns import Col, Kind, arrow_to_frame, to_frame
from receivables.warehouse.copy_out import copy_out_tables
from receivables.warehouse.engine import begin_write
from receivables.warehouse.types import InputNumeric, Money, to_decimal

T = TypeVar("T")
WriteMode = Literal["append", "upsert"]

# SQLAlchemy's SQLite storage format: keeps text order = time order.
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_WRITE_BATCH_ROWS = 50_000
_COPY_BLOCK_BYTES = 4 << 20
_SMALL_READ_ROWS = 5_000  # a PostgreSQL read of at most this many rows skips COPY (see _small_read)
_SMALL_WRITE_ROWS = 1_000  # a PostgreSQL write of at most this many rows is one INSERT (see _pg_insert)


# Column type -> how its values cross to pandas; the first match wins (Float before its base Numeric).
_KINDS: tuple[tuple[type | types.UnionType, Kind], ...] = (
    (Money | InputNumeric, "decimal"), (sa.Float, "float"), (sa.Numeric, "decimal"),
    (sa.DateTime, "timestamp"), (sa.Date, "date"), (sa.Boolean, "boolean"), (sa.Integer, "integer"),
    (sa.String, "text"),
)


def _kind(type_: sa.types.TypeEngine[Any]) -> Kind:
    return next((kind for sa_type, kind in _KINDS if isinstance(type_, sa_type)), "raw")


def _describe(stmt: Select[Any]) -> list[Col]:
    cols = []
    for c in stmt.selected_columns:
        nullable = getattr(c, "nullable", True)
        cols.append(Col(c.key or c.name, _kind(c.type), bool(nullable)))
    return cols


def _conditions(columns: Any, where: Mapping[str, Any] | None) -> list[Any]:
    """``where`` as SQL conditions: equality, ``IN`` for a list/tuple/set, ``IS NULL`` for None."""
    conditions = []
    for name, value in (where or {}).items():
        if name not in columns:
            raise ValueError(f"unknown column {name!r} in where")
        column = columns[name]
        if value is None:
            conditions.append(column.is_(None))
        elif isinstance(value, list | tuple | set | frozenset):
            conditions.append(column.in_(list(value)))
        else:
            conditions.append(column == value)
    return conditions


def _build_select(source: sa.Table | Select[Any], where: Mapping[str, Any] | None,
                  columns: Sequence[str] | None = None) -> Select[Any]:
    if isinstance(source, sa.Table):
        stmt = sa.select(source) if columns is None else sa.select(*(source.c[c] for c in columns))
        return stmt.where(*_conditions(source.c, where)) if where else stmt
    return source.where(*_conditions(source.selected_columns, where)) if where else source


# ------------------------------------------------------------------------------------------------ reading


def read_frame(engine: Engine, table: sa.Table | Select[Any], *, where: Mapping[str, Any] | None = None,
               chunksize: int | None = None, columns: Sequence[str] | None = None
               ) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Read a table (or a Core ``Select``) into a DataFrame with the dtypes of the module docstring.

    ``columns``: only these columns of the table, in this order (a name it lacks raises ``KeyError``).

    With ``chunksize`` an iterator of DataFrames of at most that many rows is returned instead, and memory
    stays bounded by the chunk; an empty result then yields nothing.
    """
    if columns is not None and not isinstance(table, sa.Table):
        raise TypeError("columns= selects from a table; a Select already names its columns")
    stmt = _build_select(table, where, columns)
    cols = _describe(stmt)
    if chunksize is not None:
        if chunksize < 1:
            raise ValueError("chunksize must be at least 1")
        return _read_chunks(engine, stmt, cols, chunksize)
    frames = list(_read_chunks(engine, stmt, cols, None))
    if not frames:
        return to_frame(cols, [[] for _ in cols])
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _read_chunks(engine: Engine, stmt: Select[Any], cols: list[Col], chunksize: int | None
                 ) -> Iterator[pd.DataFrame]:
    # Raw driver values: our converters below do the typing column-wise, not a Python call per cell.
    raw_stmt = stmt.with_only_columns(
        *[sa.type_coerce(c, sa.types.NullType()).label(col.name)
          for c, col in zip(stmt.selected_columns, cols, strict=True)],
        maintain_column_froms=True,
    )
    if engine.dialect.name == "postgresql":
        small = None if chunksize is not None else _small_read(engine, raw_stmt, cols)
        yield from small if small is not None else _pg_chunks(engine, raw_stmt, cols, chunksize)
    else:
        yield from _cursor_chunks(engine, raw_stmt, cols, chunksize)


def _small_read(engine: Engine, stmt: Select[Any], cols: list[Col]) -> list[pd.DataFrame] | None:
    """The whole result through a plain cursor when it has at most ``_SMALL_READ_ROWS`` rows, else None: a
    company's context is many small selects, for which COPY's thread and pipe cost more than the rows; a
    big read stops after ``_SMALL_READ_ROWS + 1`` rows and is COPYed instead.

    A statement without a LIMIT of its own is asked for one row more than the bound (one round trip); one
    with its own LIMIT or OFFSET is read through a server-side cursor that is abandoned after one fetch
    (DECLARE, FETCH, CLOSE: three round trips, ≈ 0.4 ms more per read)."""
    with engine.connect() as conn:
        if stmt._limit_clause is None and stmt._offset_clause is None and stmt._fetch_clause is None:
            rows = conn.execute(stmt.limit(_SMALL_READ_ROWS + 1)).fetchall()
        else:
            result = conn.execution_options(stream_results=True, yield_per=_SMALL_READ_ROWS + 1).execute(stmt)
            rows = result.fetchmany(_SMALL_READ_ROWS + 1)
            result.close()
    if len(rows) > _SMALL_READ_ROWS:
        return None
    return [to_frame(cols, [list(c) for c in zip(*rows, strict=True)])] if rows else []


def _cursor_chunks(engine: Engine, stmt: Select[Any], cols: list[Col], chunksize: int | None
                   ) -> Iterator[pd.DataFrame]:
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=chunksize or 50_000).execute(stmt)
        if chunksize is None:
            rows = result.all()
            if rows:
                yield to_frame(cols, [list(c) for c in zip(*rows, strict=True)])
            return
        for rows in result.partitions(chunksize):
            yield to_frame(cols, [list(c) for c in zip(*rows, strict=True)])


def _arrow_type(kind: Kind) -> pa.DataType:
    return {"integer": pa.int64(), "boolean": pa.bool_(), "float": pa.float64()}.get(kind, pa.string())


def _pg_chunks(engine: Engine, stmt: Select[Any], cols: list[Col], chunksize: int | None
               ) -> Iterator[pd.DataFrame]:
    types = {c.name: _arrow_type(c.kind) for c in cols}
    for table in copy_out_tables(engine, stmt, types, chunksize, block_size=_COPY_BLOCK_BYTES):
        yield arrow_to_frame(cols, table)


# ------------------------------------------------------------------------------------------------ writing


def _in_transaction(target: Engine | Connection, fn: Callable[[Connection], T]) -> T:
    if isinstance(target, Connection):
        return fn(target)
    with begin_write(target) as conn:
        return fn(conn)


def execute_in_transaction(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """Run ``fn(connection)`` in one write transaction; the write functions below accept that connection."""
    with begin_write(engine) as conn:
        return fn(conn)


def write_frame(
    engine: Engine | Connection,
    table: sa.Table,
    df: pd.DataFrame,
    *,
    mode: WriteMode = "append",
    key_columns: Sequence[str] | None = None,
) -> int:
    """Insert ``df`` into ``table`` (``append``) or insert-or-update it by key (``upsert``); return the row
    count.

    ``df`` holds a subset of the table's columns (others take their defaults). For ``upsert`` the key is
    the primary key unless ``key_columns`` names a unique key; keys must be unique within ``df``. Given a
    ``Connection``, the write joins that connection's transaction.
    """
    if mode not in ("append", "upsert"):
        raise ValueError(f"mode must be 'append' or 'upsert', got {mode!r}")
    columns = _frame_columns(table, df)
    keys = list(key_columns or [c.name for c in table.primary_key])
    if mode == "upsert":
        if not keys:
            raise ValueError(f"{table.name} has no primary key: pass key_columns for an upsert")
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise ValueError(f"upsert into {table.name} needs the key columns {missing}")
        duplicated = df.duplicated(subset=keys)
        if duplicated.any():
            raise ValueError(f"{int(duplicated.sum())} rows repeat a key of {table.name} ({', '.join(keys)})")
    if df.empty:
        return 0
    return _in_transaction(engine, lambda conn: _write(conn, table, df, columns, mode, keys))


def delete_rows(engine: Engine | Connection, table: sa.Table, where: Mapping[str, Any]) -> int:
    """Delete the rows of ``table`` matching ``where`` (all keys must match); return how many went.

    An empty ``where`` is refused: emptying a table is never what a caller of this means.
    """
    if not where:
        raise ValueError("delete_rows needs a non-empty where")
    stmt = sa.delete(table).where(*_conditions(table.c, where))
    return _in_transaction(engine, lambda conn: conn.execute(stmt).rowcount)


def replace_rows(engine: Engine | Connection, table: sa.Table, df: pd.DataFrame, *, where: Mapping[str, Any]
                 ) -> int:
    """Replace the rows matching ``where`` by ``df`` in one transaction (how a rerun replaces a day's rows).

    If the insert fails, the old rows stay. Returns the number of rows inserted.
    """
    if not where:
        raise ValueError("replace_rows needs a non-empty where")
    columns = _frame_columns(table, df)

    def replace(conn: Connection) -> int:
        conn.execute(sa.delete(table).where(*_conditions(table.c, where)))
        return 0 if df.empty else _write(conn, table, df, columns, "append", [])

    return _in_transaction(engine, replace)


def _frame_columns(table: sa.Table, df: pd.DataFrame) -> list[sa.Column[Any]]:
    unknown = [str(c) for c in df.columns if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no columns {unknown}")
    return [table.c[name] for name in df.columns]


def _write(
    conn: Connection, table: sa.Table, df: pd.DataFrame, columns: list[sa.Column[Any]], mode: WriteMode,
    keys: list[str],
) -> int:
    if conn.dialect.name == "postgresql":
        return _pg_write(conn, table, df, columns, mode, keys)
    return _sqlite_write(conn, table, df, columns, mode, keys)


@contextmanager
def _driver_errors(conn: Connection, statement: str) -> Generator[None]:
    """Raise driver errors from raw-cursor work as SQLAlchemy's (IntegrityError, …), values hidden."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(
            statement, None, exc, dbapi.Error, hide_parameters=True, dialect=conn.dialect
        ) from exc


def _quoted(conn: Connection, table: sa.Table, columns: list[sa.Column[Any]]) -> tuple[str, list[str]]:
    preparer = conn.dialect.identifier_preparer
    return preparer.format_table(table), [preparer.quote(c.name) for c in columns]


def _conflict_clause(conn: Connection, columns: list[sa.Column[Any]], mode: WriteMode, keys: list[str]
                     ) -> str:
    if mode != "upsert":
        return ""
    quote = conn.dialect.identifier_preparer.quote
    updates = [c.name for c in columns if c.name not in keys]
    target = ", ".join(quote(k) for k in keys)
    if not updates:
        return f" ON CONFLICT ({target}) DO NOTHING"
    assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in updates)
    return f" ON CONFLICT ({target}) DO UPDATE SET {assignments}"


def _sqlite_write(
    conn: Connection, table: sa.Table, df: pd.DataFrame, columns: list[sa.Column[Any]], mode: WriteMode,
    keys: list[str],
) -> int:
    name, quoted = _quoted(conn, table, columns)
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {name} ({', '.join(quoted)}) VALUES ({placeholders})"
    sql += _conflict_clause(conn, columns, mode, keys)
    values = [_db_values(col, df[col.name], "sqlite") for col in columns]
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with _driver_errors(conn, sql):
            for start in range(0, len(df), _WRITE_BATCH_ROWS):
                batch = zip(*(v[start : start + _WRITE_BATCH_ROWS] for v in values), strict=True)
                cursor.executemany(sql, batch)
    finally:
        cursor.close()
    return len(df)


def _pg_write(
    conn: Connection, table: sa.Table, df: pd.DataFrame, columns: list[sa.Column[Any]], mode: WriteMode,
    keys: list[str],
) -> int:
    if len(df) <= _SMALL_WRITE_ROWS:
        return _pg_insert(conn, table, df, columns, mode, keys)
    name, quoted = _quoted(conn, table, columns)
    column_list = ", ".join(quoted)
    # An append COPYs straight into the table (one transaction: a failure leaves nothing behind); an
    # upsert needs the rows staged first so that INSERT … ON CONFLICT can decide per key.
    target = name
    if mode == "upsert":
        target = f"_rs_stage_{uuid.uuid4().hex[:16]}"
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {target} ON COMMIT DROP AS SELECT {column_list} FROM {name} WITH NO DATA")
    copy_sql = f"COPY {target} ({column_list}) FROM STDIN WITH (FORMAT csv)"
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with _driver_errors(conn, copy_sql):
            for start in range(0, len(df), _WRITE_BATCH_ROWS):
                cursor.copy_expert(copy_sql, _copy_csv(columns, df.iloc[start : start + _WRITE_BATCH_ROWS]))
    finally:
        cursor.close()
    if mode == "append":
        return len(df)
    conflict = _conflict_clause(conn, columns, mode, keys)
    conn.exec_driver_sql(f"INSERT INTO {name} ({column_list}) SELECT {column_list} FROM {target}{conflict}")
    conn.exec_driver_sql(f"DROP TABLE {target}")
    return len(df)


def _pg_insert(conn: Connection, table: sa.Table, df: pd.DataFrame, columns: list[sa.Column[Any]],
               mode: WriteMode, keys: list[str]) -> int:
    """A small write as one ``INSERT … VALUES … [ON CONFLICT …]``: staging a few rows in a temporary table
    for COPY cost four statements and a table created and dropped. The values are the texts COPY was given
    (money, dates), which PostgreSQL casts to each column's type alike."""
    from psycopg2.extras import execute_values

    name, quoted = _quoted(conn, table, columns)
    sql = f"INSERT INTO {name} ({', '.join(quoted)}) VALUES %s" + _conflict_clause(conn, columns, mode, keys)
    rows = list(zip(*(_param_values(col, df[col.name]) for col in columns), strict=True))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with _driver_errors(conn, sql):
            execute_values(cursor, sql, rows, page_size=len(rows))
    finally:
        cursor.close()
    return len(df)


def _param_values(column: sa.Column[Any], series: pd.Series) -> list[Any]:
    """One column as psycopg2 parameters: :func:`_db_values`' (None for NULL), booleans as ``bool``."""
    values = _db_values(column, series, "sqlite")
    if _kind(column.type) == "boolean":
        return [None if v is None else bool(v) for v in values]
    return values


def _copy_csv(columns: list[sa.Column[Any]], df: pd.DataFrame) -> io.BytesIO:
    """Rows as COPY CSV, written by pyarrow: strings always quoted, NULL an unquoted nothing."""
    arrays = [_arrow_values(col, df[col.name]) for col in columns]
    buffer = io.BytesIO()
    table = pa.table(arrays, names=[f"c{i}" for i in range(len(arrays))])
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, batch_size=8192))
    buffer.seek(0)
    return buffer


def _arrow_values(column: sa.Column[Any], series: pd.Series) -> pa.Array:
    """One DataFrame column as an Arrow array of the text PostgreSQL reads back exactly."""
    kind = _kind(column.type)
    if kind in ("date", "timestamp"):
        if series.empty:
            return pa.array([], pa.string())
        texts, mask = _datetime_array(series, kind)
        return pa.array(texts, type=pa.string(), mask=mask)
    if kind == "text" and (isinstance(series.dtype, pd.StringDtype) or series.dtype == object):
        try:
            # Vectorised for the usual case (text values and missing markers); anything else below.
            return pa.array(series, type=pa.string(), from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
    values = _db_values(column, series, "sqlite")  # None for NULL, exact text for money
    if kind == "integer":
        return pa.array(values, type=pa.int64())
    if kind == "boolean":
        return pa.array([None if v is None else bool(v) for v in values], type=pa.bool_())
    if kind == "float":
        return pa.array([None if v is None else repr(v) for v in values], type=pa.string())
    return pa.array(values, type=pa.string())


_NULL = math.nan  # what _db_values puts for NULL: None for SQLite, this marker in PostgreSQL COPY CSV


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _db_values(column: sa.Column[Any], series: pd.Series, dialect: str) -> list[Any]:
    """One DataFrame column as driver values for ``column``: exact text for money, ISO text for dates."""
    null: Any = None if dialect == "sqlite" else _NULL
    kind = _kind(column.type)
    if kind in ("date", "timestamp"):
        return _datetime_texts(series, kind, null)
    out: list[Any] = []
    if kind == "decimal":
        for v in series.tolist():
            out.append(null if _missing(v) else str(to_decimal(v)))
    elif kind == "integer":
        for v in series.tolist():
            out.append(null if _missing(v) else int(v))
    elif kind == "boolean":
        for v in series.tolist():
            if _missing(v):
                out.append(null)
            else:
                out.append(int(bool(v)) if dialect == "sqlite" else ("t" if v else "f"))
    elif kind == "float":
        out = [None if _missing(v) else float(v) for v in series.tolist()]
        if dialect != "sqlite":
            out = [null if v is None else v for v in out]
    else:
        for v in series.tolist():
            out.append(null if _missing(v) else (v if isinstance(v, str) else str(v)))
    return out


def _datetime_texts(series: pd.Series, kind: Kind, null: Any) -> list[Any]:
    if series.empty:
        return []
    texts, mask = _datetime_array(series, kind)
    return [null if m else t for t, m in zip(texts.tolist(), mask.tolist(), strict=True)]


def _datetime_array(series: pd.Series, kind: Kind) -> tuple[np.ndarray, np.ndarray]:
    """ISO texts (``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC) and the mask of NULLs."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    if not pd.api.types.is_datetime64_dtype(series.dtype):
        converted = []
        for v in series.tolist():
            if _missing(v):
                converted.append(None)
            elif isinstance(v, date) and not isinstance(v, datetime):
                converted.append(datetime(v.year, v.month, v.day))
            else:  # datetime, pd.Timestamp or ISO text such as Codat's "2026-11-20T10:00:00Z"
                stamp = pd.Timestamp(v)
                converted.append(stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp)
        series = pd.Series(converted, dtype="datetime64[us]")
    array = series.to_numpy(dtype="datetime64[us]")
    texts = np.datetime_as_string(array, unit="D" if kind == "date" else "us")
    if kind == "timestamp":
        texts = np.char.replace(texts, "T", " ")
    return texts, np.isnat(array)


__all__ = [
    "delete_rows",
    "execute_in_transaction",
    "read_frame",
    "replace_rows",
    "write_frame",
]
