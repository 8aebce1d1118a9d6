"""receivables_reference_data — accounts, bank accounts, tax rates, tracking categories and customers.

Pulls each active company's reference data into the ``ar_ref_*`` tables (incremental on
modifiedDate) and checks ``ar_mappings`` against it. See README "Reference data".
"""

from datetime import timedelta

from airflow.sdk import DAG, Param

from receivables_airflow import EARLIEST_BUSINESS_DAY
from receivables_airflow.tasks import reference_companies, reference_done, refresh_reference

with DAG(
    dag_id="receivables_reference_data",
    description="Pull reference data per company and check the user's mappings against it",
    schedule="0 */6 * * *",
    # As receivables_sync: a start_date far in the past, and no catch-up run per past interval.
    start_date=EARLIEST_BUSINESS_DAY,
    catchup=False,
    max_active_runs=1,
    tags=["receivables", "reference-data"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "company_ids": Param([], type="array", items={"type": "string"},
                             description="Limit to these company ids (empty: every active company)"),
    },
) as dag:
    results = refresh_reference.expand(company=reference_companies())
    reference_done(results)
