"""HTTP face of the sandbox: Codat-shaped routes, Basic auth, paging envelope, errors, idempotency, limits.

Every API request goes through :meth:`Sandbox.handle`, which applies, in order: auth, the daily quota,
the per-company concurrency limit, injected errors (before any effect), the ``Idempotency-Key`` cache,
injected latency, the route handler, then injected slow or lost responses (after the effect).

    >>> from codat_sandbox.store import Store
    >>> app = Sandbox(Store(None), api_key="k").asgi()   # serve with uvicorn
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import logging
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from codat_sandbox.faults import FaultConfig, FaultInjector
from codat_sandbox.options import OPTION_TYPES
from codat_sandbox.query import QueryError, filter_records, sort_records
from codat_sandbox.ratelimit import RateLimiter
from codat_sandbox.store import PUSH_TYPES, READ_TYPES, UPDATABLE_TYPES, Listing, NotFound, Refused, Store

MAX_PAGE_SIZE = 2000
DEFAULT_PAGE_SIZE = 100
# Read paths exactly as Codat-Accounting.yaml has them (issue 11: a company-scoped direct-costs path
# hid a client bug). Most types are company-scoped; bank accounts and direct costs are listed only per
# connection; a single bank account can also be fetched company-scoped. Anything else is a 404.
CONNECTION_READ_TYPES = ("bankAccounts", "directCosts")
COMPANY_READ_TYPES = tuple(t for t in READ_TYPES if t not in CONNECTION_READ_TYPES)
COMPANY_SINGLE_READ_TYPES = (*COMPANY_READ_TYPES, "bankAccounts")
_ERROR_TEXT = {
    400: "The request was malformed.", 401: "Unauthorized: the API key is missing or invalid.",
    404: "The resource was not found.", 405: "This method is not allowed on this resource.",
    409: "A request with this Idempotency-Key is still being processed.",
    422: "The Idempotency-Key was already used with a different request body.",
    429: "You have made too many requests in a given amount of time; please retry later.",
    500: "An internal error occurred; please retry later.",
    503: "The service is under maintenance; please retry later.",
}

Handler = Callable[[Request, bytes], Awaitable[Response]]


class BadRequest(ValueError):
    """A request the API answers with 400 and the message."""


class _DropIncompleteResponse(logging.Filter):
    """Hide uvicorn's complaint about the responses that ``lose_response`` cuts short on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_DropIncompleteResponse())
_log = logging.getLogger("codat_sandbox")


class JSONResponse(Response):
    """JSON via orjson (fast, and the exact bytes can be cached for idempotent replays)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else orjson.dumps(content)


class LostResponse(Response):
    """Headers promise more body than is sent, then the connection closes: the client sees a
    transport error (httpx ``RemoteProtocolError``) although the request took effect."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        headers.append((b"content-length", str(len(self.body) + 1024).encode()))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2],
                    "more_body": True})


