"""Fixtures for the client's unit tests (helpers live in ``fakes.py``)."""

from __future__ import annotations

import pytest
from tests.receivables.codat.fakes import API_KEY, FakeClock, Recorder

from receivables.settings import CodatSettings


@pytest.fixture
def settings() -> CodatSettings:
    return CodatSettings(base_url="http://codat.test", api_key=API_KEY, retry_deadline_seconds=60,
                         max_retry_after_seconds=30, settle_poll_interval_seconds=0.5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
