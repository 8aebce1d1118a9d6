"""Each company's state in each run, so that a night where a company failed never reads as a clean night.

The per-company jobs (reference pull, sync, reconciliation) are wrapped by :func:`recorded`: a row of
``ar_run_companies`` says ``running`` when the stage starts and ``success`` or ``failed`` when it ends, a
failure with one sentence of error and one of advice (:func:`receivables.failures.explain`, secrets
redacted). The report reads the rows of its run with :func:`company_states`; a stage with no row was
never started (Airflow skipped it after an earlier stage failed), and a stage still ``running`` when
the report is written died without finishing (a killed worker): both count as a failure of that
company's night.

    @recorded("sync")
    def sync_company(codat_settings, engine, company, *, settings): ...

    >>> states = company_states(engine, "scheduled__2026-03-03T00:00:00+00:00", companies)
    >>> [s.state for s in states]
    ['success', 'failed']
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from receivables.failures import explain
from receivables.warehouse import migrations, records

log = logging.getLogger("receivables.run_state")

STAGES = ("reference", "sync", "reconcile")
STAGE_LABELS = {"reference": "reference data", "sync": "sync", "reconcile": "reconciliation"}
# A company's night: every stage succeeded, one failed, or one never ran.
SUCCESS, FAILED, SKIPPED, RUNNING = "success", "failed", "skipped", "running"
# What to do about a failed stage that recorded no advice of its own.
_READ_THE_LOG = "Read the task log of this stage, fix the cause and rerun the day."


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- recording ----------------------------------------------------------------------------------


def record(engine, company: Mapping[str, Any], stage: str, state: str, *, error: str | None = None,
           advice: str | None = None, started_at: datetime | None = None) -> None:
    """Write the stage's state for the company's run (replacing the row of an earlier attempt)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: one of {', '.join(STAGES)}")
    key = {"run_id": str(company["run_id"]), "company_id": str(company["company_id"]), "stage": stage}
    business_date = company["business_date"]
    if not isinstance(business_date, date):
        business_date = date.fromisoformat(str(business_date))

    def row(previous: Mapping[str, Any] | None) -> dict[str, Any]:
        attempts = (previous["attempts"] if previous else 0) + (1 if state == RUNNING else 0)
        return dict(business_date=business_date, state=state, error=error, advice=advice,
                    dry_run=bool(company.get("dry_run")), attempts=max(attempts, 1),
                    started_at=started_at or (previous["started_at"] if previous else None) or _now(),
                    finished_at=None if state == RUNNING else _now())

    records.replace_stage_row(engine, key, row)


def _record_quietly(*args: Any, **kwargs: Any) -> None:
    """Recording must never hide the job's own outcome (e.g. the warehouse itself is what failed)."""
    try:
        record(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the job's own error is the one to raise
        log.warning("could not record the run state (%s: %s)", type(exc).__name__, explain(exc).sentence)


def recorded(stage: str) -> Callable:
    """Decorate a per-company job taking ``engine`` and ``company``: its state is written for the run."""
    def decorate(job: Callable) -> Callable:
        signature = inspect.signature(job)

        @functools.wraps(job)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            engine, company = bound.arguments["engine"], bound.arguments["company"]
            # Outside a nightly run (the reference-data DAG) there is no run to record; a dry run changes
            # nothing outside its reports/D/dry-run/ folder, this table included.
            if not (company.get("run_id") and company.get("business_date")) or company.get("dry_run"):
                return job(*args, **kwargs)
            started = _now()
            try:
                migrations.ensure_stamped(engine, company)
            except Exception:  # noqa: BLE001 - the job reports the broken warehouse itself
                pass
            _record_quietly(engine, company, stage, RUNNING, started_at=started)
            try:
                result = job(*args, **kwargs)
            except BaseException as exc:
                failure = explain(exc)
                _record_quietly(engine, company, stage, FAILED, error=failure.sentence,
                                advice=failure.advice or None, started_at=started)
                raise
            _record_quietly(engine, company, stage, SUCCESS, started_at=started)
            return result

        return wrapper

    return decorate


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompanyState:
    """One company's night: ``success``, ``failed`` or ``skipped``, with the sentence and advice to show."""

    company_id: str
    name: str
    state: str
    stages: dict[str, str] = field(default_factory=dict)
    stage: str | None = None  # the stage that failed or did not run
    error: str | None = None
    advice: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == SUCCESS

    @property
    def headline(self) -> str:
        """``"sync failed: the API refused the key (401)."``"""
        what = STAGE_LABELS.get(self.stage or "", self.stage or "run")
        verb = "failed" if self.state == FAILED else "did not run"
        return f"{what} {verb}: {self.error}" if self.error else f"{what} {verb}"


def summarise_company(company_id: str, name: str, rows: Iterable[Mapping[str, Any]]) -> CompanyState:
    """The company's night from its stage rows (see the module docstring for missing and running rows)."""
    by_stage = {r["stage"]: r for r in rows}
    stages = {s: (by_stage[s]["state"] if s in by_stage else SKIPPED) for s in STAGES}
    for stage in STAGES:
        row = by_stage.get(stage)
        if row is not None and row["state"] == FAILED:
            return CompanyState(company_id, name, FAILED, stages, stage, row["error"] or "no message",
                                row["advice"] or _READ_THE_LOG)
        if row is not None and row["state"] == RUNNING:
            return CompanyState(
                company_id, name, FAILED, stages, stage,
                "the task stopped before it finished (the worker was killed or timed out).",
                f"Read the Airflow log of the {STAGE_LABELS[stage]} task for this company, then rerun the "
                "day.")
    for stage in STAGES:
        if stage not in by_stage:
            cause = ("none of this company's tasks started in this run" if stage == STAGES[0]
                     else "it never started in this run (an earlier task did not complete, or the run was "
                     "stopped)")
            return CompanyState(company_id, name, SKIPPED, stages, stage, f"{cause}.",
                                "Look at the run in Airflow for the task that failed or was stopped, "
                                "then rerun the day.")
    return CompanyState(company_id, name, SUCCESS, stages)


def company_states(engine, run_id: str, companies: Iterable[Mapping[str, Any]]) -> list[CompanyState]:
    """The night of every company of the run (``companies``: dicts with company_id and name), in order."""
    companies = list(companies)
    rows: dict[str, list[Mapping[str, Any]]] = {}
    for row in records.stage_rows(engine, run_id, [str(c["company_id"]) for c in companies]):
        rows.setdefault(row["company_id"], []).append(row)
    return [summarise_company(str(c["company_id"]), str(c.get("name") or c["company_id"]),
                              rows.get(str(c["company_id"]), [])) for c in companies]
