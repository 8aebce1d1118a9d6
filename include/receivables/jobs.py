"""The work of each Airflow task, as plain functions (no Airflow here: the DAG side passes arguments).

Each job takes a warehouse engine, a Codat client or settings, and a small ``company`` dict
(company_id, connection_id, business_date, run_id, dry_run) and returns counts — what XCom carries.
Everything a job does for day D can be repeated for day D with the same result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from receivables import extract, failures, mappings, push_options, reconcile_scope, run_state
from receivables.batches import resolve_business_date
from receivables.codat.client import AsyncCodatClient
from receivables.codat.errors import CodatConnectionNotLinked, CodatError, CodatUnreachable
from receivables.push import outcome as outcomes
from receivables.run_state import recorded
from receivables.settings import SyncSettings
from receivables.sync import CompanySync, write_plan
from receivables.warehouse import io, migrations, records, schema

log = logging.getLogger("receivables")

T = schema.metadata.tables


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class CompanyFailed(RuntimeError):
    """One company's work cannot go on; the message says what to do. Other companies are unaffected.

    ``retryable`` is False when waiting cannot help (a refused key, an unknown company): the task
    then fails at once instead of retrying.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


# -- planning -------------------------------------------------------------------------------------

def active_companies(engine, *, company_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Active companies from ``ar_companies`` (optionally limited), after migrating the output schema."""
    migrations.ensure_current(engine)
    companies = io.read_frame(engine, T["ar_companies"])
    wanted = set(company_ids or [])
    if wanted:
        unknown = wanted - set(companies["company_id"])
        if unknown:
            log.warning("company_ids not in ar_companies (ignored): %s", ", ".join(sorted(unknown)))
        companies = companies[companies["company_id"].isin(wanted)]
    inactive = companies[~companies["active"].astype(bool)]
    for row in inactive.itertuples():
        log.info("company %s (%s) is inactive: skipped", row.company_id, row.name)
    active = companies[companies["active"].astype(bool)].sort_values("company_id")
    return [
        {"company_id": r.company_id, "connection_id": r.connection_id, "name": r.name,
         "base_currency": r.base_currency}
        for r in active.itertuples()
    ]


class RunRefused(ValueError):
    """The run asks for something no retry can give (an impossible or future day, nothing to sync).

    The message is one sentence saying what was asked and what to do; the task fails without retries.
    """

    permanent = True


def parse_business_date(value: str | date | None) -> date | None:
    """``YYYY-MM-DD`` (or a date) → a date; anything else is refused in one sentence."""
    if value is None or value == "" or isinstance(value, date):
        return value or None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RunRefused(f"business date {str(value)!r} is not a calendar date: use YYYY-MM-DD, "
                         "e.g. 2025-06-02") from None


def refuse_future_day(business_date: date, timezone: str, *, today: date | None = None) -> None:
    """A day after today (in the batches' timezone) has no batch yet: refuse it rather than sync nothing."""
    today = today or datetime.now(ZoneInfo(timezone)).date()
    if business_date > today:
        raise RunRefused(f"business date {business_date} is in the future (today is {today} in {timezone}): "
                         "a day can be synced once it has begun")


def check_companies_ran(plan: Mapping[str, Any], synced: Iterable[Mapping[str, Any] | None], *,
                        active_count: int) -> None:
    """A run that synced no company while ``ar_companies`` has active ones is a failure, never ``ok``.

    ``synced``: the results of the run's ``sync_company`` tasks; ``active_count``: active companies in
    ``ar_companies`` (unfiltered). Raises :class:`RunRefused` with the reason.
    """
    planned = len(plan.get("companies") or [])
    done = {r.get("company_id") for r in synced if r}
    day = plan.get("business_date")
    if planned == 0 and active_count == 0:
        raise RunRefused(f"nothing was synced for {day}: ar_companies has no active company "
                         "(set active = true on the companies to sync)")
    if planned == 0:
        raise RunRefused(f"nothing was synced for {day}: company_ids matched none of the {active_count} "
                         "active companies in ar_companies")
    if len(done) < planned:
        missing = [c.get("name") or c["company_id"] for c in plan["companies"] if c["company_id"] not in done]
        raise RunRefused(f"only {len(done)} of {planned} companies were synced for {day}; not run: "
                         f"{', '.join(missing)}")


def plan_run(engine, *, settings: SyncSettings, run_id: str, params: Mapping[str, Any],
             data_interval_start=None, data_interval_end=None, logical_date=None,
             run_after=None) -> dict[str, Any]:
    """The business day and the companies of one ``receivables_sync`` run.

    Raises :class:`RunRefused` for a day that cannot be synced (not a date, or after today).
    """
    business_date = resolve_business_date(
        override=parse_business_date(params.get("business_date")), data_interval_start=data_interval_start,
        data_interval_end=data_interval_end, logical_date=logical_date, run_after=run_after,
        timezone=settings.timezone,
    )
    refuse_future_day(business_date, settings.timezone)
    companies = active_companies(engine, company_ids=params.get("company_ids"))
    dry_run = bool(params.get("dry_run"))
    log.info("business day %s (%s), %d active compan%s%s", business_date, settings.timezone, len(companies),
             "y" if len(companies) == 1 else "ies", ", DRY RUN: nothing will be pushed" if dry_run else "")
    day = business_date.isoformat()
    # active_companies brought the warehouse to this code's version: the stamp tells the company jobs.
    items = [dict(c, business_date=day, run_id=run_id, dry_run=dry_run, **migrations.stamp())
             for c in companies]
    return {"business_date": day, "run_id": run_id, "dry_run": dry_run, "companies": items}


# -- reference data -------------------------------------------------------------------------------

@recorded("reference")
def refresh_reference(client, engine, company: Mapping[str, Any], *, full: bool = False) -> dict[str, Any]:
    """Pull one company's reference data and check its mappings; a broken connection fails loudly."""
    if company.get("dry_run"):
        # A dry run changes nothing outside reports/D/dry-run/: it plans against the data last pulled.
        return {"company_id": company["company_id"], "fetched": {}, "mapping_issues": 0,
                "skipped": "dry run: reference data as last pulled"}
    migrations.ensure_stamped(engine, company)
    company_id = company["company_id"]
    try:
        fetched = extract.pull_reference_data(client, engine, company_id=company_id,
                                              connection_id=company["connection_id"], now=utc_now(),
                                              full=full)
    except CodatError as exc:
        raise CompanyFailed(_connection_advice(company, exc),
                            retryable=outcomes.of_error(exc).retryable) from exc
    options = push_options.pull_push_options(client, engine, company_id=company_id,
                                             connection_id=company["connection_id"], now=utc_now(), full=full)
    issues = check_company_mappings(engine, company_id)
    if len(issues):
        log.warning("company %s: %d broken mapping(s) — documents using them will be rejected:\n  %s",
                    company_id, len(issues), "\n  ".join(issues["message"].head(20)))
    return {"company_id": company_id, "fetched": fetched, "mapping_issues": len(issues),
            "push_options": options}


def _connection_advice(company: Mapping[str, Any], exc: CodatError, what: str = "reference pull") -> str:
    status = exc.status_code
    who = f"company {company['company_id']} ({company.get('name') or 'unnamed'})"
    if isinstance(exc, CodatConnectionNotLinked):
        state = exc.connection_status or "not Linked"
        return (f"{who}: its connection {company['connection_id']} is {state} in Codat, so nothing more "
                "was pushed and the rest of its documents are left pending: re-link the connection in Codat, "
                "then rerun the day.")
    if isinstance(exc, CodatUnreachable):
        return f"{who}: {str(exc).splitlines()[0]}"
    if status in (401, 403):
        return f"{who}: the API refused the key ({status}). Check the password of connection codat_default."
    if status == 404:
        return (f"{who}: the company or connection {company['connection_id']} is not known to the API (404). "
                "Check ar_companies.company_id / connection_id against the platform.")
    if status == 409:
        return (f"{who}: the platform has not finished its first sync of this data (409). Wait for the "
                "initial sync to complete, then rerun.")
    if status == 402:
        return (f"{who}: the Codat account has reached a plan limit (402): contact the account owner, "
                "then rerun.")
    return f"{who}: {what} failed: {exc}"


def check_company_mappings(engine, company_id: str) -> pd.DataFrame:
    """Validate ``ar_mappings`` of one company against its reference data; replace its issue rows."""
    ref = extract.read_reference(engine, [company_id], mappings.CHECKED_AGAINST)
    company_mappings = io.read_frame(engine, T["ar_mappings"], where={"company_id": company_id})
    issues = mappings.check_mappings(
        company_mappings, ref["accounts"], ref["bankAccounts"], ref["taxRates"], ref["trackingCategories"])
    # What the platform itself cannot accept, by the connection's published push options.
    issues = pd.concat([issues, mappings.check_platform_mappings(
        company_mappings, push_options.read_push_options(engine, company_id))], ignore_index=True)
    rows = issues.assign(checked_at=utc_now())
    io.replace_rows(engine, T["ar_mapping_issues"], rows, where={"company_id": company_id})
    return issues


def run_async(coro):
    """Run a coroutine from a synchronous task (one event loop per call)."""
    return asyncio.run(coro)


def elapsed(since: float) -> str:
    return f"{time.monotonic() - since:.1f}s"


def as_date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# -- nightly sync ---------------------------------------------------------------------------------

@recorded("sync")
def sync_company(codat_settings, engine, company: Mapping[str, Any], *,
                 settings: SyncSettings) -> dict[str, Any]:
    """Extract → validate → transform → push → settle for one company and business day."""
    migrations.ensure_stamped(engine, company)

    async def run():
        async with AsyncCodatClient(codat_settings) as client:
            return await CompanySync(client, engine, company, settings=settings,
                                     concurrency=codat_settings.max_concurrency_per_company,
                                     settle_deadline_seconds=codat_settings.settle_deadline_seconds).run()

    try:
        result = run_async(run())
    except CodatError as exc:
        # A broken link or a refused key fails the company (its documents are recorded pending), not
        # each document.
        raise CompanyFailed(_connection_advice(company, exc, "sync"),
                            retryable=outcomes.of_error(exc).retryable) from exc
    out = result.as_dict()
    if company.get("dry_run"):
        path = write_plan(result.plan, report_root(settings) / company["business_date"] / "dry-run"
                          / f"plan-{company['company_id']}.csv")
        out["plan"] = str(path) if path else None
        log.info("dry run: plan written to %s (nothing was pushed)", path)
    return out


# -- reconciliation -------------------------------------------------------------------------------

@recorded("reconcile")
def reconcile_company(client, engine, company: Mapping[str, Any], *,
                      settings: SyncSettings) -> dict[str, Any]:
    """Compare source ↔ ledger ↔ platform for one company and day; replace the day's rows."""
    if company.get("dry_run"):
        return {"company_id": company["company_id"], "skipped": "dry run: nothing was pushed"}
    return reconcile_scope.reconcile_day(client, engine, company_id=company["company_id"],
                                         connection_id=company["connection_id"],
                                         business_date=as_date(company["business_date"]),
                                         run_id=company["run_id"], settings=settings)


def report_root(settings: SyncSettings) -> Path:
    return Path(settings.report_dir).expanduser().resolve()


def publish_report(engine, plan: Mapping[str, Any], *, settings: SyncSettings) -> dict[str, Any]:
    """The day's HTML report and exceptions CSV for every company of the run, and the alert decision.

    Runs after every company task whatever their outcome (Airflow ``all_done``): the page opens with each
    company whose stages did not all succeed in this run (``ar_run_companies``), and the alert fires for
    any such company as well as for exceptions over the threshold. When the warehouse cannot be read,
    the report says so instead of the task crashing with nothing written. A dry run writes its report to
    ``reports/D/dry-run/`` only.
    """
    # Here, not at the top: the report pulls in matplotlib and jinja2, which no company process needs
    # (each company's chain is a fresh process, and these imports were a good part of its start).
    from receivables.report import should_alert, write_report
    from receivables.report.writer import report_folder

    business_date = as_date(plan["business_date"])
    companies = list(plan["companies"])
    ids = [c["company_id"] for c in companies]
    dry_run = bool(plan.get("dry_run"))
    rows, summary, history, states, problem = _report_inputs(engine, business_date, plan, ids)
    names, platforms = _company_labels(engine, ids)
    names = {c["company_id"]: c.get("name") for c in companies} | names
    folder = report_folder(report_root(settings), business_date) / ("dry-run" if dry_run else "")
    paths = write_report(rows, summary, out_dir=report_root(settings), report_date=business_date,
                         folder=folder,
                         run_meta={"run_id": plan["run_id"], "business_date": business_date.isoformat(),
                                   "companies": len(ids), "dry_run": dry_run},
                         company_names=names, company_states=None if dry_run else states, history=history,
                         problem=problem, company_platforms=platforms)
    decision = should_alert(summary, settings.alert_exception_threshold, report_path=str(paths.html),
                            company_states=states, company_names=names, problem=problem,
                            report_date=business_date)
    counts = summary.groupby("outcome")["document_count"].sum().astype(int).to_dict() if len(summary) else {}
    failed = [s for s in states or [] if not s.ok]
    for state in failed:
        log.error("company %s: %s What to do: %s", names.get(state.company_id) or state.name, state.headline,
                  state.advice)
    failed_companies = [{"company_id": s.company_id, "name": names.get(s.company_id) or s.name,
                         "state": s.state, "stage": s.stage, "error": s.error, "advice": s.advice}
                        for s in failed]
    return {"html": str(paths.html), "csv": str(paths.csv), "summary": counts,
            "failed_companies": failed_companies,
            "problem": list(problem) if problem else None,
            "alert": {"fire": bool(decision.fire), "message": decision.message}}


def _empty_like(table) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=object) for c in table.columns})


