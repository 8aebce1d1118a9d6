"""What can go wrong when talking to a Codat-compatible API, as exceptions a caller can act on.

Every HTTP error answer is parsed from Codat's ``ErrorMessage`` body into a :class:`CodatError` subclass
chosen by status code; each message ends with what to do about it. An exchange that never got an answer
raises :class:`CodatTransportError` (for a POST the outcome is then unknown).

    >>> try:
    ...     client.push(company_id, connection_id, "invoices", body, idempotency_key=key)
    ... except CodatValidationError as exc:
    ...     print(exc.validation_messages())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_HINTS: dict[int, str] = {
    400: "fix the request (body, query or page size) before retrying",
    401: "check the API key of connection {conn_id}",
    402: "the Codat account has reached a limit (companies or plan): contact the account owner",
    403: "the API key of connection {conn_id} is outdated or not linked to this company",
    404: "check the company id, connection id and data type",
    405: "this operation is not supported for this data type (e.g. payments are create-only)",
    409: "the data type has not been synced yet: queue a sync and try again later",
    422: "the same Idempotency-Key was sent with a different body: derive a new key from the new content",
    429: "the rate limit was reached: wait for Retry-After (the run can resume later)",
    500: "the API failed: retry later, quote the correlation id to support if it persists",
    503: "the API is under maintenance: retry later",
}


class CodatError(Exception):
    """An error answer from the API (parsed ``ErrorMessage``), with a hint on what to do."""

    hint_status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        service: str | None = None,
        error: str | None = None,
        correlation_id: str | None = None,
        can_be_retried: str | None = None,
        validation: Mapping[str, Any] | None = None,
        detailed_error_code: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.service = service
        self.error = error
        self.correlation_id = correlation_id
        self.can_be_retried = can_be_retried
        self.validation = dict(validation) if validation else None
        self.detailed_error_code = detailed_error_code
        self.method = method
        self.path = path

    def validation_messages(self) -> list[str]:
        """The platform's validation errors as ``"itemId: message"`` strings (empty when none)."""
        return validation_messages(self.validation)


class CodatBadRequest(CodatError):
    """400: malformed request, query or paging parameters."""


class CodatValidationError(CodatBadRequest):
    """400 carrying validation errors from the platform."""


class CodatAuthError(CodatError):
    """401 / 403: the API key is wrong, outdated, or not allowed to see this company."""


class CodatPaymentRequired(CodatError):
    """402: the Codat account has hit a plan limit."""


class CodatNotFound(CodatError):
    """404: company, connection, record or data type not found."""


class CodatMethodNotAllowed(CodatError):
    """405: the operation is not supported (e.g. updating a payment)."""


class CodatConflict(CodatError):
    """409: the resource is not in a state to answer."""


class CodatNotReady(CodatConflict):
    """409 on a read: the data type's dataset has not been requested or is still syncing."""


class CodatIdempotencyInFlight(CodatConflict):
    """409 on a keyed POST: a request with the same Idempotency-Key is still being processed."""