def error_body(status: int, message: str | None = None,
               validation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Codat's ``ErrorMessage``."""
    return {
        "statusCode": status, "service": "PublicApi", "error": message or _ERROR_TEXT.get(status, "Error"),
        "correlationId": uuid.uuid4().hex, "validation": validation,
        "canBeRetried": "Unknown", "detailedErrorCode": 0,
    }


def error_response(status: int, message: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_.~/-]*")


def _request_path(request: Request) -> str:
    """``request.url.path`` without building the URL: a path of nothing but letters, digits and
    ``/_.~-`` (every API path the sandbox routes to; not ``//…``) comes back from Starlette's URL
    unchanged; any other path is read from the URL as before."""
    path = request.scope["path"]
    if _PLAIN_PATH.fullmatch(path) and not path.startswith("//"):
        return path
    return request.url.path


_UNPARSED = object()  # a body not parsed yet (or not JSON)
_PARSED_BODY = "codat_sandbox.parsed_body"  # the request's scope key for its body as parsed JSON


def _json_body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None


class Sandbox:
    """The Codat-like API over a :class:`Store`, with limits, faults and an optional admin API."""

    def __init__(self, store: Store, api_key: str, admin: bool = False, faults: FaultInjector | None = None,
                 limiter: RateLimiter | None = None, read_lag_seconds: float = 0.0) -> None:
        self.store = store
        # One SQLite transaction per request (flushed before it is answered), not one per written row.
        store.hold_writes()
        self.read_lag_seconds = read_lag_seconds
        # The lag a write gets is decided when it lands: the run's setting unless a fault replaces it.
        store.read_lag = lambda data_type: self.faults.read_lag_seconds(data_type, self.read_lag_seconds)
        self._expected_auth = "Basic " + base64.b64encode(api_key.encode()).decode()
        self._key_scope = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        self.admin_enabled = admin
        self.faults = faults or FaultInjector()
        self.limiter = limiter or RateLimiter()
        self.stats: Counter[str] = Counter()
        self.status_stats: Counter[str] = Counter()

    def __repr__(self) -> str:  # never show the key
        return f"Sandbox(admin={self.admin_enabled})"

    # ---- request pipeline ------------------------------------------------------------------------
    async def handle(self, request: Request, template: str, handler: Handler,
                     data_type: str | None) -> Response:
        try:
            response = await self._handle(request, handler, data_type)
        finally:
            self.store.flush_writes()  # what a request changed is on disk before it is answered
        for name, value in self.limiter.headers():
            response.headers[name] = value
        route = f"{request.method} {template}"
        self.stats[route] += 1
        self.status_stats[f"{route} {response.status_code}"] += 1
        return response

    async def _handle(self, request: Request, handler: Handler, data_type: str | None) -> Response:
        authorization = request.headers.get("authorization", "")
        if not secrets.compare_digest(authorization.encode(), self._expected_auth.encode()):
            return error_response(401)
        if not self.limiter.try_consume():
            return error_response(429, "The daily request quota is used up; it resets at 00:00 UTC.",
                                  {"Retry-After": str(self.limiter.seconds_to_reset())})
        company_id = request.path_params.get("companyId")
        if company_id is not None and not self.limiter.try_enter(company_id):
            return error_response(429, "Too many concurrent requests for this company (at most "
                                       f"{self.limiter.max_concurrent}).", {"Retry-After": "1"})
        try:
            return await self._handle_admitted(request, handler, data_type, company_id)
        finally:
            if company_id is not None:
                self.limiter.leave(company_id)

    async def _handle_admitted(self, request: Request, handler: Handler, data_type: str | None,
                               company_id: str | None) -> Response:
        method = request.method
        injected = self.faults.error_status(method, data_type)
        if injected is not None:
            retry_after = {"Retry-After": str(self.faults.config.retry_after_seconds)}
            headers = retry_after if injected == 429 else None
            return error_response(injected, headers=headers)
        body = await request.body()
        idempotency_key = request.headers.get("idempotency-key") if method == "POST" else None
        if idempotency_key:
            cached = self.store.idempotency_lookup(self._key_scope, idempotency_key)
            fingerprint, parsed = self._fingerprint_parsed(method, _request_path(request), body)
            if parsed is not _UNPARSED:
                request.scope[_PARSED_BODY] = parsed  # the handler reads the body this parse gave
            if cached is not None:
                if cached.fingerprint != fingerprint:
                    return error_response(422)
                if not cached.done:
                    return error_response(409)
                return Response(cached.body, status_code=cached.status, headers=dict(cached.headers))
            self.store.idempotency_begin(self._key_scope, idempotency_key, fingerprint)
        try:
            delay = self.faults.latency_seconds(method, data_type)
            if delay:
                await asyncio.sleep(delay)
            if company_id is not None and company_id in self.store.companies:
                self.store.settle(company_id)
            response = await self._run(handler, request, body)
        except BaseException:
            if idempotency_key:
                self.store.idempotency_forget(self._key_scope, idempotency_key)
            raise
        if idempotency_key:
            if response.status_code == 429:
                self.store.idempotency_forget(self._key_scope, idempotency_key)
            else:
                self.store.idempotency_finish(self._key_scope, idempotency_key, response.status_code,
                                              response.body,
                                              [("content-type", "application/json")])
        slow = self.faults.slow_response_seconds(method, data_type)
        if slow:
            await asyncio.sleep(slow)
        if self.faults.lose_response(method, data_type):
            return LostResponse(response.body, status_code=response.status_code,
                                media_type="application/json")
        return response

    @staticmethod
    def _fingerprint(method: str, path: str, body: bytes) -> str:
        return Sandbox._fingerprint_parsed(method, path, body)[0]

    @staticmethod
    def _fingerprint_parsed(method: str, path: str, body: bytes) -> tuple[str, Any]:
        """The request's fingerprint, and the body as JSON when it parsed (else ``_UNPARSED``)."""
        parsed: Any = _UNPARSED
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                canonical = body
            else:
                canonical = orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
        else:
            canonical = b""
        digest = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()
        return digest, parsed

    @staticmethod
    async def _run(handler: Handler, request: Request, body: bytes) -> Response:
        try:
            return await handler(request, body)
        except NotFound as exc:
            return error_response(404, str(exc))
        except Refused as exc:
            return error_response(exc.status, str(exc))
        except (BadRequest, QueryError) as exc:
            return error_response(400, str(exc))
        except Exception:
            # A sandbox bug: keep Codat's error shape for the client, the traceback for the log.
            _log.exception("unhandled error in %s %s", request.method, request.url.path)
            return error_response(500)

    # ---- paging ----------------------------------------------------------------------------------
    @staticmethod
    def _int_param(request: Request, name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be an integer.") from None

    def page(self, request: Request, items: Sequence[dict[str, Any]]) -> JSONResponse:
        """The Codat paging envelope over already filtered and ordered ``items``."""
        page = self._int_param(request, "page", 1)
        size = self._int_param(request, "pageSize", DEFAULT_PAGE_SIZE)
        if page < 1:
            raise BadRequest("page must be 1 or more.")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise BadRequest(f"pageSize must be between 1 and {MAX_PAGE_SIZE}.")
        total = len(items)
        path = request.url.path
        extra = {k: v for k, v in request.query_params.items() if k in ("query", "orderBy")}

        def href(number: int) -> dict[str, str]:
            return {"href": f"{path}?{urlencode({'page': number, 'pageSize': size, **extra})}"}

        links = {"self": {"href": path}, "current": href(page)}
        if page * size < total:
            links["next"] = href(page + 1)
        if page > 1:
            links["previous"] = href(page - 1)
        start, stop = (page - 1) * size, page * size
        # A store listing gives its records' stored JSON as is (no decode and re-encode per page).
        results = items.json_slice(start, stop) if isinstance(items, Listing) else items[start:stop]
        return JSONResponse({"results": results, "pageNumber": page, "pageSize": size, "totalResults": total,
                             "_links": links})

    @staticmethod
    def _query_args(request: Request) -> tuple[str | None, str | None]:
        params = request.query_params
        return params.get("query") or None, params.get("orderBy") or params.get("orderby") or None

    # ---- platform --------------------------------------------------------------------------------
    async def list_companies(self, request: Request, body: bytes) -> Response:
        query, order_by = self._query_args(request)
        companies = [self.store.company_with_connections(c) for c in self.store.companies]
        return self.page(request, sort_records(filter_records(companies, query), order_by))

    async def get_company(self, request: Request, body: bytes) -> Response:
        return JSONResponse(self.store.company_with_connections(request.path_params["companyId"]))

    async def list_connections(self, request: Request, body: bytes) -> Response:
        company_id = request.path_params["companyId"]
        self.store.company(company_id)
        return self.page(request, [self.store.connections[company_id]])

    async def get_connection(self, request: Request, body: bytes) -> Response:
        params = request.path_params
        return JSONResponse(self.store.connection(params["companyId"], params["connectionId"]))

    async def company_info(self, request: Request, body: bytes) -> Response:
        """``/data/info`` (``CompanyDataset``): where clients learn the company's base currency."""
        company_id = request.path_params["companyId"]
        company = self.store.company(company_id)
        created = company["created"]
        return JSONResponse({
            "companyName": company["name"], "companyLegalName": company["name"],
            "accountingPlatformRef": company_id, "baseCurrency": self.store.base_currency(company_id),
            "registrationNumber": None, "taxNumber": None, "addresses": [], "phoneNumbers": [],
            "financialYearStartDate": created[:4] + "-01-01T00:00:00", "createdDate": created,
        })

    # ---- data reads ------------------------------------------------------------------------------
    def list_data(self, data_type: str) -> Handler:
        async def handler(request: Request, body: bytes) -> Response:
            params = request.path_params
            if "connectionId" in params:
                self.store.connection(params["companyId"], params["connectionId"])
            self.store.check_readable(params["companyId"], data_type)
            query, order_by = self._query_args(request)
            return self.page(request, self.store.query(params["companyId"], data_type, query, order_by))

        return handler

    def get_data(self, data_type: str) -> Handler:
        async def handler(request: Request, body: bytes) -> Response:
            params = request.path_params
            if "connectionId" in params:
                self.store.connection(params["companyId"], params["connectionId"])
            self.store.check_readable(params["companyId"], data_type)
            return JSONResponse(self.store.read_record(params["companyId"], data_type, params["recordId"]))

        return handler

    def push_options(self, data_type: str) -> Handler:
        """``GET …/connections/{id}/options/{dataType}``: the connection's platform's ``PushOption``."""

        async def handler(request: Request, body: bytes) -> Response:
            params = request.path_params
            return JSONResponse(self.store.push_options(params["companyId"], params["connectionId"],
                                                        data_type))

        return handler

    # ---- pushes ----------------------------------------------------------------------------------
    def push(self, data_type: str) -> Handler:
        async def handler(request: Request, body: bytes) -> Response:
            params = request.path_params
            # A keyed POST's body was parsed once already, for its fingerprint (the same orjson.loads).
            payload = request.scope.get(_PARSED_BODY, _UNPARSED)
            if payload is _UNPARSED:
                payload = _json_body(body)
            if not isinstance(payload, dict):
                raise BadRequest("The body must be a JSON object.")
            timeout = self._int_param(request, "timeoutInMinutes", 0) or None
            if timeout is not None and timeout < 0:
                raise BadRequest("timeoutInMinutes must be positive.")
            force = request.query_params.get("forceUpdate", "false").lower() == "true"
            operation = self.store.submit_push(
                params["companyId"], params["connectionId"], data_type, payload,
                record_id=params.get("recordId"), timeout_minutes=timeout, force_update=force,
                fate=self.faults.push_fate(request.method, data_type),
            )
            return JSONResponse(operation)

        return handler

    async def queue_refresh(self, request: Request, body: bytes) -> Response:
        """``POST /companies/{id}/data/queue/{dataType}`` (Platform "Refresh data type"): a PullOperation."""
        params = request.path_params
        connection_id = request.query_params.get("connectionId") or None
        return JSONResponse(self.store.refresh(params["companyId"], params["dataType"], connection_id))

    async def pull_history(self, request: Request, body: bytes) -> Response:
        query, order_by = self._query_args(request)
        pulls = self.store.pull_operations(request.path_params["companyId"])
        return self.page(request, sort_records(filter_records(pulls, query), order_by))

    async def pull_operation(self, request: Request, body: bytes) -> Response:
        params = request.path_params
        return JSONResponse(self.store.pull_operation(params["companyId"], params["datasetId"]))

    async def data_status(self, request: Request, body: bytes) -> Response:
        return JSONResponse(self.store.data_status(request.path_params["companyId"]))

    async def not_allowed(self, request: Request, body: bytes) -> Response:
        return error_response(405, "Records of this data type cannot be updated through this connection.")

    async def get_operation(self, request: Request, body: bytes) -> Response:
        params = request.path_params
        return JSONResponse(self.store.operation(params["companyId"], params["pushOperationKey"]))

    async def list_operations(self, request: Request, body: bytes) -> Response:
        query, order_by = self._query_args(request)
        return self.page(request,
                         self.store.query(request.path_params["companyId"], "pushOperations", query,
                                          order_by))

    # ---- admin -----------------------------------------------------------------------------------
    def _admin(self,
               handler: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self.admin_enabled:
                return error_response(404, "The admin API is off (start the sandbox with --admin).")
            if not _is_loopback(request.client.host if request.client else None):
                return error_response(403, "The admin API answers loopback clients only.")
            try:
                result = await handler(request)
            except NotFound as exc:
                return error_response(404, str(exc))
            except (ValueError, TypeError, KeyError) as exc:
                return error_response(400, str(exc))
            finally:
                self.store.flush_writes()
            return result if isinstance(result, Response) else JSONResponse(result)

        return endpoint

    async def _admin_json(self, request: Request) -> Any:
        raw = await request.body()
        return _json_body(raw) if raw else {}

    async def admin_get_faults(self, request: Request) -> Any:
        return self.faults.config.to_dict()

    async def admin_put_faults(self, request: Request) -> Any:
        self.faults.configure(FaultConfig.from_dict(await self._admin_json(request)))
        return self.faults.config.to_dict()

    async def admin_stats(self, request: Request) -> Any:
        return {"requests": dict(self.stats), "requestsByStatus": dict(self.status_stats),
                "total": sum(self.stats.values()), "companies": len(self.store.companies)}

    async def admin_reset_stats(self, request: Request) -> Any:
        self.stats.clear()
        self.status_stats.clear()
        return {"total": 0}

    async def admin_create_company(self, request: Request) -> Any:
        data = await self._admin_json(request)
        company = self.store.create_company(data["name"], data.get("baseCurrency", "GBP"),
                                            data.get("platform", "Xero"), data.get("id"))
        settings = {k: data[k] for k in ("multiCurrency", "lockDate", "optionsMode") if k in data}
        if settings:
            self.store.set_platform_settings(company["id"], settings)
        return {**company, "connectionId": company["dataConnections"][0]["id"],
                "baseCurrency": self.store.base_currency(company["id"])}

    async def admin_insert_record(self, request: Request) -> Any:
        params = request.path_params
        return self.store.insert_raw(params["companyId"], params["dataType"], await self._admin_json(request))

    async def admin_patch_record(self, request: Request) -> Any:
        params = request.path_params
        return self.store.patch_raw(params["companyId"], params["dataType"], params["recordId"],
                                    await self._admin_json(request))

    async def admin_records(self, request: Request) -> Any:
        """Every record of a data type as the platform holds it (no read lag, deleted ones included)."""
        params = request.path_params
        if params["dataType"] not in READ_TYPES:
            raise NotFound(f"Unknown data type '{params['dataType']}'.")
        return self.store.list_records(params["companyId"], params["dataType"])

    async def admin_connection(self, request: Request) -> Any:
        """``{"status": "Deauthorized", "afterPushes": 10}``: the link breaks now or after N more pushes."""
        data = await self._admin_json(request)
        return self.store.set_connection_status(request.path_params["companyId"], data["status"],
                                                data.get("afterPushes"))

    async def admin_platform(self, request: Request) -> Any:
        """The connection's platform settings (GET: as they are; PUT: changed), e.g. ``{"multiCurrency":
        false, "lockDate": "2025-12-31", "optionsMode": "notFound", "optionsDataTypes": ["invoices"]}``;
        ``optionsMode`` is ``published``, ``notFound``, ``error`` or ``empty``."""
        company_id = request.path_params["companyId"]
        if request.method == "GET":
            return self.store.platform_settings(company_id)
        return self.store.set_platform_settings(company_id, await self._admin_json(request))

    async def admin_syncing(self, request: Request) -> Any:
        """``{"seconds": 30, "dataTypes": ["invoices"]}``: reads answer 409 meanwhile (null: until 0)."""
        data = await self._admin_json(request)
        return self.store.set_syncing(request.path_params["companyId"], data.get("seconds"),
                                      data.get("dataTypes"))

    async def admin_delete_record(self, request: Request) -> Any:
        params = request.path_params
        return self.store.delete_raw(params["companyId"], params["dataType"], params["recordId"])

    async def admin_age_idempotency(self, request: Request) -> Any:
        data = await self._admin_json(request)
        return {"entries": self.store.age_idempotency(float(data["seconds"]))}

    async def admin_operation_status(self, request: Request) -> Any:
        data = await self._admin_json(request)
        return self.store.force_operation_status(request.path_params["pushOperationKey"], data["status"])

    async def admin_quota(self, request: Request) -> Any:
        data = await self._admin_json(request)
        quota = data.get("dailyQuota")
        self.limiter.set_quota(None if quota is None else int(quota), data.get("used"))
        return {"dailyQuota": self.limiter.daily_quota, "used": self.limiter.used}

    async def admin_reset(self, request: Request) -> Any:
        self.store.reset()
        self.stats.clear()
        self.status_stats.clear()
        self.faults.configure(FaultConfig())
        return {"reset": True}

    # ---- routing ---------------------------------------------------------------------------------
    def _api(self, path: str, handler: Handler, methods: list[str], data_type: str | None = None) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self.handle(request, path, handler, data_type)

        return Route(path, endpoint, methods=methods)

    def routes(self) -> list[Route]:
        company = "/companies/{companyId}"
        connection = company + "/connections/{connectionId}"
        # Pushes first, then their polls: Starlette tries routes in order and a night's requests are
        # nearly all pushes. No two API paths overlap (tests/codat_sandbox/test_routes.py), so the order
        # decides nothing but how soon a request finds its route.
        routes = [self._api(f"{connection}/push/{t}", self.push(t), ["POST"], t) for t in PUSH_TYPES]
        routes += [
            self._api(company + "/push/{pushOperationKey}", self.get_operation, ["GET"]),
            self._api(company + "/push", self.list_operations, ["GET"]),
            self._api("/companies", self.list_companies, ["GET"]),
            self._api(company, self.get_company, ["GET"]),
            self._api(company + "/connections", self.list_connections, ["GET"]),
            self._api(connection, self.get_connection, ["GET"]),
            self._api(company + "/data/info", self.company_info, ["GET"]),
            self._api(company + "/data/queue/{dataType}", self.queue_refresh, ["POST"]),
            self._api(company + "/dataStatus", self.data_status, ["GET"]),
            self._api(company + "/data/history", self.pull_history, ["GET"]),
            self._api(company + "/data/history/{datasetId}", self.pull_operation, ["GET"]),
        ]
        for data_type in COMPANY_READ_TYPES:
            routes.append(self._api(f"{company}/data/{data_type}", self.list_data(data_type), ["GET"],
                                    data_type))
        for data_type in COMPANY_SINGLE_READ_TYPES:
            routes.append(self._api(f"{company}/data/{data_type}/{{recordId}}", self.get_data(data_type),
                                    ["GET"],
                                    data_type))
        for data_type in CONNECTION_READ_TYPES:
            routes.append(self._api(f"{connection}/data/{data_type}", self.list_data(data_type), ["GET"],
                                    data_type))
            routes.append(self._api(f"{connection}/data/{data_type}/{{recordId}}", self.get_data(data_type),
                                    ["GET"], data_type))
        for data_type in OPTION_TYPES:
            routes.append(self._api(f"{connection}/options/{data_type}", self.push_options(data_type),
                                    ["GET"],
                                    data_type))
        for data_type in PUSH_TYPES:
            update = self.push(data_type) if data_type in UPDATABLE_TYPES else self.not_allowed
            routes.append(self._api(f"{connection}/push/{data_type}/{{recordId}}", update, ["PUT"],
                                    data_type))
        return routes + self._admin_routes()

    def _admin_routes(self) -> list[Route]:
        admin = [
            ("/admin/faults", self.admin_get_faults, ["GET"]),
            ("/admin/faults", self.admin_put_faults, ["PUT"]),
            ("/admin/stats", self.admin_stats, ["GET"]),
            ("/admin/stats/reset", self.admin_reset_stats, ["POST"]),
            ("/admin/companies", self.admin_create_company, ["POST"]),
            ("/admin/companies/{companyId}/records/{dataType}", self.admin_insert_record, ["POST"]),
            ("/admin/companies/{companyId}/records/{dataType}", self.admin_records, ["GET"]),
            ("/admin/companies/{companyId}/connection", self.admin_connection, ["PUT"]),
            ("/admin/companies/{companyId}/syncing", self.admin_syncing, ["PUT"]),
            ("/admin/companies/{companyId}/platform", self.admin_platform, ["GET", "PUT"]),
            ("/admin/companies/{companyId}/records/{dataType}/{recordId}", self.admin_patch_record,
             ["PATCH"]),
            ("/admin/companies/{companyId}/records/{dataType}/{recordId}", self.admin_delete_record,
             ["DELETE"]),
            ("/admin/idempotency/age", self.admin_age_idempotency, ["POST"]),
            ("/admin/operations/{pushOperationKey}/status", self.admin_operation_status, ["POST"]),
            ("/admin/quota", self.admin_quota, ["PUT"]),
            ("/admin/reset", self.admin_reset, ["POST"]),
        ]
        return [Route(path, self._admin(handler), methods=methods) for path, handler, methods in admin]

    def asgi(self) -> Starlette:
        """The Starlette application; unknown paths and methods answer with an ``ErrorMessage``."""

        async def http_error(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            return error_response(status, headers=dict(self.limiter.headers()))

        return Starlette(routes=self.routes(), exception_handlers={HTTPException: http_error})
