"""The demo says "three business days": they are weekdays, the last ones before today."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from local_stack.demo import demo_days


@pytest.mark.parametrize("today", [date(2026, 11, 30) + timedelta(days=n) for n in range(7)],
                         ids=lambda d: d.strftime("%A"))
def test_demo_business_days_are_the_last_weekdays_before_today(today):
    days = demo_days(3, today)
    assert len(days) == 3 and days == sorted(days)
    assert all(d.weekday() < 5 for d in days), [d.strftime("%A") for d in days]
    assert days[-1] < today
    # No weekday is skipped between them or between the last one and today.
    span = [days[0] + timedelta(days=n) for n in range((today - days[0]).days)]
    assert [d for d in span if d.weekday() < 5] == days


def test_a_monday_demo_covers_the_previous_wednesday_to_friday():
    assert demo_days(3, date(2026, 11, 30)) == [date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)]
