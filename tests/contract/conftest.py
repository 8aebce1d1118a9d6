"""Contract-test fixtures: ``world`` is one sandbox per module holding a record of each pushed type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.contract.world import build_world, fetch


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from build_world(tmp_path_factory.mktemp("contract"))


@pytest.fixture(scope="module")
def world_with_reference(world):
    """``world`` plus the id of one seeded record of each reference type."""
    company = world["company"]
    reference = {}
    for data_type, path in (("accounts", "data/accounts"), ("taxRates", "data/taxRates"),
                            ("trackingCategories", "data/trackingCategories"),
                            ("bankAccounts", f"connections/{company['connectionId']}/data/bankAccounts")):
        reference[data_type] = fetch(world["server"],
                                     f"/companies/{company['id']}/{path}")["results"][0]["id"]
    return {**world, "reference": reference}
