"""CodatHook: the door from an Airflow connection to the Codat client.

The connection is an ``http`` connection: host = base URL (e.g. ``https://api.codat.io``), password =
API key, extra = any ``CodatSettings`` field as JSON (``{"page_size": 500, "max_concurrency": 16}``).

    >>> hook = CodatHook()                       # connection "codat_default"
    >>> companies = hook.get_conn().list_companies()
    >>> async with hook.get_async_client() as codat: ...

Outside a running task, Airflow 3's task SDK resolves connections from the environment
(``AIRFLOW_CONN_CODAT_DEFAULT`` as JSON or URI) and configured secrets backends.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from receivables.codat import AsyncCodatClient, CodatClient, CodatError
from receivables.settings import CodatSettings


class CodatHook(BaseHook):
    """Builds (lazily, once) the Codat clients for one Airflow connection."""

    conn_name_attr = "codat_conn_id"
    default_conn_name = "codat_default"
    conn_type = "http"
    hook_name = "Codat (Receivables Sync)"

    def __init__(self, codat_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.codat_conn_id = codat_conn_id
        self._client: CodatClient | None = None

    def __repr__(self) -> str:
        return f"CodatHook(codat_conn_id={self.codat_conn_id!r})"

    @cached_property
    def settings(self) -> CodatSettings:
        """Typed settings parsed once from the connection (host, password, extra)."""
        conn = self.get_connection(self.codat_conn_id)
        extra = conn.extra_dejson if conn.extra else {}
        if isinstance(extra, str):  # some secrets backends hand extra over as a JSON string
            extra = json.loads(extra or "{}")
        try:
            return CodatSettings.from_connection(host=conn.host, password=conn.password, extra=extra,
                                                 port=conn.port, schema=conn.schema)
        except ValueError as exc:
            # Pydantic errors can echo input values: keep only the field names and messages.
            raise ValueError(f"connection {self.codat_conn_id!r} is not a valid Codat connection: "
                             f"{_describe(exc)}") from None

    def get_conn(self) -> CodatClient:
        """The synchronous client (built on first use, then reused: keep-alive pool)."""
        if self._client is None:
            self._client = CodatClient(self.settings, conn_id=self.codat_conn_id)
        return self._client

    def get_async_client(self) -> AsyncCodatClient:
        """A new asynchronous client; use it as ``async with`` inside one event loop."""
        return AsyncCodatClient(self.settings, conn_id=self.codat_conn_id)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def test_connection(self) -> tuple[bool, str]:
        """Answer the UI's "Test" button by listing companies."""
        try:
            companies = self.get_conn().list_companies()
        except (CodatError, ValueError) as exc:
            return False, str(exc)
        return True, f"Connected to {self.settings.base_url}: {len(companies)} companies visible"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "login", "port"],
            "relabeling": {"host": "Base URL", "password": "API key"},
            "placeholders": {"host": "https://api.codat.io",
                             "extra": '{"page_size": 2000, "max_concurrency": 32}'},
        }


def _describe(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in errors())
    return str(exc)
