"""(c) Paths: every request our client can build is a path Codat's OpenAPI files have (issue 11, defect 3),
and the sandbox serves exactly Codat's read paths for the data types we use — 404 elsewhere.

Nothing here is hand-listed: the client's public methods are called through a recording transport with
every data type the pipeline reads or pushes (taken from ``extract`` and the registry of document kinds,
``documents``), and the sandbox's expected paths come from the spec's own templates.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from tests.contract.oas import load_spec, oas_dir
from tests.contract.world import fetch

from receivables import documents, extract
from receivables.codat import AsyncCodatClient, CodatClient
from receivables.codat.core import READ_PATH_SEGMENT
from receivables.settings import CodatSettings

OAS = oas_dir()
SPECS = (OAS / "Codat-Accounting.yaml", OAS / "Codat-Platform.yaml")
COMPANY, CONNECTION, RECORD, KEY = "c-0001", "k-0001", "r-0001", "op-0001"


def spec_templates() -> dict[str, set[str]]:
    """path template → methods, over both spec files."""
    templates: dict[str, set[str]] = {}
    for path in SPECS:
        for template, item in load_spec(path)["paths"].items():
            templates.setdefault(template, set()).update(m.upper() for m in item if m != "parameters")
    return templates


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def matching_templates(method: str, path: str) -> list[str]:
    return [t for t, methods in spec_templates().items() if method in methods and _pattern(t).match(path)]


def pushed_data_types() -> set[str]:
    return {kind.data_type for kind in documents.KINDS}


def pipeline_data_types() -> set[str]:
    """Every data type the pipeline reads or pushes, as the code names them."""
    types = pushed_data_types()
    types |= {ref.data_type for ref in extract.REFERENCE_TYPES}
    types |= set(documents.READ_BACK)
    return types | set(READ_PATH_SEGMENT)


# ---- what the client builds ----------------------------------------------------------------------

def _answer(request: httpx.Request) -> httpx.Response:
    """Minimal valid answers, so each method runs to completion (and pages stop after one)."""
    path, method = request.url.path, request.method
    operation = {"pushOperationKey": KEY, "companyId": COMPANY, "dataConnectionKey": CONNECTION,
                 "requestedOnUtc": "2026-05-01T00:00:00Z", "completedOnUtc": "2026-05-01T00:00:01Z",
                 "status": "Success", "statusCode": 200, "dataType": "invoices",
                 "changes": [{"type": "Created", "recordRef": {"id": RECORD, "dataType": "invoices"}}],
                 "validation": {"errors": [], "warnings": []}}
    pull = {"id": KEY, "companyId": COMPANY, "connectionId": CONNECTION, "dataType": "invoices",
            "status": "Complete", "requested": "2026-05-01T00:00:00Z", "progress": 100,
            "isCompleted": True, "isErrored": False}
    if "/push" in path and (method in ("POST", "PUT") or path.endswith(KEY)):
        body: Any = operation
    elif "/data/queue/" in path or "/data/history/" in path:
        body = pull
    elif "page" in request.url.params:
        results = [operation] if path.endswith("/push") else []
        body = {"results": results, "pageNumber": 1, "pageSize": 100, "totalResults": len(results),
                "_links": {"self": {"href": path}, "current": {"href": path}}}
    else:
        body = {"id": RECORD, "name": "x", "status": "Linked", "created": "2026-05-01T00:00:00Z",
                "integrationId": "i", "sourceId": "s", "platformName": "Xero", "linkUrl": "https://x.test",
                "sourceType": "Accounting", "dataConnections": []}
    return httpx.Response(200, content=orjson.dumps(body), headers={"content-type": "application/json"})


def _arguments(parameter: inspect.Parameter, data_types: set[str]) -> list[Any]:
    """Candidate values for one parameter of a client method (several → each is tried)."""
    name = parameter.name
    fixed = {"company_id": [COMPANY], "connection_id": [CONNECTION], "key": [KEY], "keys": [[KEY]],
             "body": [{}], "idempotency_key": ["idem-1"], "record_id": [RECORD]}
    if name == "data_type":
        return sorted(data_types)
    if parameter.default is inspect.Parameter.empty:
        return fixed[name]
    if name in ("connection_id", "record_id"):
        return [None, *fixed[name]]  # both the plain and the scoped / update variant
    return [parameter.default]


def _calls(method: Any, data_types: set[str]) -> Iterator[dict[str, Any]]:
    signature = inspect.signature(method)
    choices: list[tuple[str, list[Any]]] = [
        (p.name, _arguments(p, data_types)) for p in signature.parameters.values() if p.name != "self"]
    combos: list[dict[str, Any]] = [{}]
    for name, values in choices:
        combos = [{**combo, name: value} for combo in combos for value in values]
    yield from combos


def client_methods() -> list[str]:
    return sorted(name for name, member in inspect.getmembers(CodatClient, inspect.isfunction)
                  if not name.startswith("_") and name != "close")


def built_requests() -> dict[str, set[tuple[str, str]]]:
    """client method → every (method, path) it sends, over all argument variants."""
    seen: dict[str, set[tuple[str, str]]] = {}
    current: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.setdefault(current[0], set()).add((request.method, request.url.path))
        return _answer(request)

    settings = CodatSettings(base_url="https://api.codat.test", api_key="k",
                             settle_poll_interval_seconds=0.01)
    client = CodatClient(settings, transport=httpx.MockTransport(record), sleep=lambda _s: None)
    for name in client_methods():
        current[:] = [name]
        # Reads with every type we read; pushes with every type we push (the client does not know
        # which types a platform accepts writes for: /push/taxRates is no Codat path).
        data_types = pushed_data_types() if name == "push" else pipeline_data_types()
        for kwargs in _calls(getattr(client, name), data_types):
            try:
                result = getattr(client, name)(**kwargs)
                if inspect.isgenerator(result) or isinstance(result, Iterator):
                    list(result)
            except (ValueError, TypeError) as exc:  # refused before any request: nothing to check
                if "connection_id" not in str(exc) and "create-only" not in str(exc):
                    raise
            except Exception as exc:  # noqa: BLE001 (CodatUnsupportedOperation for PUT on create-only types)
                if "create-only" not in str(exc):
                    raise
    client.close()
    return seen


def test_every_public_method_of_the_client_sends_a_request_we_check():
    requests = built_requests()
    assert set(requests) == set(client_methods()), "a client method built no request: the check cannot see it"
    async_methods = {n for n, _ in inspect.getmembers(AsyncCodatClient, inspect.iscoroutinefunction)
                     if not n.startswith("_")}
    async_methods |= {n
                      for n, _ in inspect.getmembers(AsyncCodatClient, inspect.isfunction)
                      if not n.startswith("_")}
    # The async client builds its paths in the same core; it must offer nothing the sync one does not.
    assert async_methods - {"aclose"} <= set(client_methods()) | {"close"}


def test_every_path_the_client_builds_is_in_codats_openapi_files():
    off_spec = sorted(f"{name}: {method} {path}" for name, sent in built_requests().items()
                      for method, path in sent if not matching_templates(method, path))
    assert off_spec == [], "paths Codat does not have:\n" + "\n".join(off_spec)


def test_the_check_catches_a_company_scoped_direct_costs_path():
    assert matching_templates("GET", f"/companies/{COMPANY}/data/directCosts") == []
    assert matching_templates("GET", f"/companies/{COMPANY}/connections/{CONNECTION}/data/directCosts")


def test_issue11_defect3_direct_costs_are_listed_per_connection():
    """Regression: reconciliation listed ``GET /companies/{c}/data/directCosts``, a path Codat lacks."""
    sent = built_requests()
    direct = {path for _, path in sent["iter_records"] if path.endswith("/directCosts")}
    assert direct == {f"/companies/{COMPANY}/connections/{CONNECTION}/data/directCosts"}
    with pytest.raises(ValueError, match="connection"):
        CodatClient(CodatSettings(base_url="https://api.codat.test", api_key="k")).iter_records(COMPANY,
                                                                                                "directCosts")


# ---- what the sandbox serves ---------------------------------------------------------------------

def _segment(data_type: str) -> str:
    return READ_PATH_SEGMENT.get(data_type, data_type)


def documented_read_paths() -> list[str]:
    """Codat's GET templates that list or fetch one of our data types (no sub-resources)."""
    ours = {_segment(t) for t in pipeline_data_types()}
    found = []
    for template, methods in spec_templates().items():
        match = re.fullmatch(r"/companies/\{companyId\}(?:/connections/\{connectionId\})?"
                             r"/data/([^/]+)(/\{[^/]+\})?", template)
        if "GET" in methods and match and match.group(1) in ours:
            found.append(template)
    return sorted(found)