class CodatConnectionNotLinked(CodatConflict):
    """The company's connection to its platform is not ``Linked`` (Unlinked, Deauthorized, PendingAuth).

    Raised for a 409 that says so, and by the pipeline's own check before pushing. ``connection_status``
    is the status when known. Nothing can be pushed until someone re-links the connection in Codat.
    """

    def __init__(self, message: str, *, connection_status: str | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.connection_status = connection_status


class CodatIdempotencyMismatch(CodatError):
    """422: the Idempotency-Key was used before with a different body."""


class CodatRateLimited(CodatError):
    """429 that the retry policy will not wait out (e.g. the daily quota is spent).

    ``retry_after`` is the number of seconds the API asked us to wait (``None`` when unknown).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after


class CodatServerError(CodatError):
    """5xx: the API or the platform behind it failed."""


class CodatTransportError(CodatError):
    """The exchange never got an answer (connect/read error, timeout, dropped connection).

    For a POST the outcome is unknown: the record may or may not have been created.
    """


class CodatUnreachable(CodatTransportError):
    """The API could not be reached at all (unknown host, connection refused): nothing was sent."""


class CodatUnsupportedOperation(CodatError, ValueError):
    """Refused client-side because the API would refuse it (e.g. PUT on payments)."""


# How a 409's text tells "your first request is still running" from "the connection is not linked".
_IN_FLIGHT_WORDS = ("idempoten", "in progress", "still being processed", "in flight", "in-flight")
_CONNECTION_WORDS = ("unlinked", "deauthori", "not linked", "pendingauth", "connection")


def validation_messages(validation: Mapping[str, Any] | None) -> list[str]:
    """Flatten a ``{errors: [...], warnings: [...]}`` block into readable error lines."""
    if not validation:
        return []
    lines = []
    for item in validation.get("errors") or []:
        item_id = item.get("itemId") if isinstance(item, Mapping) else None
        message = item.get("message") if isinstance(item, Mapping) else str(item)
        lines.append(f"{item_id}: {message}" if item_id else str(message))
    return lines


def error_class(status_code: int, body: Mapping[str, Any], *, keyed_post: bool) -> type[CodatError]:
    """Pick the exception class for an error answer."""
    if status_code == 400:
        return CodatValidationError if validation_messages(body.get("validation")) else CodatBadRequest
    if status_code in (401, 403):
        return CodatAuthError
    if status_code == 402:
        return CodatPaymentRequired
    if status_code == 404:
        return CodatNotFound
    if status_code == 405:
        return CodatMethodNotAllowed
    if status_code == 409:
        text = str(body.get("error") or "").lower()
        if any(word in text for word in _IN_FLIGHT_WORDS):
            return CodatIdempotencyInFlight
        if any(word in text for word in _CONNECTION_WORDS):
            return CodatConnectionNotLinked
        # A 409 on a keyed POST that says neither is taken as in flight: its outcome is unknown.
        return CodatIdempotencyInFlight if keyed_post else CodatNotReady
    if status_code == 422:
        return CodatIdempotencyMismatch
    if status_code == 429:
        return CodatRateLimited
    if status_code >= 500:
        return CodatServerError
    return CodatError


def error_from_response(
    status_code: int,
    body: Mapping[str, Any] | None,
    *,
    method: str,
    path: str,
    conn_id: str = "codat_default",
    keyed_post: bool = False,
    retry_after: float | None = None,
) -> CodatError:
    """Build the exception for an HTTP error answer; ``body`` is the parsed ``ErrorMessage`` (may be
    empty)."""
    body = body or {}
    cls = error_class(status_code, body, keyed_post=keyed_post)
    error_text = str(body.get("error") or "").strip() or f"HTTP {status_code}"
    server_side = status_code >= 500 and status_code != 503
    hint_key = 409 if cls is CodatNotReady else (500 if server_side else status_code)
    if cls is CodatIdempotencyInFlight:
        hint = "a request with this Idempotency-Key is still in progress: retry with the same key shortly"
    elif cls is CodatConnectionNotLinked:
        hint = ("the company's connection to its accounting platform is not linked: re-link the connection "
                "in Codat")
    else:
        hint = _HINTS.get(hint_key, "see the error text").format(conn_id=conn_id)
    parts = [f"{method} {path} failed with {status_code}: {error_text}"]
    details = validation_messages(body.get("validation"))
    if details:
        parts.append("validation: " + "; ".join(details))
    if body.get("correlationId"):
        parts.append(f"correlation id {body['correlationId']}")
    message = " | ".join(parts) + f" -> {hint}"
    fields: dict[str, Any] = dict(
        status_code=status_code,
        service=body.get("service"),
        error=body.get("error"),
        correlation_id=body.get("correlationId"),
        can_be_retried=None if body.get("canBeRetried") is None else str(body.get("canBeRetried")),
        validation=body.get("validation"),
        detailed_error_code=body.get("detailedErrorCode"),
        method=method,
        path=path,
    )
    if cls is CodatRateLimited:
        return CodatRateLimited(message, retry_after=retry_after, **fields)
    return cls(message, **fields)
