"""Error answers become exceptions that say what to do."""

from __future__ import annotations

import pytest

from receivables.codat import errors as e


@pytest.mark.parametrize(("status", "body", "keyed", "cls", "hint"), [
    (400, {"error": "bad query"}, False, e.CodatBadRequest, "fix the request"),
    (400, {"validation": {"errors": [{"itemId": "x", "message": "y"}]}}, True, e.CodatValidationError,
     "x: y"),
    (401, {}, False, e.CodatAuthError, "check the API key of connection codat_prod"),
    (403, {}, False, e.CodatAuthError, "outdated or not linked"),
    (402, {}, False, e.CodatPaymentRequired, "limit"),
    (404, {"error": "Datatype X not supported"}, False, e.CodatNotFound, "Datatype X"),
    (405, {}, True, e.CodatMethodNotAllowed, "create-only"),
    (409, {"error": "Dataset still syncing"}, False, e.CodatNotReady, "queue a sync"),
    (409, {"error": "still being processed"}, True, e.CodatIdempotencyInFlight, "same key"),
    (422, {}, True, e.CodatIdempotencyMismatch, "new key"),
    (429, {}, False, e.CodatRateLimited, "Retry-After"),
    (500, {"correlationId": "c-9"}, False, e.CodatServerError, "c-9"),
    (503, {}, False, e.CodatServerError, "maintenance"),
])
def test_status_codes_map_to_actionable_exceptions(status, body, keyed, cls, hint):
    exc = e.error_from_response(status, {"statusCode": status, "service": "PublicApi", **body}, method="POST",
                                path="/companies/c/push", conn_id="codat_prod", keyed_post=keyed,
                                retry_after=2)
    assert type(exc) is cls
    assert hint in str(exc)
    assert exc.status_code == status and exc.service == "PublicApi"
    assert isinstance(exc, e.CodatError)


def test_rate_limited_keeps_retry_after_and_all_fields():
    exc = e.error_from_response(429,
                                {"canBeRetried": "Unknown", "detailedErrorCode": 0, "correlationId": "k"},
                                method="GET", path="/companies", retry_after=3600)
    assert isinstance(exc, e.CodatRateLimited) and exc.retry_after == 3600
    assert (exc.can_be_retried, exc.detailed_error_code, exc.correlation_id) == ("Unknown", 0, "k")
