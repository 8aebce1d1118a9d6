"""Columns whose rows share Decimal objects, as the warehouse read hands them over, read exactly as each
row read alone: the same texts, scaled integers and minor units, row for row.

The column helpers read each distinct object once when many rows hold the same one. Equal amounts written
differently (``2.5``, ``2.50``), ``-0``, exponent notation, NaN and nulls are all in the pool the rows draw
from, so a merge of equal-but-different objects, or a row spread the wrong object, shows as a difference.
"""

from __future__ import annotations

import doctest
from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from receivables import objects
from receivables.money import decimal_column, scaled_column, to_minor_column
from receivables.objects import SharedObjects
from receivables.warehouse.columns import arrow_decimals as _arrow_decimals

D = Decimal
CURRENCIES = ["GBP", "JPY", "BHD", "CLF"]

pool_values = st.one_of(
    st.decimals(min_value=D("-1000"), max_value=D("1000"), places=3),  # x.xx5 ties
    st.decimals(min_value=D("-1e13"), max_value=D("1e13"), places=4),
    st.sampled_from([D("2.5"), D("2.50"), D("2.500"), D("-0"), D("-0.00"), D("0"), D("1E+3"), D("1E-7"),
                     D("12345678901234567890.5"), None]),
)


@st.composite
def shared_columns(draw) -> tuple[list, list[str]]:
    """A column drawn from a small pool of objects (so rows share them), and a currency per row."""
    drawn = draw(st.lists(pool_values, min_size=1, max_size=4))
    # Each finite value's twin written with one decimal more: equal, hash-equal, a different text.
    pool = drawn + [twin(v) for v in drawn if v is not None and v.is_finite()]
    rows = draw(st.lists(st.integers(0, len(pool) - 1), min_size=0, max_size=40))
    currencies = draw(st.lists(st.sampled_from(CURRENCIES), min_size=len(rows), max_size=len(rows)))
    return [pool[i] for i in rows], currencies


def twin(value: Decimal) -> Decimal:
    """``value`` with one more trailing zero (``2.5`` -> ``2.50``, ``3`` -> ``3.0``)."""
    plain = f"{value:f}"
    return D(plain + ("0" if "." in plain else ".0"))


def row_by_row(helper, values: list, *args: list) -> list:
    """``helper`` applied to each row as a column of its own: no row can share anything with another."""
    return [helper([v], *(a[i:i + 1] for a in args)) for i, v in enumerate(values)]


def scaled_rows(scaled) -> list[tuple]:
    return list(zip(scaled.mantissa.tolist(), scaled.places.tolist(), scaled.exact.tolist(), strict=True))


def scaled_values(scaled) -> list[Decimal | None]:
    """Each row's exact value (None where it took the Decimal path)."""
    return [D(m).scaleb(-p) if e else None for m, p, e in scaled_rows(scaled)]


@given(shared_columns())
def test_decimal_column_reads_shared_objects_as_each_row_alone(column):
    values, _ = column
    text, scaled = decimal_column(values)
    alone = row_by_row(decimal_column, values)
    assert text.to_pylist() == [t.to_pylist()[0] for t, _ in alone]
    assert scaled_rows(scaled) == [scaled_rows(s)[0] for _, s in alone]


@given(shared_columns())
def test_minor_units_of_shared_objects_equal_each_row_alone(column):
    values, currencies = column
    finite = [v for v in values if v is None or abs(v) < D("1e14")]  # beyond it to_minor_column refuses
    cur = currencies[:len(finite)]
    alone = row_by_row(to_minor_column, finite, cur)
    assert to_minor_column(finite, cur).tolist() == [m.tolist()[0] for m in alone]
    # The scale a column is read at is the column's (4 where every value fits it): compare the values.
    want = [scaled_values(s)[0] for s in row_by_row(scaled_column, finite)]
    assert scaled_values(scaled_column(finite)) == want


def test_the_warehouse_reads_hand_over_shared_objects_that_the_helpers_read_once():
    # What read_frame gives for a big PostgreSQL read: one Decimal per distinct NUMERIC text.
    import pyarrow as pa

    texts = ["2.5", "2.50", "0.00", "2.5", None, "2.50", "0.00", "0.00"] * 100
    values = _arrow_decimals(pa.chunked_array([pa.array(texts, pa.large_string())]))
    shared = SharedObjects.worth_it(values)
    assert shared is not None and len(shared.distinct) == 4
    text, _ = decimal_column(values)
    assert text.to_pylist() == texts


def test_a_column_of_distinct_objects_is_read_row_by_row():
    values = np.array([D(i) for i in range(100)], dtype=object)
    assert SharedObjects.worth_it(values) is None
    assert decimal_column(values)[0].to_pylist() == [str(i) for i in range(100)]


def test_the_shared_objects_example_holds():
    result = doctest.testmod(objects)
    assert result.attempted >= 2 and result.failed == 0


def test_object_addresses_are_the_rows_ids_for_any_slice_of_a_column():
    from receivables.objects import _addresses

    column = np.array([D(1), None, "x", 3, D(1)] * 4, dtype=object)
    for rows in (column, column[::3], column[1:], column[::-1], column[:0]):
        assert _addresses(rows).tolist() == [id(v) for v in rows]
