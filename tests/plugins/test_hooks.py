"""CodatHook with a connection given through the environment (no metadata database needed)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from receivables.codat import CodatAuthError, CodatClient
from receivables_codat import CodatHook

KEY = "hook-test-key-5566778899"


@pytest.fixture
def codat_env(monkeypatch):
    conn = {"conn_type": "http", "host": "http://codat.test:8080", "password": KEY,
            "extra": json.dumps({"page_size": 500, "max_concurrency": 8})}
    monkeypatch.setenv("AIRFLOW_CONN_CODAT_DEFAULT", json.dumps(conn))
    return conn


def test_hook_declares_its_connection_type():
    assert (CodatHook.conn_name_attr, CodatHook.default_conn_name, CodatHook.conn_type) == (
        "codat_conn_id", "codat_default", "http")
    assert CodatHook.hook_name == "Codat (Receivables Sync)"


def test_constructor_reads_nothing_and_get_conn_builds_once(codat_env, monkeypatch):
    hook = CodatHook()
    assert hook._client is None and "settings" not in vars(hook)
    client = hook.get_conn()
    assert isinstance(client, CodatClient) and hook.get_conn() is client
    assert hook.settings.base_url == "http://codat.test:8080"
    assert hook.settings.page_size == 500 and hook.settings.max_concurrency == 8
    assert hook.settings.api_key.get_secret_value() == KEY
    assert KEY not in repr(hook) + repr(client) + repr(hook.settings)
    hook.close()


def test_test_connection_reports_success_and_failure(codat_env, monkeypatch):
    def answer(status):
        def handler(request):
            body = {"results": [{"id": "c1", "name": "Acme"}], "pageNumber": 1, "pageSize": 500,
                    "totalResults": 1,
                    "_links": {"self": {"href": "/companies"}, "current": {"href": "/companies"}}}
            return httpx.Response(status, json=body if status == 200 else {"error": "Unauthorized"})
        return handler

    hook = CodatHook()
    hook._client = CodatClient(hook.settings, transport=httpx.MockTransport(answer(200)))
    assert hook.test_connection() == (True, "Connected to http://codat.test:8080: 1 companies visible")
    hook._client = CodatClient(hook.settings, transport=httpx.MockTransport(answer(401)))
    ok, message = hook.test_connection()
    assert not ok and "check the API key of connection codat_default" in message and KEY not in message


def test_a_connection_without_key_is_refused_clearly(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CODAT_NOKEY", json.dumps({"conn_type": "http", "host": "http://x"}))
    with pytest.raises(ValueError, match="no API key"):
        CodatHook("codat_nokey").get_conn()


class _Recording(BaseHTTPRequestHandler):
    """A loopback stand-in for Codat: answers ``GET /companies`` (or 401) and records what it was sent."""

    seen: list[tuple[str, str]] = []
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).seen.append((self.path, self.headers.get("Authorization", "")))
        body = ({"results": [{"id": "c1", "name": "Acme"}, {"id": "c2", "name": "Beta"}], "pageNumber": 1,
                 "pageSize": 500, "totalResults": 2, "_links": {"self": {"href": "/companies"}}}
                if self.status == 200
                else {"statusCode": 401, "service": "PublicApi", "error": "Unauthorized",
                      "correlationId": "corr-9", "canBeRetried": "Unknown",
                      "detailedErrorCode": 0})
        raw = json.dumps(body).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_codat(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recording.seen, _Recording.status = [], 200
    conn = {"conn_type": "http", "host": f"http://127.0.0.1:{server.server_port}", "password": KEY,
            "extra": json.dumps({"page_size": 500})}
    monkeypatch.setenv("AIRFLOW_CONN_CODAT_LOOPBACK", json.dumps(conn))
    try:
        yield _Recording
    finally:
        server.shutdown()
        server.server_close()


def test_async_client_talks_to_the_connection_with_its_key_and_settings(loopback_codat):
    hook = CodatHook("codat_loopback")

    async def companies():
        async with hook.get_async_client() as client:
            return await client.list_companies()

    assert [c.name for c in asyncio.run(companies())] == ["Acme", "Beta"]
    (path, auth), = loopback_codat.seen
    assert path.startswith("/companies") and parse_qs(urlsplit(path).query)["pageSize"] == ["500"]
    assert auth == "Basic " + base64.b64encode(KEY.encode()).decode()
    loopback_codat.status = 401
    with pytest.raises(CodatAuthError, match="check the API key of connection codat_loopback") as info:
        asyncio.run(companies())
    assert KEY not in str(info.value)
