"""What one ``airflow dags test`` run printed, read back: its run id, its tasks, and why tasks failed.

``airflow dags test`` runs every task in its own process and prints the task logs on stdout, between
``[DAG TEST] starting task_id=… map_index=…`` and ``[DAG TEST] end task …`` lines; it writes no task log
files. This module splits that output per task attempt so that

- the console can tell a run that did its work from one that ran nothing, and print each failed task's
  one-line error (the ``TASK ERROR:`` line ``receivables_airflow.failures`` logs);
- each attempt's log is filed where Airflow's UI and REST API look for task logs
  (``$AIRFLOW_HOME/logs/dag_id=…/run_id=…/task_id=…/[map_index=…/]attempt=N.log``).

    parsed = parse_run_output(log_path.read_text())
    parsed.failed   # [TaskError(task_id="company.sync_company", map_index=0, line="company Acme: …")]
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from receivables_airflow.failures import MARK

_START = re.compile(r"\[DAG TEST\] starting task_id=(?P<task>\S+) map_index=(?P<index>-?\d+)")
_END = re.compile(r"\[DAG TEST\] end task task_id=(?P<task>\S+) map_index=(?P<index>-?\d+)")
_RUN_ID = re.compile(r"creating dag run .*?\brun_id=(?P<run_id>\S+)")
_NEW_STATE = re.compile(r"new_state=(?P<state>\w+)")
# "… TASK ERROR: <line> [receivables.task_error] loc=…": the line is what sits between the two.
_ERROR = re.compile(re.escape(MARK) + r"\s*(?P<line>.*?)(?:\s+\[receivables\.task_error\].*)?$")
# The last line of a Python traceback: "KeyError: 'x'", "airflow.sdk.exceptions.XComNotFound: …".
_EXCEPTION = re.compile(r"^(?:[a-z_][\w]*\.)*(?P<name>[A-Z]\w*): (?P<message>.+)$")


@dataclass
class TaskAttempt:
    """One attempt of one task instance and the lines it printed."""

    task_id: str
    map_index: int
    attempt: int
    lines: list[str] = field(default_factory=list)

    @property
    def state(self) -> str | None:
        """The last state the attempt reported (success, failed, up_for_retry …), if any."""
        states = [m.group("state") for line in self.lines if (m := _NEW_STATE.search(line))]
        return states[-1].lower() if states else None

    @property
    def error(self) -> str | None:
        """The attempt's one-line error: its ``TASK ERROR`` line, else the last exception line."""
        for line in reversed(self.lines):
            if MARK in line and (m := _ERROR.search(line.rstrip())):
                return m.group("line").strip()
        for line in reversed(self.lines):
            if m := _EXCEPTION.match(line.strip()):
                return f"{m.group('name')}: {m.group('message')}"
        return None

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclass(frozen=True)
class TaskError:
    task_id: str
    map_index: int
    line: str


@dataclass
class RunOutput:
    run_id: str | None
    attempts: list[TaskAttempt]
    # The output's last exception line (e.g. a DAG that could not be parsed): for runs with no task.
    stopped_by: str | None = None

    def last_attempts(self) -> dict[tuple[str, int], TaskAttempt]:
        last: dict[tuple[str, int], TaskAttempt] = {}
        for attempt in self.attempts:
            last[(attempt.task_id, attempt.map_index)] = attempt
        return last

    @property
    def failed(self) -> list[TaskError]:
        """Task instances whose last attempt failed, with their one-line error, in the order they ran."""
        out = []
        for attempt in self.last_attempts().values():
            if attempt.state == "failed":
                out.append(TaskError(attempt.task_id, attempt.map_index,
                                     attempt.error or "failed without an error line (see the run's log)"))
        return out

    def succeeded(self, task_id: str) -> bool:
        return any(a.task_id == task_id and a.state == "success" for a in self.last_attempts().values())

    def ran(self, prefix: str) -> int:
        """How many task instances whose id starts with ``prefix`` ran (any outcome)."""
        return sum(1 for (task_id, _) in self.last_attempts() if task_id.startswith(prefix))


def last_exception(text: str) -> str | None:
    """The last ``SomeError: message`` line of the output (why a run that created no task stopped)."""
    for line in reversed(text.splitlines()):
        if m := _EXCEPTION.match(line.strip()):
            return f"{m.group('name')}: {m.group('message')}"
    return None


def parse_run_output(text: str) -> RunOutput:
    """Split ``airflow dags test`` output into task attempts (attempt numbers count per task instance)."""
    run_id = None
    attempts: list[TaskAttempt] = []
    counts: dict[tuple[str, int], int] = {}
    current: TaskAttempt | None = None
    for line in text.splitlines():
        if run_id is None and (m := _RUN_ID.search(line)):
            run_id = m.group("run_id")
        if m := _START.search(line):
            key = (m.group("task"), int(m.group("index")))
            counts[key] = counts.get(key, 0) + 1
            current = TaskAttempt(key[0], key[1], counts[key])
            attempts.append(current)
        if current is not None:
            current.lines.append(line)
            if (m := _END.search(line)) and (m.group("task"), int(m.group("index"))) == (
                    current.task_id, current.map_index):
                current = None
    return RunOutput(run_id=run_id, attempts=attempts,
                     stopped_by=last_exception(text) if not attempts else None)


def task_log_folder(env: dict[str, str]) -> Path:
    """Where Airflow keeps task logs (``[logging] base_log_folder``, by default ``$AIRFLOW_HOME/logs``)."""
    folder = env.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER")
    if folder:
        return Path(folder)
    return Path(env.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")) / "logs"


def file_task_logs(output: RunOutput, dag_id: str, env: dict[str, str]) -> list[Path]:
    """Write each attempt's lines where Airflow's default log_filename_template puts task logs."""
    if not output.run_id:
        return []
    written = []
    root = task_log_folder(env) / f"dag_id={dag_id}" / f"run_id={output.run_id}"
    for attempt in output.attempts:
        folder = root / f"task_id={attempt.task_id}"
        if attempt.map_index >= 0:
            folder = folder / f"map_index={attempt.map_index}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"attempt={attempt.attempt}.log"
        path.write_text("\n".join(attempt.lines) + "\n")
        written.append(path)
    return written


def error_in_task_log(text: str) -> str | None:
    """The ``TASK ERROR`` line of a task log written by Airflow itself (JSON lines, e.g. under a
    scheduler)."""
    found = None
    for line in text.splitlines():
        try:
            event = str(json.loads(line).get("event", ""))
        except (ValueError, AttributeError):
            event = line
        if MARK in event:
            found = event.split(MARK, 1)[1].strip()
    return found
