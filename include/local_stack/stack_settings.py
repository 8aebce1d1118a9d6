"""The Airflow settings of the local stack's processes (``local_stack.scheduler``), as environment variables.

Set on the child processes only (never in the user's ``airflow.cfg``); fresh ports and secrets per stack.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from local_stack.processes import free_port

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
# The backfill talks to the API server as this user; its password is random per run and never logged.
API_USER = "rs_backfill"
PAGE_LIMIT = 5000
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}

# The LocalExecutor's workers start from a forkserver that has imported the pipeline once
# (receivables.preload), so each task process its supervisor forks begins with pandas, SQLAlchemy and
# the Codat client loaded instead of spending ≈ 0.8 CPU-s importing them. Set in the environment to
# choose otherwise (e.g. AIRFLOW__SCHEDULER__MP_START_METHOD=fork).
WARM_WORKERS = {
    "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
    "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": "receivables.preload",
}
# The stack lives for one backfill and has little to do between its tasks; some of Airflow's defaults, made
# for a long-running deployment, left it idle for seconds at a time (read in the stack's logs). Each can be
# set otherwise in the environment.
REACT_FAST = {
    # A task's supervisor notices its task process has exited only when its select() times out, which
    # is this interval: a task was seen to end up to 5 s late, a failed one reported its failure (and so ended
    # its DAG run) 5 s late, and stopping the scheduler waited for it. One heartbeat a second per running
    # task is nothing for the API server.
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    # The DAG processor parses the files once at start, which is what the backfill needs; re-parsing every
    # file every 30 s (the default) took CPU from the tasks on a small machine and changed nothing. A DAG
    # edited during a backfill still reaches its tasks: each task parses its DAG file itself.
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
    # [scheduler] scheduler_idle_sleep_time stays at its 1 s: 0.2 s saved ≈ 1–2 s per DAG run but
    # kept the SQLite metadata database busy enough that creating a backfill met "database is locked"
    # (503) after Airflow had already written half of it (seen in a fresh-clone `make test`).
}


def stack_env(base_env: dict[str, str], *, executor: str, parallelism: int, base_url: str, port: int,
              passwords: Path) -> dict[str, str]:
    """``base_env`` plus what every process of one stack needs; for the defaults (``WARM_WORKERS``,
    ``REACT_FAST``, no example DAGs) a value already in ``base_env`` wins."""
    env = dict(base_env)
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.update({
        "AIRFLOW__CORE__EXECUTOR": EXECUTORS[executor],
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        # A backfill of a year is one page of DAG runs (the API caps pages at 100 by default).
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": str(PAGE_LIMIT),
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{API_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # Only the backfill's runs: no "latest interval" run when the DAG gets unpaused.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # The scheduler serves task logs on a port; the default 8793 may be taken by another Airflow.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    })
    for name, value in {**WARM_WORKERS, **REACT_FAST}.items():
        env.setdefault(name, value)
    return env


def check_celery_env(env: dict[str, str]) -> None:
    """Refuse a Celery setup that would silently use a default broker or a metadata DB it cannot share."""
    if not env.get("AIRFLOW__CELERY__BROKER_URL"):
        raise ValueError("executor='celery' needs AIRFLOW__CELERY__BROKER_URL in env "
                         "(e.g. redis://127.0.0.1:6379/<a database of its own>)")
    # The worker, the scheduler and the API server all write task state and Celery results into the
    # metadata DB at once; Airflow supports the CeleryExecutor only on a server database, and this
    # project runs PostgreSQL (SQLite is for the single-machine LocalExecutor).
    metadata_url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not metadata_url.startswith("postgresql"):
        raise ValueError("executor='celery' needs a PostgreSQL metadata database "
                         "(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://…)")
