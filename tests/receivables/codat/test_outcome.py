"""Which transport errors can have reached the server: the client's half of "did the write happen?"."""

from __future__ import annotations

import ssl

import httpx

from receivables.codat import outcome as o


def test_transport_errors_that_never_reached_the_server():
    assert o.never_sent(httpx.ConnectError("[Errno 111] Connection refused"))
    assert o.never_sent(httpx.ConnectTimeout("timed out"))
    assert not o.never_sent(httpx.ReadTimeout("timed out"))
    assert not o.never_sent(httpx.RemoteProtocolError("Server disconnected"))
    assert o.unknown_host(httpx.ConnectError("[Errno -2] Name or service not known"))
    assert o.unknown_host(httpx.ConnectError("[Errno 8] nodename nor servname provided, or not known"))
    # A resolver that is down may recover: that is retried like any unreachable API.
    assert not o.unknown_host(httpx.ConnectError("[Errno -3] Temporary failure in name resolution"))
    assert not o.unknown_host(httpx.ConnectError("[Errno 111] Connection refused"))


def test_a_certificate_that_failed_verification_is_told_apart_from_a_refused_connection():
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    chained = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]")
    chained.__cause__ = cause
    assert o.untrusted_certificate(chained)  # httpx: the ssl error is the cause
    assert o.untrusted_certificate(httpx.ConnectError(  # our aiohttp transport: aiohttp's text of it
        "Cannot connect to host api.codat.io:443 ssl:True [SSLCertVerificationError: (1, '[SSL: "
        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate')]"))
    assert o.never_sent(chained)  # and nothing reached the server
    assert not o.untrusted_certificate(httpx.ConnectError("[Errno 111] Connection refused"))
    assert not o.untrusted_certificate(httpx.ReadTimeout("certificate verify failed"))  # not at connect
