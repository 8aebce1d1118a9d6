"""Validate documents against Codat's OpenAPI component schemas (read from ``CODAT_OAS_DIR``).

The conversion to JSON Schema lives in :mod:`codat_sandbox.schemas` (the sandbox applies the same
schemas to push bodies): the specs declare OpenAPI 3.1 but use 3.0's ``nullable: true``; ``$ref``
targets are inlined (recursion cut off), ``nullable`` allows ``null``, OpenAPI-only keywords are dropped.

    >>> spec = load_spec(oas_dir() / "Codat-Accounting.yaml")
    >>> errors = validation_errors(spec, "Invoice", body)
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from codat_sandbox.schemas import load_spec, resolve, to_json_schema

__all__ = ["SKIP_MESSAGE", "load_spec", "oas_dir", "resolve", "to_json_schema", "validation_errors"]

SKIP_MESSAGE = ("CODAT_OAS_DIR is unset: set it to the folder holding Codat-Accounting.yaml "
                "(CI uses ../shared/codat)")


def oas_dir() -> Path:
    """The folder named by ``CODAT_OAS_DIR``; skips the calling test module when unset."""
    value = os.environ.get("CODAT_OAS_DIR")
    if not value:
        pytest.skip(SKIP_MESSAGE, allow_module_level=True)
    path = Path(value)
    if not (path / "Codat-Accounting.yaml").exists():
        pytest.fail(f"CODAT_OAS_DIR={value} does not hold Codat-Accounting.yaml")
    return path


@functools.lru_cache(maxsize=256)
def _validator(spec_path: Path, name: str) -> jsonschema.protocols.Validator:
    schema = to_json_schema(load_spec(spec_path), name)
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    return cls(schema)


def validation_errors(spec_path: Path, name: str, document: Any) -> list[str]:
    """Every way ``document`` breaks component schema ``name`` (empty when it conforms)."""
    errors = _validator(spec_path, name).iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors)
