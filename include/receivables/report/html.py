"""The finance report as ONE self-contained HTML file: inline CSS, the chart as a data URL, no scripts.

Finance opens it offline from a mail or a file share, so nothing in it may point elsewhere. Every text
that came from the warehouse or the platform (numbers, notes, error messages) goes through Jinja2's
autoescaping, and a Content-Security-Policy forbids scripts as a second line of defence.

    >>> html = render_html(result.rows, result.summary, report_date=date(2026, 3, 2),
    ...                    run_meta={"run_id": "manual__2026-03-02", "companies": 3})
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from receivables.money import sum_amounts
from receivables.reconcile import AGING_BUCKETS
from receivables.report._format import (
    OUTCOME_LABELS,
    OUTCOME_ORDER,
    PUSHED_OUTCOMES,
    date_text,
    money_text,
    outcome_rank,
    text,
)
from receivables.report.chart import aging_chart_png, aging_table

TEMPLATES = Path(__file__).parent / "templates"
# A browser stays responsive with a few thousand table rows; beyond that the CSV is the tool.
MAX_EXCEPTION_ROWS = 2000

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _headline(rows: pd.DataFrame) -> dict[str, int]:
    outcome = rows["outcome"]
    return {
        "documents": len(rows),
        "pushed": int(outcome.isin(PUSHED_OUTCOMES).sum()),
        "rejected": int((outcome == "rejected").sum()),
        "pending": int((outcome == "pending").sum()),
        "push_failed": int((outcome == "push_failed").sum()),
        "exceptions": int((outcome != "matched").sum()),
    }


def _currency_totals(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Documents and amounts per currency over all companies and outcomes."""
    def total(values: pd.Series, currency: str) -> str:
        present = values.dropna()
        return money_text(sum_amounts(present), currency) if len(present) else ""

    out = []
    for currency, group in summary.groupby(summary["currency"].fillna("").astype(str), sort=True):
        out.append({
            "currency": currency or "(none)",
            "documents": int(group["document_count"].sum()),
            "source": total(group["source_amount"], currency),
            "platform": total(group["platform_amount"], currency),
            "difference": total(group["difference"], currency),
            "exceptions": int(group.loc[group["outcome"] != "matched", "document_count"].sum()),
        })
    return out


def _exceptions(rows: pd.DataFrame) -> list[dict[str, str]]:
    exceptions = rows[rows["outcome"] != "matched"]
    exceptions = exceptions.assign(_rank=outcome_rank(exceptions["outcome"])).sort_values(
        ["_rank", "company_id", "document_type", "document_number", "document_key"], kind="stable"
    )
    out = []
    for row in exceptions.itertuples(index=False):
        amount = row.source_total if row.source_total is not None else row.platform_total
        out.append({
            "outcome": row.outcome,
            "label": OUTCOME_LABELS.get(row.outcome, row.outcome),
            "company": text(row.company_id),
            "document_type": text(row.document_type).replace("_", " "),
            "document": text(row.document_number) or text(row.document_key),
            "platform_id": text(row.platform_id),
            "currency": text(row.currency),
            "amount": money_text(amount, row.currency),
            "difference": money_text(row.difference, row.currency),
            "reason": text(row.reason),
            "action": text(row.action),
            "first_seen": date_text(row.first_seen_date),
            "exception_id": text(row.exception_id),
        })
    return out


def _aging(rows: pd.DataFrame) -> tuple[list[dict[str, Any]], str | None]:
    table = aging_table(rows)
    lines = [
        {"currency": r["currency"] or "(none)",
         "amounts": [money_text(r[b], r["currency"]) for b in AGING_BUCKETS]}
        for _, r in table.iterrows()
    ]
    png = aging_chart_png(table)
    chart = "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else None
    return lines, chart


def _companies(summary: pd.DataFrame) -> list[dict[str, Any]]:
    companies = []
    ranked = summary.assign(_rank=outcome_rank(summary["outcome"]))
    for company, group in ranked.groupby(ranked["company_id"].astype(str), sort=True):
        group = group.sort_values(["_rank", "currency"], kind="stable")
        companies.append({
            "company": company,
            "exceptions": int(group.loc[group["outcome"] != "matched", "document_count"].sum()),
            "documents": int(group["document_count"].sum()),
            "lines": [
                {"outcome": r.outcome, "label": OUTCOME_LABELS.get(r.outcome, r.outcome),
                 "currency": text(r.currency), "count": int(r.document_count),
                 "source": money_text(r.source_amount, r.currency),
                 "platform": money_text(r.platform_amount, r.currency),
                 "difference": money_text(r.difference, r.currency)}
                for r in group.itertuples(index=False)
            ],
        })
    return companies


def render_html(rows: pd.DataFrame, summary: pd.DataFrame, *, report_date: date | datetime | pd.Timestamp,
                run_meta: dict[str, Any], max_exception_rows: int = MAX_EXCEPTION_ROWS) -> str:
    """The reconciliation report for ``report_date`` as one self-contained HTML document.

    ``rows`` and ``summary`` are :func:`receivables.reconcile.reconcile`'s frames; ``run_meta`` is shown
    as a small key/value table (run id, companies, dry run, ...); its values are escaped like the rest.
    At most ``max_exception_rows`` exceptions are listed (worst first); the CSV always has them all.
    """
    aging_lines, chart = _aging(rows)
    exceptions = _exceptions(rows)
    template = _environment.get_template("reconciliation.html.j2")
    return template.render(
        report_date=date_text(report_date),
        run_meta=[(text(k), text(v)) for k, v in run_meta.items()],
        headline=_headline(rows),
        currency_totals=_currency_totals(summary),
        exceptions=exceptions[:max_exception_rows],
        exception_total=len(exceptions),
        buckets=AGING_BUCKETS,
        aging_lines=aging_lines,
        aging_chart=chart,
        companies=_companies(summary),
        outcome_order=OUTCOME_ORDER,
    )
