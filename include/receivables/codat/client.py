"""Clients of a Codat-compatible API: :class:`CodatClient` (sync) and :class:`AsyncCodatClient` (async).

Both are thin drivers of :mod:`receivables.codat.core`, where request building, retries, paging and
settling are written once. The async client also caps concurrency per company (Codat allows 10) and
globally, and both keep connections alive in a pool.

    >>> with CodatClient(settings) as codat:
    ...     accounts = codat.list_accounts(company_id)
    ...     op = codat.push(company_id, connection_id, "invoices", body, idempotency_key=key)
    ...     final = codat.settle(company_id, [op.push_operation_key])
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from receivables.codat.core import Call, CodatCore, Flow, Send, Sleep, segment
from receivables.codat.models import (
    Account,
    BankAccount,
    Company,
    Connection,
    CreditNote,
    Customer,
    Invoice,
    Payment,
    PullOperation,
    PushOperation,
    PushOption,
    TaxRate,
    TrackingCategory,
)
from receivables.codat.query import Expr
from receivables.codat.retry import RetryPolicy
from receivables.settings import CodatSettings

# httpx logs every request at INFO; a night has hundreds of thousands. Task logs carry our own
# per-phase counts instead (receivables.sync), and httpx warnings still show.
logging.getLogger("httpx").setLevel(logging.WARNING)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Query = Expr | str | None


# A push-options read is advice: without a model the gate applies its own rules. So it gives up after this
# long instead of the full retry deadline: an options endpoint that keeps failing costs a night seconds.
OPTIONS_RETRY_SECONDS = 20.0


def _options_core(core: CodatCore, settings: CodatSettings, conn_id: str,
                  clock: Callable[[], float]) -> CodatCore:
    """A core like ``core`` whose retries stop after :data:`OPTIONS_RETRY_SECONDS`."""
    assert core.policy is not None
    policy = dataclasses.replace(core.policy, deadline_seconds=min(core.policy.deadline_seconds,
                                                                   OPTIONS_RETRY_SECONDS))
    return CodatCore(settings, conn_id=conn_id, policy=policy, clock=clock)


def options_path(company_id: str, connection_id: str, data_type: str) -> str:
    """Where a connection publishes its create/update model of a data type (CONTRACT §0: per connection)."""
    return f"{CodatCore.connection_path(company_id, connection_id)}/options/{segment(data_type)}"


class _Describe:
    """Shared repr: never shows the key."""

    _core: CodatCore

    def __repr__(self) -> str:
        core = self._core
        return f"{type(self).__name__}(base_url={core.settings.base_url!r}, conn_id={core.conn_id!r})"


def tls_context() -> ssl.SSLContext:
    """The certificate store httpx would load for ``verify=True``, loaded once per process.

    Both clients trust this one store: the async client's aiohttp transport would otherwise use the
    system's (``ssl.create_default_context()``) where httpx uses certifi's, so a CA bundle a user set
    up for one would not hold for the other.

    httpx builds a new SSL context for every client, and loading the CA bundle costs ≈ 28 ms of CPU —
    three clients per company task chain, a hundred companies a night. The same context (same
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` rules, via httpx itself) is shared instead; it is never changed
    after it is made, and a changed variable gets its own.
    """
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()


class CodatClient(_Describe):
    """Synchronous client. Thread-compatible for reads; one instance per task is the usual shape."""

    def __init__(self, settings: CodatSettings, *, transport: httpx.BaseTransport | None = None,
                 conn_id: str = "codat_default", sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 retry_policy: RetryPolicy | None = None) -> None:
        self._core = CodatCore(settings, conn_id=conn_id, policy=retry_policy, clock=clock)
        self._options = _options_core(self._core, settings, conn_id, clock)
        self._sleep = sleep
        self._http = httpx.Client(base_url=settings.base_url, transport=transport,
                                  verify=tls_context() if transport is None else True,
                                  headers=self._core.default_headers(), timeout=self._core.timeout(),
                                  limits=self._core.limits())

    @property
    def settings(self) -> CodatSettings:
        return self._core.settings

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CodatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- driver
    def _run(self, flow: Flow[T]) -> T:
        reply: Any = None
        while True:
            try:
                command = flow.send(reply)
            except StopIteration as stop:
                return stop.value
            if isinstance(command, Sleep):
                self._sleep(command.seconds)
                reply = None
            else:
                reply = self._send(command)

    def _send(self, command: Send) -> httpx.Response | Exception:
        call = command.call
        request = self._http.build_request(call.method, call.path, params=call.params, content=call.content,
                                           headers=self._core.call_headers(call))
        try:
            return self._http.send(request)
        except httpx.TransportError as exc:
            return exc

    def _get(self, path: str, *, params: dict[str, Any] | None = None, company_id: str | None = None) -> Any:
        return self._run(self._core.exchange(Call("GET", path, params=params, company_id=company_id)))

    def _pages(self, path: str, params: dict[str, Any], company_id: str | None,
               page_size: int | None = None) -> Iterator[dict[str, Any]]:
        pager = self._core.paginator(page_size)
        while pager.has_next:
            envelope = self._get(path, params=pager.update_request(params), company_id=company_id)
            yield from pager.update_state(envelope or {})

    # ---------------------------------------------------------------------------- companies, reads
    def list_companies(self) -> list[Company]:
        return [Company.model_validate(r) for r in self._pages("/companies", {}, None)]

    def get_company(self, company_id: str) -> Company:
        return Company.model_validate(self._get(f"/companies/{segment(company_id)}", company_id=company_id))

    def list_connections(self, company_id: str) -> list[Connection]:
        path = f"/companies/{segment(company_id)}/connections"
        return [Connection.model_validate(r) for r in self._pages(path, {}, company_id)]

    def get_connection(self, company_id: str, connection_id: str) -> Connection:
        """One connection, with its ``status`` (push only to ``Linked`` ones)."""
        return Connection.model_validate(self._get(self._core.connection_path(company_id, connection_id),
                                                   company_id=company_id))

    def get_push_options(self, company_id: str, connection_id: str, data_type: str) -> PushOption:
        """The platform's rules for pushing ``data_type`` through this connection (empty: none published).

        Codat advises reading them before building payloads; they are mostly static per platform.
        Retries stop after :data:`OPTIONS_RETRY_SECONDS` (the read is advice, see there).
        """
        call = Call("GET", options_path(company_id, connection_id, data_type), company_id=company_id)
        return PushOption.model_validate(self._run(self._options.exchange(call)) or {})

    def refresh(self, company_id: str, data_type: str, *,
                deadline_seconds: float | None = None) -> PullOperation | None:
        """Queue a refresh of a data type and wait briefly for it (see :meth:`CodatCore.refresh`)."""
        return self._run(self._core.refresh(company_id, data_type, deadline_seconds=deadline_seconds))

    def iter_records(self, company_id: str, data_type: str, *, connection_id: str | None = None,
                     query: Query = None, order_by: str | None = None, page_size: int | None = None,
                     modified_since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every record of a data type as raw dicts, page by page (the fast path)."""
        path = self._core.data_path(company_id, data_type, connection_id)
        params = self._core.list_params(query=query, order_by=order_by, modified_since=modified_since)
        return self._pages(path, params, company_id, page_size)

    def get_record(self, company_id: str, data_type: str, record_id: str, *,
                   connection_id: str | None = None) -> dict[str, Any]:
        path = f"{self._core.data_path(company_id, data_type, connection_id)}/{segment(record_id)}"
        return self._get(path, company_id=company_id)

    def _typed(self, model: type[M], company_id: str, data_type: str, **kwargs: Any) -> list[M]:
        return [model.model_validate(r) for r in self.iter_records(company_id, data_type, **kwargs)]

    def list_accounts(self, company_id: str, *, query: Query = None,
                      modified_since: datetime | None = None) -> list[Account]:
        return self._typed(Account, company_id, "chartOfAccounts", query=query, modified_since=modified_since)

    def list_bank_accounts(self, company_id: str, connection_id: str, *, query: Query = None,
                           modified_since: datetime | None = None) -> list[BankAccount]:
        return self._typed(BankAccount, company_id, "bankAccounts", connection_id=connection_id, query=query,
                           modified_since=modified_since)

    def list_tax_rates(self, company_id: str, *, query: Query = None,
                       modified_since: datetime | None = None) -> list[TaxRate]:
        return self._typed(TaxRate, company_id, "taxRates", query=query, modified_since=modified_since)

    def list_tracking_categories(self, company_id: str, *, query: Query = None,
                                 modified_since: datetime | None = None) -> list[TrackingCategory]:
        return self._typed(TrackingCategory, company_id, "trackingCategories", query=query,
                           modified_since=modified_since)

    def list_customers(self, company_id: str, *, query: Query = None,
                       modified_since: datetime | None = None) -> list[Customer]:
        return self._typed(Customer, company_id, "customers", query=query, modified_since=modified_since)

    def list_invoices(self, company_id: str, *, query: Query = None,
                      modified_since: datetime | None = None) -> list[Invoice]:
        return self._typed(Invoice, company_id, "invoices", query=query, modified_since=modified_since)

    def list_credit_notes(self, company_id: str, *, query: Query = None,
                          modified_since: datetime | None = None) -> list[CreditNote]:
        return self._typed(CreditNote, company_id, "creditNotes", query=query, modified_since=modified_since)

    def list_payments(self, company_id: str, *, query: Query = None,
                      modified_since: datetime | None = None) -> list[Payment]:
        return self._typed(Payment, company_id, "payments", query=query, modified_since=modified_since)

    # -------------------------------------------------------------------------------------- pushes
    def push(self, company_id: str, connection_id: str, data_type: str, body: Any, *, idempotency_key: str,
             record_id: str | None = None, force_update: bool = False,
             timeout_minutes: int | None = None) -> PushOperation:
        """Create (POST) or update (PUT, when ``record_id`` is given) one record; returns the operation."""
        call = self._core.push_call(company_id, connection_id, data_type, body,
                                    idempotency_key=idempotency_key, record_id=record_id,
                                    force_update=force_update, timeout_minutes=timeout_minutes)
        return self._core.push_operation(self._run(self._core.exchange(call)))

    def get_push_operation(self, company_id: str, key: str) -> PushOperation:
        return self._run(self._core.get_push_operation(company_id, key))

    def iter_push_operations(self, company_id: str, *, query: Query = None,
                             order_by: str | None = None) -> Iterator[PushOperation]:
        params = self._core.list_params(query=query, order_by=order_by)
        for record in self._pages(self._core.push_operation_path(company_id), params, company_id):
            yield PushOperation.model_validate(record)

    def settle(self, company_id: str, keys: Iterable[str], *, deadline_seconds: float | None = None,
               requested_since: datetime | None = None) -> dict[str, PushOperation]:
        """Wait for many operations with few requests (see :meth:`CodatCore.settle`)."""
        return self._run(self._core.settle(company_id, keys, deadline_seconds=deadline_seconds,
                                           requested_since=requested_since))


class AsyncCodatClient(_Describe):
    """Asynchronous client with a per-company cap (``max_concurrency_per_company``) and a global cap."""

    def __init__(self, settings: CodatSettings, *, transport: httpx.AsyncBaseTransport | None = None,
                 conn_id: str = "codat_default", sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 retry_policy: RetryPolicy | None = None) -> None:
        self._core = CodatCore(settings, conn_id=conn_id, policy=retry_policy, clock=clock)
        self._options = _options_core(self._core, settings, conn_id, clock)
        self._sleep = sleep
        limits = self._core.limits()
        # Without a transport given (tests give one), requests go straight to aiohttp: building an
        # httpx.Request (URL parsing, cookies) costs about as much CPU as the exchange itself.
        self._direct = None
        if transport is None:
            # Imported here: aiohttp costs a task process ~0.16 s to import, and only pushes need it.
            from receivables.codat.transport import AiohttpTransport
            self._direct = AiohttpTransport(limits, ssl_context=tls_context())
        self._http = httpx.AsyncClient(base_url=settings.base_url, transport=transport or self._direct,
                                       headers=self._core.default_headers(), timeout=self._core.timeout(),
                                       limits=limits)
        self._base_url = settings.base_url
        self._headers = self._core.default_headers()
        self._timeouts = self._direct.timeout(self._core.timeout()) if self._direct is not None else None
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._per_company: dict[str | None, asyncio.Semaphore] = {}

    @property
    def settings(self) -> CodatSettings:
        return self._core.settings

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncCodatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------------- driver
    async def _run(self, flow: Flow[T]) -> T:
        reply: Any = None
        while True:
            try:
                command = flow.send(reply)
            except StopIteration as stop:
                return stop.value
            if isinstance(command, Sleep):
                await self._sleep(command.seconds)
                reply = None
            else:
                reply = await self._send(command)

    def _company_slot(self, company_id: str | None) -> asyncio.Semaphore:
        slot = self._per_company.get(company_id)
        if slot is None:
            slot = asyncio.Semaphore(self.settings.max_concurrency_per_company)
            self._per_company[company_id] = slot
        return slot

    async def _send(self, command: Send) -> httpx.Response | Exception:
        call = command.call
        if self._direct is not None:
            url = self._base_url + call.path
            if call.params:
                url += "?" + self._direct.query_string(call.params)
            headers = {**self._headers, **self._core.call_headers(call)}
            async with self._global, self._company_slot(call.company_id):
                try:
                    return await self._direct.answer(call.method, url, headers, call.content,
                                                     self._timeouts)
                except httpx.TransportError as exc:
                    return exc
        request = self._http.build_request(call.method, call.path, params=call.params, content=call.content,
                                           headers=self._core.call_headers(call))
        # Slots are held for the exchange only, never while backing off.
        async with self._global, self._company_slot(call.company_id):
            try:
                return await self._http.send(request)
            except httpx.TransportError as exc:
                return exc

    async def _get(self, path: str, *, params: dict[str, Any] | None = None,
                   company_id: str | None = None) -> Any:
        return await self._run(self._core.exchange(Call("GET", path, params=params, company_id=company_id)))

    async def _pages(self, path: str, params: dict[str, Any], company_id: str | None,
                     page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        pager = self._core.paginator(page_size)
        while pager.has_next:
            envelope = await self._get(path, params=pager.update_request(params), company_id=company_id)
            for record in pager.update_state(envelope or {}):
                yield record

    # ---------------------------------------------------------------------------- companies, reads
    async def list_companies(self) -> list[Company]:
        return [Company.model_validate(r) async for r in self._pages("/companies", {}, None)]

    async def get_company(self, company_id: str) -> Company:
        body = await self._get(f"/companies/{segment(company_id)}", company_id=company_id)
        return Company.model_validate(body)

    async def list_connections(self, company_id: str) -> list[Connection]:
        path = f"/companies/{segment(company_id)}/connections"
        return [Connection.model_validate(r) async for r in self._pages(path, {}, company_id)]

    async def get_connection(self, company_id: str, connection_id: str) -> Connection:
        body = await self._get(self._core.connection_path(company_id, connection_id), company_id=company_id)
        return Connection.model_validate(body)

    async def get_push_options(self, company_id: str, connection_id: str, data_type: str) -> PushOption:
        call = Call("GET", options_path(company_id, connection_id, data_type), company_id=company_id)
        return PushOption.model_validate(await self._run(self._options.exchange(call)) or {})

    async def refresh(self, company_id: str, data_type: str, *,
                      deadline_seconds: float | None = None) -> PullOperation | None:
        return await self._run(self._core.refresh(company_id, data_type, deadline_seconds=deadline_seconds))

    def iter_records(self, company_id: str, data_type: str, *, connection_id: str | None = None,
                     query: Query = None, order_by: str | None = None, page_size: int | None = None,
                     modified_since: datetime | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every record of a data type as raw dicts (``async for``)."""
        path = self._core.data_path(company_id, data_type, connection_id)
        params = self._core.list_params(query=query, order_by=order_by, modified_since=modified_since)
        return self._pages(path, params, company_id, page_size)

    async def get_record(self, company_id: str, data_type: str, record_id: str, *,
                         connection_id: str | None = None) -> dict[str, Any]:
        path = f"{self._core.data_path(company_id, data_type, connection_id)}/{segment(record_id)}"
        return await self._get(path, company_id=company_id)

    async def _typed(self, model: type[M], company_id: str, data_type: str, **kwargs: Any) -> list[M]:
        return [model.model_validate(r) async for r in self.iter_records(company_id, data_type, **kwargs)]

    async def list_accounts(self, company_id: str, *, query: Query = None,
                            modified_since: datetime | None = None) -> list[Account]:
        return await self._typed(Account, company_id, "chartOfAccounts", query=query,
                                 modified_since=modified_since)

    async def list_bank_accounts(self, company_id: str, connection_id: str, *, query: Query = None,
                                 modified_since: datetime | None = None) -> list[BankAccount]:
        return await self._typed(BankAccount, company_id, "bankAccounts", connection_id=connection_id,
                                 query=query, modified_since=modified_since)

    async def list_tax_rates(self, company_id: str, *, query: Query = None,
                             modified_since: datetime | None = None) -> list[TaxRate]:
        return await self._typed(TaxRate, company_id, "taxRates", query=query, modified_since=modified_since)

    async def list_tracking_categories(self, company_id: str, *, query: Query = None,
                                       modified_since: datetime | None = None) -> list[TrackingCategory]:
        return await self._typed(TrackingCategory, company_id, "trackingCategories", query=query,
                                 modified_since=modified_since)

    async def list_customers(self, company_id: str, *, query: Query = None,
                             modified_since: datetime | None = None) -> list[Customer]:
        return await self._typed(Customer, company_id, "customers", query=query,
                                 modified_since=modified_since)

    async def list_invoices(self, company_id: str, *, query: Query = None,
                            modified_since: datetime | None = None) -> list[Invoice]:
        return await self._typed(Invoice, company_id, "invoices", query=query, modified_since=modified_since)

    async def list_credit_notes(self, company_id: str, *, query: Query = None,
                                modified_since: datetime | None = None) -> list[CreditNote]:
        return await self._typed(CreditNote, company_id, "creditNotes", query=query,
                                 modified_since=modified_since)

    async def list_payments(self, company_id: str, *, query: Query = None,
                            modified_since: datetime | None = None) -> list[Payment]:
        return await self._typed(Payment, company_id, "payments", query=query, modified_since=modified_since)

    # -------------------------------------------------------------------------------------- pushes
    async def push(self, company_id: str, connection_id: str, data_type: str, body: Any, *,
                   idempotency_key: str, record_id: str | None = None, force_update: bool = False,
                   timeout_minutes: int | None = None) -> PushOperation:
        call = self._core.push_call(company_id, connection_id, data_type, body,
                                    idempotency_key=idempotency_key, record_id=record_id,
                                    force_update=force_update, timeout_minutes=timeout_minutes)
        return self._core.push_operation(await self._run(self._core.exchange(call)))

    async def get_push_operation(self, company_id: str, key: str) -> PushOperation:
        return await self._run(self._core.get_push_operation(company_id, key))

    async def iter_push_operations(self, company_id: str, *, query: Query = None,
                                   order_by: str | None = None) -> AsyncIterator[PushOperation]:
        params = self._core.list_params(query=query, order_by=order_by)
        async for record in self._pages(self._core.push_operation_path(company_id), params, company_id):
            yield PushOperation.model_validate(record)

    async def settle(self, company_id: str, keys: Iterable[str], *, deadline_seconds: float | None = None,
                     requested_since: datetime | None = None) -> dict[str, PushOperation]:
        return await self._run(self._core.settle(company_id, keys, deadline_seconds=deadline_seconds,
                                                 requested_since=requested_since))
