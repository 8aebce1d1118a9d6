"""Sandbox tests share one server per module; each test gets its own company for isolation.

The ``sandbox`` / ``sandbox_session`` fixtures come from ``tests.fixtures.sandbox`` (loaded by
tests/conftest.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.codat_sandbox.builders import Api
from tests.fixtures.sandbox import SandboxProcess, start_sandbox


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """A sandbox for this test module (default 50 ms push delay)."""
    proc = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def http(server: SandboxProcess) -> Iterator[httpx.Client]:
    server.admin.clear_faults()
    with server.client() as client:
        yield client
    server.admin.clear_faults()


@pytest.fixture
def api(server: SandboxProcess, http: httpx.Client) -> Api:
    company = server.admin.create_company(f"Test {uuid.uuid4().hex[:6]}", "GBP")
    return Api(http, company)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[SandboxProcess]:
    proc = start_sandbox(tmp_path / "fresh", push_delay_ms=0)
    try:
        yield proc
    finally:
        proc.stop()
