"""Which transport errors can have reached the server: the client's half of "did the write happen?".

The retry policy (:mod:`receivables.codat.retry`) resends only a request that certainly never reached
the API, and the pipeline's ledger must agree with it on which ones those are: both ask this module.

- :func:`never_sent`: the connection never opened (refused, timed out connecting, no free connection in
  the pool). Resending cannot duplicate anything.
- :func:`unknown_host`: the API's host name does not resolve — a configuration error, not a passing
  fault, so it is not retried.
- :func:`untrusted_certificate`: the API's TLS certificate failed verification (an unknown CA, a name
  that does not match) — a configuration error too: the same certificate fails every retry.

What an error or a push operation means for the ledger (``failed`` / ``unknown`` / ``pending``) is the
pipeline's decision, made once in :mod:`receivables.push.outcome`: the client reports what happened on
the wire and imports nothing of the pipeline's vocabulary.

    >>> never_sent(httpx.ConnectError("[Errno 111] Connection refused"))
    True
"""

from __future__ import annotations

import ssl

import httpx

# The request never reached the server: resending it cannot duplicate anything.
NEVER_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# What resolvers print when a host name does not exist (glibc, macOS, Windows). "Temporary failure in
# name resolution" is left out on purpose: a resolver that is down may recover, so it is retried.
_UNKNOWN_HOST_TEXT = ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                      "no address associated")


def never_sent(error: BaseException) -> bool:
    """True when a transport error happened before the request could reach the server."""
    return isinstance(error, NEVER_SENT_ERRORS)


def unknown_host(error: BaseException) -> bool:
    """True when the API's host name does not resolve: a configuration error, not a passing fault."""
    if not isinstance(error, httpx.ConnectError):
        return False
    text = f"{error} {error.__cause__ or ''}".lower()
    return any(marker in text for marker in _UNKNOWN_HOST_TEXT)


def untrusted_certificate(error: BaseException) -> bool:
    """True when the connection failed because the API's certificate was not verified.

    httpx chains the ``ssl`` error as a cause; our aiohttp transport passes on aiohttp's text of it."""
    if not isinstance(error, httpx.ConnectError):
        return False
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "certificate verify failed" in str(error).lower()
