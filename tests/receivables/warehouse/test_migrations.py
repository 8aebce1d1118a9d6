"""Versioned migrations: applied once, in order, atomically, and safely by two workers at once."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from receivables.warehouse import create_input_tables, create_warehouse_engine, migrate
from receivables.warehouse.migrations import Migration, applied_versions, available_migrations
from receivables.warehouse.schema import INPUT_TABLES, OUTPUT_TABLES

ALL_VERSIONS = [m.version for m in available_migrations()]


def _tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_migrate_creates_the_output_tables_once(warehouse_settings):
    engine = create_warehouse_engine(warehouse_settings)
    try:
        assert migrate(engine) == [m.version for m in available_migrations()]
        assert migrate(engine) == []
        tables = _tables(engine)
        assert {t.name for t in OUTPUT_TABLES} | {"ar_schema_version"} <= tables
        assert not tables & {t.name for t in INPUT_TABLES}  # inputs belong to the data team
        assert applied_versions(engine) == ALL_VERSIONS
    finally:
        engine.dispose()


def test_a_version_1_warehouse_upgrades_to_the_latest(warehouse_settings):
    engine = create_warehouse_engine(warehouse_settings)
    try:
        first = available_migrations()[:1]
        assert migrate(engine, first) == [1]
        assert "ar_platform_documents" not in _tables(engine)
        assert migrate(engine) == ALL_VERSIONS[1:]
        assert "ar_platform_documents" in _tables(engine)
    finally:
        engine.dispose()


def test_two_workers_migrating_at_once_apply_each_version_once(warehouse_settings):
    engines = [create_warehouse_engine(warehouse_settings) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def worker(engine):
        start.wait()
        try:
            results.append(migrate(engine))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors
        assert sorted(v for r in results for v in r) == ALL_VERSIONS
        assert applied_versions(engines[0]) == ALL_VERSIONS
    finally:
        for e in engines:
            e.dispose()


def test_a_failing_migration_leaves_the_previous_version(warehouse_engine):
    def broken(conn):
        conn.exec_driver_sql("CREATE TABLE ar_half_done (x INTEGER)")
        raise RuntimeError("boom")

    def fixed(conn):
        conn.exec_driver_sql("CREATE TABLE ar_half_done (x INTEGER)")

    nxt = ALL_VERSIONS[-1] + 1
    steps = [*available_migrations(), Migration(nxt, "half_done", broken)]
    with pytest.raises(RuntimeError, match="boom"):
        migrate(warehouse_engine, steps)
    assert applied_versions(warehouse_engine) == ALL_VERSIONS
    assert "ar_half_done" not in _tables(warehouse_engine)

    assert migrate(warehouse_engine, [*available_migrations(), Migration(nxt, "half_done", fixed)]) == [nxt]
    assert applied_versions(warehouse_engine) == [*ALL_VERSIONS, nxt]


def test_create_input_tables_is_idempotent(warehouse_engine):
    create_input_tables(warehouse_engine)
    create_input_tables(warehouse_engine)
    assert {t.name for t in INPUT_TABLES} <= _tables(warehouse_engine)


def test_a_version_2_warehouse_gains_the_run_table_and_the_summary_amounts(warehouse_settings):
    """A warehouse made by the version-2 code (summary without amount_open / amount_overdue) upgrades in
    place,
    keeping its rows."""
    from datetime import date
    from decimal import Decimal

    from receivables.warehouse import io
    from receivables.warehouse.schema import ar_reconciliation_summary, ar_run_companies

    engine = create_warehouse_engine(warehouse_settings)
    try:
        old = sa.MetaData()
        old_columns = [sa.Column(c.name, c.type, primary_key=c.primary_key)
                       for c in ar_reconciliation_summary.columns
                       if c.name not in ("amount_open", "amount_overdue")]
        old_summary = sa.Table(ar_reconciliation_summary.name, old, *old_columns)
        version_2 = [m for m in available_migrations() if m.version <= 2]
        migrate(engine, [Migration(1, "initial", lambda conn: old_summary.create(conn)), *version_2[1:]])
        with engine.begin() as conn:
            conn.execute(sa.insert(old_summary).values(report_date=date(2026, 3, 2), company_id="c1",
                                                       outcome="matched", currency="GBP", document_count=2,
                                                       source_amount=Decimal("10.50")))
        assert ar_run_companies.name not in _tables(engine)

        assert migrate(engine, available_migrations()) == [v for v in ALL_VERSIONS if v > 2]
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns(ar_reconciliation_summary.name)}
        assert {"amount_open", "amount_overdue"} <= columns
        assert ar_run_companies.name in _tables(engine)
        kept = io.read_frame(engine, ar_reconciliation_summary)
        assert kept["source_amount"].tolist() == [Decimal("10.50")] and kept["amount_open"].isna().all()
    finally:
        engine.dispose()
