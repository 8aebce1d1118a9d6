"""The gate's shared helpers: value checks, row keys and the failure rows every rule returns.

A rule's answer is a frame of :data:`REJECT_COLUMNS`, one row per failing document; :func:`fail_rows`
builds it from a mask and a message per row.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pandas as pd

from receivables.money import MAX_ABS_AMOUNT, as_decimal, decimal_places, is_finite_amount
from receivables.nulls import as_objects

REJECT_COLUMNS = ["company_id", "document_type", "source_id", "rule", "message"]
EARLIEST, LATEST = pd.Timestamp("1900-01-01"), pd.Timestamp("2100-12-31")
_NO_FAILURES = pd.DataFrame(columns=REJECT_COLUMNS)


def objects(series: pd.Series) -> pd.Series:
    """Object dtype with every NULL flavour as None (keeps Decimals intact)."""
    return as_objects(series)


def numbers(series: pd.Series) -> pd.Series:
    """A numeric object column as is, but pd.NA -> None (NaN/inf stay, so messages can name them)."""
    return pd.Series([None if v is pd.NA else v for v in series.astype(object)], index=series.index,
                     dtype=object)


def no_failures() -> pd.DataFrame:
    """The empty failure frame (a copy of one built once: most rules find nothing, and building an empty
    frame costs a small night more than the rule's own check)."""
    return _NO_FAILURES.copy()


def fail_rows(frame: pd.DataFrame, mask, rule: str, messages) -> pd.DataFrame:
    """Rows of ``frame`` selected by ``mask`` as failures of ``rule``; ``messages`` is a callable per row."""
    if mask is not None and not _any_hit(mask):
        return no_failures()  # selecting no rows from a frame costs more than asking whether any is hit
    hit = frame[mask] if mask is not None else frame
    if hit.empty:
        return no_failures()
    # SimpleNamespace, not itertuples: namedtuples rename the underscore columns used here.
    texts = [messages(SimpleNamespace(**r)) for r in hit.to_dict("records")]
    return pd.DataFrame({"company_id": hit["company_id"].to_numpy(),
                         "document_type": hit["document_type"].to_numpy(),
                         "source_id": hit["source_id"].to_numpy(), "rule": rule, "message": texts},
                        columns=REJECT_COLUMNS)


def _any_hit(mask) -> bool:
    """Whether a boolean mask (a Series, possibly nullable, or an array) selects any row: NA selects none."""
    return bool(mask.any()) if isinstance(mask, pd.Series) else bool(np.any(np.asarray(mask, dtype=bool)))


def amount_problem(value: object, places: int) -> str | None:
    """Why ``value`` is not a usable amount with at most ``places`` decimals (None when it is)."""
    if type(value) is Decimal and value.is_finite():
        # Fast path for the common case: a plain, small Decimal written with few decimals.
        exponent = value.as_tuple().exponent
        if exponent >= -places and abs(value) < MAX_ABS_AMOUNT:
            return None
    if value is None or value is pd.NA:
        return "is missing"
    if not is_finite_amount(value):
        return f"is not a finite number ({value})"
    dec = as_decimal(value)
    if abs(dec) >= MAX_ABS_AMOUNT:
        return f"{dec} is beyond the largest believable amount"
    if decimal_places(dec) > places:
        return f"{dec} has more than {places} decimals"
    return None


def date_problem(value: object) -> str | None:
    if value is None or pd.isna(value):
        return "is missing"
    ts = pd.Timestamp(value)
    if ts < EARLIEST or ts > LATEST:
        return f"{ts.date()} is outside 1900-2100"
    return None


def day_text(value: object) -> str:
    return "NULL" if value is None or pd.isna(value) else str(pd.Timestamp(value).date())


def row_keys(frame: pd.DataFrame, *cols: str) -> pd.Series:
    """A hashable (company_id, ...) tuple per row, for isin/map across frames."""
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    parts = [[None if v is pd.NA else v for v in frame[c].astype(object).tolist()]
             for c in ("company_id", *cols)]
    return pd.Series(list(zip(*parts, strict=True)), index=frame.index, dtype=object)


def or_empty(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    return frame if frame is not None else pd.DataFrame(columns=columns)


def concat_failures(parts) -> pd.DataFrame:
    """The failure frames of several rules as one (empty, with the columns, when none failed)."""
    parts = [p for p in parts if p is not None and not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else no_failures()
