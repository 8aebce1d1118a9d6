"""The async client's transport: aiohttp's connection pool, behind httpx's transport API.

Its own module so that only a process that pushes imports aiohttp (≈0.16 s of a task's start): the sync
:class:`~receivables.codat.client.CodatClient` never needs it.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
import yarl

# Request headers aiohttp writes itself (its own encodings, which it then decodes; host; body length).
_HOP_HEADERS = frozenset({"accept-encoding", "host", "content-length", "transfer-encoding"})
# Answer headers that no longer describe the body once aiohttp has decoded it.
_DECODED_HEADERS = (b"content-encoding", b"content-length", b"transfer-encoding")


def client_timeout(timeout: Mapping[str, Any]) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts from httpx's (``Timeout.as_dict()``): pool wait, connect, and each read."""
    return aiohttp.ClientTimeout(total=None, connect=timeout.get("pool"), sock_connect=timeout.get("connect"),
                                 sock_read=timeout.get("read"))


class Answer:
    """What :class:`CodatCore` reads of an answer (``status_code``, ``content``, ``text``, ``headers``).

    The async client's direct path hands this to the core instead of an ``httpx.Response``: building one
    (header normalisation, content streams) cost about a fifth of the client's CPU per request.
    """

    __slots__ = ("_headers", "_raw_headers", "content", "status_code")

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        self.status_code, self.content = status_code, content
        self._raw_headers = raw_headers
        self._headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        # Only error answers are looked at (Retry-After, rate limits): built on first use.
        if self._headers is None:
            self._headers = httpx.Headers(self._raw_headers)
        return self._headers

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def query_string(params: Mapping[str, Any]) -> str:
    """``params`` encoded exactly as ``str(httpx.QueryParams(params))`` does, at a fraction of its cost."""
    pairs = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            pairs.append((str(key), _param_text(item)))
    return urlencode(pairs)


def _param_text(value: Any) -> str:
    # httpx's primitive_value_to_str: booleans in lower case, None as an empty value.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx's async API over aiohttp's connection pool: the async client's default transport.

    httpx's own async pool spends most of its time matching waiting requests to connections once
    dozens are in flight (≈400 req/s at 32-64 concurrent requests on 2 cores); aiohttp's pool does not
    (see ``benchmarks/RESULTS.md``). Errors are mapped so the retry policy can still tell a request that
    never left (``ConnectError``/``ConnectTimeout``/``PoolTimeout``: safe to resend) from one whose answer
    was lost (``ReadError``/``ReadTimeout``: the outcome is unknown). Bodies are read whole: API
    answers are JSON pages, never streams.
    """

    def __init__(self, limits: httpx.Limits, *, ssl_context: ssl.SSLContext | bool = True) -> None:
        self._limits = limits
        # True is aiohttp's own default store; the client passes the one the sync client uses.
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop (aiohttp binds the session to it).
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limits.max_connections or 0, limit_per_host=0,
                                             keepalive_timeout=self._limits.keepalive_expiry or 30.0,
                                             ssl=self._ssl)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False,
                                                  skip_auto_headers=("User-Agent",))
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _HOP_HEADERS]
        response = await self.exchange(request.method, str(request.url), headers, await request.aread(),
                                       timeout, request=request)
        response.request = request
        return response

    async def exchange(self, method: str, url: str, headers: Any, body: bytes | None,
                       timeout: Mapping[str, Any], *, request: httpx.Request | None = None) -> httpx.Response:
        """One exchange; ``url`` must be fully encoded already. Raises httpx's transport errors."""
        status, raw_headers, content = await self._raw(method, url, headers, body, client_timeout(timeout),
                                                       request=request)
        return httpx.Response(status, headers=raw_headers, content=content,
                              extensions={"http_version": b"HTTP/1.1"})

    # The async client's direct path (no httpx.Request, no httpx.Response): its pieces, prepared once.
    query_string = staticmethod(query_string)

    @staticmethod
    def timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
        return client_timeout(timeout.as_dict())

    async def answer(self, method: str, url: str, headers: Any, body: bytes | None,
                     timeout: aiohttp.ClientTimeout) -> Answer:
        """One exchange as an :class:`Answer`; ``url`` fully encoded. Raises httpx's transport errors."""
        return Answer(*await self._raw(method, url, headers, body, timeout))

    async def _raw(self, method: str, url: str, headers: Any, body: bytes | None,
                   timeout: aiohttp.ClientTimeout, *, request: httpx.Request | None = None,
                   ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One exchange as (status, raw headers, body)."""
        session = self._open()
        try:
            async with session.request(method, yarl.URL(url, encoded=True), headers=headers,
                                       data=body or None, allow_redirects=False, timeout=timeout) as answer:
                content = await answer.read()
                raw_headers = [(k, v) for k, v in answer.raw_headers
                               if k.lower() not in _DECODED_HEADERS]
                return answer.status, raw_headers, content
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except aiohttp.SocketTimeoutError as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except TimeoutError as exc:  # waiting for a free connection of the pool
            raise httpx.PoolTimeout(str(exc), request=request) from exc
        except (aiohttp.ClientError, OSError) as exc:  # sent, then the connection broke: outcome unknown
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
