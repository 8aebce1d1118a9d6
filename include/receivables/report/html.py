"""The finance report as ONE self-contained HTML file: inline CSS, the chart as a data URL, no scripts.

Finance opens it offline from a mail or a file share, so nothing in it may point elsewhere. Every text
that came from the warehouse or the platform (numbers, notes, error messages) goes through Jinja2's
autoescaping, and a Content-Security-Policy forbids scripts as a second line of defence.

What a reader meets, top to bottom: a red banner when any company failed or did not run (its figures
are incomplete), the run's companies and their state, counts per outcome, totals per currency, the
biggest money problems, then one collapsible section per outcome (sorted by money at stake), the aging
of open invoices and the trend of the last nights. The filters above the exceptions are radio buttons
read by CSS ``:has()``: a typed search box cannot work without JavaScript, which the policy forbids
(the browser's Find, or the CSV, serves that).

    >>> html = render_html(result.rows, result.summary, report_date=date(2026, 3, 2),
    ...                    run_meta={"run_id": "manual__2026-03-02"}, company_states=states,
    ...                    company_names={"c1": "Acme Ltd"}, history=earlier_summaries)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from receivables.documents import Outcome
from receivables.money import sum_amounts
from receivables.reconcile import ACTIONS, AGING_BUCKETS
from receivables.report._format import (
    DOCUMENT_LABELS,
    OUTCOME_LABELS,
    OUTCOME_ORDER,
    PUSHED_OUTCOMES,
    date_text,
    is_missing,
    money_text,
    outcome_rank,
    plain_words,
    text,
    worst_first,
)
from receivables.report.chart import MAX_PANELS, aging_chart_png, aging_table
from receivables.report.trend import trend_table

TEMPLATES = Path(__file__).parent / "templates"
# A browser stays responsive with a few thousand table rows; beyond that the CSV is the tool.
MAX_EXCEPTION_ROWS = 2000
# Sections longer than this start folded: the reader opens the outcome they work on.
OPEN_SECTION_ROWS = 30
# The "largest only" filter keeps this many rows per outcome (rows are sorted by money at stake).
LARGEST_PER_OUTCOME = 25
BIGGEST_PER_CURRENCY = 5
# Outcomes where money may be wrong in the books; pending and unexpected records are followed up later.
MONEY_OUTCOMES = (Outcome.PUSH_FAILED, Outcome.REJECTED, Outcome.MISSING_IN_PLATFORM,
                  Outcome.DUPLICATE_IN_PLATFORM, Outcome.AMOUNT_MISMATCH, Outcome.STATUS_MISMATCH)
RUN_META_LABELS = {"run_id": "Run", "companies": "Companies", "dry_run": "Dry run",
                   "business_date": "Business day"}
# What finance does about a rejected document (reconcile's ACTIONS cover the outcomes after a push).
REJECTED_ACTION = ("Fix the source row in the warehouse (the broken rule is named in each reason); "
                   "the next run pushes it.")

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class Names:
    """Company display names: ``ar_companies.name``, made unique, else the id; plus a CSS-safe key each."""

    def __init__(self, names: Mapping[str, Any] | None, ids: Sequence[str]) -> None:
        given = {str(k): text(v).strip() for k, v in (names or {}).items() if text(v).strip()}
        ordered = sorted(set(ids) | set(given), key=lambda c: (given.get(c, c).lower(), c))
        shown = {c: given.get(c, c) for c in ordered}
        taken: dict[str, int] = {}
        for label in shown.values():
            taken[label] = taken.get(label, 0) + 1
        # Two companies with one name are told apart by the start of their id.
        self.label = {c: (f"{n} ({c[:8]})" if taken[n] > 1 else n) for c, n in shown.items()}
        self.key = {c: f"k{i}" for i, c in enumerate(ordered)}

    def __call__(self, company_id: object) -> str:
        return self.label.get(text(company_id), text(company_id))


def _outcome_counts(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Documents per outcome, matched first; an outcome to act on (not matched, not pending) is flagged."""
    counts = rows["outcome"].value_counts()
    quiet = (Outcome.MATCHED, Outcome.PENDING)
    return [{"outcome": o, "label": OUTCOME_LABELS[o], "count": int(counts.get(o, 0)),
             "alert": o not in quiet and int(counts.get(o, 0)) > 0}
            for o in (Outcome.MATCHED, *[x for x in OUTCOME_ORDER if x != Outcome.MATCHED])]


