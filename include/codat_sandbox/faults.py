"""Fault injection: latency, transient errors, lost responses and push operations that go wrong.

A :class:`FaultConfig` is set at start (CLI flags or a JSON file) and replaced at run time through
``PUT /admin/faults``. Draws come from one seeded RNG so that a run with the same seed and the same
request order injects the same faults.

    >>> injector = FaultInjector(FaultConfig(rate_500=1.0, methods=["POST"]))
    >>> injector.error_status("POST", "invoices"), injector.error_status("GET", "invoices")
    (500, None)
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class FaultConfig:
    """What to break, how often (rates are probabilities 0..1) and for which requests.

    - ``latency_ms`` (+ uniform ``jitter_ms``): added before the request is handled.
    - ``rate_429`` / ``rate_500`` / ``rate_503``: answered before the request takes effect; a 429
      carries ``Retry-After: retry_after_seconds``. Never cached for idempotency.
    - ``lose_response_rate``: the request takes effect (and is cached for idempotency), then the
      response is cut short so the client sees a transport error.
    - ``slow_response_rate`` / ``slow_response_ms``: the request takes effect, then the response is
      held back (to exceed a client timeout).
    - ``timeout_rate``: the push operation ends ``TimedOut`` but its write lands anyway;
      ``timeout_no_write_rate``: ends ``TimedOut`` without writing; ``pending_forever_rate``: never
      leaves ``Pending`` (until its ``timeoutInMinutes`` passes).
    - ``read_lag_seconds``: pushed writes show in reads (lists and single GETs) only this many
      seconds after they land, or once the data type is refreshed with
      ``POST /companies/{id}/data/queue/{dataType}``; replaces the run's ``--read-lag-seconds`` while
      set (``None`` = the run's setting; ``0`` = no lag). Push operations are never lagged.
    - ``methods`` / ``data_types``: limit all of the above to these HTTP methods / data types
      (``None`` = all; ``read_lag_seconds`` heeds only ``data_types``).
    - ``duration_seconds``: the faults last this long after they are set, then stop by themselves
      (a 429 storm or a 503 burst that passes); ``None`` = until replaced.
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    retry_after_seconds: int = 1
    lose_response_rate: float = 0.0
    slow_response_rate: float = 0.0
    slow_response_ms: float = 0.0
    timeout_rate: float = 0.0
    timeout_no_write_rate: float = 0.0
    pending_forever_rate: float = 0.0
    read_lag_seconds: float | None = None
    methods: list[str] | None = None
    data_types: list[str] | None = None
    duration_seconds: float | None = None
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FaultConfig:
        """Parse a JSON object; unknown keys or out-of-range rates raise ``ValueError``."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        config = cls(**data)
        for name in known:
            value = getattr(config, name)
            if name.endswith("_rate") or name.startswith("rate_"):
                if not isinstance(value, int | float) or not 0 <= value <= 1:
                    raise ValueError(f"{name} must be a number between 0 and 1")
            elif name.endswith("_ms") and (not isinstance(value, int | float) or value < 0):
                raise ValueError(f"{name} must be a non-negative number")
        if config.duration_seconds is not None and (
                not isinstance(config.duration_seconds, int | float) or config.duration_seconds <= 0):
            raise ValueError("duration_seconds must be a positive number (or null for no end)")
        if config.read_lag_seconds is not None and (
                not isinstance(config.read_lag_seconds, int | float) or config.read_lag_seconds < 0):
            raise ValueError("read_lag_seconds must be a non-negative number (or null for the run's setting)")
        if config.methods is not None:
            config.methods = [m.upper() for m in config.methods]
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """Decides, request by request, which configured fault (if any) applies."""

    def __init__(self, config: FaultConfig | None = None, clock=time.monotonic) -> None:
        self.clock = clock
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.started = self.clock()

    def expired(self) -> bool:
        """True once ``duration_seconds`` have passed since the faults were set."""
        duration = self.config.duration_seconds
        return duration is not None and self.clock() - self.started >= duration

    def applies(self, method: str, data_type: str | None) -> bool:
        config = self.config
        if self.expired():
            return False
        if config.methods is not None and method.upper() not in config.methods:
            return False
        return config.data_types is None or data_type in config.data_types

    def read_lag_seconds(self, data_type: str, default: float) -> float:
        """The read-after-write lag for a write of ``data_type`` landing now."""
        config = self.config
        if config.read_lag_seconds is None or self.expired():
            return default
        if config.data_types is not None and data_type not in config.data_types:
            return default
        return float(config.read_lag_seconds)

    def _hit(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def latency_seconds(self, method: str, data_type: str | None) -> float:
        config = self.config
        if (config.latency_ms <= 0 and config.jitter_ms <= 0) or not self.applies(method, data_type):
            return 0.0
        return (config.latency_ms + self.rng.uniform(0, config.jitter_ms)) / 1000

    def error_status(self, method: str, data_type: str | None) -> int | None:
        """429, 500 or 503 to answer instead of handling the request, or ``None``."""
        config = self.config
        if not (config.rate_429 or config.rate_500 or config.rate_503) or not self.applies(method, data_type):
            return None
        for status, rate in ((429, config.rate_429), (500, config.rate_500), (503, config.rate_503)):
            if self._hit(rate):
                return status
        return None

    def lose_response(self, method: str, data_type: str | None) -> bool:
        return self.applies(method, data_type) and self._hit(self.config.lose_response_rate)

    def slow_response_seconds(self, method: str, data_type: str | None) -> float:
        if self.applies(method, data_type) and self._hit(self.config.slow_response_rate):
            return self.config.slow_response_ms / 1000
        return 0.0

    def push_fate(self, method: str, data_type: str | None) -> str:
        """How a new push operation will end: normal, timeout, timeout_no_write or pending_forever."""
        config = self.config
        if not self.applies(method, data_type):
            return "normal"
        for fate, rate in (("timeout", config.timeout_rate),
                           ("timeout_no_write", config.timeout_no_write_rate),
                           ("pending_forever", config.pending_forever_rate)):
            if self._hit(rate):
                return fate
        return "normal"
