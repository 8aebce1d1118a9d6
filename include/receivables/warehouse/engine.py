"""Where the warehouse is and how to open it: settings parsed once from an Airflow connection or a URL.

    >>> s = WarehouseSettings.from_connection("sqlite", host="/tmp/warehouse.db")
    >>> engine = create_warehouse_engine(s)

SQLite engines run in WAL mode with a busy timeout and foreign keys on, and take their transactions
explicitly (``BEGIN``, or ``BEGIN IMMEDIATE`` for writers, see :func:`begin_write`), so that two workers
writing the same file wait for each other instead of failing. PostgreSQL engines ping a pooled connection
before use when it has sat idle in the pool for a while (:data:`PING_AFTER_IDLE_SECONDS`) or its server
closed it meanwhile. The password never appears in ``repr``/``str`` of the settings or in any message we
raise.
"""

from __future__ import annotations

import os
import re
import select
import sqlite3
import time
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy.engine import URL, Connection, Engine, make_url

Dialect = Literal["sqlite", "postgresql"]

# A schema name in search_path: an unquoted PostgreSQL identifier, or $user.
_SCHEMA_NAME = re.compile(r"\$user|[A-Za-z_][A-Za-z0-9_$]{0,62}")

# Execution option read by the SQLite "begin" listener: writers lock the file up front.
_IMMEDIATE = "receivables_sqlite_begin_immediate"


class WarehouseSettings(BaseModel):
    """How to reach the warehouse: a SQLite file or a PostgreSQL database."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dialect: Dialect
    # SQLite: absolute path of the database file. PostgreSQL: server host name.
    host: str
    port: int | None = None
    login: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    # PostgreSQL only: schema(s) to work in (``search_path``); None keeps the server default.
    search_path: str | None = None
    # Seconds a SQLite writer waits for the file lock before failing.
    busy_timeout_seconds: float = Field(30.0, gt=0)
    pool_size: int = Field(5, ge=1)
    # PostgreSQL only: further libpq parameters from the connection extra (sslmode, application_name, …).
    connect_options: dict[str, str] = Field(default_factory=dict)

    @field_validator("search_path")
    @classmethod
    def _plain_schema_names(cls, value: str | None) -> str | None:
        # It becomes a libpq ``options`` string (-csearch_path=...): anything but plain names could
        # smuggle further server settings or SQL in, so only identifiers (and $user) pass.
        if value is None or not value.strip():
            return None
        names = [name.strip() for name in value.split(",")]
        bad = [name for name in names if not _SCHEMA_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"search_path must be a comma-separated list of plain schema names; "
                             f"not allowed: {', '.join(repr(b) for b in bad)}")
        return ", ".join(names)

    @field_validator("host")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the warehouse connection has no host (PostgreSQL) or file path (SQLite)")
        return value.strip()

    @classmethod
    def from_connection(
        cls,
        conn_type: str,
        host: str | None = None,
        port: int | None = None,
        login: str | None = None,
        password: str | None = None,
        schema: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> WarehouseSettings:
        """Build from the parts of an Airflow connection.

        ``postgres``: host/port/login/password, ``schema`` is the database name.
        ``sqlite``: ``host`` is the absolute path of the database file.
        ``extra`` may carry ``search_path``, ``busy_timeout_seconds``, ``pool_size``; for PostgreSQL any
        other key is passed to libpq (e.g. ``sslmode``).
        """
        kind = (conn_type or "").lower()
        options = {k: v for k, v in dict(extra or {}).items() if k in _EXTRA_FIELDS}
        others = {k: str(v) for k, v in dict(extra or {}).items() if k not in _EXTRA_FIELDS}
        if kind == "sqlite":
            if not host:
                raise ValueError("a sqlite warehouse connection needs host = the absolute path of the file")
            if others:
                raise ValueError(f"unknown options for a sqlite warehouse: {sorted(others)}")
            return cls(dialect="sqlite", host=_sqlite_path(host), **options)
        if kind in {"postgres", "postgresql"}:
            options["connect_options"] = others
            return cls(
                dialect="postgresql",
                host=host or "",
                port=int(port) if port else None,
                login=login or None,
                password=SecretStr(password) if password else None,
                database=schema or None,
                **options,
            )
        raise ValueError(f"unsupported warehouse connection type {conn_type!r}: use 'postgres' or 'sqlite'")

    @classmethod
    def from_url(cls, url: str | URL, **options: Any) -> WarehouseSettings:
        """Build from a SQLAlchemy URL such as ``sqlite:////abs/w.db`` or ``postgresql+psycopg2://u:p@h/db``."""
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        query = dict(parsed.query)
        if "search_path" in query and "search_path" not in options:
            options["search_path"] = query["search_path"]
        if backend == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise ValueError("the SQLite warehouse must be a file (sqlite:////absolute/path.db)")
            return cls(dialect="sqlite", host=_sqlite_path(parsed.database), **options)
        if backend == "postgresql":
            return cls(
                dialect="postgresql",
                host=parsed.host or "",
                port=parsed.port,
                login=parsed.username,
                password=SecretStr(parsed.password) if parsed.password else None,
                database=parsed.database,
                **options,
            )
        raise ValueError(f"unsupported warehouse URL backend {backend!r}: use postgresql or sqlite")

    @property
    def url(self) -> URL:
        """The SQLAlchemy URL (PostgreSQL through psycopg2). Render it with ``hide_password=True``."""
        if self.dialect == "sqlite":
            return URL.create("sqlite", database=self.host)
        return URL.create(
            "postgresql+psycopg2",
            username=self.login,
            password=self.password.get_secret_value() if self.password else None,
            host=self.host,
            port=self.port,
            database=self.database,
        )

    def display_url(self) -> str:
        """The URL with the password masked: the only form that goes to logs and messages."""
        return self.url.render_as_string(hide_password=True)

    def __str__(self) -> str:
        return self.display_url()


