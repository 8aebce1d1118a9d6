"""Runs that explain themselves: a failed task leaves one line with advice, and errors no retry can fix
(a refused key, an unknown host, a missing warehouse database, a day in the future) fail at once."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from airflow.sdk.exceptions import AirflowFailException

from receivables.codat.errors import CodatAuthError, CodatServerError
from receivables.jobs import CompanyFailed, RunRefused
from receivables_airflow.failures import MARK, ConfigurationError, check_api_host, explain, explained
from receivables_airflow.warehouse_hook import WarehouseHook, WarehouseUnavailable, classify_connect_error

ACME = {"company_id": "c1", "name": "Acme Trading"}


def _raise_in_task(exc: BaseException, company=ACME):
    with explained(company):
        raise exc


@pytest.mark.parametrize("exc", [
    CodatAuthError("GET /companies/c1 failed with 401: Unauthorized", status_code=401),
    RunRefused("business date 2099-01-01 is in the future (today is 2026-12-01 in UTC)"),
    CompanyFailed("company c1 (Acme Trading): the API refused the key (401). Check the password",
                  retryable=False),
    WarehouseUnavailable("the warehouse database /nope.db does not exist: check the host", permanent=True),
    ConfigurationError("the API host api.codat.invalid is unknown (no DNS record)"),
], ids=["401", "future-day", "company-failed-permanent", "warehouse-missing", "unknown-host"])
def test_permanent_configuration_errors_fail_without_retries_in_one_line(exc, caplog):
    caplog.set_level(logging.INFO, logger="receivables.task_error")
    with pytest.raises(AirflowFailException) as failed:
        _raise_in_task(exc)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__, "no chained traceback"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(MARK)]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert str(failed.value) == lines[0][len(MARK):].strip()


def test_a_refused_key_says_what_to_check():
    line = explain(CodatAuthError("GET … failed with 401", status_code=401), who="company Acme Trading").line
    assert line == ("company Acme Trading: the API refused the key (401): check the password of connection "
                    "codat_default")


@pytest.mark.parametrize("exc", [CodatServerError("GET … failed with 503: maintenance", status_code=503),
                                 KeyError("target_type"),
                                 CompanyFailed("company c1 (Acme Trading): HTTP 500", retryable=True)])
def test_errors_that_may_pass_are_retried_and_still_explained(exc, caplog):
    caplog.set_level(logging.INFO, logger="receivables.task_error")
    with pytest.raises(type(exc)):
        _raise_in_task(exc)
    marks = [r.getMessage() for r in caplog.records if r.getMessage().startswith(MARK)]
    assert len(marks) == 1
    assert "Acme Trading" in marks[0]


def test_an_unexpected_error_is_called_a_defect_with_the_company_named():
    line = explain(KeyError("target_type"), who="company Acme Trading").line
    assert line.startswith("company Acme Trading: unexpected KeyError: 'target_type'")
    assert "rerunning the day is safe" in line


def test_airflow_signals_pass_through_unchanged():
    with pytest.raises(AirflowFailException, match="already decided"):
        _raise_in_task(AirflowFailException("already decided"))


def test_an_unknown_api_host_fails_in_seconds(monkeypatch):
    def no_such_name(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(ConfigurationError, match="the API host api.codat.invalid is unknown"):
        check_api_host("https://api.codat.invalid/")


def test_a_resolver_that_may_recover_is_left_to_the_retries(monkeypatch):
    def try_again(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", try_again)
    check_api_host("https://api.codat.io")  # no error: the request's retry policy decides


def test_a_missing_sqlite_warehouse_is_permanent_not_an_empty_new_file(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT",
                       json.dumps({"conn_type": "sqlite", "host": str(missing)}))
    with pytest.raises(WarehouseUnavailable) as failed:
        WarehouseHook().get_conn()
    assert failed.value.permanent
    assert str(missing) in str(failed.value) and "warehouse_default" in str(failed.value)
    assert not missing.exists()


@pytest.mark.parametrize(("message", "permanent"), [
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "nope" does not exist', True),
    ('connection to server failed: FATAL:  password authentication failed for user "finance"', True),
    ('could not translate host name "db.invalid" to address: Name or service not known', True),
    ('connection to server at "127.0.0.1", port 5433 failed: Connection refused', False),
])
def test_postgres_connect_errors_are_classified(message, permanent):
    error = classify_connect_error(RuntimeError(message), where="postgresql+psycopg2://finance:***@h/db")
    assert error.permanent is permanent
    assert "\n" not in str(error)


def test_a_missing_postgres_database_is_permanent(pg_admin_url, monkeypatch):
    from sqlalchemy.engine import make_url

    url = make_url(pg_admin_url)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", json.dumps({
        "conn_type": "postgres", "host": url.host, "port": url.port or 5432, "login": url.username,
        "schema": "rs_no_such_database_h1"}))
    with pytest.raises(WarehouseUnavailable, match="does not exist") as failed:
        WarehouseHook().get_conn()
    assert failed.value.permanent


def test_invalid_run_settings_are_a_permanent_error_naming_the_field():
    from pydantic import ValidationError

    from receivables.settings import SyncSettings

    with pytest.raises(ValidationError) as invalid:
        SyncSettings(timezone="Mars/Olympus_Mons")
    explanation = explain(invalid.value)
    assert explanation.permanent
    assert explanation.line.startswith("the run's settings are not valid: timezone: ")
    assert "\n" not in explanation.line
