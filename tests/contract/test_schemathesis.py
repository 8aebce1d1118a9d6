"""(e) The running sandbox fuzzed with schemathesis from Codat's own OpenAPI files (``CODAT_OAS_DIR``).

For every operation of the paths and data types we use (read paths of our data types, push operations,
companies and connections, refreshes and data status), a few generated requests each — query
parameters from the spec, real ids in the path — must get no server error and no response that breaks
the spec's schema for its status code. Bounded and derandomized: a few examples per operation, well
under a minute. Skipped, with the reason, when ``CODAT_OAS_DIR`` is unset.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import pytest
import schemathesis  # pinned in requirements.txt: a missing install fails loudly, never skips
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from tests.contract.oas import load_spec, oas_dir

OAS = oas_dir()  # skips this module, with the reason, before anything reads the spec

from tests.contract.test_paths import documented_read_paths, pipeline_data_types  # noqa: E402

EXAMPLES_PER_OPERATION = 3
PLATFORM_PATHS = {
    "/companies": {"get"},
    "/companies/{companyId}": {"get"},
    "/companies/{companyId}/connections": {"get"},
    "/companies/{companyId}/connections/{connectionId}": {"get"},
    "/companies/{companyId}/push": {"get"},
    "/companies/{companyId}/push/{pushOperationKey}": {"get"},
    "/companies/{companyId}/dataStatus": {"get"},
    "/companies/{companyId}/data/queue/{dataType}": {"post"},
    "/companies/{companyId}/data/history": {"get"},
    "/companies/{companyId}/data/history/{datasetId}": {"get"},
}


def _nullable_as_31(node: Any) -> Any:
    """The specs say OpenAPI 3.1 but write 3.0's ``nullable: true``; schemathesis reads 3.1, so spell it
    out."""
    if isinstance(node, list):
        return [_nullable_as_31(item) for item in node]
    if isinstance(node, date | datetime):  # YAML reads unquoted example dates as dates; JSON has strings
        return node.isoformat()
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_as_31(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "$ref" in out:
            return {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"] if "null" not in types else types
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _ours(spec_name: str) -> dict[str, set[str]]:
    """path template → methods we fuzz in this spec file."""
    paths = load_spec(OAS / spec_name)["paths"]
    if spec_name == "Codat-Platform.yaml":
        return {p: m for p, m in PLATFORM_PATHS.items() if p in paths}
    wanted: dict[str, set[str]] = {t: {"get"} for t in documented_read_paths() if t in paths}
    pushed = {t for t in pipeline_data_types()}
    for template, item in paths.items():
        match = re.fullmatch(r"/companies/\{companyId\}/connections/\{connectionId\}"
                             r"/push/([^/]+)(/\{[^/]+\})?", template)
        if match and match.group(1) in pushed and match.group(1) in ("invoices", "creditNotes", "customers"):
            # PUT on a record: generated bodies, real ids; POSTs are covered by the push tests with real
            # bodies.
            wanted.setdefault(template, set()).update({"put"} & set(item))
    return wanted


def load(spec_name: str) -> Any:
    # The whole file is kept (its schemas refer into other paths); only our operations are selected.
    keep = _ours(spec_name)
    schema = schemathesis.openapi.from_dict(_nullable_as_31(load_spec(OAS / spec_name)))
    return schema.include(lambda ctx: ctx.operation.method.lower() in keep.get(ctx.operation.path, ()))


SCHEMAS = {name: load(name) for name in ("Codat-Accounting.yaml", "Codat-Platform.yaml")}


def _operations() -> list[tuple[str, str]]:
    found = []
    for name, schema in SCHEMAS.items():
        for result in schema.get_all_operations():
            operation = result.ok()
            found.append((name, operation.label))
    return sorted(found)


def _operation(name: str, label: str) -> Any:
    for result in SCHEMAS[name].get_all_operations():
        if result.ok().label == label:
            return result.ok()
    raise LookupError(label)


def _path_ids(world: dict[str, Any], operation: Any) -> dict[str, str]:
    """Real ids for every path parameter, so requests reach records and their responses get checked."""
    company, records, reference = world["company"], world["records"], world["reference"]
    by_parameter = {
        "companyId": company["id"], "connectionId": company["connectionId"],
        "pushOperationKey": world["operation"],
        "datasetId": world["pull"], "accountId": reference["accounts"], "taxRateId": reference["taxRates"],
        "trackingCategoryId": reference["trackingCategories"], "customerId": records["customers"],
        "invoiceId": records["invoices"], "creditNoteId": records["creditNotes"],
        "paymentId": records["payments"], "directCostId": records["directCosts"],
    }
    names = re.findall(r"\{([^}]+)\}", operation.path)
    if "accountId" in names and "bankAccounts" in operation.path:
        by_parameter["accountId"] = reference["bankAccounts"]
    return {name: by_parameter[name] for name in names if name in by_parameter}


@pytest.fixture(scope="module")
def fuzz_world(world_with_reference):
    with world_with_reference["server"].client() as http:
        pull = http.post(f"/companies/{world_with_reference['company']['id']}/data/queue/invoices").json()
    return {**world_with_reference, "pull": pull["id"]}


def test_every_operation_we_use_is_fuzzed():
    labels = {label for _, label in _operations()}
    assert "GET /companies/{companyId}/connections/{connectionId}/data/directCosts" in labels
    assert "GET /companies/{companyId}/data/invoices/{invoiceId}" in labels
    assert "POST /companies/{companyId}/data/queue/{dataType}" in labels
    assert not any("/data/directCosts" in label and "/connections/" not in label for label in labels)


@pytest.mark.parametrize(("spec_name", "label"), _operations())
def test_the_sandbox_answers_generated_requests_as_the_spec_says(fuzz_world, spec_name, label):
    operation = _operation(spec_name, label)
    server = fuzz_world["server"]
    auth = {"Authorization": server.auth_header}
    strategy = operation.as_strategy(path_parameters=_path_ids(fuzz_world, operation))
    statuses: list[int] = []

    @given(case=strategy)
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(base_url=server.base_url, headers=auth, timeout=10)
        statuses.append(response.status_code)
        case.validate_response(response,
                               checks=[checks.not_a_server_error, checks.response_schema_conformance,
                                       checks.content_type_conformance])

    check()
    assert statuses, "no request was generated"
