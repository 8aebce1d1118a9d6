"""The Airflow tasks of Receivables Sync: each turns its context into arguments for ``receivables.jobs``.

Tasks pass references and counts through XCom (company ids, the business day, counts), never data.
Heavy imports happen inside the task bodies, so parsing a DAG file stays cheap.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any

from airflow.sdk import Asset, get_current_context, task

log = logging.getLogger(__name__)

API_POOL = "accounting_api"
REFERENCE_ASSET = Asset("receivables://warehouse/ar_ref")
RECONCILIATION_ASSET = Asset("receivables://warehouse/ar_reconciliation")


def _warehouse():
    from receivables_airflow.warehouse_hook import WarehouseHook

    return WarehouseHook().get_conn()


def _codat_hook():
    from receivables_codat.hooks import CodatHook

    return CodatHook()


def _sync_settings(params: dict[str, Any]):
    import os

    from receivables.settings import SyncSettings

    overrides = dict(params.get("settings") or {})
    # Where reports go is a deployment choice (a shared volume under Celery); params may still override.
    if os.environ.get("RS_REPORT_DIR"):
        overrides.setdefault("report_dir", os.environ["RS_REPORT_DIR"])
    return SyncSettings(**overrides)


@task(multiple_outputs=False)
def plan_run(**context: Any) -> dict[str, Any]:
    """Resolve the business day and the companies of this run; bring the warehouse schema up to date."""
    from receivables import jobs

    params = context["params"]
    settings = _sync_settings(params)
    return jobs.plan_run(
        _warehouse(), settings=settings, run_id=context["run_id"], params=params,
        data_interval_start=context.get("data_interval_start"), data_interval_end=context.get("data_interval_end"),
        logical_date=context.get("logical_date"), run_after=context["dag_run"].run_after,
    )


@task(multiple_outputs=False)
def company_list(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-company work items of the plan (what the mapped tasks expand over)."""
    return plan["companies"]


@task(pool=API_POOL, multiple_outputs=False)
def refresh_reference(company: dict[str, Any]) -> dict[str, Any]:
    """Pull one company's reference data (incremental) and check its mappings against it."""
    from receivables import jobs

    with _codat_hook().get_conn() as client, _no_retry_when_permanent():
        return jobs.refresh_reference(client, _warehouse(), company)


@contextmanager
def _no_retry_when_permanent():
    """A company failure that waiting cannot fix (bad key, unknown company) fails without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from receivables.jobs import CompanyFailed

    try:
        yield
    except CompanyFailed as exc:
        if not exc.retryable:
            raise AirflowFailException(str(exc)) from exc
        raise


@task(pool=API_POOL, multiple_outputs=False)
def sync_company(company: dict[str, Any]) -> dict[str, Any]:
    """Extract → validate → transform → push → settle for one company and business day."""
    from receivables import jobs

    params = get_current_context()["params"]
    return jobs.sync_company(_codat_hook().settings, _warehouse(), company, settings=_sync_settings(params))


@task(pool=API_POOL, multiple_outputs=False)
def reconcile_company(company: dict[str, Any]) -> dict[str, Any]:
    """Read the platform back and classify every document in scope for the day."""
    from receivables import jobs

    params = get_current_context()["params"]
    with _codat_hook().get_conn() as client:
        return jobs.reconcile_company(client, _warehouse(), company, settings=_sync_settings(params))


@task(trigger_rule="all_done", outlets=[RECONCILIATION_ASSET], multiple_outputs=False)
def publish_report(plan: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Write the day's HTML report and CSV of exceptions; alert when exceptions pass the threshold."""
    from receivables import jobs
    from receivables_airflow.notifier import send_alert

    result = jobs.publish_report(_warehouse(), plan, settings=_sync_settings(context["params"]))
    log.info("reconciliation report: %s", result["html"])
    log.info("exceptions CSV: %s", result["csv"])
    if result["alert"]["fire"]:
        send_alert(result["alert"]["message"], context)
    return result


@task(multiple_outputs=False)
def finish(plan: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """Fails the run when any company's work failed (reported documents do not fail it)."""
    return {"business_date": plan["business_date"], "report": report["html"], "summary": report["summary"]}


@task(multiple_outputs=False)
def reference_companies(**context: Any) -> list[dict[str, Any]]:
    """Active companies for the reference-data DAG (schema migrated first)."""
    from receivables import jobs

    return jobs.active_companies(_warehouse(), company_ids=context["params"].get("company_ids"))


@task(outlets=[REFERENCE_ASSET], multiple_outputs=False)
def reference_done(results: list[dict[str, Any]]) -> dict[str, int]:
    """Totals of the reference pull, emitted as the reference-data Asset."""
    totals: dict[str, int] = {}
    for result in results:
        for data_type, count in result.get("fetched", {}).items():
            totals[data_type] = totals.get(data_type, 0) + count
    log.info("reference data fetched: %s", totals)
    return totals
