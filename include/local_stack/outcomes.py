"""How the days of a backfill ended, as read from the DAG runs the REST API returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DayOutcome:
    """How one business day of a backfill ended: the run's final state and how long the run took."""

    day: str
    state: str
    seconds: float | None
    run_id: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    def line(self) -> str:
        took = f" in {self.seconds:.1f}s" if self.seconds is not None else ""
        return f"  {self.day}: {self.state}{took}"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def day_outcome(run: dict) -> DayOutcome:
    """The printable outcome of one DAG run as the REST API returns it (``/dags/{id}/dagRuns``)."""
    started, ended = parse_time(run.get("start_date")), parse_time(run.get("end_date"))
    seconds = (ended - started).total_seconds() if started and ended else None
    return DayOutcome(day=str(run["logical_date"])[:10], state=str(run["state"]), seconds=seconds,
                      run_id=str(run.get("dag_run_id") or ""))
