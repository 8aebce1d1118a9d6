"""Business days: which run covers which day, and which rows belong to a day's batch.

A document belongs to the batch of business day D when its ``updated_at`` falls in
[D 00:00, D+1 00:00) in the configured timezone (WAREHOUSE.md "Batches"). The warehouse stores
``updated_at`` as naive UTC, so the window is converted to naive UTC bounds here, once.

    >>> business_day_window(date(2026, 3, 29), "Europe/London")   # the day the clocks go forward
    (datetime.datetime(2026, 3, 29, 0, 0), datetime.datetime(2026, 3, 29, 23, 0))
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def business_day_window(business_date: date, timezone: str) -> tuple[datetime, datetime]:
    """Naive-UTC [start, end) of business day ``business_date`` in ``timezone``."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(business_date, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(business_date + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return _naive_utc(start), _naive_utc(end)


def resolve_business_date(
    *,
    override: str | date | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    logical_date: datetime | None,
    run_after: datetime | None,
    timezone: str,
) -> date:
    """The business day a DAG run is for — taken from the run, never from the wall clock.

    Order: an explicit ``params.business_date``; the start of a real data interval (the nightly
    schedule covers [D, D+1) and runs just after it); the logical date (``dag.test``, backfills and
    manual runs that carry one); otherwise the day before ``run_after`` (a manual run with no logical
    date means "yesterday, relative to when it was asked for").
    """
    zone = ZoneInfo(timezone)
    if override:
        return override if isinstance(override, date) else date.fromisoformat(str(override))
    has_interval = data_interval_start is not None and data_interval_end is not None
    if has_interval and data_interval_end > data_interval_start:
        return data_interval_start.astimezone(zone).date()
    if logical_date is not None:
        return logical_date.astimezone(zone).date()
    if run_after is not None:
        return run_after.astimezone(zone).date() - timedelta(days=1)
    raise ValueError("cannot tell the business day: the run has no interval, logical date or run_after")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
