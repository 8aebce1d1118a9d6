"""Helpers for the client's unit tests: a scripted fake of Codat behind ``httpx.MockTransport`` and a fake
clock.

The fake answers the way Codat does (CONTRACT.md §3, §4 and §11, and the sandbox's readings in
``codat_sandbox/__init__``): every answer carries the ``X-Rate-Limit-*`` headers, error bodies are Codat's
``ErrorMessage`` (statusCode, service, error, correlationId, validation, canBeRetried, detailedErrorCode),
push operations carry the status code and ``errorMessage`` that go with their status. A scripted answer
names the method and path it answers: a request the client sends to the wrong place fails the test
instead of silently taking the next answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

API_KEY = "sk-test-SECRET-9f8e7d6c5b4a"
COMPANY = "11111111-1111-4111-8111-111111111111"
CONNECTION = "22222222-2222-4222-8222-222222222222"

# What Codat sends on every answer (CONTRACT §4 "Rate limits", §11.11: the reset is the next UTC midnight).
RATE_LIMIT_HEADERS = {"X-Rate-Limit-Limit": "3000", "X-Rate-Limit-Remaining": "2990",
                      "X-Rate-Limit-Reset": "2026-11-26T00:00:00Z"}
# Codat's ErrorMessage.error texts for the statuses the tests use (docs errors.md wording).
ERROR_TEXT = {
    400: "Bad request", 401: "Unauthorized", 402: "Payment required", 403: "Forbidden", 404: "Not found",
    409: "The data type has not yet been synced", 429: "You have made too many requests in a given amount of "
    "time; please retry later.", 500: "An internal error occurred", 503: "The service is unavailable",
}
# PushOperation.statusCode per status (CONTRACT §11.1; 504 for TimedOut is the sandbox's reading).
PUSH_STATUS_CODES = {"Pending": 202, "Success": 200, "Failed": 400, "TimedOut": 504}
VALIDATOR_NAMES = {"invoices": "Invoice", "creditNotes": "CreditNote", "payments": "Payment",
                   "customers": "Customer", "directCosts": "DirectCost"}


def company_path(suffix: str = "") -> str:
    return f"/companies/{COMPANY}{suffix}"


def push_path(data_type: str, record_id: str | None = None) -> str:
    path = company_path(f"/connections/{CONNECTION}/push/{data_type}")
    return f"{path}/{record_id}" if record_id else path


def operation_path(key: str | None = None) -> str:
    return company_path(f"/push/{key}" if key else "/push")


@dataclass
class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass(frozen=True)
class Scripted:
    """One scripted answer and the request (method, path) it answers."""

    method: str
    path: str
    answer: httpx.Response | Exception


def scripted(method: str, path: str, answer: httpx.Response | Exception) -> Scripted:
    return Scripted(method.upper(), path, answer)


@dataclass
class Recorder:
    """Records requests and answers them from a queue of scripted answers, then from a handler.

    Each scripted answer is for one method and path; a request that does not match the next one fails.
    """

    handler: Callable[[httpx.Request], httpx.Response] | None = None
    script: list[Scripted] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            item = self.script[0]
            assert (request.method, request.url.path) == (item.method, item.path), (
                f"expected {item.method} {item.path}, the client sent {request.method} {request.url.path}")
            self.script.pop(0)
            if isinstance(item.answer, Exception):
                raise item.answer
            return item.answer
        assert self.handler is not None, f"unexpected request {request.method} {request.url}"
        return self.handler(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def envelope(results: list[dict], page: int, page_size: int, total: int, path: str = "/x",
             next_link: bool | None = None) -> dict:
    links = {"self": {"href": path}, "current": {"href": f"{path}?page={page}&pageSize={page_size}"}}
    if next_link if next_link is not None else page * page_size < total:
        links["next"] = {"href": f"{path}?page={page + 1}&pageSize={page_size}"}
    return {"results": results, "pageNumber": page, "pageSize": page_size, "totalResults": total,
            "_links": links}


def json_response(status: int, body: object, headers: dict | None = None) -> httpx.Response:
    """A JSON answer with Codat's rate-limit headers (``headers`` add to or override them)."""
    return httpx.Response(status, content=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", **RATE_LIMIT_HEADERS, **(headers or {})})


def error_body(status: int, error: str | None = None, *, correlation_id: str | None = None,
               validation: dict | None = None, service: str = "PublicApi") -> dict:
    """Codat's ``ErrorMessage`` (CONTRACT §4)."""
    return {"statusCode": status, "service": service, "error": error or ERROR_TEXT.get(status, "Error"),
            "correlationId": correlation_id or uuid.uuid4().hex, "validation": validation,
            "canBeRetried": "Unknown", "detailedErrorCode": 0}


def codat_error(status: int, error: str | None = None, *, headers: dict | None = None,
                correlation_id: str | None = None, validation: dict | None = None) -> httpx.Response:
    """An error answer as Codat sends it; a 429 says when to come back (``Retry-After``, default 1 s)."""
    if status == 429:
        headers = {"Retry-After": "1", "X-Rate-Limit-Remaining": "0", **(headers or {})}
    return json_response(status,
                         error_body(status, error, correlation_id=correlation_id, validation=validation),
                         headers)


def push_operation(key: str, status: str = "Pending", requested: str = "2026-11-25T10:00:00Z",
                   record_id: str | None = None, data_type: str = "invoices", **extra: object) -> dict:
    """A PushOperation in ``status`` with the statusCode, completedOnUtc and errorMessage that go with it.

    A ``Failed`` operation without ``validation`` in ``extra`` gets one validation error, as Codat's do.
    """
    body: dict = {"pushOperationKey": key, "companyId": COMPANY, "dataConnectionKey": CONNECTION,
                  "dataType": data_type, "requestedOnUtc": requested, "timeoutInMinutes": 30,
                  "status": status, "statusCode": PUSH_STATUS_CODES[status], "errorMessage": None,
                  "validation": {"errors": [], "warnings": []}, "changes": []}
    if status != "Pending":
        body["completedOnUtc"] = requested.replace("10:00:00", "10:00:03")
    if status == "Failed":
        body["errorMessage"] = (f"Push failed for {VALIDATOR_NAMES.get(data_type, 'Record')}: "
                                "see validation for more information")
        body["validation"] = {"errors": [{"itemId": "id", "message": "The record is not valid",
                                          "validatorName": VALIDATOR_NAMES.get(data_type, "Record")}],
                              "warnings": []}
    if status == "TimedOut":
        body["errorMessage"] = "The push operation timed out."
    if record_id:
        body["changes"] = [{"type": "Created", "recordRef": {"id": record_id, "dataType": data_type},
                            "attachmentId": None}]
    body.update(extra)
    return body
