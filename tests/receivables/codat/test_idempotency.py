"""Idempotency keys: same content replays, new content gets a new key."""

from __future__ import annotations

import uuid

import pytest

from receivables.codat.idempotency import content_hash, idempotency_key


def test_keys_are_stable_uuids_that_change_with_content():
    h1, h2 = content_hash(b'{"totalAmount":240}'), content_hash(b'{"totalAmount":241}')
    key = idempotency_key("c1", "invoices", "INV-1", h1)
    assert key == idempotency_key("c1", "invoices", "INV-1", h1)
    assert uuid.UUID(key).version == 5
    assert key == "bee2d6ca-bc4a-59c5-8d6f-5b1e748a52c5"  # pinned: keys must not change between releases
    others = {idempotency_key("c1", "invoices", "INV-1", h2), idempotency_key("c2", "invoices", "INV-1", h1),
              idempotency_key("c1", "creditNotes", "INV-1", h1),
              idempotency_key("c1", "invoices", "INV-2", h1)}
    assert key not in others and len(others) == 4


def test_content_hash_is_sha256_hex_and_empty_parts_are_refused():
    assert content_hash(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    with pytest.raises(ValueError, match="source_id"):
        idempotency_key("c1", "invoices", "", "h")
