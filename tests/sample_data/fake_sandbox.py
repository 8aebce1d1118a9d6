"""An in-process stand-in for the sandbox's admin and list endpoints (httpx.MockTransport), seeded like it."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import httpx

from codat_sandbox import seed
from sample_data import ProvisionedCompany, provision_companies

API_KEY = "test-key-not-secret"
NOW = "2026-11-01T00:00:00.000Z"


class FakeSandbox:
    """Answers ``POST /admin/companies`` and ``GET /companies/{id}/data/{type}`` with seeded data."""

    def __init__(self) -> None:
        self.companies: dict[str, dict] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        parts = request.url.path.strip("/").split("/")
        if request.method == "POST" and parts == ["admin", "companies"]:
            body = json.loads(request.content)
            company_id = body["id"]
            self.companies[company_id] = {
                "id": company_id, "name": body["name"], "baseCurrency": body["baseCurrency"],
                "connectionId": seed.connection_id(company_id),
                "data": seed.reference_data(company_id, body["baseCurrency"], NOW),
            }
            return httpx.Response(200,
                                  json={k: v for k, v in self.companies[company_id].items() if k != "data"})
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(API_KEY.encode()).decode():
            return httpx.Response(401, json={"statusCode": 401, "error": "Unauthorized"})
        if request.method == "GET" and len(parts) == 4 and parts[0] == "companies" and parts[2] == "data":
            records = self.companies[parts[1]]["data"][parts[3]]
            page, size = int(request.url.params["page"]), int(request.url.params["pageSize"])
            chunk = records[(page - 1) * size: page * size]
            return httpx.Response(200, json={"results": chunk, "pageNumber": page, "pageSize": size,
                                             "totalResults": len(records), "_links": {}})
        return httpx.Response(404, json={"statusCode": 404})


def fake_companies(n: int, currencies: Sequence[str] | None = None,
                   namespace: str = "test") -> list[ProvisionedCompany]:
    """``n`` provisioned companies without a server, through the real provisioning code."""
    return provision_companies("http://sandbox.invalid", n, currencies, api_key=API_KEY, namespace=namespace,
                               transport=httpx.MockTransport(FakeSandbox()))
