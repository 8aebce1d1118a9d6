"""receivables_sync — the nightly push of a business day's invoices, credit notes and payments.

Each run covers one business day D = its data interval [D, D+1) (or ``params.business_date``):
plan → per company (refresh reference → sync → reconcile) → report. See README "Nightly sync".
"""

from datetime import timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task_group

from receivables_airflow import EARLIEST_BUSINESS_DAY
from receivables_airflow.tasks import (
    company_list,
    finish,
    plan_run,
    publish_report,
    reconcile_company,
    refresh_reference,
    sync_company,
)

with DAG(
    dag_id="receivables_sync",
    description="Push a business day's receivables to the accounting platform and reconcile",
    # An explicit daily interval: the run for D starts after D ends, and its interval is [D, D+1).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    # Far in the past on purpose: Airflow creates no task instance for a logical date before a task's
    # start_date, and a catch-up of past months is a data team's first job (a day of 2025 must run).
    # catchup=False keeps the scheduler from creating a run per day since then: it schedules only the
    # latest interval; past days run when asked for (make sync / make backfill / a manual trigger).
    start_date=EARLIEST_BUSINESS_DAY,
    catchup=False,
    max_active_runs=1,  # days are pushed in order; a backfill runs them one after another
    tags=["receivables", "sync"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "business_date": Param(None, type=["null", "string"], format="date",
                               description="Override the business day (YYYY-MM-DD)"),
        "dry_run": Param(False, type="boolean",
                         description="Plan and report what would be pushed; push nothing"),
        "company_ids": Param([], type="array", items={"type": "string"},
                             description="Limit the run to these company ids (empty: every active company)"),
        "settings": Param({}, type="object", description="SyncSettings overrides (timezone, tolerance, …)"),
    },
) as dag:
    plan = plan_run()

    @task_group(group_id="company")
    def per_company(company):
        refreshed = refresh_reference(company)
        synced = sync_company(company)
        reconciled = reconcile_company(company)
        refreshed >> synced >> reconciled

    companies = per_company.expand(company=company_list(plan))
    report = publish_report(plan)
    companies >> report
    finish(plan, report) << companies
