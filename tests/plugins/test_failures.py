"""One explanation per failure: the task's log line and the run's company state say the same sentence.

``receivables.failures.explain`` is the one home; the Airflow side only adds the company and decides
whether the task fails at once. Each kind of error goes through both paths here: a job recorded in
``ar_run_companies`` (what the report shows) and the ``TASK ERROR`` line of the task that ran it.
"""

from __future__ import annotations

import logging

import pytest
from airflow.sdk.exceptions import AirflowFailException
from pydantic import ValidationError

from receivables import failures, run_state
from receivables.codat.errors import (
    CodatAuthError,
    CodatConnectionNotLinked,
    CodatPaymentRequired,
    CodatRateLimited,
    CodatServerError,
    CodatTransportError,
)
from receivables.jobs import CompanyFailed, RunRefused
from receivables.settings import SyncSettings
from receivables_airflow.failures import MARK, ConfigurationError, explain, explained
from receivables_airflow.warehouse_hook import WarehouseUnavailable

COMPANY = {"company_id": "c1", "name": "Acme Ltd", "business_date": "2026-03-02", "run_id": "run-1",
           "connection_id": "k1", "dry_run": False}
SECRET = "c2VjcmV0LWtleQ=="


def _settings_error() -> ValidationError:
    with pytest.raises(ValidationError) as invalid:
        SyncSettings(timezone="Mars/Olympus_Mons")
    return invalid.value


KINDS = {
    "raw 401": (lambda: CodatAuthError(f"GET /companies/c1 failed with 401: Authorization: Basic {SECRET}",
                                       status_code=401), True),
    "403": (lambda: CodatAuthError("GET /companies/c1 failed with 403 -> the API key is outdated",
                                   status_code=403), True),
    "402": (lambda: CodatPaymentRequired("POST /x failed with 402: limit -> contact the account owner",
                                         status_code=402), True),
    "429": (lambda: CodatRateLimited("GET /x failed with 429: quota -> wait", status_code=429), False),
    "503": (lambda: CodatServerError("GET /x failed with 503: maintenance -> retry later", status_code=503),
            False),
    "not linked": (lambda: CodatConnectionNotLinked("POST /x failed with 409: Deauthorized -> re-link",
                                                    status_code=409, connection_status="Deauthorized"),
                   False),
    "transport": (lambda: CodatTransportError("GET /x: connection refused"), False),
    "company failed": (lambda: CompanyFailed("company c1 (Acme Ltd): the API refused the key (401). Check "
                                             "the "
                                             "password of connection codat_default.", retryable=False), True),
    "company failed, retryable": (lambda: CompanyFailed("company c1 (Acme Ltd): HTTP 500"), False),
    "run refused": (lambda: RunRefused("business date 2099-01-01 is in the future (today is 2026-12-01 in "
                                       "UTC): a day can be synced once it has begun"), True),
    "warehouse missing": (lambda: WarehouseUnavailable("the warehouse database /nope.db does not exist: "
                                                       "check the host", permanent=True), True),
    "configuration": (lambda: ConfigurationError("the API host api.codat.invalid is unknown (no DNS record)"),
                      True),
    "settings": (_settings_error, True),
    "defect": (lambda: KeyError("target_type"), False),
}


@run_state.recorded("sync")
def _failing_job(codat_settings, engine, company, *, fail: BaseException):
    raise fail


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_log_line_and_the_company_state_say_the_same_sentence(kind, sqlite_engine, caplog):
    make, permanent = KINDS[kind]
    expected = failures.explain(make())
    assert expected.permanent is permanent
    assert expected.sentence and SECRET not in expected.sentence + expected.advice

    with pytest.raises(type(make())):
        _failing_job(None, sqlite_engine, COMPANY, fail=make())
    [state] = run_state.company_states(sqlite_engine, "run-1", [COMPANY])
    assert (state.state, state.error) == ("failed", expected.sentence)
    if expected.advice:
        assert state.advice == expected.advice

    caplog.set_level(logging.INFO, logger="receivables.task_error")
    with pytest.raises(AirflowFailException if permanent else type(make())):
        with explained(COMPANY):
            raise make()
    [line] = [r.getMessage()[len(MARK):].strip() for r in caplog.records if r.getMessage().startswith(MARK)]
    assert line == explain(make(), who="company Acme Ltd").line
    assert line.startswith("company Acme Ltd: " + expected.sentence.rstrip("."))
    assert line.endswith(expected.line[len(expected.sentence.rstrip(".")):])


def test_a_raw_refused_key_reads_the_same_as_a_wrapped_one():
    raw = failures.explain(KINDS["raw 401"][0]())
    wrapped = failures.explain(KINDS["company failed"][0]())
    assert (raw.sentence, raw.advice, raw.permanent) == (wrapped.sentence, wrapped.advice, wrapped.permanent)
    assert raw.line == "the API refused the key (401): check the password of connection codat_default"
