"""The nightly window is explicit: the scheduled run for day D covers [D, D+1) and starts once D is over."""

from __future__ import annotations

from datetime import date

import pendulum
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable
from tests.fixtures.airflow_env import load_dag

from receivables.batches import resolve_business_date


def test_scheduled_run_for_a_day_covers_that_day_and_runs_after_it():
    dag = load_dag("receivables_sync")
    spec = dag.timetable
    timetable = CronDataIntervalTimetable(spec.expression, timezone=spec.timezone)  # the scheduler's view
    previous = DataInterval(pendulum.datetime(2026, 11, 19, tz="UTC"),
                            pendulum.datetime(2026, 11, 20, tz="UTC"))
    info = timetable.next_dagrun_info(
        last_automated_data_interval=previous,
        restriction=TimeRestriction(earliest=pendulum.datetime(2026, 1, 1, tz="UTC"), latest=None,
                                    catchup=True))

    assert info.data_interval.start == pendulum.datetime(2026, 11, 20, tz="UTC")
    assert info.data_interval.end == pendulum.datetime(2026, 11, 21, tz="UTC")
    assert info.run_after >= info.data_interval.end, "a day is synced only once it is over"
    day = resolve_business_date(override=None, data_interval_start=info.data_interval.start,
                                data_interval_end=info.data_interval.end,
                                logical_date=info.data_interval.start,
                                run_after=info.run_after, timezone="UTC")
    assert day == date(2026, 11, 20)


def test_historic_dates_silently_do_nothing_start_date_lets_any_past_day_run():
    """Airflow creates no task instance for a logical date before start_date: both DAGs start far back."""
    for name in ("receivables_sync", "receivables_reference_data"):
        dag = load_dag(name)
        assert dag.start_date <= pendulum.datetime(2000, 1, 1, tz="UTC"), name
        assert all(task.start_date is None or task.start_date <= pendulum.datetime(2000, 1, 1, tz="UTC")
                   for task in dag.tasks), name
        assert dag.catchup is False, f"{name}: a start_date far back must not mean one run per day since"


def test_historic_dates_no_flood_of_scheduled_runs_from_an_early_start_date():
    """With catchup off the scheduler's first run is the latest finished day, not 2000-01-01."""
    dag = load_dag("receivables_sync")
    spec = dag.timetable
    timetable = CronDataIntervalTimetable(spec.expression, timezone=spec.timezone)
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=dag.catchup)
    now = pendulum.now("UTC")

    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert now - pendulum.duration(days=2) <= first.data_interval.start <= now
    following = timetable.next_dagrun_info(last_automated_data_interval=first.data_interval,
                                           restriction=restriction)
    assert following.data_interval.start == first.data_interval.end, "then one run per day, from there on"
