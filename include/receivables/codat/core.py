"""The sans-IO heart shared by :class:`CodatClient` and :class:`AsyncCodatClient`.

Request building, response handling, retry decisions, paging and settling are written once, here, as
generators ("flows") that *yield commands* — :class:`Send` one HTTP request, or :class:`Sleep` — and
receive the outcome back. The sync client drives a flow with ``httpx.Client`` and ``time.sleep``; the
async client with ``httpx.AsyncClient`` and ``asyncio.sleep``. Neither client makes a decision itself.

    >>> flow = core.exchange(Call("GET", "/companies"))
    >>> command = flow.send(None)          # Send(call=...)
    >>> command = flow.send(response)      # -> StopIteration(value=parsed JSON) or Sleep(...) on retry
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel

from receivables.codat.errors import (
    CodatConflict,
    CodatError,
    CodatIdempotencyInFlight,
    CodatMethodNotAllowed,
    CodatNotFound,
    CodatTransportError,
    CodatUnreachable,
    CodatUnsupportedOperation,
    error_from_response,
)
from receivables.codat.models import PullOperation, PushModel, PushOperation, dumps
from receivables.codat.outcome import never_sent, unknown_host, untrusted_certificate
from receivables.codat.paging import PageNumberPaginator
from receivables.codat.query import Expr, Q, as_expr
from receivables.codat.redaction import basic_auth_value, get_logger, redact, register_secret
from receivables.codat.retry import RetryPolicy
from receivables.codat.settling import OperationTimes
from receivables.settings import CodatSettings

T = TypeVar("T")
log = get_logger()

# Data types whose read path differs from their name, and those that are create-only (CONTRACT §7, §11.9).
READ_PATH_SEGMENT = {"chartOfAccounts": "accounts"}
# Codat lists these only per connection; it has no company-scoped list path for them (CONTRACT §0).
CONNECTION_SCOPED_READS = frozenset({"bankAccounts", "directCosts", "directIncomes", "transfers",
                                     "accountTransactions"})
CREATE_ONLY = frozenset({"payments", "directCosts"})
_REMEMBERED_OPERATIONS = 100_000


@dataclass(frozen=True)
class Call:
    """One logical API call (retries resend the same call, with the same Idempotency-Key)."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    content: bytes | None = None
    idempotency_key: str | None = None
    company_id: str | None = None

    @property
    def keyed_post(self) -> bool:
        return self.method == "POST" and bool(self.idempotency_key)


@dataclass(frozen=True)
class Send:
    """Command: perform one HTTP exchange; reply with the ``httpx.Response`` or the transport error."""

    call: Call


@dataclass(frozen=True)
class Sleep:
    """Command: wait this many seconds, then reply ``None``."""

    seconds: float


Flow = Generator[Send | Sleep, Any, T]


def segment(value: str) -> str:
    """A path segment from an id, escaped so an id can never change the path."""
    if not value:
        raise ValueError("an id in the URL path must not be empty")
    return _quoted(str(value))


