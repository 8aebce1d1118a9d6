"""(d) The sandbox applies Codat's request schemas to push bodies — from the OpenAPI file, or its own copy
of them, which must not drift from the file."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from tests.codat_sandbox.builders import Api, account_id, invoice, payment
from tests.contract.oas import oas_dir
from tests.contract.test_request_bodies import SHAPES, body
from tests.fixtures.sandbox import start_sandbox

from codat_sandbox.schemas import BUILTIN_SCHEMAS, SCHEMA_NAMES, PushSchemas

OAS = oas_dir()


def _types(schema: dict[str, Any]) -> set[str] | None:
    if "type" not in schema:
        return None
    return set(schema["type"] if isinstance(schema["type"], list) else [schema["type"]])


def merged(schema: Any) -> Any:
    """One schema for an ``allOf``: properties and required united, types intersected."""
    if not isinstance(schema, dict) or "allOf" not in schema:
        return schema
    out = {k: v for k, v in schema.items() if k != "allOf"}
    for part in map(merged, schema["allOf"]):
        if not isinstance(part, dict):
            continue
        ours, theirs = _types(out), _types(part)
        if theirs is not None:
            out["type"] = sorted(theirs if ours is None else ours & theirs)
        out["properties"] = {**out.get("properties", {}), **part.get("properties", {})}
        out["required"] = sorted(set(out.get("required", [])) | set(part.get("required", [])))
        if part.get("additionalProperties") is False:
            out["additionalProperties"] = False
    return out


def facts(schema: Any, path: str = "", out: dict[str, dict[str, Any]] | None = None
          ) -> dict[str, dict[str, Any]]:
    """path → what the schema states there (types, enum, required, closed, minLength), allOf merged."""
    out = {} if out is None else out
    schema = merged(schema)
    if not isinstance(schema, dict):
        return out
    node = out.setdefault(path, {"type": set(), "enum": None, "required": set(), "closed": False,
                                 "minLength": None})
    if "anyOf" in schema and len(schema["anyOf"]) == 2 and {"type": "null"} in schema["anyOf"]:
        node["type"].add("null")
        facts(next(s for s in schema["anyOf"] if s != {"type": "null"}), path, out)
    if "type" in schema:
        node["type"] |= _types(schema)
    if "enum" in schema:
        node["enum"] = {v for v in schema["enum"] if v is not None}
    node["required"] |= set(schema.get("required", []))
    node["closed"] = node["closed"] or schema.get("additionalProperties") is False
    node["minLength"] = schema.get("minLength", node["minLength"])
    for name, sub in (schema.get("properties") or {}).items():
        facts(sub, f"{path}.{name}" if path else name, out)
    if isinstance(schema.get("items"), dict):
        facts(schema["items"], f"{path}[]", out)
    return out


def spec_facts(name: str) -> dict[str, dict[str, Any]]:
    from codat_sandbox.schemas import load_spec, to_json_schema

    return facts(to_json_schema(load_spec(OAS / "Codat-Accounting.yaml"), name))


@pytest.mark.parametrize("name", sorted(BUILTIN_SCHEMAS))
def test_the_sandboxs_own_copy_states_exactly_what_the_spec_states(name):
    ours, spec = facts(BUILTIN_SCHEMAS[name]), spec_facts(name)
    drift = []
    for path, stated in ours.items():
        if path not in spec:
            drift.append(f"{path}: not in Codat's {name}")
            continue
        for key in ("type", "required", "closed", "minLength"):
            if stated[key] != spec[path][key]:
                drift.append(f"{path}: {key} {stated[key]} here, {spec[path][key]} in the spec")
        if stated["enum"] != spec[path]["enum"]:
            drift.append(f"{path}: enum {stated['enum']} here, {spec[path]['enum']} in the spec")
    # Every closed object of the spec (e.g. payment links) is closed here too.
    drift += [f"{path}: additionalProperties false in the spec, open here"
              for path, stated in spec.items() if stated["closed"] and not ours.get(path, {}).get("closed")]
    assert drift == []


def test_the_drift_check_sees_a_changed_copy():
    changed = copy.deepcopy(BUILTIN_SCHEMAS["Payment"])
    del changed["properties"]["lines"]["items"]["properties"]["links"]["items"]["additionalProperties"]
    ours = facts(changed)
    assert not ours["lines[].links[]"]["closed"] and spec_facts("Payment")["lines[].links[]"]["closed"]


@pytest.fixture(scope="module", params=["builtin", "oas"])
def schemas(request) -> PushSchemas:
    return PushSchemas.builtin() if request.param == "builtin" else PushSchemas.from_oas_dir(OAS)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_our_request_bodies_pass_both_schema_sources(schemas, name):
    data_type, sent = body(name)
    assert schemas.errors(data_type, orjson.loads(sent)) == []


BREAKS = {
    "extra property on a payment link": ("payments", "lines.0.links.0.surprise", 1, "Additional properties"),
    "amount as a string": ("invoices", "totalAmount", "120.00", "is not of type 'number'"),
    "unknown status": ("invoices", "status", "Sent", "is not one of"),
    "missing required date": ("payments", "date", None, "'date' is a required property"),
    "line without quantity": ("invoices", "lineItems.0.quantity", None, "'quantity' is a required property"),
    "empty customer id": ("creditNotes", "customerRef.id", "", "should be non-empty"),
    "link type unknown": ("payments", "lines.0.links.0.type", "Cheque", "is not one of"),
    "customer status missing": ("customers", "status", None, "'status' is a required property"),
    "direct cost without allocations": ("directCosts", "paymentAllocations", None,
                                        "'paymentAllocations' is a required property"),
}
_BODY_FOR = {"payments": "invoice payment", "invoices": "invoice", "creditNotes": "credit note",
             "customers": "customer", "directCosts": "direct cost"}


def broken(data_type: str, path: str, value: Any) -> dict[str, Any]:
    sent = orjson.loads(body(_BODY_FOR[data_type])[1])
    node: Any = sent
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is None:
        node.pop(last)
    else:
        node[last] = value
    return sent


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_both_schema_sources_refuse_what_codat_refuses(schemas, case):
    data_type, path, value, fragment = BREAKS[case]
    errors = schemas.errors(data_type, broken(data_type, path, value))
    assert errors and any(fragment in e["message"] for e in errors), errors
    assert {e["validatorName"] for e in errors} == {SCHEMA_NAMES[data_type]}


def test_a_sandbox_started_with_the_spec_fails_a_push_that_breaks_it(tmp_path):
    server = start_sandbox(tmp_path / "oas", push_delay_ms=0, oas_dir=str(OAS))
    try:
        company = server.admin.create_company("Schema Ltd", "GBP")
        with server.client() as http:
            api = Api(http, company)
            customer = api.customer()
            invoice_id = api.create("invoices", invoice(api.company_id, customer))
            body = payment(api.company_id, customer, [{"type": "Invoice", "id": invoice_id, "amount": -120,
                                                       "note": "not a link field"}])
            failed = api.push("payments", body)
            assert failed["status"] == "Failed" and failed["statusCode"] == 400
            assert api.errors(failed) == ["lines[0].links[0]: Additional properties are not allowed "
                                          "('note' was unexpected)"]
            assert failed["validation"]["errors"][0]["itemId"] == "lines[0].links[0]"
            # The same payment without the stray field goes through: the schema, not the rules, refused it.
            del body["lines"][0]["links"][0]["note"]
            assert api.push("payments", body)["status"] == "Success"
            assert api.get("invoices", invoice_id)["amountDue"] == 0
            assert account_id(api.company_id, "1200") == body["accountRef"]["id"]
    finally:
        server.stop()


def test_a_missing_spec_folder_stops_the_sandbox_with_one_line(tmp_path):
    with pytest.raises(RuntimeError, match="does not exist"):
        start_sandbox(tmp_path / "nooas", oas_dir=str(tmp_path / "nowhere"))
