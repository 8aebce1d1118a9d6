"""Warehouse settings from Airflow connections and URLs; engines per dialect; no password leaks."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from receivables.warehouse import WarehouseSettings, create_warehouse_engine


def test_postgres_connection_maps_schema_to_database_and_uses_psycopg2():
    s = WarehouseSettings.from_connection(
        "postgres", host="db.internal", port=5433, login="etl", password="s3cret!", schema="warehouse",
        extra={"search_path": "finance"},
    )
    assert s.url.drivername == "postgresql+psycopg2"
    assert (s.url.host, s.url.port, s.url.username, s.url.database) == ("db.internal", 5433, "etl",
                                                                        "warehouse")
    assert s.url.password == "s3cret!"
    assert s.search_path == "finance"


def test_postgres_extras_reach_libpq_and_sqlite_refuses_unknown_ones(tmp_path):
    s = WarehouseSettings.from_connection("postgres", host="h", schema="w", extra={"sslmode": "require",
                                                                                   "pool_size": 3})
    assert s.connect_options == {"sslmode": "require"} and s.pool_size == 3
    with pytest.raises(ValueError, match="sslmode"):
        WarehouseSettings.from_connection("sqlite", host=str(tmp_path / "w.db"), extra={"sslmode": "require"})


def test_password_never_in_repr_str_or_display_url():
    s = WarehouseSettings.from_connection("postgres", host="h", login="u", password="s3cret!", schema="w")
    for text in (repr(s), str(s), s.display_url(), f"{s}", repr(s.model_dump())):
        assert "s3cret!" not in text
    assert "***" in s.display_url()


def test_sqlite_connection_needs_an_absolute_path(tmp_path):
    s = WarehouseSettings.from_connection("sqlite", host=str(tmp_path / "w.db"))
    assert s.url.render_as_string() == f"sqlite:///{tmp_path / 'w.db'}"
    with pytest.raises(ValueError, match="absolute"):
        WarehouseSettings.from_connection("sqlite", host="relative/w.db")
    with pytest.raises(ValueError, match="unsupported"):
        WarehouseSettings.from_connection("mysql", host="h")


def test_from_url_round_trips_both_dialects(tmp_path):
    pg = WarehouseSettings.from_url("postgresql+psycopg2://u:pw@h:5432/db")
    assert (pg.dialect, pg.host, pg.port, pg.database, pg.password.get_secret_value()) == (
        "postgresql", "h", 5432, "db", "pw")
    lite = WarehouseSettings.from_url(f"sqlite:///{tmp_path}/w.db")
    assert lite.dialect == "sqlite" and lite.host == f"{tmp_path}/w.db"
    with pytest.raises(ValueError, match="file"):
        WarehouseSettings.from_url("sqlite://")


def test_sqlite_engine_uses_wal_busy_timeout_and_foreign_keys(tmp_path):
    engine = create_warehouse_engine(
        WarehouseSettings.from_connection("sqlite", host=str(tmp_path / "w.db"),
                                          extra={"busy_timeout_seconds": 7})
    )
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_connection_error_message_hides_the_password():
    s = WarehouseSettings.from_connection("postgres", host="127.0.0.1", port=1, login="u", password="s3cret!",
                                          schema="w")
    engine = create_warehouse_engine(s)
    with pytest.raises(sa.exc.OperationalError) as caught:
        with engine.connect():
            pass
    assert "s3cret!" not in str(caught.value)
    engine.dispose()


@pytest.mark.postgres
def test_an_idle_pooled_connection_the_server_closed_is_replaced_not_handed_out(pg_database_url, monkeypatch):
    from receivables.warehouse import engine as engine_module

    clock = [1000.0]
    monkeypatch.setattr(engine_module.time, "monotonic", lambda: clock[0])
    engine = create_warehouse_engine(WarehouseSettings.from_url(pg_database_url, pool_size=1))
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn))
    try:
        with engine.connect() as conn:
            first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as conn:  # back in the pool moments ago: used as it is, no round trip
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == first
        assert pings == []
        with sa.create_engine(pg_database_url, poolclass=sa.pool.NullPool).connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
        clock[0] += engine_module.PING_AFTER_IDLE_SECONDS + 1
        with engine.connect() as conn:  # idle long enough to be pinged: the dead one is found and replaced
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != first
        assert len(pings) == 1
        with engine.connect() as conn:
            second = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with sa.create_engine(pg_database_url, poolclass=sa.pool.NullPool).connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({second})")
        time.sleep(0.2)  # the server's goodbye reaches the idle socket
        with engine.connect() as conn:  # used moments ago, but the server closed it: found and replaced
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != second
        assert len(pings) == 2
    finally:
        engine.dispose()
