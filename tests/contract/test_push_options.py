"""The sandbox's create/update models (``GET …/connections/{id}/options/{dataType}``) against the contract.

(a) Every model each platform answers — and the empty one an integration that publishes none answers —
conforms to ``PushOption`` in Codat-Accounting.yaml (from ``CODAT_OAS_DIR``; skipped when unset), at the
path the spec gives; the 404 and 500 answers are Codat ``ErrorMessage`` bodies.

(b) Codat's official Python SDK (``codat-accounting``) reads every model without error and sees the same
rules. The SDK pins ``httpx<0.28``, ``pydantic<2.10`` and ``python-dateutil==2.8.2``, which conflict with
this project's pins (httpx 0.28.1, pydantic 2.14.4), so it is not in requirements.txt: the test runs it
in-process when it is importable, else in the interpreter named by ``CODAT_SDK_PYTHON`` (a separate venv:
``python -m venv /tmp/sdk && /tmp/sdk/bin/pip install codat-accounting==0.36.0``), else skips saying so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from tests.contract.oas import load_spec, oas_dir, validation_errors
from tests.fixtures.sandbox import SandboxProcess, start_sandbox

from codat_sandbox import platforms
from codat_sandbox.options import OPTION_TYPES

OAS = oas_dir()
ACCOUNTING = OAS / "Codat-Accounting.yaml"
PLATFORM = OAS / "Codat-Platform.yaml"
SDK_SKIP = ("codat-accounting is not importable here (it pins httpx<0.28 and pydantic<2.10, which conflict "
            "with requirements.txt): set CODAT_SDK_PYTHON to a Python with codat-accounting==0.36.0 "
            "installed")
# The SDK's method per data type (accounting SDK 0.36.0).
SDK_METHODS = {"customers": ("customers", "get_create_update_model"),
               "invoices": ("invoices", "get_create_update_model"),
               "creditNotes": ("credit_notes", "get_create_update_model"),
               "payments": ("payments", "get_create_model"),
               "directCosts": ("direct_costs", "get_create_model")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    proc = start_sandbox(tmp_path_factory.mktemp("options"), push_delay_ms=0)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def companies(server) -> dict[str, dict[str, Any]]:
    """One company per platform, plus a QuickBooks Online one with multi-currency on."""
    made = {p.name: server.admin.create_company(f"Options {p.alias}", "GBP", platform=p.name)
            for p in platforms.PLATFORMS}
    made["multi"] = server.admin.create_company("Options multi", "USD", platform="qbo")
    response = server.admin.http.put(f"/admin/companies/{made['multi']['id']}/platform",
                                     json={"multiCurrency": True})
    assert response.status_code == 200
    return made


def options_path(company: dict[str, Any], data_type: str) -> str:
    return f"/companies/{company['id']}/connections/{company['connectionId']}/options/{data_type}"


def get(server: SandboxProcess, path: str) -> Any:
    with server.client() as http:
        response = http.get(path)
    return response


def test_the_options_paths_are_codats_and_answer_push_option():
    paths = load_spec(ACCOUNTING)["paths"]
    for data_type in OPTION_TYPES:
        operation = paths[f"/companies/{{companyId}}/connections/{{connectionId}}/options/{data_type}"]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/PushOption"}


@pytest.mark.parametrize("data_type", OPTION_TYPES)
@pytest.mark.parametrize("which", [*(p.name for p in platforms.PLATFORMS), "multi"])
def test_every_platforms_models_conform_to_push_option(server, companies, which, data_type):
    response = get(server, options_path(companies[which], data_type))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["properties"], "a published model has properties"
    assert validation_errors(ACCOUNTING, "PushOption", body) == []


def test_connections_on_every_platform_conform_to_codats_connection(server, companies):
    for company in companies.values():
        connections = get(server, f"/companies/{company['id']}/connections").json()
        assert validation_errors(PLATFORM, "Connections", connections) == []
        [connection] = connections["results"]
        assert connection["sourceType"] == "Accounting" and connection["integrationKey"]


def test_unpublished_models_are_an_empty_push_option_or_an_error_message(server, companies):
    company = companies["Oracle NetSuite"]
    url = f"/admin/companies/{company['id']}/platform"
    try:
        answers = (("empty", 200, "PushOption"), ("notFound", 404, None), ("error", 500, None))
        for mode, status, schema in answers:
            assert server.admin.http.put(url, json={"optionsMode": mode}).status_code == 200
            response = get(server, options_path(company, "invoices"))
            assert response.status_code == status
            if schema:
                assert validation_errors(ACCOUNTING, schema, response.json()) == []
            else:
                assert validation_errors(PLATFORM, "ErrorMessage", response.json()) == []
    finally:
        server.admin.http.put(url, json={"optionsMode": "published"})


# ---- Codat's official SDK ---------------------------------------------------------------------------

def _digest(node: dict[str, Any], path: str = "") -> list[list[Any]]:
    """What the pipeline reads of a model, path by path: type, required, allowed values, rules' details."""
    validation = node.get("validation") or {}
    choices = [c.get("value") for c in node.get("options") or []]
    rows = [[path, node.get("type"), node.get("required"), choices,
             [w.get("details") for w in validation.get("warnings") or []],
             [i.get("details") for i in validation.get("information") or []]]]
    for name, child in sorted((node.get("properties") or {}).items()):
        rows += _digest(child, f"{path}.{name}" if path else name)
    return rows


# Run by the SDK's interpreter: reads each (company, connection, data type) and prints the models as the
# SDK parsed them (dumped by alias, so they compare with the raw JSON).
_SDK_SCRIPT = """
import json, sys
from codat_accounting import CodatAccounting
from codat_accounting.models import shared
args = json.loads(sys.argv[1])
sdk = CodatAccounting(security=shared.Security(auth_header=args["auth"]), server_url=args["url"])
out = []
for company_id, connection_id, data_type, resource, method in args["calls"]:
    model = getattr(getattr(sdk, resource), method)(request={"company_id": company_id,
                                                              "connection_id": connection_id})
    out.append({"dataType": data_type, "type": type(model).__name__,
                "model": model.model_dump(by_alias=True, mode="json")})
print(json.dumps(out))
"""


def _run_sdk(server: SandboxProcess, calls: list[list[str]]) -> list[dict[str, Any]]:
    args = json.dumps({"url": server.base_url, "auth": server.auth_header, "calls": calls})
    if importlib.util.find_spec("codat_accounting") is not None:
        python = sys.executable
    elif os.environ.get("CODAT_SDK_PYTHON"):
        python = os.environ["CODAT_SDK_PYTHON"]
    else:
        pytest.skip(SDK_SKIP)
    done = subprocess.run([python, "-c", _SDK_SCRIPT, args], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_codats_sdk_reads_every_model_of_every_platform(server, companies):
    calls = [[company["id"], company["connectionId"], data_type, *SDK_METHODS[data_type]]
             for company in companies.values() for data_type in OPTION_TYPES]
    read = _run_sdk(server, calls)
    assert len(read) == len(calls)
    for (company_id, connection_id, data_type, *_), parsed in zip(calls, read, strict=True):
        assert parsed["type"] == "PushOption" and parsed["dataType"] == data_type
        raw = get(server, options_path({"id": company_id, "connectionId": connection_id}, data_type)).json()
        assert _digest(parsed["model"]) == _digest(raw)
