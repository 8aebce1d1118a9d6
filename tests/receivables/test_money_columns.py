"""The column helpers' fast paths give what their careful paths give, value for value.

``to_minor_column`` and ``scaled_column`` read amounts through Arrow's decimal128 conversion at a fixed
scale when every value fits it, and fall back to the text path for a column with one that does not (more
decimals or digits, exponent notation beyond the scale, a Decimal NaN); ``decimal_column`` parses plain
decimal text in a few Arrow passes and takes the careful path for nulls, exponents and ``-0``. Each is
checked here against the scalar Decimal rules, on columns drawn at the rounding edges and across the
boundary between the paths.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receivables.money import (
    decimal_column,
    minor_units_array,
    plain_text,
    scaled_column,
    scaled_from_text,
    to_minor,
    to_minor_column,
)

D = Decimal

CURRENCIES = ["GBP", "JPY", "BHD", "CLF", "EUR"]

# Inside the fixed scale (<= 4 decimals, < 10**14): Arrow's conversion.
fitting = st.one_of(
    st.decimals(min_value=D("-1000"), max_value=D("1000"), places=3),  # x.xx5 ties for 2 decimals
    st.decimals(min_value=D("-100"), max_value=D("100"), places=4),  # x.xxx5 ties for BHD
    st.decimals(min_value=D("0"), max_value=D("100000"), places=1),  # x.5 ties for JPY
    st.decimals(min_value=D("-99999999999999"), max_value=D("99999999999999"), places=0),  # large
    st.sampled_from([D("0.005"), D("-0.005"), D("2.675"), D("1.0005"), D("-0.00"), D("1E+3"), D(0), 7]),
)
# Outside it: the whole column takes the text path.
beyond = st.sampled_from([D("0.00005"), D("-1.23456"), D("123456789012345"), D("99999999999.999999"),
                          D("1E-7"), D("-2E+14"), D("-0.000050")])
nulls = st.sampled_from([None, pd.NA, float("nan")])


def column(values: list, currency: str) -> tuple[list, list[str]]:
    return values, [currency if i % 2 else "GBP" for i in range(len(values))]


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.one_of(fitting, nulls), max_size=12), currency=st.sampled_from(CURRENCIES),
       extra=st.one_of(st.none(), beyond))
def test_to_minor_column_equals_the_scalar_rule_on_both_paths(values, currency, extra):
    values = values + ([] if extra is None else [extra])  # one value beyond the scale moves the column
    values, currencies = column(values, currency)
    got = to_minor_column(values, currencies)
    want = [0 if v is None or v is pd.NA or (isinstance(v, float) and v != v) else to_minor(D(v), c)
            for v, c in zip(values, currencies, strict=True)]
    assert got.tolist() == want


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(fitting, beyond, st.none()), max_size=10))
def test_scaled_column_is_the_exact_value_or_marks_it(values):
    scaled = scaled_column(values)
    for v, m, p, ok in zip(values, scaled.mantissa, scaled.places, scaled.exact, strict=True):
        if v is None:
            assert not ok
        elif ok:
            assert D(int(m)).scaleb(-int(p)) == D(v)


def test_the_fast_path_is_taken_where_everything_fits_and_left_where_not():
    fits = scaled_column([D("2.50"), D("-0.0005"), None, 3])
    assert fits.places.tolist() == [4, 4, 0, 4]  # Arrow's fixed scale
    assert fits.mantissa.tolist() == [25000, -5, 0, 30000]
    beyond_scale = scaled_column([D("2.50"), D("0.00005")])
    assert beyond_scale.places.tolist() == [2, 5] and beyond_scale.mantissa.tolist() == [250, 5]
    assert to_minor_column([D("123456789012345.675"), D("0.005")], ["GBP", "GBP"]).tolist() == [
        12345678901234568, 1]


def test_a_decimal_nan_is_refused_on_either_path():
    # Arrow reads a Decimal NaN as a null; it must not become an amount of 0.
    with pytest.raises(ValueError):
        to_minor_column([D("NaN"), D("1.00")], ["GBP", "GBP"])
    with pytest.raises(ValueError):
        to_minor_column([D("NaN"), D("0.00001")], ["GBP", "GBP"])


def test_beyond_int64_minor_units_is_refused_not_wrapped():
    with pytest.raises(ValueError, match="9.2e18"):
        to_minor_column([D("1E+30")], ["GBP"])


plain = st.one_of(
    st.decimals(min_value=D("-1e6"), max_value=D("1e6"), places=4),
    st.decimals(min_value=D("-1e17"), max_value=D("1e17"), places=0),  # up to 18 characters
    st.decimals(min_value=D("-1e12"), max_value=D("1e12"), places=8),  # beyond 18: not exact
    st.sampled_from([D("12.50"), D("3"), D("0.0050"), D("-0.5"), D("1000.000")]),
)
careful = st.sampled_from([D("-0"), D("-0.00"), D("1E+3"), D("1E-7"), None, pd.NA, D("-1.5E+2")])


@settings(max_examples=80, deadline=None)
@given(values=st.lists(plain, max_size=12), extra=st.one_of(st.none(), careful))
def test_decimal_column_text_and_scale_equal_the_decimal_rules(values, extra):
    values = values + ([] if extra is None else [extra])
    text, scaled = decimal_column(values)
    for v, t, m, p, ok in zip(values, text.to_pylist(), scaled.mantissa, scaled.places, scaled.exact,
                              strict=True):
        if v is None or v is pd.NA:
            assert t is None and not ok
            continue
        assert t == plain_text(v)
        if ok:
            assert D(int(m)).scaleb(-int(p)) == v and int(p) == max(0, -v.as_tuple().exponent)
        else:
            assert len(t.replace(".", "")) > 18


@settings(max_examples=60, deadline=None)
@given(values=st.lists(plain, min_size=1, max_size=12))
def test_the_plain_parse_equals_the_careful_parse(values):
    from receivables.money import _plain_scaled

    text = pa.array([str(v) for v in values], pa.large_string())
    fast, slow = _plain_scaled(text), scaled_from_text(text)
    if fast is None:  # declined only for exponents and -0 (rewritten) and past int64 (not exact anyway)
        assert any("E" in t or (t.startswith("-") and D(t).is_zero()) or len(t.replace(".", "")) > 18
                   for t in text.to_pylist())
        return
    for field in ("mantissa", "places", "exact"):
        assert np.array_equal(getattr(fast, field), getattr(slow, field)), field


def test_minor_units_of_currencies_with_0_2_3_and_4_decimals():
    assert minor_units_array(CURRENCIES).tolist() == [2, 0, 3, 4, 2]
