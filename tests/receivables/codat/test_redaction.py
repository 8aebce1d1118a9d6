"""Secrets never get logged."""

from __future__ import annotations

import base64
import logging

from receivables.codat.redaction import RedactingFilter, get_logger, redact, redact_headers, register_secret

KEY = "redaction-test-key-123456"


def test_registered_keys_tokens_and_secret_pairs_are_masked():
    register_secret(KEY)
    encoded = base64.b64encode(KEY.encode()).decode()
    text = redact(f"key {KEY} header Basic {encoded} url https://x/y?api_key=abc&page=2 password: hunter2")
    assert KEY not in text and encoded not in text and "abc" not in text and "hunter2" not in text
    assert "page=2" in text


def test_headers_are_masked_by_name():
    assert redact_headers({"Authorization": "Basic xyz", "Accept": "json"}) == {
        "Authorization": "***", "Accept": "json"}


def test_the_client_logger_scrubs_messages_args_and_tracebacks(caplog):
    register_secret(KEY)
    logger = get_logger()
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    get_logger()
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    caplog.set_level(logging.INFO, logger=logger.name)
    try:
        raise RuntimeError(f"boom {KEY}")
    except RuntimeError:
        logger.exception("failed with %s", KEY)
    assert KEY not in caplog.text and "failed with ***" in caplog.text and "boom ***" in caplog.text
