"""Report files land under <out_dir>/<report_date>/ and a rerun replaces them whole."""

from __future__ import annotations

from datetime import datetime

import pytest

from receivables.report import write_report
from receivables.report.writer import write_atomically


def test_writes_both_files_in_the_dated_folder(result, tmp_path):
    paths = write_report(result.rows, result.summary, out_dir=tmp_path,
                         report_date=datetime(2026, 3, 2, 0, 0), run_meta={"run_id": "r"})
    assert paths.html == tmp_path / "2026-03-02" / "reconciliation.html"
    assert paths.csv == tmp_path / "2026-03-02" / "exceptions.csv"
    assert "INV-1002" in paths.html.read_text(encoding="utf-8")
    assert "INV-1002" in paths.csv.read_text(encoding="utf-8-sig")
    assert sorted(p.name for p in paths.html.parent.iterdir()) == ["exceptions.csv", "reconciliation.html"]


def test_rerun_replaces_the_files(result, tmp_path):
    write_report(result.rows, result.summary, out_dir=tmp_path, report_date="2026-03-02",
                 run_meta={"run_id": "a"})
    only_matched = result.rows[result.rows["outcome"] == "matched"]
    paths = write_report(only_matched, result.summary.iloc[0:0], out_dir=tmp_path, report_date="2026-03-02",
                         run_meta={"run_id": "b"})
    assert "INV-1002" not in paths.html.read_text(encoding="utf-8")
    assert len(paths.csv.read_text(encoding="utf-8-sig").strip().splitlines()) == 1  # header only


def test_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "day" / "reconciliation.html"
    write_atomically(target, lambda p: p.write_text("old", encoding="utf-8"))

    def broken(path):
        path.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, broken)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in target.parent.iterdir()] == ["reconciliation.html"]
