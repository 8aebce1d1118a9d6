"""Helpers for the client's unit tests: a scripted fake API behind ``httpx.MockTransport`` and a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

API_KEY = "sk-test-SECRET-9f8e7d6c5b4a"
COMPANY = "11111111-1111-4111-8111-111111111111"
CONNECTION = "22222222-2222-4222-8222-222222222222"


@dataclass
class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class Recorder:
    """Records requests and answers them with a handler or a queue of scripted responses."""

    handler: Callable[[httpx.Request], httpx.Response] | None = None
    script: list[httpx.Response | Exception] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        assert self.handler is not None, f"unexpected request {request.method} {request.url}"
        return self.handler(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def envelope(results: list[dict], page: int, page_size: int, total: int, path: str = "/x",
             next_link: bool | None = None) -> dict:
    links = {"self": {"href": path}, "current": {"href": f"{path}?page={page}&pageSize={page_size}"}}
    if next_link if next_link is not None else page * page_size < total:
        links["next"] = {"href": f"{path}?page={page + 1}&pageSize={page_size}"}
    return {"results": results, "pageNumber": page, "pageSize": page_size, "totalResults": total,
            "_links": links}


def json_response(status: int, body: object, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", **(headers or {})})


def push_operation(key: str, status: str = "Pending", requested: str = "2026-11-25T10:00:00Z",
                   record_id: str | None = None, **extra: object) -> dict:
    body = {"pushOperationKey": key, "companyId": COMPANY, "dataConnectionKey": CONNECTION,
            "dataType": "invoices", "requestedOnUtc": requested, "status": status,
            "statusCode": {"Pending": 202, "Success": 200, "Failed": 400}.get(status, 200),
            "validation": {"errors": [], "warnings": []}, "changes": []}
    if record_id:
        body["changes"] = [{"type": "Created", "recordRef": {"id": record_id, "dataType": "invoices"}}]
    body.update(extra)
    return body
