"""Money rules: ISO 4217 minor units, half-up rounding, minor-unit conversion, line arithmetic."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from receivables.money import (
    MAX_ABS_AMOUNT,
    decimal_places,
    from_minor,
    from_minor_series,
    is_finite_amount,
    is_iso4217,
    line_amounts,
    minor_units,
    minor_units_series,
    round_half_up,
    round_series,
    to_minor,
    to_minor_series,
)

D = Decimal


@pytest.mark.parametrize(("code", "units"), [("GBP", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0),
                                             ("ISK", 0), ("CLP", 0), ("VND", 0), ("XOF", 0), ("XAF", 0),
                                             ("UGX", 0), ("PYG", 0), ("BHD", 3), ("KWD", 3), ("OMR", 3),
                                             ("JOD", 3), ("TND", 3), ("IQD", 3), ("LYD", 3), ("CLF", 4)])
def test_minor_units_follow_iso_4217(code, units):
    assert is_iso4217(code)
    assert minor_units(code) == units


@pytest.mark.parametrize("code", ["gbp", "GBX", "XXX", "XAU", "", None, "GB", "HRK", 123])
def test_non_currencies_are_not_iso_4217(code):
    assert not is_iso4217(code)


@pytest.mark.parametrize(("value", "currency", "expected"), [
    ("2.675", "GBP", "2.68"),  # the float 2.675 would round down; Decimal half-up does not
    ("0.005", "GBP", "0.01"),
    ("-0.005", "GBP", "-0.01"),  # ties away from zero
    ("0.004999", "GBP", "0.00"),
    ("1500.5", "JPY", "1501"),
    ("-1500.5", "JPY", "-1501"),
    ("1.2345", "BHD", "1.235"),
    ("1.2344", "BHD", "1.234"),
    ("12", "GBP", "12.00"),
])
def test_round_half_up_to_the_currency(value, currency, expected):
    got = round_half_up(D(value), currency)
    assert str(got) == expected


def test_minor_unit_conversion_both_ways():
    assert to_minor(D("12.345"), "GBP") == 1235
    assert to_minor(D("1500"), "JPY") == 1500
    assert to_minor(D("-0.0005"), "BHD") == -1
    assert str(from_minor(12345, "BHD")) == "12.345"
    assert str(from_minor(7, "GBP")) == "0.07"
    assert str(from_minor(1500, "JPY")) == "1500"
    big = 10**20 + 7  # beyond int64: stays exact
    assert to_minor(from_minor(big, "GBP"), "GBP") == big


def test_vectorised_helpers_agree_with_the_scalar_rules():
    values = pd.Series([D("1.005"), D("2.5"), D("0.1235")], dtype=object)
    currencies = pd.Series(["GBP", "JPY", "BHD"])
    assert [str(v) for v in round_series(values, currencies)] == ["1.01", "3", "0.124"]
    assert to_minor_series(values, currencies).tolist() == [101, 3, 124]
    assert [str(v) for v in from_minor_series(pd.Series([101, 3, 124]), currencies)] == ["1.01", "3", "0.124"]
    assert minor_units_series(currencies).tolist() == [2, 0, 3]


def test_line_amounts_round_each_figure_and_add_up():
    subs, taxes, totals = line_amounts([D(3), D(1)], [D("0.335"), D("10")], [D(0), D("0.50")], [D(20), None],
                                       ["GBP", "GBP"])
    assert [str(x) for x in subs] == ["1.01", "9.50"]
    assert [str(x) for x in taxes] == ["0.20", "0.00"]
    assert [str(x) for x in totals] == ["1.21", "9.50"]


def test_bad_numbers_are_recognised():
    assert not is_finite_amount(None)
    assert not is_finite_amount(float("nan"))
    assert not is_finite_amount(float("inf"))
    assert not is_finite_amount(D("NaN"))
    assert not is_finite_amount(D("-Infinity"))
    assert not is_finite_amount(pd.NA)
    assert is_finite_amount(D("1E+30")) and D("1E+30") >= MAX_ABS_AMOUNT
    assert decimal_places(D("1.500")) == 1 and decimal_places(D("1E+3")) == 0


money = st.decimals(
    min_value=D("-1e12"), max_value=D("1e12"), places=6, allow_nan=False, allow_infinity=False
)
currencies = st.sampled_from(["GBP", "JPY", "BHD", "USD", "KWD", "KRW"])


@given(money, currencies)
def test_rounding_is_half_up_and_never_off_by_more_than_half_a_unit(value, currency):
    rounded = round_half_up(value, currency)
    unit = D(1).scaleb(-minor_units(currency))
    assert abs(rounded - value) <= unit / 2
    if abs(rounded - value) == unit / 2:  # a tie goes away from zero
        assert abs(rounded) > abs(value)
    assert decimal_places(rounded) <= minor_units(currency)
    assert round_half_up(rounded, currency) == rounded


@given(money, currencies)
def test_minor_units_round_trip(value, currency):
    rounded = round_half_up(value, currency)
    assert from_minor(to_minor(value, currency), currency) == rounded


# Half-way cases of each minor unit (x.5, x.x5, x.xx5, x.xxx5, x.xxxx5): where half-up and half-even part.
ties = st.builds(
    lambda whole, places: D(whole) + D(5).scaleb(-places - 1),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, 1, 2, 3, 4]),
)
unit_amounts = st.one_of(st.decimals(min_value=D("-1e6"), max_value=D("1e6"), places=4), ties)
quantities = st.one_of(
    st.sampled_from([D(1), D(3), D("0.5"), D("0.001"), D(10**6), D("999999.999999")]),
    st.decimals(min_value=D(0), max_value=D("1e7"), places=6),
)
discounts = st.one_of(st.just(D(0)), ties.map(abs), st.decimals(min_value=D(0), max_value=D("1e5"), places=3))
rates = st.sampled_from([None, D(0), D(20), D(21), D("5.5"), D("12.345")])


def _exact(value: Decimal, currency: str) -> Decimal:
    """value rounded half-up to the currency, computed independently of money.py."""
    exp = D(1).scaleb(-minor_units(currency))
    return value.quantize(exp, rounding=ROUND_HALF_UP) + 0  # "+ 0" turns -0 into 0


@given(quantities, unit_amounts, discounts, rates, currencies)
def test_line_total_is_subtotal_plus_tax_to_the_minor_unit(quantity, unit, discount, rate, currency):
    subs, taxes, totals = line_amounts([quantity], [unit], [discount], [rate], [currency])
    with localcontext() as exact:
        exact.prec = 80
        expected_sub = _exact(quantity * unit - discount, currency)
        expected_tax = D(0) if rate is None else _exact(expected_sub * rate / 100, currency)
    assert (subs[0], taxes[0]) == (expected_sub, expected_tax)
    assert totals[0] == subs[0] + taxes[0]
    assert decimal_places(totals[0]) <= minor_units(currency)
    assert all(str(x)[0] != "-" or x != 0 for x in (subs[0], taxes[0], totals[0]))  # never "-0"


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["GBP", "JPY", "BHD"]))
def test_a_tie_rounds_away_from_zero(whole, currency):
    units = minor_units(currency)
    tie = (D(whole) + D("0.5")).scaleb(-units)  # e.g. 12.345 GBP, 12.5 JPY, 1.2345 BHD
    assert round_half_up(tie, currency) == (D(whole) + 1).scaleb(-units) + 0
    assert round_half_up(-tie, currency) == -(D(whole) + 1).scaleb(-units) + 0
    subs, _, _ = line_amounts([D(1)], [tie], [D(0)], [None], [currency])
    assert subs[0] == round_half_up(tie, currency)


# --------------------------------------------------------------- int64 minor-unit column helpers


def test_the_column_helpers_doctests_hold():
    import doctest

    from receivables import money as module

    result = doctest.testmod(module)
    assert result.attempted >= 10 and result.failed == 0


column_amounts = st.one_of(
    st.decimals(min_value=D("-1e6"), max_value=D("1e6"), places=4),
    st.decimals(min_value=D("-1e11"), max_value=D("1e11"), places=6),  # products beyond int64: the fall-back
    st.sampled_from([D("0.005"), D("-0.005"), D("2.675"), D("1E+3"), D("-0.00"), D("1.0005")]),
)
column_quantities = st.one_of(
    st.decimals(min_value=D("-1e4"), max_value=D("1e4"), places=2),
    st.sampled_from([D(1), D("0.5"), D("1E+2"), D("1234.5678")]),
)


@given(
    st.lists(
        st.tuples(
            column_quantities,
            column_amounts,
            column_amounts,
            st.sampled_from([None, D(20), D(21), D("5.5"), D("12.345")]),
            currencies,
        ),
        max_size=8,
    )
)
def test_line_minor_amounts_equal_the_decimal_rules_line_by_line(rows):
    from receivables.money import decimal_column, line_minor_amounts, minor_units_array, to_minor_column

    qty, unit, disc, rate, cur = (
        (list(col) for col in zip(*rows, strict=True)) if rows else ([], [], [], [], [])
    )
    minor = minor_units_array(cur)
    discount = to_minor_column(disc, cur, minor)
    assert discount.tolist() == [to_minor(d, c) for d, c in zip(disc, cur, strict=True)]
    _, q = decimal_column(qty)
    _, u = decimal_column(unit)
    _, r = decimal_column(rate)
    has_rate = [x is not None for x in rate]
    sub, tax = line_minor_amounts(q, u, discount, r, has_rate, minor, (qty, unit, rate, cur))
    rounded = [round_half_up(d, c) for d, c in zip(disc, cur, strict=True)]
    want_sub, want_tax, _ = line_amounts(qty, unit, rounded, rate, cur)
    assert sub.tolist() == [to_minor(x, c) for x, c in zip(want_sub, cur, strict=True)]
    assert tax.tolist() == [to_minor(x, c) for x, c in zip(want_tax, cur, strict=True)]


def test_a_line_beyond_int64_minor_units_is_still_exact():
    import numpy as np

    from receivables.money import decimal_column, line_minor_amounts

    qty, unit = [D("1e10"), D(2)], [D("1e10"), D("0.125")]
    _, q = decimal_column(qty)
    _, u = decimal_column(unit)
    _, r = decimal_column([D(20), None])
    sub, tax = line_minor_amounts(
        q,
        u,
        np.zeros(2, dtype=np.int64),
        r,
        [True, False],
        [2, 2],
        (qty, unit, [D(20), None], ["GBP", "GBP"]),
    )
    assert sub.tolist() == [10**22, 25] and tax.tolist() == [2 * 10**21, 0]