@lru_cache(maxsize=4096)
def _quoted(value: str) -> str:
    # Every request quotes its company and connection ids again: the same few strings, all night.
    return quote(value, safe="")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class CodatCore:
    """Everything the two clients share: settings, headers, paths, retries, parsing, settle."""

    settings: CodatSettings
    conn_id: str = "codat_default"
    policy: RetryPolicy | None = None
    clock: Callable[[], float] = time.monotonic
    _requested_on: OrderedDict[str, datetime] = field(default_factory=OrderedDict, repr=False)
    times: OperationTimes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        register_secret(self.settings.api_key.get_secret_value())
        self.times = OperationTimes(first_guess=self.settings.settle_poll_interval_seconds)
        if self.policy is None:
            self.policy = RetryPolicy.from_settings(self.settings)

    # ------------------------------------------------------------------------------ request building
    def default_headers(self) -> dict[str, str]:
        """Headers on every request (the Authorization value is never logged: see redaction)."""
        return {
            "Authorization": basic_auth_value(self.settings.api_key.get_secret_value()),
            "Accept": "application/json",
            "User-Agent": "receivables-sync/0.1 (+httpx)",
        }

    @staticmethod
    def call_headers(call: Call) -> dict[str, str]:
        headers = {}
        if call.content is not None:
            headers["Content-Type"] = "application/json"
        if call.idempotency_key:
            headers["Idempotency-Key"] = call.idempotency_key
        return headers

    def limits(self) -> httpx.Limits:
        """Keep-alive pool sized for the global concurrency cap."""
        size = max(self.settings.max_concurrency, self.settings.max_concurrency_per_company)
        return httpx.Limits(max_connections=size, max_keepalive_connections=size, keepalive_expiry=30.0)

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.settings.timeout_seconds)

    @staticmethod
    def data_path(company_id: str, data_type: str, connection_id: str | None = None) -> str:
        """Read path of a data type; bank accounts and direct costs live under a connection (CONTRACT §0)."""
        name = READ_PATH_SEGMENT.get(data_type, data_type)
        if data_type in CONNECTION_SCOPED_READS or name in CONNECTION_SCOPED_READS:
            if not connection_id:
                raise ValueError(f"{data_type} are read per connection: pass connection_id")
            return f"/companies/{segment(company_id)}/connections/{segment(connection_id)}/data/{name}"
        return f"/companies/{segment(company_id)}/data/{name}"

    def list_params(self, *, query: Expr | str | None = None, order_by: str | None = None,
                    modified_since: datetime | None = None) -> dict[str, Any]:
        """``query``/``orderBy`` parameters, ANDing a ``modifiedDate>=`` filter when asked."""
        expr = as_expr(query)
        if modified_since is not None:
            expr = Q.all(expr, Q("modifiedDate") >= modified_since)
        return {"query": str(expr) if expr is not None else None, "orderBy": order_by}

    def paginator(self, page_size: int | None = None) -> PageNumberPaginator:
        return PageNumberPaginator(min(page_size or self.settings.page_size, 2000))

    def push_call(self, company_id: str, connection_id: str, data_type: str, body: Any, *,
                  idempotency_key: str, record_id: str | None = None, force_update: bool = False,
                  timeout_minutes: int | None = None) -> Call:
        """POST (create) or PUT (update) one record; refuses updates the API would refuse."""
        if not idempotency_key:
            raise ValueError("a push needs an idempotency_key (see receivables.codat.idempotency)")
        if record_id is not None and data_type in CREATE_ONLY:
            raise CodatUnsupportedOperation(
                f"{data_type} are create-only: they cannot be updated with PUT; push a new {data_type[:-1]} "
                "(or reverse the old one) instead", method="PUT", path=f"push/{data_type}")
        base = f"/companies/{segment(company_id)}/connections/{segment(connection_id)}/push/{data_type}"
        params: dict[str, Any] = {"timeoutInMinutes": timeout_minutes or self.settings.push_timeout_minutes}
        if record_id is not None:
            params["forceUpdate"] = "true" if force_update else "false"
        return Call("PUT" if record_id is not None else "POST",
                    f"{base}/{segment(record_id)}" if record_id is not None else base,
                    params=params, content=self.body_bytes(body, update=record_id is not None),
                    idempotency_key=idempotency_key, company_id=company_id)

    @staticmethod
    def body_bytes(body: Any, *, update: bool = False) -> bytes:
        """Bytes are sent as is; models via ``to_push_json``; dicts via the Decimal-safe dumps."""
        if isinstance(body, (bytes, bytearray, memoryview)):
            return bytes(body)
        if isinstance(body, PushModel):
            return body.to_push_json(include_source_modified_date=update)
        if isinstance(body, BaseModel):
            return dumps(body.model_dump(by_alias=True, exclude_none=True))
        if isinstance(body, Mapping):
            return dumps(dict(body))
        raise TypeError(f"cannot push a {type(body).__name__}: pass a model, a dict or JSON bytes")

    # --------------------------------------------------------------------------------- one exchange
    def exchange(self, call: Call) -> Generator[Send | Sleep, Any, Any]:
        """Send ``call`` under the retry policy; return the parsed JSON body or raise a CodatError."""
        assert self.policy is not None
        state = self.policy.start(method=call.method, idempotent=call.method != "POST" or call.keyed_post,
                                  now=self.clock())
        attempt = 0
        while True:
            attempt += 1
            started = self.clock()
            reply = yield Send(call)
            elapsed_ms = (self.clock() - started) * 1000
            if isinstance(reply, Exception):
                decision = state.on_transport_error(reply, now=self.clock())
                what = f"{call.method} {call.path} got no answer ({type(reply).__name__}: {reply})"
                if decision.retry:
                    log.warning("%s; retrying in %.1f s (attempt %d)", what, decision.wait, attempt + 1)
                    yield Sleep(decision.wait)
                    continue
                raise self.transport_error(call, reply, what, decision.reason) from reply
            response: httpx.Response = reply
            log.debug("%s %s -> %d in %.0f ms (attempt %d)", call.method, call.path, response.status_code,
                      elapsed_ms, attempt)
            if response.status_code < 400:
                return self._json(response, call)  # noqa: B901 (flows return their result)
            # Only "the first request with this key is still running" is worth waiting for; a 409 saying
            # the connection is not linked is refused the same way however long we wait.
            in_flight = response.status_code == 409 and call.keyed_post and isinstance(
                self.error(response, call), CodatIdempotencyInFlight)
            decision = state.on_response(response.status_code, response.headers, now=self.clock(),
                                         in_flight_conflict=in_flight)
            if decision.retry:
                log.warning("%s %s -> %d; retrying in %.1f s (attempt %d)", call.method, call.path,
                            response.status_code, decision.wait, attempt + 1)
                yield Sleep(decision.wait)
                continue
            raise self.error(response, call, retry_after=decision.retry_after)

    def transport_error(self, call: Call, reply: Exception, what: str, reason: str) -> CodatTransportError:
        """The exception for an exchange that got no answer, saying whether anything may have been written."""
        base = self.settings.base_url
        if unknown_host(reply):
            return CodatUnreachable(redact(
                f"{call.method} {call.path}: the API host of {base} is unknown ({reply}) -> check the host "
                f"of connection {self.conn_id}"), method=call.method, path=call.path)
        if untrusted_certificate(reply):
            return CodatUnreachable(redact(
                f"{call.method} {call.path}: the TLS certificate of {base} is not trusted ({reply}) -> if a "
                "proxy or gateway with its own CA sits in front of the API, point SSL_CERT_FILE (or "
                "SSL_CERT_DIR) at a bundle holding that CA; nothing was sent"), method=call.method,
                path=call.path)
        if never_sent(reply):
            return CodatUnreachable(redact(
                f"{call.method} {call.path}: the API at {base} cannot be reached ({type(reply).__name__}: "
                f"{reply}); gave up: {reason} -> check that the API is up and the host and port of "
                f"connection {self.conn_id}; nothing was sent"), method=call.method, path=call.path)
        outcome = " - the outcome is unknown: read the record back before pushing again" \
            if call.method in ("POST", "PUT") else ""
        return CodatTransportError(redact(f"{what}; gave up: {reason}{outcome}"), method=call.method,
                                   path=call.path)

    def error(self, response: httpx.Response, call: Call, *, retry_after: float | None = None) -> CodatError:
        """The exception for an error answer, with every secret scrubbed from its text."""
        try:
            body = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            body = {"error": response.text[:500]}
        if not isinstance(body, dict):
            body = {"error": str(body)[:500]}
        exc = error_from_response(response.status_code, body, method=call.method, path=call.path,
                                  conn_id=self.conn_id, keyed_post=call.keyed_post, retry_after=retry_after)
        exc.args = (redact(str(exc)),)
        return exc

    @staticmethod
    def _json(response: httpx.Response, call: Call) -> Any:
        if not response.content:
            return None
        try:
            return orjson.loads(response.content)  # several times faster than json on 2000-record pages
        except orjson.JSONDecodeError as exc:
            raise CodatError(f"{call.method} {call.path} answered {response.status_code} with a body that is "
                             "not JSON: check the base URL of the connection",
                             status_code=response.status_code, method=call.method, path=call.path) from exc

    # ------------------------------------------------------------------------------ push operations
    def remember(self, operation: PushOperation) -> PushOperation:
        """Note when an operation was requested (so :meth:`settle` can filter the list by time), when
        this client first saw it and, once final, how long it took (so settle knows how long to wait)."""
        self.times.seen(operation.push_operation_key, now=self.clock())
        if operation.is_final:
            self.times.completed(operation.requested_on_utc, operation.completed_on_utc)
        if operation.requested_on_utc is not None:
            self._requested_on[operation.push_operation_key] = _utc(operation.requested_on_utc)
            self._requested_on.move_to_end(operation.push_operation_key)
            while len(self._requested_on) > _REMEMBERED_OPERATIONS:
                self._requested_on.popitem(last=False)
        return operation

    def push_operation(self, data: Any) -> PushOperation:
        return self.remember(PushOperation.model_validate(data))

    @staticmethod
    def push_operation_path(company_id: str, key: str | None = None) -> str:
        base = f"/companies/{segment(company_id)}/push"
        return f"{base}/{segment(key)}" if key else base

    def get_push_operation(self, company_id: str, key: str) -> Generator[Send | Sleep, Any, PushOperation]:
        data = yield from self.exchange(Call("GET", self.push_operation_path(company_id, key),
                                             company_id=company_id))
        return self.push_operation(data)  # noqa: B901

    def _get_known(self, company_id: str, key: str) -> Generator[Send | Sleep, Any, PushOperation]:
        """One direct GET of an operation the caller says exists."""
        try:
            return (yield from self.get_push_operation(company_id, key))  # noqa: B901
        except CodatNotFound as exc:
            raise CodatNotFound(f"push operation {key} of company {company_id} does not exist: check the key "
                                "recorded in the ledger", status_code=404, method="GET",
                                path=self.push_operation_path(company_id, key)) from exc

    # ------------------------------------------------------------------------ connections, refreshes
    @staticmethod
    def connection_path(company_id: str, connection_id: str) -> str:
        return f"/companies/{segment(company_id)}/connections/{segment(connection_id)}"

    def refresh(self, company_id: str, data_type: str, *,
                deadline_seconds: float | None = None) -> Generator[Send | Sleep, Any, PullOperation | None]:
        """Queue a refresh of one data type, then wait briefly for it to finish. Returns the last state seen.

        Codat does not cache written records, so a list shows a record written a moment ago only after the
        company's data has been refreshed (CONTRACT §3, §11.2). A caller trusts a list to be complete only
        when this returns a complete refresh. ``None`` means the API would not refresh this type (404/405),
        or a refresh was already running (409) and may have started before the write.
        """
        path = f"/companies/{segment(company_id)}/data/queue/{segment(data_type)}"
        try:
            data = yield from self.exchange(Call("POST", path, company_id=company_id))
        except (CodatNotFound, CodatMethodNotAllowed, CodatConflict) as exc:
            log.info("company %s: %s could not be refreshed (%s); its list is not trusted to show recent "
                     "writes",
                     company_id, data_type, exc.status_code)
            return None
        pull = PullOperation.model_validate(data)
        deadline = deadline_seconds if deadline_seconds is not None else self.settings.settle_deadline_seconds
        interval = self.settings.settle_poll_interval_seconds
        started = self.clock()
        while not pull.is_final and self.clock() - started + interval <= deadline:
            yield Sleep(interval)
            interval = min(interval * 1.5, 5.0)
            try:
                data = yield from self.exchange(Call(
                    "GET", f"/companies/{segment(company_id)}/data/history/{segment(pull.id)}",
                    company_id=company_id))
            except CodatNotFound:
                break
            pull = PullOperation.model_validate(data)
        return pull  # noqa: B901

    def settle(self, company_id: str, keys: Iterable[str], *, deadline_seconds: float | None = None,
               requested_since: datetime | None = None,
               ) -> Generator[Send | Sleep, Any, dict[str, PushOperation]]:
        """Wait until every operation in ``keys`` is final, polling the company's operation list.

        Each round pages through ``GET /companies/{id}/push?query=requestedOnUtc>=<earliest pending>``,
        so a thousand operations cost a handful of requests per round. Between rounds it waits as
        :mod:`receivables.codat.settling` says: until the last pending operation is expected final by how
        long operations have been taking, longer when a round saw nothing complete; never a fixed
        interval. At the deadline the rest come back as last seen (``Pending``). A key the list never
        showed gets one direct GET at the end.
        """
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        deadline = deadline_seconds if deadline_seconds is not None else self.settings.settle_deadline_seconds
        started = self.clock()
        seen: dict[str, PushOperation] = {}
        floor = _utc(requested_since) if requested_since else None
        # Operations this client did not push itself: learn their request time with one GET each.
        for key in wanted:
            if floor is None and key not in self._requested_on:
                seen[key] = yield from self.get_push_operation(company_id, key)
        rounds, wait, final = 0, None, 0
        while _pending(wanted, seen):
            rounds += 1
            yield from self._settle_round(company_id, wanted, seen, floor)
            pending = _pending(wanted, seen)
            progressed, final = len(wanted) - len(pending) > final, len(wanted) - len(pending)
            if not pending:
                break
            wait = self.times.wait(pending, now=self.clock(), previous=wait, progressed=progressed)
            if self.clock() - started + wait > deadline:
                break
            yield Sleep(wait)
        for key in wanted:
            if key not in seen:
                seen[key] = yield from self._get_known(company_id, key)
        log.info("settled %d push operations of company %s in %d round(s): %s", len(wanted), company_id,
                 rounds, _status_counts(seen.values()))
        return {key: seen[key] for key in wanted}  # noqa: B901

    def _settle_round(self, company_id: str, wanted: list[str], seen: dict[str, PushOperation],
                      floor: datetime | None) -> Generator[Send | Sleep, Any, None]:
        """One look at the operation list since the earliest pending request; updates ``seen``."""
        pending = _pending(wanted, seen)
        times = [self._requested_on[k] for k in pending if k in self._requested_on]
        earliest = min([*times, floor] if floor else times) if (times or floor) else None
        query = None
        if earliest is not None:
            query = str(Q("requestedOnUtc") >= earliest.replace(microsecond=0) - timedelta(seconds=1))
        open_keys = set(pending)
        pager = self.paginator()
        while pager.has_next:
            params = pager.update_request({"query": query})
            envelope = yield from self.exchange(Call("GET", self.push_operation_path(company_id),
                                                     params=params, company_id=company_id))
            for record in pager.update_state(envelope or {}):
                key = record.get("pushOperationKey")
                if key in open_keys:  # operations already final are not parsed again
                    seen[key] = self.push_operation(record)
        unseen = [k for k in wanted if k not in seen]
        if unseen and all(op.is_final for op in seen.values()):
            # Everything the list shows is done; ask for the missing ones directly (once each).
            for key in unseen:
                seen[key] = yield from self._get_known(company_id, key)


def _pending(wanted: list[str], seen: Mapping[str, PushOperation]) -> list[str]:
    return [k for k in wanted if k not in seen or not seen[k].is_final]


def _status_counts(operations: Iterable[PushOperation]) -> str:
    counts: dict[str, int] = {}
    for op in operations:
        counts[op.status.value] = counts.get(op.status.value, 0) + 1
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
