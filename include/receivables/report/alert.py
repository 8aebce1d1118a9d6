"""Whether a night's reconciliation deserves an alert, and the message the Airflow notifier sends.

    >>> decision = should_alert(result.summary, threshold=0, report_path="reports/2026-03-02/reconciliation.html")
    >>> decision.fire, decision.message
    (True, 'Receivables reconciliation 2026-03-02: 3 exceptions (alert threshold 0): 2 rejected, ...')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from receivables.report._format import OUTCOME_ORDER, date_text


@dataclass(frozen=True)
class AlertDecision:
    """Fire an alert or not, and what to say (counts only: no amounts, no customer data, no secrets)."""

    fire: bool
    message: str
    exception_count: int = 0


def should_alert(summary: pd.DataFrame, threshold: int, *, report_path: str | Path | None = None) -> AlertDecision:
    """Alert when the exceptions (every outcome but ``matched``) exceed ``threshold``.

    The message counts exceptions per outcome, worst first, and names the report path when given.
    """
    if threshold < 0:
        raise ValueError("the alert threshold must be 0 or more")
    exceptions = summary[summary["outcome"] != "matched"]
    per_outcome = exceptions.groupby(exceptions["outcome"].astype(str))["document_count"].sum()
    order = [o for o in OUTCOME_ORDER if o in per_outcome.index] + sorted(set(per_outcome.index) - set(OUTCOME_ORDER))
    count = int(per_outcome.sum())
    companies = exceptions.loc[exceptions["document_count"] > 0, "company_id"].nunique()

    dates = sorted({date_text(d) for d in summary["report_date"]}) if len(summary) else []
    day = dates[0] if len(dates) == 1 else (f"{dates[0]}..{dates[-1]}" if dates else "(no documents)")
    message = f"Receivables reconciliation {day}: {count} exception{'s' if count != 1 else ''}"
    if count:
        detail = ", ".join(f"{int(per_outcome[o])} {o}" for o in order)
        message += f" in {companies} compan{'ies' if companies != 1 else 'y'} ({detail})"
    message += f"; alert threshold {threshold}."
    if report_path is not None:
        message += f" Report: {report_path}"
    return AlertDecision(fire=count > threshold, message=message, exception_count=count)
