"""Exact decimals from whatever the warehouse stored."""

from __future__ import annotations

from decimal import Decimal

import pytest

from receivables.warehouse.types import to_decimal


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (0.1, Decimal("0.1")),
        (0.1 + 0.2, Decimal("0.3")),  # float noise beyond 15 significant digits is dropped
        (1234567890.12345, Decimal("1234567890.12345")),
        (12, Decimal("12")),
        ("12345678901.123456789", Decimal("12345678901.123456789")),
        (Decimal("1.50"), Decimal("1.50")),
        (None, None),
        (float("nan"), None),
    ],
)
def test_to_decimal(stored, expected):
    value = to_decimal(stored)
    assert value == expected
    assert value is None or isinstance(value, Decimal)


def test_booleans_are_not_amounts():
    with pytest.raises(TypeError):
        to_decimal(True)