def _fill(template: str, world: dict[str, Any], data_type: str) -> str:
    company = world["company"]
    record = world["records"].get(data_type) or world["reference"][data_type]
    path = template.replace("{companyId}", company["id"]).replace("{connectionId}", company["connectionId"])
    return re.sub(r"\{[^/]+\}$", record, path)


def test_the_spec_documents_read_paths_for_every_type_we_use():
    listed = {re.search(r"/data/([^/]+)$", t).group(1)
              for t in documented_read_paths() if not t.endswith("}")}
    assert listed == {_segment(t) for t in pipeline_data_types()}


@pytest.mark.parametrize("template", documented_read_paths())
def test_the_sandbox_serves_every_documented_read_path(world_with_reference, template):
    data_type = re.search(r"/data/([^/]+)", template).group(1)
    body = fetch(world_with_reference["server"], _fill(template, world_with_reference, data_type))
    if template.endswith("}"):
        assert body["id"]
    else:
        assert body["results"], f"{template} listed nothing"


def undocumented_read_paths() -> list[str]:
    """The other scope of each documented read path, where Codat has no such path."""
    templates = spec_templates()
    others = set()
    for template in documented_read_paths():
        if "/connections/{connectionId}/" in template:
            other = template.replace("/connections/{connectionId}", "")
        else:
            other = template.replace("/companies/{companyId}",
                                     "/companies/{companyId}/connections/{connectionId}")
        if not any(_pattern(t).match(other.replace("{", "").replace("}", "")) and "GET" in m
                   for t, m in templates.items()):
            others.add(other)
    return sorted(others)


