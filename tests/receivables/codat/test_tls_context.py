"""The client's TLS trust store: loaded once per process, by httpx's own rules for ``verify=True``."""

from __future__ import annotations

import asyncio
import http.server
import shutil
import ssl
import subprocess
import threading

import certifi
import pytest
from pydantic import SecretStr

from receivables.codat.client import AsyncCodatClient, CodatClient, tls_context
from receivables.codat.errors import CodatUnreachable
from receivables.settings import CodatSettings


def _settings() -> CodatSettings:
    return CodatSettings(base_url="https://api.codat.example", api_key=SecretStr("k"))


def test_every_client_shares_one_loaded_trust_store(monkeypatch):
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    first, second = CodatClient(_settings()), CodatClient(_settings())
    try:
        assert tls_context() is tls_context()
        assert tls_context().cert_store_stats()["x509_ca"] > 0  # the CA bundle is really loaded
    finally:
        first.close()
        second.close()


def test_a_changed_certificate_variable_is_honoured_not_served_from_the_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    loaded = tls_context()
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):  # httpx's own rule: SSL_CERT_FILE names the bundle
        CodatClient(_settings())
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert tls_context() is loaded


@pytest.fixture
def self_signed_server(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate no public store knows; yields its PEM and URL."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)

    class Company(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            body = b'{"id": "c1", "name": "Acme"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Company)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cert, f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_pushes_trust_the_same_store_as_the_reads(monkeypatch, self_signed_server):
    """The async client (the pushes, over aiohttp) verifies with the store the sync client uses: left to
    itself aiohttp would use the system's store where httpx uses certifi's, and a server one client
    trusts would be refused by the other. A store that knows only the test's certificate shows which
    one each client verifies with."""
    cert, url = self_signed_server
    only_ours = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr("receivables.codat.client.tls_context", lambda: only_ours)
    settings = CodatSettings(base_url=url, api_key=SecretStr("k"), retry_deadline_seconds=5)
    with CodatClient(settings) as client:
        assert client.get_company("c1").name == "Acme"

    async def read_async():
        client = AsyncCodatClient(settings)
        try:
            return (await client.get_company("c1")).name
        finally:
            await client.aclose()

    assert asyncio.run(read_async()) == "Acme"


def test_an_untrusted_certificate_fails_at_once_and_says_which_bundle_to_set(self_signed_server, caplog):
    """The same certificate fails every retry: the error comes on the first attempt, for the reads and
    the pushes alike, and names the variable that fixes it instead of "check that the API is up"."""
    _, url = self_signed_server
    settings = CodatSettings(base_url=url, api_key=SecretStr("k"))  # the default 300 s retry deadline
    with CodatClient(settings) as client, pytest.raises(CodatUnreachable) as sync_error:
        client.get_company("c1")

    async def read_async():
        client = AsyncCodatClient(settings)
        try:
            await client.get_company("c1")
        finally:
            await client.aclose()

    with pytest.raises(CodatUnreachable) as async_error:
        asyncio.run(read_async())
    for error in (sync_error.value, async_error.value):
        assert "certificate" in str(error) and "SSL_CERT_FILE" in str(error), error
        assert "nothing was sent" in str(error)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
