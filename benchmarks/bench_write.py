"""Target 2 — warehouse write: ledger rows (``ar_push_ledger``) from pandas into PostgreSQL.

Variants on the same 200,000-row frame, each into an empty table:

- ``DataFrame.to_sql`` (baseline, pandas' default multi-row INSERTs through SQLAlchemy);
- ``write_frame append``: ours — ``COPY`` into a temporary table, then ``INSERT … SELECT``;
- ``write_frame upsert``: the same with ``ON CONFLICT DO UPDATE`` (what the push ledger does).

    python -m benchmarks.bench_write --rows 200000
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from benchmarks import data
from benchmarks.harness import Target, header, measure, parser, print_table, print_targets, ratio
from receivables.warehouse import migrate, write_frame
from receivables.warehouse.schema import ar_push_ledger

BASELINE_TABLE = "bench_ledger_to_sql"


def ledger_rows(rows: int) -> pd.DataFrame:
    """A night's worth of ledger rows: every column filled the way push writes it."""
    rng = np.random.default_rng(7)
    n = np.arange(rows)
    now = datetime(2026, 11, 21, 1, 2, 3, 456789)
    companies = [f"company-{i:03d}" for i in range(100)]
    amounts = [Decimal(int(v)).scaleb(-2) for v in rng.integers(100, 5_000_000, size=rows)]
    return pd.DataFrame({
        "company_id": pd.Series([companies[i % 100] for i in n], dtype="string"),
        "document_type": pd.Series(np.where(n % 3 == 0, "payment", "invoice"), dtype="string"),
        "source_id": pd.Series([f"DOC-{i:08d}" for i in n], dtype="string"),
        "document_number": pd.Series([f"INV-{i:08d}" for i in n], dtype="string"),
        "currency": pd.Series(np.where(n % 5 == 0, "USD", "GBP"), dtype="string"),
        "source_total": pd.Series(amounts, dtype=object),
        "content_hash": pd.Series([f"{i:064x}" for i in n], dtype="string"),
        "idempotency_key": pd.Series([f"{i:032x}" for i in n], dtype="string"),
        "operation": pd.Series(["create"] * rows, dtype="string"),
        "push_operation_key": pd.Series([f"op-{i:012d}" for i in n], dtype="string"),
        "platform_id": pd.Series([f"pid-{i:012d}" for i in n], dtype="string"),
        "status": pd.Series(["success"] * rows, dtype="string"),
        "attempts": pd.Series(np.ones(rows, dtype=np.int64), dtype="Int64"),
        "last_error": pd.Series([None] * rows, dtype="string"),
        "business_date": pd.Series([datetime(2026, 11, 20)] * rows, dtype="datetime64[us]"),
        "run_id": pd.Series(["scheduled__2026-11-21"] * rows, dtype="string"),
        "created_at": pd.Series([now] * rows, dtype="datetime64[us]"),
        "updated_at": pd.Series([now] * rows, dtype="datetime64[us]"),
        "pushed_at": pd.Series([now] * rows, dtype="datetime64[us]"),
        "settled_at": pd.Series([now] * rows, dtype="datetime64[us]"),
    })


def _empty(engine, table: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {table}")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=50_000, help="ledger rows to write (default 50,000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per variant; the fastest counts (default 3)")
    args = p.parse_args(argv)
    header(f"Warehouse write — {args.rows:,} ledger rows into PostgreSQL", args)
    frame = ledger_rows(args.rows)
    with data.scratch_database("write") as (_database, engine):
        migrate(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {BASELINE_TABLE} (LIKE ar_push_ledger INCLUDING ALL)")
        n, rep = len(frame), args.repeat
        runs = [
            measure("to_sql", lambda: frame.to_sql(BASELINE_TABLE, engine, if_exists="append", index=False),
                    items=n, unit="rows", repeat=rep, setup=lambda: _empty(engine, BASELINE_TABLE)),
            measure("write_frame append", lambda: write_frame(engine, ar_push_ledger, frame),
                    items=n, unit="rows", repeat=rep, setup=lambda: _empty(engine, "ar_push_ledger")),
            measure("write_frame upsert (new rows)",
                    lambda: write_frame(engine, ar_push_ledger, frame, mode="upsert"),
                    items=n, unit="rows", repeat=rep, setup=lambda: _empty(engine, "ar_push_ledger")),
            # Rows already there: every one takes the ON CONFLICT DO UPDATE branch (a rerun of the night).
            measure("write_frame upsert (all conflict)",
                    lambda: write_frame(engine, ar_push_ledger, frame, mode="upsert"), items=n, unit="rows",
                    repeat=rep),
        ]
        with engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT count(*) FROM ar_push_ledger").scalar_one()
        if stored != len(frame):
            raise SystemExit(f"expected {len(frame)} ledger rows, found {stored}")
    print_table("Warehouse write (same process, in turn)", runs, baseline="to_sql")
    ours = next(r for r in runs if r.label == "write_frame append")
    print_targets([
        Target("write_frame rows/s", ours.rate, ">=", 200_000),
        Target("write_frame × to_sql", ratio(runs, "write_frame append", "to_sql"), ">=", 5, "{:.1f}"),
    ])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
