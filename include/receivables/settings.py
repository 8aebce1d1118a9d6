"""Typed settings, parsed once from an Airflow connection (or a plain dict / env) and passed down.

Nothing below this module reads Airflow connections or environment variables itself: the DAG side
(hooks in ``plugins/``) turns a connection into one of these models, and the pipeline takes the model.

    >>> s = CodatSettings.from_connection(host="http://127.0.0.1:8000", password="key",
    ...                                   extra={"page_size": 500})
    >>> s.page_size
    500
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class CodatSettings(BaseModel):
    """How to reach a Codat-compatible API and how hard to push it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = "https://api.codat.io"
    api_key: SecretStr
    # Seconds for one HTTP exchange; the retry policy bounds the total.
    timeout_seconds: float = Field(30.0, gt=0)
    # Codat allows 10 concurrent requests per company (CONTRACT §4, §11.11).
    max_concurrency_per_company: int = Field(10, ge=1, le=10)
    max_concurrency: int = Field(32, ge=1)
    # CONTRACT §1 / §11.5: pages above 2000 are refused.
    page_size: int = Field(2000, ge=1, le=2000)
    push_timeout_minutes: int = Field(30, ge=1)
    # Total time the retry policy may spend on one request, waits included.
    retry_deadline_seconds: float = Field(300.0, gt=0)
    # A 429 whose Retry-After is longer than this is a quota stop, not a wait.
    max_retry_after_seconds: float = Field(120.0, ge=0)
    settle_deadline_seconds: float = Field(300.0, gt=0)
    settle_poll_interval_seconds: float = Field(0.5, gt=0)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            value = "https://" + value
        return value

    @classmethod
    def from_connection(
        cls, *, host: str | None, password: str | None, extra: Mapping[str, Any] | None = None,
        port: int | None = None, schema: str | None = None,
    ) -> CodatSettings:
        """Build from the parts of an Airflow ``http`` connection (host = base URL, password = API key)."""
        if not password:
            raise ValueError("the Codat connection has no API key: set it as the connection's password")
        base = (host or "https://api.codat.io").strip()
        if schema and "://" not in base:
            base = f"{schema}://{base}"
        if port and base.count(":") < 2:
            base = f"{base.rstrip('/')}:{port}"
        return cls(base_url=base, api_key=SecretStr(password), **dict(extra or {}))


class SyncSettings(BaseModel):
    """Business rules of a sync run that users may tune (connection extra or DAG params)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Batches are business days in this timezone (WAREHOUSE.md "Batches").
    timezone: str = "UTC"
    # Reconciliation tolerance in minor units of the document's currency.
    amount_tolerance_minor_units: int = Field(0, ge=0)
    # Alert when a day's exceptions exceed this count.
    alert_exception_threshold: int = Field(0, ge=0)
    # Where HTML/CSV reports are written.
    report_dir: str = "reports"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError: pydantic would not report it
            raise ValueError(f"unknown timezone {value!r}: use an IANA name such as Europe/London") from None
        return value
