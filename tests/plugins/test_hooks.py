"""CodatHook with a connection given through the environment (no metadata database needed)."""

from __future__ import annotations

import json

import httpx
import pytest

from receivables.codat import CodatClient
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
            body = {"results": [{"id": "c1", "name": "Acme"}], "pageNumber": 1, "pageSize": 500, "totalResults": 1,
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


def test_async_client_uses_the_same_settings(codat_env):
    hook = CodatHook()
    client = hook.get_async_client()
    assert client.settings is hook.settings
