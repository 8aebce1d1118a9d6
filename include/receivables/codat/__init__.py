"""The only part of the pipeline that speaks HTTP: a client for Codat-compatible APIs.

    >>> from receivables.codat import CodatClient, idempotency_key, content_hash
"""

from receivables.codat.client import AsyncCodatClient, CodatClient
from receivables.codat.errors import (
    CodatAuthError,
    CodatBadRequest,
    CodatConflict,
    CodatError,
    CodatIdempotencyInFlight,
    CodatIdempotencyMismatch,
    CodatMethodNotAllowed,
    CodatNotFound,
    CodatNotReady,
    CodatPaymentRequired,
    CodatRateLimited,
    CodatServerError,
    CodatTransportError,
    CodatUnsupportedOperation,
    CodatValidationError,
)
from receivables.codat.idempotency import content_hash, idempotency_key
from receivables.codat.models import PushOperation, PushOperationStatus
from receivables.codat.query import Q
from receivables.codat.retry import RetryPolicy

__all__ = [
    "AsyncCodatClient", "CodatAuthError", "CodatBadRequest", "CodatClient", "CodatConflict", "CodatError",
    "CodatIdempotencyInFlight", "CodatIdempotencyMismatch", "CodatMethodNotAllowed", "CodatNotFound",
    "CodatNotReady", "CodatPaymentRequired", "CodatRateLimited", "CodatServerError", "CodatTransportError",
    "CodatUnsupportedOperation", "CodatValidationError", "PushOperation", "PushOperationStatus", "Q",
    "RetryPolicy", "content_hash", "idempotency_key",
]
