"""What a failed request or a push operation means for the write it carried: THE home of that decision.

One function, :func:`of_error`, answers for every error the client can raise, with one ledger state
(:class:`~receivables.documents.LedgerStatus`):

- ``failed``: the write definitely did not happen, and the platform said why (a 4xx refusal such as a
  validation error, a 405, a 422 key mismatch). The same content would be refused again, so the
  ledger keeps the platform's message and the document waits for a change.
- ``unknown``: the write may have happened. The request was sent and the answer was lost or
  said nothing definite: 408, a 409 "the first request with this key is still in flight", any 5xx, a
  read timeout or a dropped connection after the retry deadline. The next run reads the platform back
  before it resends anything.
- ``pending``: the write was not sent, or it was turned away before anything was processed. This covers
  a connection that never opened, a 429, a refused key, a broken connection and an unknown company.
  It goes out again later.

Some errors also end the rest of the company's pushing (``stop``). Two are worth naming. The daily
quota (``retryable``) is finished by the next run. A refused key or an unlinked connection (not
retryable) needs someone to act first, and no amount of waiting helps. :func:`of_operation` applies the
same rules to a settled push operation (``success`` and ``timed_out`` besides).

It lives beside push, not in the API client (``codat/``): the client reports what happened on the wire
(errors, operations, :func:`~receivables.codat.outcome.never_sent`), the pipeline decides what that means
for its ledger — and ``codat/`` imports nothing of the pipeline's.

    >>> outcome = of_error(exc)
    >>> outcome.status, outcome.stop, outcome.retryable
    (<LedgerStatus.UNKNOWN: 'unknown'>, False, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from receivables.codat.errors import (
    CodatAuthError,
    CodatConnectionNotLinked,
    CodatError,
    CodatIdempotencyInFlight,
    CodatNotFound,
    CodatNotReady,
    CodatPaymentRequired,
    CodatRateLimited,
    CodatTransportError,
    CodatUnreachable,
    CodatUnsupportedOperation,
)
from receivables.codat.outcome import never_sent, unknown_host
from receivables.documents import LedgerStatus

FAILED, UNKNOWN, PENDING = LedgerStatus.FAILED, LedgerStatus.UNKNOWN, LedgerStatus.PENDING
SUCCESS, TIMED_OUT = LedgerStatus.SUCCESS, LedgerStatus.TIMED_OUT
STILL_PENDING = "the push operation is still pending"

__all__ = ["FAILED", "PENDING", "STILL_PENDING", "SUCCESS", "TIMED_OUT", "UNKNOWN", "Outcome", "never_sent",
           "of_error", "of_operation", "unknown_host"]


@dataclass(frozen=True)
class Outcome:
    """What one error means: the ledger state of the write, and whether the rest of the work can go on.

    ``reason`` is what the ledger's ``last_error`` says. ``stop`` means that sending more documents of
    this company cannot succeed now. ``retryable`` means that a later attempt (a task retry, the next run)
    can succeed without anyone acting.
    """

    status: LedgerStatus
    reason: str
    stop: bool = False
    retryable: bool = True

    @property
    def may_have_written(self) -> bool:
        return self.status == UNKNOWN


def _not_sent(message: str, *, retryable: bool) -> Outcome:
    return Outcome(PENDING, f"not sent: {message}", stop=True, retryable=retryable)


def of_error(error: BaseException) -> Outcome:
    """The outcome of the write an error interrupted. This is the only place that decides it.

    Anything this function does not recognise counts as ``unknown``, because guessing "it did not happen"
    is the one mistake that can duplicate a document.
    """
    message = str(error)
    if isinstance(error, CodatUnreachable):
        # Nothing reached the API, and nothing further will reach it in this run.
        return _not_sent(message, retryable=False)
    if isinstance(error, CodatTransportError):
        return Outcome(UNKNOWN, f"no answer from the API, the write may have happened: {message}")
    if isinstance(error, CodatRateLimited | CodatNotReady):
        return _not_sent(message, retryable=True)
    if isinstance(error, CodatIdempotencyInFlight):
        return Outcome(UNKNOWN, "the first request with this key was still in flight, the write may have "
                                f"happened: {message}")
    if isinstance(error, CodatConnectionNotLinked | CodatAuthError | CodatPaymentRequired):
        return _not_sent(message, retryable=False)
    if isinstance(error, CodatNotFound):
        if error.method == "PUT":  # the record to update is gone: this document's own problem
            return Outcome(FAILED, message, retryable=False)
        return _not_sent(message, retryable=False)
    if isinstance(error, CodatError) and error.status_code is not None:
        status = error.status_code
        if status == 408 or status >= 500:
            return Outcome(UNKNOWN, f"no definite answer ({status}), the write may have happened: {message}")
        if 400 <= status < 500:
            return Outcome(FAILED, message, retryable=False)
    if isinstance(error, CodatUnsupportedOperation):
        # Refused before sending (an update of a create-only type): it definitely did not happen.
        return Outcome(FAILED, message, retryable=False)
    return Outcome(UNKNOWN, "unexpected error, the write may have happened: "
                            f"{type(error).__name__}: {message}")


# A Failed operation with one of these codes was refused for the connection, not for the document
# (the link broke while the operation waited): the platform never saw the write.
_REFUSED_FOR_CONNECTION = frozenset({401, 403})
_CONNECTION_WORDS = ("unlinked", "deauthori", "pendingauth", "not linked")


def of_operation(operation) -> Outcome:
    """The ledger state of a push operation (``PushOperation``), by the same rules as :func:`of_error`.

    ``TimedOut`` may still have written (CONTRACT §3 "Timeouts"), so it is read back and never
    recorded as failed. A ``Failed`` operation refused because of the connection is ``pending``, and it
    stops the company. Any other ``Failed`` is a definite failure that carries the platform's messages.
    """
    status = getattr(operation.status, "value", operation.status)
    if status == "Success":
        return Outcome(SUCCESS, "")
    if status == "TimedOut":
        return Outcome(TIMED_OUT, "the push operation timed out and the write may still have happened: it is "
                                  "read back before anything is sent again")
    if status == "Failed":
        text = "; ".join(operation.validation_messages()) or operation.error_message \
            or "push operation Failed"
        connection = any(w in text.lower() for w in _CONNECTION_WORDS)
        if operation.status_code in _REFUSED_FOR_CONNECTION or connection:
            return Outcome(PENDING, f"not sent: the platform refused the write for the connection: {text}",
                           stop=True, retryable=False)
        return Outcome(FAILED, text, retryable=False)
    return Outcome(PENDING, STILL_PENDING)
