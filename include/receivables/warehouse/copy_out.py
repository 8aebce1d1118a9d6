"""PostgreSQL's ``COPY (SELECT …) TO STDOUT`` as a stream of Arrow tables, for the bulk reads of io.

A thread writes the COPY output into a pipe; pyarrow's streaming CSV reader parses it on this side with
explicit column types, so no value becomes a Python object on the way. Closing the pipe stops the
writer (it fails with EPIPE), so a consumer may stop early.

    >>> for table in copy_out_tables(engine, stmt, {"invoice_id": pa.string()}, chunksize=100_000): ...
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select


def copy_out_tables(engine: Engine, stmt: Select[Any], types: Mapping[str, pa.DataType],
                    chunksize: int | None, *, block_size: int) -> Iterator[pa.Table]:
    """``stmt``'s rows as tables of ``chunksize`` rows (one table when None; none for no rows).

    ``types`` names the selected columns in order with the Arrow type each is parsed as."""
    read_fd, write_fd = os.pipe()
    copy_out = _CopyOut(engine, stmt, write_fd)
    source = os.fdopen(read_fd, "rb")
    try:
        reader = _csv_reader(source, types, block_size)
    except pa.ArrowInvalid as exc:
        source.close()
        copy_out.thread.join()
        if copy_out.failure:
            raise copy_out.failure[0] from None
        if "Empty CSV" in str(exc):
            return
        raise
    try:
        yield from _rechunked(reader, chunksize)
    finally:
        copy_out.stopping.set()
        source.close()  # a writer blocked on a full pipe now fails with EPIPE and ends
        copy_out.thread.join()
    if copy_out.failure:
        raise copy_out.failure[0]


class _CopyOut:
    """The thread writing a query's COPY output into ``write_fd``; a failure is kept for the reader."""

    def __init__(self, engine: Engine, stmt: Select[Any], write_fd: int) -> None:
        self.compiled = stmt.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
        self.engine, self.write_fd = engine, write_fd
        self.failure: list[BaseException] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._produce, name="warehouse-copy-out", daemon=True)
        self.thread.start()

    def _produce(self) -> None:
        raw = None
        try:
            with os.fdopen(self.write_fd, "wb") as sink:
                raw = self.engine.raw_connection()
                cursor = raw.cursor()
                cursor.execute("SET LOCAL TIME ZONE 'UTC'")
                query = cursor.mogrify(str(self.compiled), self.compiled.params).decode()
                cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", sink)
                cursor.close()
        except BaseException as exc:  # handed to the reading side
            if not self.stopping.is_set():
                self.failure.append(exc)
        finally:
            if raw is not None:
                raw.rollback()
                raw.close()


def _csv_reader(source: io.BufferedReader, types: Mapping[str, pa.DataType], block_size: int
                ) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(column_names=list(types), block_size=block_size),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(types),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,  # "" is an empty string, an unquoted nothing is NULL
            true_values=["t"],
            false_values=["f"],
        ),
    )


def _rechunked(reader: pacsv.CSVStreamingReader, chunksize: int | None) -> Iterator[pa.Table]:
    """The reader's record batches as tables of ``chunksize`` rows (one table when None)."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in reader:
        pending.append(batch)
        pending_rows += batch.num_rows
        while chunksize is not None and pending_rows >= chunksize:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunksize)
            rest = table.slice(chunksize)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)
