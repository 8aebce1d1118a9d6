"""Target 1 — warehouse read: PostgreSQL ``ar_invoice_lines`` → typed pandas DataFrame.

Variants, each in a fresh process so its peak RSS is its own:

- ``pd.read_sql`` (baseline): SQLAlchemy cursor, pandas guesses the dtypes;
- ``read_frame``: our reader — ``COPY (SELECT …) TO STDOUT`` through a pipe into pyarrow's CSV reader,
  explicit dtypes from the table definition, NUMERIC as exact ``Decimal``;
- ``read_frame chunked``: the same with ``chunksize=100_000`` (how a big batch is streamed).

    python -m benchmarks.bench_read --rows 1000000
"""

from __future__ import annotations

import time
from functools import partial

import pandas as pd

from benchmarks import data
from benchmarks.harness import (
    GIB,
    Target,
    header,
    measure,
    measure_isolated,
    parser,
    print_table,
    print_targets,
    ratio,
)
from receivables.warehouse import create_input_tables, create_warehouse_engine, read_frame, write_frame
from receivables.warehouse.schema import ar_invoice_lines

LINES_PER_INVOICE = 5


def _engine(database: str):
    return create_warehouse_engine(data.pg_settings(database))


def _timed_read(database: str, read) -> dict:
    """Run ``read(engine)`` once the engine has connected; time the read alone."""
    engine = _engine(database)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        started = time.perf_counter()
        rows = read(engine)
        return {"rows": rows, "seconds": time.perf_counter() - started}
    finally:
        engine.dispose()


def read_with_pandas(database: str) -> dict:
    return _timed_read(database, lambda engine: len(pd.read_sql("SELECT * FROM ar_invoice_lines", engine)))


def read_with_read_frame(database: str) -> dict:
    return _timed_read(database, lambda engine: len(read_frame(engine, ar_invoice_lines)))


def read_in_chunks(database: str) -> dict:
    return _timed_read(database, lambda engine: sum(
        len(chunk) for chunk in read_frame(engine, ar_invoice_lines, chunksize=100_000)))


def load_lines(engine, rows: int) -> int:
    """Fill ``ar_invoice_lines`` with ``rows`` generated lines (5 per invoice, 10 companies)."""
    create_input_tables(engine)
    companies = data.offline_companies(10)
    spec = data.spec_for(10, invoices=max(10, rows // LINES_PER_INVOICE), lines_per_invoice=LINES_PER_INVOICE)
    lines = data.generated_batch(companies, spec)["ar_invoice_lines"]
    written = write_frame(engine, ar_invoice_lines, lines)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE ar_invoice_lines")
    return written


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000, help="invoice lines to read (default 100,000)")
    p.add_argument("--repeat", type=int, default=1, help="fresh processes per variant; the fastest counts")
    p.add_argument("--in-process", action="store_true",
                   help="measure in this process, not fresh ones (quick checks; peaks then include the "
                        "set-up)")
    args = p.parse_args(argv)
    header(f"Warehouse read — {args.rows:,} invoice lines from PostgreSQL", args)
    with data.scratch_database("read") as (database, engine):
        rows = load_lines(engine, args.rows)
        engine.dispose()
        variants = [("pd.read_sql", read_with_pandas), ("read_frame", read_with_read_frame),
                    ("read_frame chunked 100k", read_in_chunks)]
        if args.in_process:
            runs = [measure(label, partial(fn, database), items=rows, unit="rows", repeat=args.repeat)
                    for label, fn in variants]
        else:
            runs = [measure_isolated(label, fn, (database,), items=rows, unit="rows", repeat=args.repeat)
                    for label, fn in variants]
    print_table("Warehouse read (each variant in a fresh process; RSS = that process's peak)", runs,
                baseline="pd.read_sql")
    ours = next(r for r in runs if r.label == "read_frame")
    print_targets([
        Target("read_frame rows/s", ours.rate, ">=", 600_000),
        Target("read_frame × pd.read_sql", ratio(runs, "read_frame", "pd.read_sql"), ">=", 4, "{:.1f}"),
        Target("read_frame peak RSS GiB", ours.peak_rss / GIB, "<=", 0.8, "{:.2f}"),
    ])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