def _report_inputs(engine, business_date: date, plan: Mapping[str, Any], ids: list[str]):
    """The report's figures, earlier nights, company states and — when reading failed — the problem."""
    rows, summary = _empty_like(T["ar_reconciliation"]), _empty_like(T["ar_reconciliation_summary"])
    history, states, problem = None, None, None
    try:
        rows = io.read_frame(engine, T["ar_reconciliation"], where={"report_date": business_date})
        summary = io.read_frame(engine, T["ar_reconciliation_summary"], where={"report_date": business_date})
        rows = rows[rows["company_id"].isin(ids)].reset_index(drop=True)
        summary = summary[summary["company_id"].isin(ids)].reset_index(drop=True)
        history = records.summaries_between(engine, business_date - timedelta(days=60), business_date)
        history = history[history["company_id"].isin(ids)]
        states = run_state.company_states(engine, plan["run_id"], plan["companies"])
    except Exception as exc:  # noqa: BLE001 - the report of a broken night must still be written
        log.exception("the report could not read the warehouse")
        failure = failures.explain(exc)
        problem = (failure.sentence, failure.advice or failures.READ_THE_LOG)
        states = [run_state.CompanyState(c["company_id"], str(c.get("name") or c["company_id"]),
                                         run_state.FAILED, stage="reconcile",
                                         error="its figures could not be read for the report.",
                                         advice=problem[1]) for c in plan["companies"]]
    return rows, summary, history, states, problem


def _company_labels(engine, ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Each company's name and platform, as ``ar_companies`` and the pulled push options know them."""
    try:
        companies = io.read_frame(engine, T["ar_companies"])
        platforms = push_options.company_platforms(engine, ids)
    except Exception:  # noqa: BLE001 - names are a nicety: ids still identify the companies
        return {}, {}
    names = {str(c): str(n) for c, n in zip(companies["company_id"], companies["name"], strict=True)
             if pd.notna(n)}
    return names, platforms
