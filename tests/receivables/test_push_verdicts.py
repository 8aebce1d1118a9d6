"""One home decides what an error or a push operation means for the write it carried (issue 11 defect 5)."""

from __future__ import annotations

import pytest

from receivables.codat import errors as e
from receivables.codat.models import PushOperation
from receivables.push import outcome as o

PUSH = "/companies/c/connections/k/push/invoices"


def answer(status: int, text: str = "", *, method: str = "POST", **body):
    return e.error_from_response(status, {"statusCode": status, "error": text, **body}, method=method,
                                 path=PUSH, keyed_post=method == "POST")


@pytest.mark.parametrize(("error", "status", "stop", "retryable"), [
    # may have happened: read back before any resend
    (answer(408, "Request Timeout"), o.UNKNOWN, False, True),
    (answer(409, "A request with this Idempotency-Key is still being processed."), o.UNKNOWN, False, True),
    (answer(500, "boom"), o.UNKNOWN, False, True),
    (answer(502), o.UNKNOWN, False, True),
    (answer(503, "maintenance"), o.UNKNOWN, False, True),
    (e.CodatTransportError("POST got no answer (ReadTimeout)", method="POST"), o.UNKNOWN, False, True),
    (ValueError("something no one expected"), o.UNKNOWN, False, True),
    # definitely did not happen, and the platform said why
    (answer(400, "bad", validation={"errors": [{"itemId": "dueDate", "message": "too early"}]}), o.FAILED,
     False, False),
    (answer(422, "key reused with another body"), o.FAILED, False, False),
    (answer(405, "create-only"), o.FAILED, False, False),
    (answer(404, "No invoices record with id 'x'", method="PUT"), o.FAILED, False, False),
    (e.CodatUnsupportedOperation("payments are create-only", method="PUT", path="push/payments"), o.FAILED,
     False, False),
    # not sent (or turned away unprocessed): send later; some stop the company
    (answer(429, "too many"), o.PENDING, True, True),
    (answer(401, "Data connection k is Deauthorized"), o.PENDING, True, False),
    (answer(403, "Data connection k is Unlinked"), o.PENDING, True, False),
    (answer(409, "Data connection k is PendingAuth: the company has not completed linking"), o.PENDING,
     True, False),
    (answer(402, "limit"), o.PENDING, True, False),
    (answer(404, "Company not found"), o.PENDING, True, False),
    (e.CodatUnreachable("the API at http://127.0.0.1:9 cannot be reached", method="POST"), o.PENDING, True,
     False),
])
def test_each_error_has_one_outcome(error, status, stop, retryable):
    verdict = o.of_error(error)
    assert (verdict.status, verdict.stop, verdict.retryable) == (status, stop, retryable), verdict.reason
    if status == o.UNKNOWN:
        assert "may have happened" in verdict.reason
    if status == o.FAILED:
        assert str(error) in verdict.reason  # the platform's own message, for finance to read


def test_a_409_names_in_flight_or_a_broken_connection_by_its_text():
    assert type(answer(409, "A request with this Idempotency-Key is still being processed.")) is \
        e.CodatIdempotencyInFlight
    broken = answer(409, "Data connection k is PendingAuth")
    assert type(broken) is e.CodatConnectionNotLinked and "re-link the connection in Codat" in str(broken)
    # A keyed POST's 409 that says neither is taken as in flight: unknown, never failed.
    assert type(answer(409, "Conflict")) is e.CodatIdempotencyInFlight
    assert type(answer(409, "Dataset still syncing", method="GET")) is e.CodatNotReady


def operation(status: str, code: int, **fields) -> PushOperation:
    return PushOperation.model_validate({"pushOperationKey": "op", "status": status, "statusCode": code,
                                         **fields})


def test_push_operations_follow_the_same_rules():
    assert o.of_operation(operation("Success", 200)).status == o.SUCCESS
    timed_out = o.of_operation(operation("TimedOut", 504))
    assert timed_out.status == o.TIMED_OUT and "may still have happened" in timed_out.reason
    refused = o.of_operation(operation("Failed", 400, errorMessage="Push failed", validation={
        "errors": [{"itemId": "dueDate", "message": "too early"}]}))
    assert refused.status == o.FAILED and refused.reason == "dueDate: too early"
    # The link broke while the operation waited: not the document's fault, and it was never written.
    broken = o.of_operation(operation("Failed", 401, errorMessage="Data connection k is Deauthorized"))
    assert (broken.status, broken.stop, broken.retryable) == (o.PENDING, True, False)
    assert o.of_operation(operation("Pending", 202)).status == o.PENDING