def _currency_totals(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Documents and amounts per currency over all companies and outcomes (customers have no currency)."""
    def total(values: pd.Series, currency: str) -> str:
        present = values.dropna()
        return money_text(sum_amounts(present), currency) if len(present) else ""

    money = summary[summary["currency"].fillna("").astype(str) != ""]
    out = []
    for currency, group in money.groupby(money["currency"].astype(str), sort=True):
        exceptions = group[group["outcome"] != Outcome.MATCHED]
        out.append({
            "currency": currency,
            "documents": int(group["document_count"].sum()),
            "exceptions": int(exceptions["document_count"].sum()),
            "source": total(group["source_amount"], currency),
            "platform": total(group["platform_amount"], currency),
            "difference": total(group["difference"], currency),
            "open": total(group["amount_open"], currency) if "amount_open" in group else "",
        })
    return out


def _document_text(row) -> str:
    """The document as finance knows it: its number, else the id it can be found by."""
    number = text(row.document_number)
    if number:
        return number
    source = text(row.source_id)
    return f"(no number; source id {source})" if source else \
        f"(no number; platform id {text(row.platform_id)})"


def _days_open(first_seen: object, report_date: pd.Timestamp) -> str:
    """How long an exception has been open: "new today", "1 day open", "12 days open"."""
    if is_missing(first_seen):
        return ""
    days = (report_date - pd.Timestamp(first_seen).normalize()).days
    return "new today" if days <= 0 else f"{days} day{'s' if days != 1 else ''} open"


def _exception_lines(exceptions: pd.DataFrame, names: Names, report_date: pd.Timestamp,
                     incomplete: set[str]) -> list[dict[str, Any]]:
    """One table line per listed exception, in the order given (the first of each outcome are its largest)."""
    out = []
    seen_per_outcome: dict[str, int] = {}
    for row in exceptions.itertuples(index=False):
        place = seen_per_outcome.get(row.outcome, 0)
        seen_per_outcome[row.outcome] = place + 1
        currency = text(row.currency)
        out.append({
            "outcome": row.outcome,
            "label": OUTCOME_LABELS.get(row.outcome, row.outcome),
            "company": names(row.company_id),
            "company_key": names.key.get(text(row.company_id), "k"),
            "incomplete": text(row.company_id) in incomplete,
            "document_type": DOCUMENT_LABELS.get(text(row.document_type),
                                                 text(row.document_type).replace("_", " ")),
            "document": _document_text(row),
            "platform_id": text(row.platform_id),
            "currency": currency,
            "stake": money_text(row.at_stake, currency),
            "difference": money_text(row.difference, currency) if row.outcome != Outcome.REJECTED else "",
            # Validation messages name the company by id; the reader knows it by name.
            "reason": plain_words(row.reason).replace(text(row.company_id), names(row.company_id))
            if text(row.company_id) else plain_words(row.reason),
            "first_seen": date_text(row.first_seen_date),
            "days_open": _days_open(row.first_seen_date, report_date),
            "exception_id": text(row.exception_id),
            "largest": place < LARGEST_PER_OUTCOME,
        })
    return out


def _stake_per_currency(lines: pd.DataFrame) -> str:
    """``"12,000.00 GBP · 5,000 JPY"``: the money at stake of a group of exceptions, per currency."""
    parts = []
    with_money = lines[lines["currency"].notna() & lines["at_stake"].notna()]
    for currency, group in with_money.groupby(with_money["currency"].astype(str), sort=True):
        parts.append(f"{money_text(sum_amounts(group['at_stake']), currency)} {currency}")
    return " · ".join(parts)


def _sections(exceptions: pd.DataFrame, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One collapsible section per outcome with exceptions, worst first, with what to do about them."""
    sections = []
    for outcome in OUTCOME_ORDER:
        if outcome == Outcome.MATCHED:
            continue
        mine = [line for line in lines if line["outcome"] == outcome]
        total = int((exceptions["outcome"] == outcome).sum())
        if not total:
            continue
        action = REJECTED_ACTION if outcome == Outcome.REJECTED else ACTIONS.get(outcome, "")
        sections.append({
            "outcome": outcome, "label": OUTCOME_LABELS.get(outcome, outcome), "lines": mine, "total": total,
            "at_stake": _stake_per_currency(exceptions[exceptions["outcome"] == outcome]),
            "action": action, "open": total <= OPEN_SECTION_ROWS, "money": outcome in MONEY_OUTCOMES,
        })
    return sections


def _biggest(lines: list[dict[str, Any]], exceptions: pd.DataFrame) -> list[dict[str, Any]]:
    """Per currency, the largest money-at-stake exceptions among the outcomes where the books may be wrong.

    Per currency because amounts in different currencies cannot be ranked against each other without rates.
    """
    money = exceptions[exceptions["outcome"].isin(MONEY_OUTCOMES) & exceptions["at_stake"].notna()
                       & exceptions["currency"].notna()]
    if money.empty:
        return []
    by_id = {line["exception_id"]: line for line in lines}
    out = []
    for _, group in money.groupby(money["currency"].astype(str), sort=True):
        top = group.sort_values("stake_size", ascending=False, kind="stable").head(BIGGEST_PER_CURRENCY)
        out.extend(by_id[text(i)] for i in top["exception_id"] if text(i) in by_id)
    return out


def _aging(rows: pd.DataFrame) -> dict[str, Any]:
    """The aging section: open amounts per currency and bucket, and the chart as a data URL."""
    table = aging_table(rows)
    lines = []
    for _, r in table.iterrows():
        cells = [{"amount": money_text(r[b], r["currency"]), "count": int(r[f"{b} count"])}
                 for b in AGING_BUCKETS]
        present = [r[b] for b in AGING_BUCKETS if r[b] is not None]
        lines.append({"currency": r["currency"], "cells": cells,
                      "total": money_text(sum_amounts(present), r["currency"]) if present else "",
                      "count": sum(c["count"] for c in cells)})
    png = aging_chart_png(table)
    chart = "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else None
    return {"buckets": AGING_BUCKETS, "aging_lines": lines, "aging_chart": chart,
            "aging_chart_cut": len(table) > MAX_PANELS, "max_panels": MAX_PANELS}


def _trend(history: pd.DataFrame | None, summary: pd.DataFrame, report_date: date) -> list[dict[str, Any]]:
    """The last nights (this one included), newest last; empty when there is no earlier night."""
    earlier = None
    if history is not None and len(history):
        earlier = history[pd.to_datetime(history["report_date"]).dt.date < report_date]
    frames = [f for f in (earlier, summary) if f is not None and len(f)]
    if not frames:
        return []
    combined = pd.concat(frames, ignore_index=True)
    table = trend_table(combined, report_date=report_date)
    nights = sorted(set(table["report_date"]))
    if len(nights) < 2:
        return []
    peak = max(int(v) for v in table["exceptions"]) or 1
    out = []
    for night in nights:
        group = table[table["report_date"] == night]
        count = int(group["exceptions"].iloc[0])
        # A night with open invoices but none overdue shows 0 overdue, not a blank (only nights with an
        # amount open are listed).
        amounts = {r.currency: {"open": money_text(r.amount_open, r.currency),
                                "overdue": money_text(0 if r.amount_overdue is None else r.amount_overdue,
                                                      r.currency)}
                   for r in group.itertuples(index=False)
                   if isinstance(r.currency, str) and r.currency and r.amount_open is not None}
        out.append({"date": date_text(night), "exceptions": count, "bar": round(100 * count / peak),
                    "amounts": amounts, "today": night == report_date})
    return out


def _companies(summary: pd.DataFrame, rows: pd.DataFrame, names: Names, states: Sequence[Any] | None,
               run_id: str, platforms: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One entry per company of the run (or of the figures): its platform, state, counts and outcome lines."""
    by_state = {s.company_id: s for s in (states or [])}
    ids = list(by_state) or sorted(set(summary["company_id"].astype(str))
                                  | set(rows["company_id"].astype(str)))
    ids = sorted(ids, key=lambda c: (names(c).lower(), c))
    ranked = summary.assign(_rank=outcome_rank(summary["outcome"]))
    out = []
    for company in ids:
        group = ranked[ranked["company_id"].astype(str) == company] \
            .sort_values(["_rank", "currency"], kind="stable")
        mine = rows[rows["company_id"].astype(str) == company]
        runs = sorted({text(r) for r in mine["run_id"] if text(r)})
        earlier = [r for r in runs if r != run_id]
        state = by_state.get(company)
        out.append({
            "company": names(company),
            "key": names.key.get(company, "k"),
            "platform": text((platforms or {}).get(company)),
            "state": state.state if state else "unknown",
            "stages": state.stages if state else {},
            "headline": state.headline if state and not state.ok else "",
            "exceptions": int(group.loc[group["outcome"] != "matched", "document_count"].sum()),
            "documents": int(group["document_count"].sum()),
            "figures": ("none" if mine.empty else "earlier run" if earlier else "this run"),
            "figures_run": ", ".join(earlier),
            "lines": [
                {"outcome": r.outcome, "label": OUTCOME_LABELS.get(r.outcome, r.outcome),
                 "currency": text(r.currency), "count": int(r.document_count),
                 "source": money_text(r.source_amount, r.currency),
                 "platform": money_text(r.platform_amount, r.currency),
                 "difference": money_text(r.difference, r.currency)}
                for r in group.itertuples(index=False)
            ],
        })
    return out


def _run_meta(run_meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run's facts as (label, value) pairs, in plain words."""
    return [(RUN_META_LABELS.get(text(k), text(k).replace("_", " ").capitalize()), plain_words(v))
            for k, v in run_meta.items()]


def _failures(states: Sequence[Any], names: Names, companies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The red banner's lines: each company that failed or did not run, and which figures it shows."""
    figures = {c["company"]: {"figures": c["figures"], "figures_run": c["figures_run"]} for c in companies}
    return [
        {"company": names(s.company_id), "state": s.state, "headline": s.headline, "advice": s.advice or "",
         **figures.get(names(s.company_id), {"figures": "none", "figures_run": ""})}
        for s in states if not s.ok
    ]


def _status(states: Sequence[Any] | None, failures: list[dict[str, Any]],
            problem: tuple[str, str] | None) -> dict[str, Any]:
    """Whether the page is complete: every company ran and the figures could be read."""
    complete = states is not None and not failures and problem is None
    if complete:
        status = {"kind": "complete", "text": "Complete: every company synced and reconciled"}
    elif failures:
        total = len(states or [])
        companies = "company" if total == 1 else "companies"
        status = {"kind": "incomplete",
                  "text": f"INCOMPLETE: {len(failures)} of {total} {companies} failed or did not run"}
    elif problem:
        status = {"kind": "incomplete", "text": "INCOMPLETE: the report could not read its figures"}
    else:
        status = {"kind": "unknown", "text": "Run state not recorded"}
    return {"state_known": states is not None, "complete": complete, "status": status}


def _overview(rows: pd.DataFrame, summary: pd.DataFrame) -> dict[str, Any]:
    """The figures at the top: counts per outcome, documents pushed, totals per currency."""
    return {"outcome_counts": _outcome_counts(rows), "documents": len(rows),
            "pushed": int(rows["outcome"].isin(PUSHED_OUTCOMES).sum()),
            "currency_totals": _currency_totals(summary)}


def _exceptions(rows: pd.DataFrame, names: Names, day: pd.Timestamp, incomplete: set[str],
                max_rows: int) -> dict[str, Any]:
    """The biggest problems and one section per outcome, from at most ``max_rows`` exceptions."""
    exceptions = worst_first(rows)
    listed = exceptions.head(max_rows)
    lines = _exception_lines(listed, names, day, incomplete)
    return {"biggest": _biggest(lines, listed), "sections": _sections(exceptions, lines),
            "exception_total": len(exceptions), "exception_listed": len(listed),
            "largest_per_outcome": LARGEST_PER_OUTCOME, "open_section_rows": OPEN_SECTION_ROWS}


def render_html(rows: pd.DataFrame, summary: pd.DataFrame, *, report_date: date | datetime | pd.Timestamp,
                run_meta: dict[str, Any], company_states: Sequence[Any] | None = None,
                company_names: Mapping[str, Any] | None = None, history: pd.DataFrame | None = None,
                problem: tuple[str, str] | None = None, max_exception_rows: int = MAX_EXCEPTION_ROWS,
                company_platforms: Mapping[str, Any] | None = None) -> str:
    """The reconciliation report for ``report_date`` as one self-contained HTML document.

    ``rows`` and ``summary`` are :func:`receivables.reconcile.reconcile`'s frames (or what the warehouse
    holds for the date); ``company_states`` the run's :class:`receivables.run_state.CompanyState` list (a
    failed or skipped company opens the page with a red banner, and its figures are marked incomplete);
    ``company_names`` maps ids to the names shown and ``company_platforms`` to the accounting platform
    each company's connection is on (``push_options.company_platforms``); ``history`` holds earlier
    nights' summary rows (the trend); ``problem`` is an (error, advice) pair when the report itself
    could not read its figures.
    At most ``max_exception_rows`` exceptions are listed (worst first); the CSV always has them all.
    """
    day = pd.Timestamp(report_date).normalize()
    states = list(company_states) if company_states is not None else None
    ids = [s.company_id for s in states or []] + [text(c) for c in summary["company_id"]] + \
        [text(c) for c in rows["company_id"]]
    names = Names(company_names, ids)
    incomplete = {s.company_id for s in states or [] if not s.ok}
    companies = _companies(summary, rows, names, states, text(run_meta.get("run_id")), company_platforms)
    failures = _failures(states or [], names, companies)
    trend = _trend(history, summary, report_date=day.date())
    return _environment.get_template("reconciliation.html.j2").render(
        report_date=date_text(report_date),
        run_meta=_run_meta(run_meta),
        failures=failures,
        problem=problem,
        **_status(states, failures, problem),
        **_overview(rows, summary),
        **_exceptions(rows, names, day, incomplete, max_exception_rows),
        filter_companies=[c for c in companies if c["exceptions"]],
        **_aging(rows),
        trend=trend,
        trend_currencies=sorted({c for night in trend for c in night["amounts"]}),
        companies=companies,
    )
