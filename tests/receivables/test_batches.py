from datetime import UTC, date, datetime

import pytest

from receivables.batches import business_day_window, resolve_business_date


def test_window_in_utc_is_the_calendar_day():
    assert business_day_window(date(2026, 11, 20), "UTC") == (datetime(2026, 11, 20), datetime(2026, 11, 21))


def test_window_follows_the_configured_timezone_across_dst():
    # New York is UTC-5 in November; on 2026-03-08 the clocks go forward (a 23-hour day).
    assert business_day_window(date(2026, 11, 20), "America/New_York") == (
        datetime(2026, 11, 20, 5), datetime(2026, 11, 21, 5))
    start, end = business_day_window(date(2026, 3, 8), "America/New_York")
    assert (end - start).total_seconds() == 23 * 3600


def _resolve(**kw):
    base = dict(override=None, data_interval_start=None, data_interval_end=None, logical_date=None,
                run_after=None, timezone="UTC")
    base.update(kw)
    return resolve_business_date(**base)


def test_param_override_wins():
    assert _resolve(override="2026-01-02", logical_date=datetime(2026, 5, 5, tzinfo=UTC)) == date(2026, 1, 2)


def test_nightly_run_covers_its_data_interval_not_the_run_time():
    # The run for 20 Nov starts just after midnight on 21 Nov.
    assert _resolve(data_interval_start=datetime(2026, 11, 20, tzinfo=UTC),
                    data_interval_end=datetime(2026, 11, 21, tzinfo=UTC),
                    logical_date=datetime(2026, 11, 20, tzinfo=UTC),
                    run_after=datetime(2026, 11, 21, 0, 5, tzinfo=UTC)) == date(2026, 11, 20)


def test_data_interval_is_read_in_the_business_timezone():
    assert _resolve(data_interval_start=datetime(2026, 11, 20, 5, tzinfo=UTC),
                    data_interval_end=datetime(2026, 11, 21, 5, tzinfo=UTC),
                    timezone="America/New_York") == date(2026, 11, 20)


def test_empty_interval_falls_back_to_the_logical_date():
    moment = datetime(2026, 11, 20, tzinfo=UTC)
    assert _resolve(data_interval_start=moment, data_interval_end=moment, logical_date=moment) == date(2026,
                                                                                                       11, 20)


def test_manual_run_without_logical_date_means_yesterday_of_the_request():
    assert _resolve(run_after=datetime(2026, 11, 25, 9, 30, tzinfo=UTC)) == date(2026, 11, 24)


def test_nothing_to_go_on_is_an_error():
    with pytest.raises(ValueError, match="business day"):
        _resolve()