def test_the_other_scope_is_checked_for_direct_costs():
    assert "/companies/{companyId}/data/directCosts" in undocumented_read_paths()


@pytest.mark.parametrize("template", undocumented_read_paths())
def test_the_sandbox_answers_404_where_codat_has_no_path(world_with_reference, template):
    data_type = re.search(r"/data/([^/]+)", template).group(1)
    body = fetch(world_with_reference["server"], _fill(template, world_with_reference, data_type), expect=404)
    assert body["statusCode"] == 404


def test_issue11_defect3_reconciliation_reads_direct_costs_back(world, sqlite_engine):
    """Regression, end to end: reconciliation's read-back now finds the pushed fee (it got a 404 before)."""
    from datetime import UTC, datetime

    from receivables.warehouse import io, schema

    company, server = world["company"], world["server"]
    with CodatClient(CodatSettings(base_url=server.base_url, api_key=server.api_key)) as client:
        counts = extract.refresh_platform_documents(client, sqlite_engine, company_id=company["id"],
                                                    connection_id=company["connectionId"],
                                                    now=datetime.now(UTC))
    assert counts["directCosts"] == 1
    rows = io.read_frame(sqlite_engine, schema.metadata.tables["ar_platform_documents"],
                         where={"company_id": company["id"], "data_type": "directCosts"})
    assert rows["platform_id"].tolist() == [world["records"]["directCosts"]]
