"""The compiled schema check says "conforms" exactly when jsonschema finds no error — never more leniently
(the store skips jsonschema's walk on that yes) and never more strictly."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from codat_sandbox.fastschema import conforms
from codat_sandbox.schemas import BUILTIN_SCHEMAS, SCHEMA_NAMES, PushSchemas, load_spec, to_json_schema
from tests.codat_sandbox.builders import credit_note, invoice, invoice_line, payment

DRAFT = jsonschema.Draft202012Validator
# What a field is replaced by: every JSON type, the edges of the keywords (empty string, 1.0 as an
# integer, bool as no number) and a value of an enum written in another case.
REPLACEMENTS = (None, "", "x", "Submitted", "submitted", 0, 1, 1.0, 1.5, -2, True, False, [], [{}], {},
                {"id": ""}, {"id": "x"}, {"surprise": 1})


def bodies() -> dict[str, dict[str, Any]]:
    c = "company"
    link = {"type": "Invoice", "id": "inv", "amount": -120.0, "currencyRate": 1}
    return {
        "Invoice": invoice(c, "cust", [invoice_line(c), invoice_line(c, 10.0, itemRef={"id": "i"})],
                           note=None, metadata={"isDeleted": False}),
        "CreditNote": credit_note(c, "cust"),
        "Payment": payment(c, "cust", [link, {"type": "PaymentOnAccount", "id": "cust", "amount": -1}]),
        "Customer": {"customerName": "Acme", "status": "Active", "defaultCurrency": "GBP",
                     "addresses": [{"type": "Billing", "line1": "1 Road", "city": None}]},
        "DirectCost": {"issueDate": "2026-05-01", "currency": "GBP", "subTotal": 10, "taxAmount": 2,
                       "totalAmount": 12, "paymentAllocations": [],
                       "lineItems": [{"unitAmount": 10, "quantity": 1, "tracking": {"recordRefs": []}}]},
    }


def mutations(body: Any) -> Iterator[Any]:
    """The body with one place changed: each value replaced, each key dropped, a key added anywhere."""
    yield body
    for path in _paths(body):
        for replacement in REPLACEMENTS:
            yield _changed(body, path, lambda parent, key, r=replacement: parent.__setitem__(key, r))
        if isinstance(path[-1], str):
            yield _changed(body, path, lambda parent, key: parent.pop(key))
    for path in [(), *_paths(body)]:
        yield _changed(body, (*path, "surprise"), lambda parent, key: parent.__setitem__(key, 1))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _changed(body: Any, path: tuple[Any, ...], change: Any) -> Any:
    out = copy.deepcopy(body)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) or isinstance(path[-1], int):
        change(parent, path[-1])
    return out


def assert_same_verdicts(schema: dict[str, Any], body: Any) -> int:
    fast, slow = conforms(schema, DRAFT), DRAFT(schema)
    checked = 0
    for candidate in mutations(body):
        assert fast(candidate) == slow.is_valid(candidate), candidate
        checked += 1
    return checked


@pytest.mark.parametrize("name", sorted(BUILTIN_SCHEMAS))
def test_the_builtin_schemas_compile_to_jsonschemas_verdicts(name):
    assert assert_same_verdicts(BUILTIN_SCHEMAS[name], bodies()[name]) > 100


def test_the_spec_schemas_compile_to_jsonschemas_verdicts():
    folder = os.environ.get("CODAT_OAS_DIR")
    if not folder or not (Path(folder) / "Codat-Accounting.yaml").exists():
        pytest.skip("CODAT_OAS_DIR is unset: the builtin copy is checked above")
    spec = load_spec(Path(folder) / "Codat-Accounting.yaml")
    for name, body in bodies().items():
        assert_same_verdicts(to_json_schema(spec, name), body)


KEYWORD_CASES = [
    ({"type": "integer"}, [1, 1.0, 1.5, True, "1", None]),
    ({"type": ["number", "boolean"]}, [1, 1.5, True, "1", None]),
    ({"enum": ["a", "b"]}, ["a", "c", None, 1, ["a"]]),
    ({"enum": []}, ["a", None]),
    ({"minLength": 2, "maxLength": 3}, ["a", "ab", "abcd", 5, None]),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "number"}},
     [{"a": "x", "b": 1}, {"a": "x", "b": "y"}, {"a": 1}, [], "s"]),
    ({"additionalProperties": False}, [{}, {"a": 1}, [1]]),
    ({"required": ["a"], "properties": {"a": False}}, [{}, {"a": 1}, 3]),
    ({"items": {"type": "string"}}, [[], ["a"], ["a", 1], {"0": 1}]),
    ({"allOf": [{"type": "object"}, {"required": ["a"]}]}, [{"a": 1}, {}, []]),
    ({"anyOf": [{"type": "string"}, {"type": "null"}]}, ["a", None, 1]),
    ({"oneOf": [{"type": "number"}, {"type": "integer"}]}, [1, 1.5, "a"]),
    # the shapes compiled into one closure each: nullable or not, with their keywords
    ({"type": ["string", "null"], "enum": ["a"]}, [None, "a", "b", 1]),
    ({"type": "string", "minLength": 1}, [None, "", "a", 1]),
    ({"type": ["object", "null"], "required": ["a"]}, [None, {}, {"a": 1}, [], "a"]),
    ({"type": "object", "properties": {"a": {"type": "number"}}}, [None, {}, {"a": "x"}, {"a": 1}]),
    ({"type": ["array", "null"], "items": {"type": "number"}}, [None, [], [1], ["a"], {}]),
    ({"type": "array"}, [[], None, {}]),
    # type-only properties, tested inline by their object
    ({"properties": {"a": {"type": "number"}, "b": {"type": "integer"}, "c": {"type": ["string", "null"]},
                     "d": {"type": "boolean"}, "e": {"type": "object"}}},
     [{"a": 1, "b": 2, "c": None, "d": False, "e": {}}, {"a": True}, {"b": 1.0}, {"b": 1.5}, {"b": True},
      {"c": 1}, {"d": 0}, {"e": []}, {"a": "1"}]),
    # keywords left to jsonschema (this object only), and references (the whole schema)
    ({"properties": {"n": {"type": "number", "minimum": 0}}}, [{"n": 1}, {"n": -1}, {}]),
    ({"properties": {"s": {"pattern": "^a"}}}, [{"s": "ab"}, {"s": "ba"}]),
    ({"patternProperties": {"^x": {"type": "string"}}, "additionalProperties": False},
     [{"x1": "a"}, {"x1": 1}, {"y": 1}]),
    ({"prefixItems": [{"type": "string"}], "items": {"type": "number"}}, [["a", 1], ["a", "b"], [1]]),
    ({"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}},
     [{"a": "x"}, {"a": 1}]),
    ({"format": "date", "type": "string"}, ["2026-13-45", "x", 1]),
    (True, [1, None]), (False, [1, None]),
]


@pytest.mark.parametrize("schema, values", KEYWORD_CASES)
def test_each_keyword_matches_jsonschema(schema, values):
    fast, slow = conforms(schema, DRAFT), DRAFT(schema)
    assert [fast(v) for v in values] == [slow.is_valid(v) for v in values]


def test_errors_still_come_from_jsonschema():
    schemas = PushSchemas.builtin()
    body = bodies()["Payment"]
    assert schemas.errors("payments", body) == []
    body["lines"][0]["links"][0]["surprise"] = 1
    [error] = schemas.errors("payments", body)
    assert error["validatorName"] == SCHEMA_NAMES["payments"]
    assert "Additional properties are not allowed ('surprise' was unexpected)" in error["message"]
