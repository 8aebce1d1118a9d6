"""Fixtures for the distributed-path tests: a Redis database of their own and a throwaway Airflow metadata DB.

- ``redis_broker_url``: ``redis://127.0.0.1:6379/<n>`` on the highest-numbered empty database (or
  ``RS_TEST_REDIS_URL``), flushed afterwards — only that database. Skipped when no Redis answers
  (failed under ``CI``).
- ``airflow_metadata_url``: a fresh PostgreSQL database ``rs_airflow_<random>`` for one Airflow, dropped
  afterwards (``WITH (FORCE)``: a process that outlived its stop cannot keep it alive).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

DEFAULT_REDIS = "redis://127.0.0.1:6379"
REDIS_DATABASES = 16


def _skip_or_fail(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def redis_broker_url() -> Iterator[str]:
    """A Redis database nobody else uses right now, for one Celery broker; emptied afterwards."""
    configured = os.environ.get("RS_TEST_REDIS_URL")
    base = configured or DEFAULT_REDIS
    try:
        probe = redis.Redis.from_url(base, socket_connect_timeout=2)
        probe.ping()
    except redis.RedisError as exc:
        # Only the host: a configured URL may carry a password.
        _skip_or_fail(f"no Redis answers at {urlsplit(base).hostname}:{urlsplit(base).port} "
                      f"(set RS_TEST_REDIS_URL): {type(exc).__name__}")
    probe.close()
    if configured:
        url = configured
    else:
        # The highest empty database: other tools default to 0, so they and this test never meet.
        url = next((f"{DEFAULT_REDIS}/{n}" for n in range(REDIS_DATABASES - 1, 0, -1)
                    if redis.Redis.from_url(f"{DEFAULT_REDIS}/{n}").dbsize() == 0), None)
        if url is None:
            _skip_or_fail("every Redis database 1-15 holds keys; set RS_TEST_REDIS_URL to one the test may "
                          "flush")
    try:
        yield url
    finally:
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()


@pytest.fixture
def airflow_metadata_url(pg_admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one Airflow's metadata; dropped when the test ends."""
    name = f"rs_airflow_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(pg_admin_url).set(drivername="postgresql+psycopg2", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
