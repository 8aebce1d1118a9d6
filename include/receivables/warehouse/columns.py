"""Driver values to the typed pandas columns of a read (see the dtype table in :mod:`.io`).

A read hands over each column either as the driver's Python values (a plain cursor: lists) or as an
Arrow column (PostgreSQL COPY): :func:`to_frame` and :func:`arrow_to_frame` turn them into a DataFrame
whose dtypes come from the table definition, never from the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from receivables.warehouse.types import to_decimal

Kind = Literal["decimal", "date", "timestamp", "integer", "boolean", "text", "float", "raw"]


@dataclass(frozen=True)
class Col:
    """One column of a read: its name, how its values cross to pandas, and whether it may be NULL."""

    name: str
    kind: Kind
    nullable: bool


def arrow_to_frame(cols: list[Col], table: pa.Table) -> pd.DataFrame:
    values: list[Any] = []
    for col, array in zip(cols, table.columns, strict=True):
        if col.kind == "integer":
            values.append(array.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
        elif col.kind == "boolean":
            values.append(array.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
        elif col.kind == "text":
            values.append(pd.array(array, dtype="string"))  # Arrow-backed already: no Python objects
        elif col.kind == "decimal":
            values.append(arrow_decimals(array))
        else:
            values.append(array.to_pylist())
    return to_frame(cols, values)


def arrow_decimals(array: pa.ChunkedArray) -> np.ndarray:
    """NUMERIC text as ``Decimal`` objects, converting each distinct value once (amounts repeat a lot)."""
    encoded = pc.dictionary_encode(array).combine_chunks()
    # PostgreSQL prints NUMERIC as plain decimal text (or NaN): Decimal() reads each exactly.
    distinct = [Decimal(v) for v in encoded.dictionary.to_pylist()]
    lookup = np.empty(len(distinct) + 1, dtype=object)
    lookup[: len(distinct)] = distinct
    lookup[-1] = None  # NULL
    indices = encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False)
    return lookup[indices]


def to_frame(cols: list[Col], values: Sequence[Any]) -> pd.DataFrame:
    # Columns' arrays, uncopied: no index alignment nor copy (two thirds of a small read's frame).
    data = {col.name: _convert(col, column) for col, column in zip(cols, values, strict=True)}
    return pd.DataFrame(data, columns=[c.name for c in cols], copy=False)


def _convert(col: Col, values: Any) -> Any:
    """One column of raw driver values (list, array or Series) as an array of the column's dtype.

    The common kinds are built as arrays directly: a ``Series`` per column (its dtype inference and
    index) was most of the cost of the small reads a company's context is made of."""
    if col.kind == "decimal":
        return values if isinstance(values, np.ndarray) else _object_array(_decimals(values))
    if col.kind == "text":
        return _text_array(values)
    if col.kind == "integer":
        return pd.array(values, dtype="Int64", copy=False)
    return _convert_series(col, values).array


def _text_array(values: Any) -> Any:
    """Text as pandas' Arrow-backed ``string`` array; a driver's list of ``str`` goes to Arrow directly."""
    if isinstance(values, list):
        try:
            return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # not all str (a UUID, a number in a text column): pandas converts each value
    return pd.array(values, dtype="string", copy=False)


def _object_array(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _convert_series(col: Col, values: Any) -> pd.Series:
    if col.kind == "float":
        return pd.Series(values, dtype="float64")
    if col.kind == "boolean":
        if not col.nullable and isinstance(values, list) and all(v is True or v is False for v in values):
            return pd.Series(np.array(values, dtype=bool))  # the driver's bools: no NA to look for
        series = pd.Series(values, dtype="boolean")
        return series.astype(bool) if not col.nullable and not series.isna().any() else series
    if col.kind in ("date", "timestamp"):
        plain = _plain_datetimes(values, col.kind)
        if plain is not None:
            return plain
        return _datetimes(values).dt.normalize() if col.kind == "date" else _datetimes(values)
    return pd.Series(values, dtype=object)


def _plain_datetimes(values: Any, kind: Kind) -> pd.Series | None:
    """``datetime64[us]`` straight from naive ``datetime``/``date`` objects and None (what psycopg2 hands a
    small read), else None. The same values :func:`_datetimes` gives — a naive value is UTC already, a
    date is its midnight — without parsing: dates and times were most of a small read's cost."""
    if not isinstance(values, list) or not all(
            v is None or (type(v) is datetime and v.tzinfo is None) or type(v) is date for v in values):
        return None
    try:
        array = _arrow_datetimes(values, kind)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # a date in a timestamp column: numpy takes both
        array = np.array(values, dtype="datetime64[us]")
        if kind == "date":
            array = array.astype("datetime64[D]").astype("datetime64[us]")
    return pd.Series(array, dtype="datetime64[us]")


def _arrow_datetimes(values: list[Any], kind: Kind) -> np.ndarray:
    """What ``np.array(values, dtype="datetime64[us]")`` gives (a date column's at midnight), converted by
    Arrow in C: numpy converts each object in Python, ≈ 7× slower (2.7 against 0.4 µs a value)."""
    if kind == "date":  # a datetime's date part: the day it falls on, before 1970 too
        return pa.array(values, type=pa.date32()).cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    return pa.array(values, type=pa.timestamp("us")).to_numpy(zero_copy_only=False)


def _decimals(values: Any) -> list[Any]:
    """Stored amounts as ``Decimal``; amounts repeat a lot (quantities, zero discounts): each converted
    once. A Decimal is keyed by its text: 2.5 == 2.50, but each row keeps the decimals it was stored with."""
    cache: dict[Any, Any] = {}
    out = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        key = str(value) if isinstance(value, Decimal) else value
        converted = cache.get(key)
        if converted is None:
            converted = cache[key] = to_decimal(value)
        out.append(converted)
    return out


def _datetimes(values: Any) -> pd.Series:
    """Dates/timestamps (text, date or datetime objects) as naive UTC ``datetime64[us]``."""
    series = pd.Series(values, dtype=object)
    if series.empty:
        return pd.Series(series, dtype="datetime64[us]")
    sample = series.dropna()
    if not sample.empty and all(isinstance(v, date) and not isinstance(v, datetime) for v in sample.head(1)):
        series = series.map(lambda v: None if v is None else datetime(v.year, v.month, v.day))
    parsed = pd.to_datetime(series, format="ISO8601", utc=True)
    return parsed.dt.tz_localize(None).astype("datetime64[us]")