_EXTRA_FIELDS = {"search_path", "busy_timeout_seconds", "pool_size"}


def _sqlite_path(path: str) -> str:
    if not os.path.isabs(path):
        raise ValueError(f"the SQLite warehouse path must be absolute, got {path!r}")
    return path


def create_warehouse_engine(settings: WarehouseSettings) -> Engine:
    """Open an engine for the warehouse with the per-dialect settings described in the module docstring."""
    if settings.dialect == "sqlite":
        return _sqlite_engine(settings)
    connect_args: dict[str, Any] = dict(settings.connect_options)
    if settings.search_path:
        connect_args["options"] = f"-csearch_path={settings.search_path}"
    engine = sa.create_engine(
        settings.url,
        pool_size=settings.pool_size,
        connect_args=connect_args,
        hide_parameters=True,
    )
    _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def _server_spoke(dbapi_connection: Any) -> bool:
    """Whether an idle connection has input waiting, seen without a round trip: a server that terminates
    a backend (a restart, pg_terminate_backend, a pooler recycling it) says so and closes the socket, so
    the socket turns readable; a live idle connection has nothing to read."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except Exception:  # noqa: BLE001 - a closed connection's fileno() raises the driver's own error
        return True  # cannot tell: ping it
    return bool(readable)


# A connection back in the pool for longer than this is pinged before it is handed out again; one
# checked in more recently is pinged only when its socket shows the server closed it (_server_spoke).
# Pinging on every checkout (SQLAlchemy's pool_pre_ping) cost a round trip per statement: ≈ 0.5 ms of
# wall and 0.2 ms of CPU per small read, a company's context being ~50 of them.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling without a round trip per checkout: a connection is pinged when it
    sat idle ``idle_seconds`` or more, or when the server sent it something while it sat in the pool.

    A dead connection raises DisconnectionError from the checkout: the pool then discards it and hands
    out a fresh one, as pool_pre_ping does.
    """
    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["receivables_idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("receivables_idle_since", None)
        if since is None:
            return  # a new connection
        if time.monotonic() - since < idle_seconds and not _server_spoke(dbapi_connection):
            return  # in use moments ago, and the server has not closed it since
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise sa.exc.DisconnectionError(f"an idle pooled connection was closed: {exc}") from exc
            raise


def _sqlite_engine(settings: WarehouseSettings) -> Engine:
    engine = sa.create_engine(
        settings.url,
        connect_args={"timeout": settings.busy_timeout_seconds, "check_same_thread": False},
        hide_parameters=True,
    )
    busy_ms = int(settings.busy_timeout_seconds * 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) issue BEGIN itself instead of pysqlite's implicit, deferred one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        _use_wal(cursor, settings.busy_timeout_seconds)
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _use_wal(cursor: Any, timeout_seconds: float) -> None:
    """Switch the file to WAL (a lasting property of the file, so this happens once per file).

    The switch needs an exclusive lock and SQLite does not apply the busy timeout to it: when two
    workers open a new file at the same moment one of them gets "database is locked", so retry.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def begin_write(engine: Engine) -> Generator[Connection]:
    """A connection inside one write transaction, committed on success and rolled back on error.

    On SQLite it starts with ``BEGIN IMMEDIATE`` so that the write lock is taken before anything is read:
    two writers then queue on the busy timeout instead of deadlocking on a lock upgrade.
    """
    with engine.connect() as conn:
        conn = conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn
