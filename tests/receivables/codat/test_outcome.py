"""Which transport errors can have reached the server: the client's half of "did the write happen?"."""

from __future__ import annotations

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
