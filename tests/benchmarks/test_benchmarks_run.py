"""Every benchmark script runs at a tiny size and prints its table and its targets.

Timings are never asserted (they depend on the machine); what is checked is that each script still
works end to end against today's code — the same PostgreSQL, sandbox and pipeline functions as at
full size — and reports the figures RESULTS.md is built from.
"""

from __future__ import annotations

import re

import pytest

from benchmarks import (
    bench_night,
    bench_push,
    bench_read,
    bench_sandbox,
    bench_transform,
    bench_write,
    run_all,
)

pytestmark = pytest.mark.postgres

TABLE_ROW = re.compile(r"^\| .+ \| [\d,]+ \w+ \| [\d.]+ \| [\d,]+ \w+/s \|", re.MULTILINE)
TARGET = re.compile(r"^target .+ → (MET|MISSED)$", re.MULTILINE)


def run(capsys, module, *args: str) -> str:
    assert module.main([*args, "--quiet-machine"]) == 0
    return capsys.readouterr().out


def test_read_prints_the_three_readers_and_the_targets(capsys):
    out = run(capsys, bench_read, "--rows", "2000", "--in-process")
    assert len(TABLE_ROW.findall(out)) == 3
    assert "| read_frame | 2,000 rows |" in out
    assert len(TARGET.findall(out)) == 3


def test_write_prints_to_sql_against_write_frame(capsys):
    out = run(capsys, bench_write, "--rows", "1000", "--repeat", "1")
    assert "| to_sql | 1,000 rows |" in out and "| write_frame append | 1,000 rows |" in out
    assert len(TARGET.findall(out)) == 2


def test_transform_compares_with_the_per_row_reference(capsys):
    out = run(capsys, bench_transform, "--invoices", "200", "--reference-invoices", "50",
              "--engineer-invoices", "50", "--repeat", "1")
    assert "| iterrows reference |" in out and "| transform | 200 invoices |" in out
    assert "| data engineer | 50 invoices |" in out and "| serialisation floor | 200 invoices |" in out
    assert re.search(r"identical output: [\d,]+ documents compared", out)
    assert len(TARGET.findall(out)) == 4


def test_push_counts_requests_at_both_latencies(capsys):
    out = run(capsys, bench_push, "--invoices", "40", "--companies", "2", "--latency-ms", "5",
              "--sdk-invoices", "0")
    assert "| capacity: ours at 0 ms |" in out and "| achieved: ours at 5 ms |" in out
    assert re.search(r"bound = min\(concurrency 20 / 5 ms", out)
    assert re.search(r"requests per document .+: 1\.\d+ <= 1\.100", out)


def test_night_runs_every_job_and_reconciles(capsys):
    out = run(capsys, bench_night, "--scale", "0.0001", "--companies", "1", "--workers", "0",
              "--latency-ms", "0")
    assert "wall time plan → report" in out
    assert "reconciliation outcomes: {'matched':" in out
    assert "FAILED" not in out


def test_sandbox_memory_reports_growth_per_document_and_the_night_extrapolation(capsys):
    out = run(capsys, bench_sandbox, "--invoices", "40", "--companies", "2")
    assert "| after payments | " in out and "invoice success': 40" in out
    assert re.search(r"growth [\d.]+ MiB per 1,000 documents \([\d,]+ B per document\)", out)
    assert re.search(r"µs per request", out)
    assert len(TARGET.findall(out)) == 1


def test_run_all_refuses_an_unknown_benchmark():
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nope"])
