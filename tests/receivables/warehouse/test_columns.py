"""receivables.warehouse.columns: the driver's values typed column by column, as the module docstring says."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from receivables.warehouse.columns import Col, to_frame

_DATETIMES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999))
_DATES = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


def _numpy(values: list, kind: str) -> np.ndarray:
    """The plain numpy conversion: each value to datetime64[us], a date column's floored to its day."""
    array = np.array(values, dtype="datetime64[us]")
    return array.astype("datetime64[D]").astype("datetime64[us]") if kind == "date" else array


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), _DATETIMES, _DATES), max_size=40),
       kind=st.sampled_from(["date", "timestamp"]))
def test_dates_and_times_read_as_numpy_would_read_them(values, kind):
    """Whatever a driver hands over — datetimes, dates, NULLs, mixed, years 1 to 9999, before 1970 — a
    date or timestamp column reads as the same datetime64[us] values numpy's own conversion gives."""
    frame = to_frame([Col("at", kind, True)], [values])
    assert frame["at"].dtype == "datetime64[us]"
    assert np.array_equal(frame["at"].to_numpy(), _numpy(values, kind), equal_nan=True)
    assert frame["at"].isna().tolist() == [v is None for v in values]


def test_an_empty_result_still_has_its_datetime_type():
    assert to_frame([Col("at", "timestamp", True)], [[]])["at"].dtype == "datetime64[us]"
    assert pd.isna(to_frame([Col("d", "date", True)], [[None]])["d"].iloc[0])
