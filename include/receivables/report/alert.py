"""Whether a night's reconciliation deserves an alert, and the message the Airflow notifier sends.

A company that failed or did not run always fires the alert, whatever the threshold: a night with no
exceptions because nothing ran is not a clean night. Otherwise the alert fires when exceptions exceed
the threshold.

    >>> decision = should_alert(result.summary, threshold=0,
    ...                         report_path="reports/2026-03-02/reconciliation.html",
    ...                         company_states=states, company_names={"c1": "Acme Ltd"})
    >>> decision.fire, decision.message
    (True, 'Receivables reconciliation 2026-03-02: 1 company FAILED or did not run (Acme Ltd: ...), ...')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from receivables.documents import Outcome
from receivables.report._format import OUTCOME_ORDER, date_text


@dataclass(frozen=True)
class AlertDecision:
    """Fire an alert or not, and what to say (counts only: no amounts, no customer data, no secrets)."""

    fire: bool
    message: str
    exception_count: int = 0
    failed_companies: int = 0


def should_alert(summary: pd.DataFrame, threshold: int, *, report_path: str | Path | None = None,
                 company_states: Sequence[Any] | None = None, company_names: Mapping[str, Any] | None = None,
                 problem: tuple[str, str] | None = None, report_date: object = None) -> AlertDecision:
    """Alert when any company failed or did not run, when the report could not read its figures, or when
    the exceptions (every outcome but ``matched``) exceed ``threshold``.

    The message names the failed companies first, then counts exceptions per outcome, worst first, and
    names the report path when given.
    """
    if threshold < 0:
        raise ValueError("the alert threshold must be 0 or more")
    exceptions = summary[summary["outcome"] != Outcome.MATCHED]
    per_outcome = exceptions.groupby(exceptions["outcome"].astype(str))["document_count"].sum()
    order = [str(o) for o in OUTCOME_ORDER if o in per_outcome.index]
    order += sorted(set(per_outcome.index) - set(order))
    count = int(per_outcome.sum())
    companies = exceptions.loc[exceptions["document_count"] > 0, "company_id"].nunique()
    failed = [s for s in company_states or [] if not s.ok]
    names = company_names or {}

    dates = sorted({date_text(d) for d in summary["report_date"]}) if len(summary) else []
    day = dates[0] if len(dates) == 1 else (f"{dates[0]}..{dates[-1]}" if dates else "(no documents)")
    if report_date is not None:
        day = date_text(report_date)
    message = f"Receivables reconciliation {day}: "
    if failed:
        who = "; ".join(f"{names.get(s.company_id) or s.name}: {s.headline}" for s in failed[:5])
        more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
        message += (f"{len(failed)} compan{'y' if len(failed) == 1 else 'ies'} FAILED or did not run "
                    f"({who}{more}), figures incomplete; ")
    if problem:
        message += f"the report could not read its figures ({problem[0]}); "
    message += f"{count} exception{'s' if count != 1 else ''}"
    if count:
        detail = ", ".join(f"{int(per_outcome[o])} {o}" for o in order)
        message += f" in {companies} compan{'ies' if companies != 1 else 'y'} ({detail})"
    message += f"; alert threshold {threshold}."
    if report_path is not None:
        message += f" Report: {report_path}"
    return AlertDecision(fire=bool(failed) or problem is not None or count > threshold, message=message,
                         exception_count=count, failed_companies=len(failed))
