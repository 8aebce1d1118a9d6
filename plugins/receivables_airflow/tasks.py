"""The Airflow tasks of Receivables Sync: each turns its context into arguments for ``receivables.jobs``.

Tasks pass references and counts through XCom (company ids, the business day, counts), never data.
Heavy imports happen inside the task bodies, so parsing a DAG file stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Asset, get_current_context, task

from receivables_airflow.failures import explained

log = logging.getLogger(__name__)

API_POOL = "accounting_api"
REFERENCE_ASSET = Asset("receivables://warehouse/ar_ref")
RECONCILIATION_ASSET = Asset("receivables://warehouse/ar_reconciliation")


def _warehouse():
    from receivables_airflow.warehouse_hook import WarehouseHook

    return WarehouseHook().get_conn()


def _codat_hook():
    from receivables_airflow.failures import check_api_host
    from receivables_codat.hooks import CodatHook

    hook = CodatHook()
    check_api_host(hook.settings.base_url, hook.codat_conn_id)
    return hook


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
    with explained():
        settings = _sync_settings(params)
        return jobs.plan_run(
            _warehouse(), settings=settings, run_id=context["run_id"], params=params,
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
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

    with explained(company), _codat_hook().get_conn() as client:
        return jobs.refresh_reference(client, _warehouse(), company)


@task(pool=API_POOL, multiple_outputs=False)
def sync_company(company: dict[str, Any]) -> dict[str, Any]:
    """Extract → validate → transform → push → settle for one company and business day."""
    from receivables import jobs

    params = get_current_context()["params"]
    with explained(company):
        return jobs.sync_company(_codat_hook().settings, _warehouse(), company,
                                 settings=_sync_settings(params))


@task(pool=API_POOL, multiple_outputs=False)
def reconcile_company(company: dict[str, Any]) -> dict[str, Any]:
    """Read the platform back and classify every document in scope for the day."""
    from receivables import jobs

    params = get_current_context()["params"]
    with explained(company), _codat_hook().get_conn() as client:
        return jobs.reconcile_company(client, _warehouse(), company, settings=_sync_settings(params))


@task(trigger_rule="all_done", outlets=[RECONCILIATION_ASSET], multiple_outputs=False)
def publish_report(plan: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Write the day's HTML report and CSV of exceptions; alert when exceptions pass the threshold."""
    from receivables import jobs
    from receivables_airflow.notifier import send_alert

    with explained():  # a missing warehouse or invalid settings fail here at once, like plan_run, not retried
        settings = _sync_settings(context["params"])
        result = jobs.publish_report(_warehouse(), plan, settings=settings)
    log.info("reconciliation report: %s", result["html"])
    log.info("exceptions CSV: %s", result["csv"])
    if plan.get("dry_run"):
        from receivables.plan_diff import write_dry_run_report

        # The plan of the whole run, from the companies' plan CSVs; a dry run alerts nobody.
        folder = jobs.report_root(settings) / plan["business_date"] / "dry-run"
        result["plan"] = write_dry_run_report(folder, jobs.as_date(plan["business_date"]), plan["companies"],
                                              plan["run_id"])
        log.info("DRY RUN plan: %s — would do %s", result["plan"]["html"], result["plan"]["counts"])
        return result
    if result["alert"]["fire"]:
        send_alert(result["alert"]["message"], context)
    return result


# none_failed: a failed company fails the run (this task is then upstream_failed), and a run whose
# company tasks were all skipped (nothing planned) still reaches this check instead of ending green.
@task(trigger_rule="none_failed", multiple_outputs=False)
def finish(plan: dict[str, Any], report: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Fails the run when any company's work failed or no company was synced (rejects do not fail it)."""
    from receivables import jobs

    with explained():
        synced = context["ti"].xcom_pull(task_ids=["company.sync_company"])
        active = 0 if plan["companies"] else len(jobs.active_companies(_warehouse()))
        jobs.check_companies_ran(plan, [r for r in synced if isinstance(r, dict)], active_count=active)
    count = len(plan["companies"])
    log.info("%s%d compan%s synced for %s", "DRY RUN: " if plan.get("dry_run") else "", count,
             "y" if count == 1 else "ies", plan["business_date"])
    return {"business_date": plan["business_date"], "report": report["html"], "summary": report["summary"],
            "dry_run": bool(plan.get("dry_run"))}


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
