"""Contract-test fixtures: ``world`` is one sandbox per module holding a record of each pushed type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.contract.world import build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from build_world(tmp_path_factory.mktemp("contract"))
