"""Fixtures of the report tests."""

from __future__ import annotations

import pytest
from tests.receivables.report.hostile import build_result

from receivables.reconcile import Reconciliation


@pytest.fixture
def result() -> Reconciliation:
    return build_result()
