"""Codat's limits (CONTRACT §4, §11.11): 10 concurrent requests per company and a daily request quota.

    >>> limiter = RateLimiter(max_concurrent=1)
    >>> limiter.try_enter("c1"), limiter.try_enter("c1")
    (True, False)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

UNLIMITED = 2_147_483_647  # what X-Rate-Limit-Limit reports when no daily quota is set


def next_utc_midnight(now: float) -> datetime:
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


class RateLimiter:
    """Per-company in-flight counter plus a daily quota that resets at 00:00 UTC."""

    def __init__(self, max_concurrent: int = 10, daily_quota: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_concurrent = max_concurrent
        self.clock = clock
        self.in_flight: dict[str, int] = {}
        self.set_quota(daily_quota)

    def set_quota(self, daily_quota: int | None, used: int | None = None) -> None:
        self.daily_quota = daily_quota
        self._set_day(next_utc_midnight(self.clock()))
        if used is not None or not hasattr(self, "used"):
            self.used = used or 0

    def _set_day(self, reset: datetime) -> None:
        # Cached: the boundary is compared on every request, the header text changes once a day.
        self._day, self._day_ts = reset, reset.timestamp()
        self._reset_text = reset.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _roll_day(self) -> None:
        if self.clock() >= self._day_ts:
            self._set_day(next_utc_midnight(self.clock()))
            self.used = 0

    def try_enter(self, company_id: str) -> bool:
        """Take one of the company's concurrent slots; ``False`` when all are in use."""
        count = self.in_flight.get(company_id, 0)
        if count >= self.max_concurrent:
            return False
        self.in_flight[company_id] = count + 1
        return True

    def leave(self, company_id: str) -> None:
        count = self.in_flight.get(company_id, 0) - 1
        if count > 0:
            self.in_flight[company_id] = count
        else:
            self.in_flight.pop(company_id, None)

    def try_consume(self) -> bool:
        """Count one request against the daily quota; ``False`` when it is used up."""
        self._roll_day()
        if self.daily_quota is not None and self.used >= self.daily_quota:
            return False
        self.used += 1
        return True

    def seconds_to_reset(self) -> int:
        return max(1, int((self._day_ts - self.clock()) + 0.999))

    def headers(self) -> list[tuple[str, str]]:
        """``X-Rate-Limit-*`` headers; the reset is the next UTC midnight in ISO 8601."""
        self._roll_day()
        limit = self.daily_quota if self.daily_quota is not None else UNLIMITED
        return [
            ("x-rate-limit-limit", str(limit)),
            ("x-rate-limit-remaining", str(max(0, limit - self.used))),
            ("x-rate-limit-reset", self._reset_text),
        ]
