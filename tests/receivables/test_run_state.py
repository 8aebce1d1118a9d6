"""Each company's state per run and stage: written by the jobs, read by the report."""

from __future__ import annotations

import pytest

from receivables import failures, run_state
from receivables.codat.errors import CodatAuthError, CodatServerError, CodatTransportError
from receivables.jobs import CompanyFailed
from receivables.run_state import company_states, recorded


def explain(exc):
    """What a failed stage records: the sentence and the advice of :func:`receivables.failures.explain`."""
    failure = failures.explain(exc)
    return failure.sentence, failure.advice


COMPANY = {"company_id": "c1", "name": "Acme Ltd", "business_date": "2026-03-02", "run_id": "run-1",
           "connection_id": "k1", "dry_run": False}
OTHER = dict(COMPANY, company_id="c2", name="Brick & Co")


@recorded("sync")
def _job(codat_settings, engine, company, *, fail: BaseException | None = None):
    if fail is not None:
        raise fail
    return {"company_id": company["company_id"]}


def test_company_failed_splits_into_error_and_advice_without_the_company_prefix():
    exc = CompanyFailed("company c1 (Acme Ltd): the API refused the key (401). Check the password of "
                        "connection codat_default.", retryable=False)
    assert explain(exc) == ("the API refused the key (401).",
                            "Check the password of connection codat_default.")


def test_api_errors_get_advice_and_secrets_never_reach_the_sentence():
    error, advice = explain(CodatAuthError("unauthorised: Authorization: Basic c2VjcmV0LWtleQ== refused",
                                           status_code=401))
    # A refused key reads the same in the run's states as in the task's log line (tests/plugins).
    assert error == "the API refused the key (401)." and "c2VjcmV0LWtleQ" not in error + advice
    assert "password" in advice and "codat_default" in advice
    error, _ = explain(CodatServerError("GET /x failed with 500: Authorization: Basic c2VjcmV0LWtleQ== broke",
                                        status_code=500))
    assert "c2VjcmV0LWtleQ" not in error and "***" in error
    _, advice = explain(CodatTransportError("connection refused"))
    assert "host and port" in advice


def test_a_long_traceback_line_is_cut_to_one_sentence():
    error, _ = explain(RuntimeError("x" * 1000 + "\nsecond line"))
    assert len(error) <= 300 and "second line" not in error


def test_success_and_failure_are_recorded_and_the_error_is_re_raised(warehouse_engine):
    _job(None, warehouse_engine, COMPANY)
    refused = CompanyFailed("company c2 (Brick & Co): the API refused the key (401). Check the password of "
                            "connection codat_default.")
    with pytest.raises(CompanyFailed):
        _job(None, warehouse_engine, OTHER, fail=refused)
    run_state.record(warehouse_engine, COMPANY, "reference", "success")
    run_state.record(warehouse_engine, COMPANY, "reconcile", "success")
    run_state.record(warehouse_engine, OTHER, "reference", "success")

    ok, failed = company_states(warehouse_engine, "run-1", [COMPANY, OTHER])
    assert ok.state == "success" and ok.ok
    assert failed.state == "failed" and failed.stage == "sync" and failed.name == "Brick & Co"
    assert failed.error == "the API refused the key (401)."
    assert failed.advice == "Check the password of connection codat_default."
    assert failed.stages == {"reference": "success", "sync": "failed", "reconcile": "skipped"}
    assert failed.headline == "sync failed: the API refused the key (401)."


def test_a_retry_that_succeeds_replaces_the_failure(warehouse_engine):
    with pytest.raises(RuntimeError):
        _job(None, warehouse_engine, COMPANY, fail=RuntimeError("boom"))
    _job(None, warehouse_engine, COMPANY)
    for stage in ("reference", "reconcile"):
        run_state.record(warehouse_engine, COMPANY, stage, "success")
    [state] = company_states(warehouse_engine, "run-1", [COMPANY])
    assert state.state == "success"


def test_a_stage_that_never_ran_is_skipped_and_one_left_running_is_failed(warehouse_engine):
    run_state.record(warehouse_engine, COMPANY, "reference", "success")
    run_state.record(warehouse_engine, COMPANY, "sync", "running")
    nothing, killed = company_states(warehouse_engine, "run-1", [OTHER, COMPANY])
    assert nothing.state == "skipped" and nothing.stage == "reference"
    assert killed.state == "failed" and killed.stage == "sync"
    assert "stopped before it finished" in killed.error


def test_rows_of_another_run_do_not_count(warehouse_engine):
    for stage in run_state.STAGES:
        run_state.record(warehouse_engine, COMPANY, stage, "success")
    [state] = company_states(warehouse_engine, "run-2", [COMPANY])
    assert state.state == "skipped"


def test_recording_never_hides_the_jobs_own_error(tmp_path):
    import sqlalchemy as sa

    broken = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/warehouse.db")
    with pytest.raises(ValueError, match="the job's own"):
        _job(None, broken, COMPANY, fail=ValueError("the job's own error"))


def test_outside_a_nightly_run_nothing_is_recorded(warehouse_engine):
    import sqlalchemy as sa

    from receivables.warehouse.schema import ar_run_companies

    reference_only = {"company_id": "c1", "name": "Acme Ltd", "connection_id": "k1"}
    assert _job(None, warehouse_engine, reference_only) == {"company_id": "c1"}
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ar_run_companies)).scalar() == 0


def test_a_dry_run_records_nothing(warehouse_engine):
    import sqlalchemy as sa

    from receivables.warehouse.schema import ar_run_companies

    with pytest.raises(RuntimeError):
        _job(None, warehouse_engine, dict(COMPANY, dry_run=True), fail=RuntimeError("boom"))
    _job(None, warehouse_engine, dict(COMPANY, dry_run=True))
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ar_run_companies)).scalar() == 0
