"""Columns of Python objects in which many rows hold the very same object.

The warehouse read hands a NUMERIC column over as one ``Decimal`` object per distinct stored text
(``receivables.warehouse.io``): a night's million invoice lines carry a few thousand quantity objects and
a few tens of thousands of discount objects. Work that reads each value (its text, its scaled integer)
can then be done once per distinct object and spread over the rows with an index.

Distinct means the same object (``is``), never equal values: ``Decimal("2.5") == Decimal("2.50")`` but
their texts differ, and which of the two a row holds is part of what it sends.

    >>> a, b = Decimal("2.5"), Decimal("2.50")
    >>> shared = SharedObjects.of(np.array([a, b, a, a, None, a, b, None], dtype=object))
    >>> [str(v) for v in shared.distinct], shared.codes.tolist()
    (['2.5', '2.50', 'None'], [0, 1, 0, 0, 2, 0, 1, 2])
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from decimal import Decimal  # noqa: F401 - the doctest's

import numpy as np
import pandas as pd

# Below this share of distinct objects the per-distinct path pays for its identity pass (~0.1 µs a row).
_WORTH_IT = 0.5


@dataclass(frozen=True)
class SharedObjects:
    """An object column as its distinct objects and each row's index into them."""

    distinct: np.ndarray  # object dtype, in order of first appearance
    codes: np.ndarray     # int64, one per row

    @classmethod
    def of(cls, values: np.ndarray) -> SharedObjects:
        values = np.asarray(values, dtype=object)
        codes, uniques = pd.factorize(_addresses(values))
        first = np.empty(len(uniques), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(values) - 1, -1, -1)
        return cls(values[first], codes.astype(np.int64, copy=False))

    @classmethod
    def worth_it(cls, values: np.ndarray) -> SharedObjects | None:
        """:meth:`of`, or None where the column has too few repeated objects for it to pay."""
        if len(values) < 2:
            return None
        shared = cls.of(values)
        return shared if len(shared.distinct) <= _WORTH_IT * len(values) else None


def _addresses(values: np.ndarray) -> np.ndarray:
    """Each row's object address (its ``id()``), read from the array's own pointers without a Python call
    per row (numpy will not view an object array as integers; ``map(id, ...)`` costs ~0.1 µs a row). The
    view is read at once, while ``values`` keeps every object alive: no address can be reused meanwhile."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.uintp)
    values = np.ascontiguousarray(values)  # a strided view's pointers are not one after the other
    pointers = ctypes.cast(values.ctypes.data, ctypes.POINTER(ctypes.c_size_t))
    return np.ctypeslib.as_array(pointers, shape=(len(values),)).copy()
