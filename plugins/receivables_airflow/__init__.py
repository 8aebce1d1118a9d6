"""Airflow glue for Receivables Sync: connections → settings, context → job arguments.

Everything here is thin: the work is done by ``receivables.jobs`` (plain Python, no Airflow).
"""

import pendulum

# The start_date of both DAGs. Airflow creates no task instance for a logical date before it, so it
# lies far in the past: any business day since then can be synced (make sync, backfills, triggers).
EARLIEST_BUSINESS_DAY = pendulum.datetime(2000, 1, 1, tz="UTC")
