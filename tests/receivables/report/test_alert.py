"""The alert decision: fire above the threshold, with per-outcome counts and the report path."""

from __future__ import annotations

import pytest

from receivables.report import should_alert


def test_fires_with_counts_per_outcome_and_the_report_path(result):
    decision = should_alert(result.summary, 0, report_path="/reports/2026-03-02/reconciliation.html")
    assert decision.fire and decision.exception_count == 3
    assert decision.message.startswith("Receivables reconciliation 2026-03-02: 3 exceptions in 1 company")
    assert "1 push_failed, 1 rejected, 1 amount_mismatch" in decision.message
    assert decision.message.endswith("Report: /reports/2026-03-02/reconciliation.html")


def test_does_not_fire_at_or_below_the_threshold(result):
    assert not should_alert(result.summary, 3).fire
    assert should_alert(result.summary, 2).fire


def test_clean_day_does_not_fire(result):
    matched = result.summary[result.summary["outcome"] == "matched"]
    decision = should_alert(matched, 0)
    assert not decision.fire
    assert "0 exceptions" in decision.message


def test_negative_threshold_is_refused(result):
    with pytest.raises(ValueError):
        should_alert(result.summary, -1)


def test_a_failed_company_fires_whatever_the_threshold_and_names_the_company(result):
    from receivables.run_state import summarise_company

    states = [summarise_company("nippon", "Nippon KK", [{"stage": "reference", "state": "failed",
                                                         "error": "the API refused the key (401).",
                                                         "advice": "x"}])]
    matched = result.summary[result.summary["outcome"] == "matched"]
    decision = should_alert(matched, 100, company_states=states, report_date="2026-03-02")
    assert decision.fire and decision.failed_companies == 1
    assert decision.message.startswith("Receivables reconciliation 2026-03-02: 1 company FAILED or did not "
                                       "run "
                                       "(Nippon KK: reference data failed: the API refused the key (401).)")
