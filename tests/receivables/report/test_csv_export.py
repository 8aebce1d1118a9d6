"""The exceptions CSV: exceptions only, fixed columns, formula injection neutralised."""

from __future__ import annotations

import csv

from tests.receivables.report.hostile import FORMULA, SCRIPT

from receivables.report import EXCEPTION_CSV_COLUMNS, write_exceptions_csv


def _read(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_only_exceptions_in_a_stable_column_order(result, tmp_path):
    path = write_exceptions_csv(result.rows, tmp_path / "exceptions.csv")
    with open(path, encoding="utf-8-sig") as handle:
        header = handle.readline().strip().split(",")
    assert header == EXCEPTION_CSV_COLUMNS
    rows = _read(path)
    assert [r["outcome"] for r in rows] == ["push_failed", "rejected", "amount_mismatch"]
    assert {r["exception_id"] for r in rows} == set(result.exceptions["exception_id"])


def test_formula_cells_get_a_leading_apostrophe(result, tmp_path):
    rows = {r["outcome"]: r for r in _read(write_exceptions_csv(result.rows, tmp_path / "x.csv"))}
    assert rows["rejected"]["reason"] == "note_too_long: " + FORMULA  # not at the start: left alone
    assert rows["push_failed"]["document_number"] == "'-2+3+cmd|' /C calc'!A0"
    assert rows["rejected"]["document_number"] == SCRIPT  # plain text in a CSV, nothing to guard


def test_reason_starting_with_a_formula_is_guarded(result, tmp_path):
    rows = result.rows.copy()
    rows.loc[rows["outcome"] == "rejected", "reason"] = FORMULA
    rows.loc[rows["outcome"] == "rejected", "action"] = "@SUM(A1:A9)"
    written = {r["outcome"]: r for r in _read(write_exceptions_csv(rows, tmp_path / "x.csv"))}
    assert written["rejected"]["reason"] == "'" + FORMULA
    assert written["rejected"]["action"] == "'@SUM(A1:A9)"


def test_amounts_and_dates_stay_plain_numbers_and_iso_dates(result, tmp_path):
    rows = {r["outcome"]: r for r in _read(write_exceptions_csv(result.rows, tmp_path / "x.csv"))}
    mismatch = rows["amount_mismatch"]
    assert mismatch["source_total"] == "200.00" and mismatch["platform_total"] == "210.00"
    assert mismatch["difference"] == "10.00"
    assert mismatch["due_date"] == "2026-02-01" and mismatch["report_date"] == "2026-03-02"
    assert mismatch["days_overdue"] == "29" and mismatch["aging_bucket"] == "1-30"


def test_negative_difference_is_not_mangled(result, tmp_path):
    rows = result.rows.copy()
    from decimal import Decimal

    rows["difference"] = rows["difference"].map(lambda d: None if d is None else Decimal("-10.00"))
    written = {r["outcome"]: r for r in _read(write_exceptions_csv(rows, tmp_path / "x.csv"))}
    assert written["amount_mismatch"]["difference"] == "-10.00"
