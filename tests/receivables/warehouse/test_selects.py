"""The parameterised SELECTs of receivables.warehouse.selects, on both warehouses."""

from __future__ import annotations

from datetime import date

import pandas as pd

from receivables.warehouse import read_frame, write_frame
from receivables.warehouse.schema import ar_reconciliation
from receivables.warehouse.selects import first_sightings


def _report_row(day: str, key: str, exception_id: str | None, first_seen: str | None,
                company: str = "c1") -> dict:
    return {"report_date": pd.Timestamp(day), "company_id": company, "document_type": "invoice",
            "document_key": key, "outcome": "matched" if exception_id is None else "amount_mismatch",
            "exception_id": exception_id,
            "first_seen_date": None if first_seen is None else pd.Timestamp(first_seen)}


def test_first_sightings_give_each_earlier_exception_once_with_its_first_date(warehouse_engine):
    rows = [
        _report_row("2026-11-01", "INV-1", "x1", "2026-11-01"),
        _report_row("2026-11-02", "INV-1", "x1", "2026-11-01"),   # reported again: still one row
        _report_row("2026-11-02", "INV-2", "x2", "2026-11-02"),
        _report_row("2026-11-02", "INV-3", None, None),           # matched: no exception
        _report_row("2026-11-03", "INV-4", "x4", "2026-11-03"),   # the day itself: not earlier
        _report_row("2026-11-01", "INV-1", "y1", "2026-10-30", company="c2"),  # another company
        # A rerun of an earlier day may have stamped a later first sighting: the earliest one wins.
        _report_row("2026-11-02", "INV-5", "x5", "2026-11-02"),
        _report_row("2026-11-01", "INV-5", "x5", "2026-11-01"),
    ]
    write_frame(warehouse_engine, ar_reconciliation, pd.DataFrame(rows).reindex(
        columns=[c.name for c in ar_reconciliation.c]))
    seen = read_frame(warehouse_engine, first_sightings(ar_reconciliation, "c1", date(2026, 11, 3)))
    assert list(seen.columns) == ["exception_id", "first_seen_date"]
    got = {e: d.date() for e, d in zip(seen["exception_id"], pd.to_datetime(seen["first_seen_date"]),
                                       strict=True)}
    assert got == {"x1": date(2026, 11, 1), "x2": date(2026, 11, 2), "x5": date(2026, 11, 1)}
    assert read_frame(warehouse_engine, first_sightings(ar_reconciliation, "c1", date(2026, 11, 1))).empty
