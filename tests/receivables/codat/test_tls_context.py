"""The client's TLS trust store: loaded once per process, by httpx's own rules for ``verify=True``."""

from __future__ import annotations

import certifi
import pytest
from pydantic import SecretStr

from receivables.codat.client import CodatClient, tls_context
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
