"""Reading back what `airflow dags test` printed: the run id, each task attempt, and the failed tasks' lines.

The sample is shaped like real 3.3 output (timestamps, level, event, logger, key=value pairs).
"""

from __future__ import annotations

from local_stack.run_log import file_task_logs, parse_run_output

RUN = "manual__2026-12-01T20:25:37.555072+00:00"
T = "2026-12-01T20:25:47.440169Z"


def _task(task: str, index: int, state: str, *body: str) -> list[str]:
    return [
        f"{T} [info     ] [DAG TEST] starting task_id={task} map_index={index} "
        "[airflow.sdk.definitions.dag] loc=dag.py:1501",
        *body,
        f"{T} [info     ] Task instance state updated    "
        "[airflow.api_fastapi.execution_api.routes.task_instances] "
        f"correlation_id=01a2 loc=task_instances.py:485 new_state={state} rows_affected=1 ti_id=01a2",
        f"{T} [info     ] [DAG TEST] end task task_id={task} map_index={index} "
        "[airflow.sdk.definitions.dag] loc=dag.py:1563",
    ]


def _error(line: str) -> str:
    return f"{T} [error    ] TASK ERROR: {line} [receivables.task_error] loc=failures.py:99"


SAMPLE = "\n".join([
    f"{T} [info     ] creating dag run               [airflow.serialization.definitions.dag] loc=dag.py:615 "
    f"logical_date=DateTime(2024, 12, 1, 0, 0, 0, tzinfo=Timezone('UTC')) partition_key=None run_id={RUN}",
    *_task("plan_run", -1, "success"),
    *_task("company.sync_company", 0, "success"),
    *_task("company.reconcile_company", 1, "up_for_retry",
           _error("company Globex: unexpected KeyError: 'x'")),
    *_task("company.reconcile_company", 1, "failed", _error("company Globex: unexpected KeyError: 'x'"),
           "Traceback (most recent call last):", "KeyError: 'x'"),
    *_task("publish_report", -1, "failed", "Traceback (most recent call last):",
           "airflow.sdk.exceptions.XComNotFound: XCom plan_run not found"),
])


def test_the_run_id_and_every_attempt_are_read():
    parsed = parse_run_output(SAMPLE)
    assert parsed.run_id == RUN
    assert [(a.label, a.attempt) for a in parsed.attempts] == [
        ("plan_run", 1), ("company.sync_company[0]", 1), ("company.reconcile_company[1]", 1),
        ("company.reconcile_company[1]", 2), ("publish_report", 1)]
    assert parsed.succeeded("plan_run") and not parsed.succeeded("finish")
    assert parsed.ran("company.") == 2


def test_failed_tasks_give_their_error_line_or_their_last_exception():
    failed = parse_run_output(SAMPLE).failed
    assert [(f.task_id, f.map_index, f.line) for f in failed] == [
        ("company.reconcile_company", 1, "company Globex: unexpected KeyError: 'x'"),
        ("publish_report", -1, "XComNotFound: XCom plan_run not found"),
    ]


def test_a_run_that_created_no_task_has_no_attempts():
    parsed = parse_run_output(SAMPLE.splitlines()[0])
    assert parsed.attempts == [] and parsed.failed == [] and not parsed.succeeded("finish")


def test_task_logs_are_filed_where_airflow_looks_for_them(tmp_path):
    env = {"AIRFLOW_HOME": str(tmp_path)}
    written = file_task_logs(parse_run_output(SAMPLE), "receivables_sync", env)
    base = tmp_path / "logs" / "dag_id=receivables_sync" / f"run_id={RUN}"
    assert base / "task_id=plan_run" / "attempt=1.log" in written
    second = base / "task_id=company.reconcile_company" / "map_index=1" / "attempt=2.log"
    assert second in written and "KeyError: 'x'" in second.read_text()
    assert "starting task_id=company.reconcile_company" in (second.parent / "attempt=1.log").read_text()


def test_the_error_line_is_found_in_a_json_task_log_written_under_a_scheduler():
    import json

    from local_stack.run_log import error_in_task_log

    log = "\n".join(json.dumps(e) for e in [
        {"timestamp": T, "level": "info", "event": "business day 2024-12-01 (UTC), 2 active companies"},
        {"timestamp": T, "level": "error",
         "event": "TASK ERROR: company Acme: the API refused the key (401): "
                  "check the password of connection codat_default",
         "logger": "receivables.task_error"},
        {"timestamp": T, "level": "error", "event": "Task failed with exception", "error_detail": []},
    ])
    assert error_in_task_log(log) == ("company Acme: the API refused the key (401): check the password of "
                                      "connection codat_default")
    assert error_in_task_log('{"event": "all fine"}') is None
