"""Idempotency keys for pushes: the same content replays, changed content gets a new key.

Codat caches the first answer to a POST for 90 minutes per ``Idempotency-Key`` (CONTRACT §4, §11.7), so
a retry with the same key cannot create a second invoice, while an edited invoice must get a new key
(same key + different body = 422).

    >>> key = idempotency_key(company_id, "invoices", "INV-1001", content_hash(payload))
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespace: keys must be stable across runs, machines and Python versions.
NAMESPACE = uuid.UUID("5b0f1c2e-6a8d-5e3b-9c47-2f1d8a6b3e90")


def content_hash(payload: bytes) -> str:
    """SHA-256 hex digest of the exact bytes that will be sent."""
    return hashlib.sha256(payload).hexdigest()


def idempotency_key(company_id: str, document_type: str, source_id: str, content_hash: str) -> str:
    """A deterministic UUID (uuid5) for one version of one source document pushed to one company."""
    for name, value in (("company_id", company_id), ("document_type", document_type),
                        ("source_id", source_id), ("content_hash", content_hash)):
        if not value:
            raise ValueError(f"idempotency_key needs a non-empty {name}")
    return str(uuid.uuid5(NAMESPACE, "\x1f".join((company_id, document_type, source_id, content_hash))))
