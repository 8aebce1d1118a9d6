"""as_objects: the fast spelling of ``astype(object).where(notna(), fill)`` gives exactly what it gives."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from receivables.nulls import as_objects

MISSING = st.sampled_from([None, np.nan, pd.NA, pd.NaT])
OBJECTS = st.one_of(MISSING, st.decimals(allow_nan=False, allow_infinity=False, places=3),
                    st.text(max_size=3), st.integers(-10**20, 10**20), st.floats(allow_nan=False))


def typed(dtype: str):
    """A column of one dtype with missing values in it."""
    values = {
        "string": st.one_of(st.none(), st.text(max_size=3)),
        "str": st.one_of(st.none(), st.text(max_size=3)),
        "Int64": st.one_of(st.none(), st.integers(-10**12, 10**12)),
        "float64": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False)),
        "boolean": st.one_of(st.none(), st.booleans()),
        "datetime64[us]": st.one_of(st.none(), st.datetimes().map(pd.Timestamp)),
    }[dtype]
    return st.lists(values, max_size=8).map(lambda v: pd.Series(v, dtype=dtype))


def series():
    objects = st.lists(OBJECTS, max_size=8).map(lambda v: pd.Series(v, dtype=object))
    dtypes = ["string", "str", "Int64", "float64", "boolean", "datetime64[us]"]
    columns = st.sampled_from(dtypes).flatmap(typed)
    return st.one_of(objects, columns)


def the_old_way(values: pd.Series, fill):
    return values.astype(object).where(values.notna(), fill)


@given(series(), st.sampled_from([None, "", False, Decimal("0")]), st.integers(0, 5))
def test_as_objects_is_the_old_expression_value_for_value(values, fill, offset):
    values = values.set_axis(range(offset, offset + len(values))).rename("amount")
    expected, got = the_old_way(values, fill), as_objects(values, fill)
    assert got.dtype == object and got.name == "amount"
    assert got.index.equals(expected.index)
    assert [type(v) for v in got] == [type(v) for v in expected]
    assert [repr(v) for v in got] == [repr(v) for v in expected]  # Decimal('2.50') stays 2.50


def test_every_missing_flavour_becomes_the_fill_and_the_input_is_left_alone():
    values = pd.Series([Decimal("2.50"), None, np.nan, pd.NA, pd.NaT, "x"], dtype=object)
    out = as_objects(values)
    assert out.tolist() == [Decimal("2.50"), None, None, None, None, "x"]
    assert values.isna().sum() == 4 and values.iloc[2] is not None  # a copy was changed, not the input
