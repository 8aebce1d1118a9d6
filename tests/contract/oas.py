"""Turn Codat's OpenAPI component schemas into JSON Schemas and validate documents against them.

The specs declare OpenAPI 3.1 but use 3.0's ``nullable: true``; both are handled: ``$ref`` targets are
inlined (``#/components/...`` and ``#/paths/...`` pointers, recursion cut off), ``nullable`` allows
``null``, and OpenAPI-only keywords are dropped.

    >>> spec = load_spec(oas_dir() / "Codat-Accounting.yaml")
    >>> errors = validation_errors(spec, "Invoice", body)
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest
import yaml

SKIP_MESSAGE = ("CODAT_OAS_DIR is unset: set it to the folder holding Codat-Accounting.yaml "
                "(CI uses ../shared/codat)")
_DROP = {"definitions", "discriminator", "xml", "externalDocs", "example", "examples", "deprecated",
         "readOnly", "writeOnly", "nullable", "x-internal", "title", "description"}


def oas_dir() -> Path:
    """The folder named by ``CODAT_OAS_DIR``; skips the calling test module when unset."""
    value = os.environ.get("CODAT_OAS_DIR")
    if not value:
        pytest.skip(SKIP_MESSAGE, allow_module_level=True)
    path = Path(value)
    if not (path / "Codat-Accounting.yaml").exists():
        pytest.fail(f"CODAT_OAS_DIR={value} does not hold Codat-Accounting.yaml")
    return path


@functools.lru_cache(maxsize=4)
def load_spec(path: Path) -> dict[str, Any]:
    """Parse a spec once per process (the Accounting YAML is 2.3 MB: use the C loader when present)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with Path(path).open("rb") as handle:
        spec = yaml.load(handle, Loader=loader)
    # Spec A's defect (CONTRACT §1): Payments.results.items points at Payments instead of Payment.
    payments = spec.get("components", {}).get("schemas", {}).get("Payments")
    if payments:
        for part in payments.get("allOf", []):
            items = part.get("properties", {}).get("results", {}).get("items", {})
            if items.get("$ref") == "#/components/schemas/Payments":
                items["$ref"] = "#/components/schemas/Payment"
    return spec


def resolve(spec: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer such as ``#/components/schemas/Invoice``."""
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        key = unquote(part.replace("~1", "/").replace("~0", "~"))
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def to_json_schema(spec: dict[str, Any], schema: dict[str, Any] | str, _stack: tuple[str, ...] = ()) -> Any:
    """An inlined JSON Schema for a component name or an OpenAPI schema object."""
    if isinstance(schema, str):
        ref = f"#/components/schemas/{schema}"
        return to_json_schema(spec, {"$ref": ref}, ())
    if isinstance(schema, list):
        return [to_json_schema(spec, item, _stack) for item in schema]
    if not isinstance(schema, dict):
        return schema
    nullable = schema.get("nullable") is True
    if "$ref" in schema:
        ref = schema["$ref"]
        target = {} if ref in _stack else to_json_schema(spec, resolve(spec, ref), (*_stack, ref))
        return {"anyOf": [target, {"type": "null"}]} if nullable else target
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROP or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(spec, sub, _stack) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "propertyNames", "contains"):
            out[key] = to_json_schema(spec, value, _stack) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(spec, sub, _stack) for sub in value]
        else:
            out[key] = value
    if nullable:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"] if "null" not in types else types
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@functools.lru_cache(maxsize=256)
def _validator(spec_path: Path, name: str) -> jsonschema.protocols.Validator:
    schema = to_json_schema(load_spec(spec_path), name)
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    return cls(schema)


def validation_errors(spec_path: Path, name: str, document: Any) -> list[str]:
    """Every way ``document`` breaks component schema ``name`` (empty when it conforms)."""
    errors = _validator(spec_path, name).iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors)
