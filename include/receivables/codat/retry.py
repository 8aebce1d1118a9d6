"""THE retry policy of the project: when to try a request again, and how long to wait first.

- 429: wait for ``Retry-After`` (seconds or HTTP date), else ``X-Rate-Limit-Reset``; a wait longer than
  ``max_retry_after_seconds`` (the daily quota) is not waited out: the caller raises ``CodatRateLimited``
  at once so the run can stop and report pending work.
- 408, 5xx and transport errors: exponential backoff (0.5 s, ×1.5, capped) with full jitter.
- A POST is retried only when it carries an ``Idempotency-Key`` (the same key every attempt), except when
  the request certainly never left (connect errors) or was refused unprocessed (429).
- An API that cannot be reached is a configuration problem far more often than a passing fault. An
  unknown host is never retried. A refused or timed-out connection is retried for at most
  ``unreachable_deadline_seconds`` (30 s), so a run against a closed port gives up in well under two
  minutes instead of sitting out the full deadline on every request.
- Everything is bounded by a total deadline (``retry_deadline_seconds``).

Which transport errors mean "never sent" is decided in :mod:`receivables.codat.outcome`, the same place
that decides what an error means for the ledger.

The policy makes decisions only; the client sleeps (so tests can inject a fake sleep).

    >>> state = RetryPolicy.from_settings(settings).start(method="GET", idempotent=True, now=clock())
    >>> decision = state.on_response(503, headers, now=clock())
    >>> if decision.retry: sleep(decision.wait)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from receivables.codat.outcome import never_sent, unknown_host, untrusted_certificate

RETRYABLE_STATUS = frozenset({408, 500, 502, 503, 504})


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt: ``retry`` after ``wait`` seconds, or stop.

    ``quota_exceeded`` marks a 429 whose wait is too long to sit out; ``retry_after`` is the wait the API
    asked for (429 only).
    """

    retry: bool
    wait: float = 0.0
    retry_after: float | None = None
    quota_exceeded: bool = False
    reason: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff and deadline settings; :meth:`start` begins the bookkeeping for one request."""

    deadline_seconds: float = 300.0
    max_retry_after_seconds: float = 120.0
    unreachable_deadline_seconds: float = 30.0
    initial_backoff: float = 0.5
    multiplier: float = 1.5
    max_backoff: float = 10.0
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings, **overrides) -> RetryPolicy:
        """Build from ``CodatSettings`` (``retry_deadline_seconds``, ``max_retry_after_seconds``)."""
        values = dict(deadline_seconds=settings.retry_deadline_seconds,
                      max_retry_after_seconds=settings.max_retry_after_seconds)
        values.update(overrides)
        return cls(**values)

    def start(self, *, method: str, idempotent: bool, now: float) -> RetryState:
        """Begin one request. ``idempotent`` is False for a POST without an Idempotency-Key."""
        return RetryState(self, method.upper(), idempotent, started=now)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given (1-based) retry number."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return self.jitter() * ceiling


@dataclass
class RetryState:
    """Attempts and elapsed time of one request under a :class:`RetryPolicy`."""

    policy: RetryPolicy
    method: str
    idempotent: bool
    started: float
    retries: int = 0

    def on_response(self, status_code: int, headers: Mapping[str, str], *, now: float,
                    in_flight_conflict: bool = False) -> Decision:
        """Decide after an error answer (``status_code >= 400``)."""
        if status_code == 429:
            wait = retry_after_seconds(headers, self.policy.wall_clock())
            if wait is not None and wait > self.policy.max_retry_after_seconds:
                return Decision(False, retry_after=wait, quota_exceeded=True, reason="daily quota")
            return self._next(now, wait if wait is not None else None, retry_after=wait, reason="429")
        if in_flight_conflict or status_code in RETRYABLE_STATUS or status_code >= 500:
            if not self.idempotent:
                return Decision(False, reason=f"{self.method} without Idempotency-Key is not retried")
            return self._next(now, None, reason=str(status_code))
        return Decision(False, reason=f"{status_code} is not retryable")

    def on_transport_error(self, error: Exception, *, now: float) -> Decision:
        """Decide after an exchange that got no answer."""
        if unknown_host(error):
            return Decision(False, reason="the host name does not resolve")
        if untrusted_certificate(error):
            return Decision(False, reason="the API's certificate is not trusted")
        if never_sent(error):
            deadline = min(self.policy.unreachable_deadline_seconds, self.policy.deadline_seconds)
            return self._next(now, None, reason=f"{type(error).__name__}, API unreachable", deadline=deadline)
        if not self.idempotent:
            return Decision(False, reason=f"{self.method} without Idempotency-Key may have been processed")
        return self._next(now, None, reason=type(error).__name__)

    def _next(self, now: float, wait: float | None, *, retry_after: float | None = None,
              reason: str, deadline: float | None = None) -> Decision:
        self.retries += 1
        if wait is None:
            wait = self.policy.backoff(self.retries)
        wait = max(0.0, wait)
        limit = self.policy.deadline_seconds if deadline is None else deadline
        if (now - self.started) + wait > limit:
            return Decision(False, retry_after=retry_after,
                            reason=f"retry deadline of {limit:g} s reached ({reason})")
        return Decision(True, wait=wait, retry_after=retry_after, reason=reason)


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta or HTTP date), else ``X-Rate-Limit-Reset``."""
    now = now or datetime.now(UTC)
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("retry-after", "x-rate-limit-reset"):
        raw = lowered.get(name)
        if raw is None or not str(raw).strip():
            continue
        seconds = _parse_wait(str(raw).strip(), now)
        if seconds is not None:
            return seconds
    return None


def _parse_wait(raw: str, now: datetime) -> float | None:
    try:
        number = float(raw)
    except ValueError:
        number = None
    if number is not None:
        # Large numbers are epoch timestamps (a reset time), small ones a delay in seconds.
        return max(0.0, number - now.timestamp()) if number > 1e9 else max(0.0, number)
    moment: datetime | None
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is None:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())
