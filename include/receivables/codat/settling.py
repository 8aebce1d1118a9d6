"""How long :meth:`CodatCore.settle` waits before it looks at push operations again: the whole policy.

Codat completes a push operation asynchronously: a second after the POST, or minutes later on a slow
platform. A fixed poll interval is wrong in both cases (a wasted second per phase on a fast one, a
request per interval per company on a slow one), so the wait follows the operations themselves:

- **Learned duration.** Every operation seen final with ``requestedOnUtc`` and ``completedOnUtc`` (the
  platform's clock on both ends, so no skew) updates a running estimate of how long one takes. Until
  one has been seen, ``settle_poll_interval_seconds`` is the first guess.
- **Wait for the last one expected.** Each operation is expected final one estimated duration after
  this client first saw it (its POST answered). The next poll comes when the *latest* still-pending
  operation is expected final, so one poll usually settles all of them: few requests per document.
- **Back off when nothing moved.** A poll that found no operation newly final multiplies the wait
  (×1.5); a poll that found some starts again from the estimate. Waits stay between half an estimated
  duration (polling faster cannot see anything new) and :data:`MAX_WAIT_SECONDS`.

Pure: the clock is the caller's (``monotonic``-like), nothing sleeps here.

    >>> times = OperationTimes(first_guess=0.5)
    >>> times.seen("op-1", now=10.0)
    >>> times.wait(["op-1"], now=10.0, previous=None, progressed=False)
    0.5
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

MAX_WAIT_SECONDS = 5.0
MIN_WAIT_SECONDS = 0.01
BACKOFF = 1.5
# Weight of the newest duration in the running estimate: recent operations say most about the next.
_SMOOTHING = 0.2
_REMEMBERED = 100_000


class OperationTimes:
    """When this client first saw each operation, and how long operations take (see module docstring)."""

    def __init__(self, first_guess: float) -> None:
        self.duration = first_guess
        self._learned = False
        self._seen_at: OrderedDict[str, float] = OrderedDict()

    def seen(self, key: str, *, now: float) -> None:
        """Note the first sight of operation ``key`` (its POST answer, or a listing)."""
        if key not in self._seen_at:
            self._seen_at[key] = now
            while len(self._seen_at) > _REMEMBERED:
                self._seen_at.popitem(last=False)

    def completed(self, requested: datetime | None, completed: datetime | None) -> None:
        """Learn from one final operation how long operations take."""
        if requested is None or completed is None:
            return
        sample = max((completed - requested).total_seconds(), 0.0)
        self.duration = sample if not self._learned else \
            (1 - _SMOOTHING) * self.duration + _SMOOTHING * sample
        self._learned = True

    def wait(self, pending: Iterable[str], *, now: float, previous: float | None, progressed: bool) -> float:
        """Seconds until the next poll of ``pending`` operations."""
        expected = [self._seen_at[k] + self.duration for k in pending if k in self._seen_at]
        wait = (max(expected) - now) if expected else self.duration
        if previous is not None and not progressed:
            wait = max(wait, previous * BACKOFF)
        floor = max(MIN_WAIT_SECONDS, self.duration / 2)
        return min(max(wait, floor), MAX_WAIT_SECONDS)
