"""uvicorn's httptools protocol, with a response's status line and headers sent in the same write as its body.

uvicorn writes the head of a response (``http.response.start``) and its body (``http.response.body``) to
the socket in two ``transport.write`` calls: two send system calls and two TCP segments per answer, and the
client wakes up for each. Every sandbox answer is one head and one body sent back to back, so
:class:`CoalescingHttpToolsProtocol` holds the head until the next write of the same request and sends
both as one: the same bytes in the same order, one system call. Nothing else changes: the
``100 Continue`` interim response is still written at once, and so is a ``HEAD`` request's head (it has no
body write); a head whose request closes the connection before any body is written is sent before the
close; every other method of the transport is the transport's own (after any held head is sent).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _HeadHoldingTransport:
    """One request's view of the connection's transport: its first write (the head) waits for the next."""

    __slots__ = ("_transport", "_head", "_state")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._head = b""
        self._state = 0  # 0: nothing written yet, 1: the head is held, 2: written through

    def write(self, data: bytes) -> None:
        state = self._state
        if state == 1:
            self._state = 2
            head, self._head = self._head, b""
            self._transport.write(head + data)
        elif state == 0 and data != _CONTINUE:
            self._state = 1
            self._head = bytes(data)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        if self._state == 1:
            self._state = 2
            head, self._head = self._head, b""
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # Any other transport method (is_closing, get_extra_info, pause_reading, …): the head goes first.
        self.flush()
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` whose requests each write through a :class:`_HeadHoldingTransport`."""

    def on_headers_complete(self) -> None:
        existing = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        # A HEAD answer has no body write to join (uvicorn writes nothing for it): its head goes alone.
        if cycle is not None and cycle is not existing and cycle.scope["method"] != "HEAD":
            # The request's task has been created, not run: nothing was written through the cycle yet.
            cycle.transport = _HeadHoldingTransport(cycle.transport)
