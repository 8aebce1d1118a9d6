"""A JSON Schema compiled once into a predicate that answers one question fast: does a body conform?

jsonschema walks the schema afresh for every instance (a validator evolved per keyword and value: about
a millisecond per five-line invoice on the shared machine, a third of the sandbox's CPU per push). The
push path needs only a yes for the bodies that conform — nearly all of them — and on a no the caller
asks jsonschema for its errors as before, so every message is still jsonschema's own.

:func:`conforms` gives a predicate equal to ``validator.is_valid``. The keywords the push schemas use
(``type``, ``properties``, ``required``, ``additionalProperties``, ``items``, ``enum`` of strings,
``minLength``, ``maxLength``, ``allOf``/``anyOf``/``oneOf``) are closures with jsonschema's draft
2020-12 semantics; a schema object holding any other keyword jsonschema applies is answered by
jsonschema itself (that object only), and a schema with references or ``unevaluated*`` keywords
entirely. Keywords jsonschema does not apply (annotations; ``format``, which it checks only with a
format checker, and the push validators have none) are skipped as it skips them.

    >>> import jsonschema
    >>> schema = {"type": "object", "properties": {"id": {"type": "string", "minLength": 1}},
    ...           "required": ["id"], "additionalProperties": False}
    >>> check = conforms(schema, jsonschema.Draft202012Validator)
    >>> check({"id": "x"}), check({"id": ""}), check({"id": "x", "more": 1}), check([])
    (True, False, False, False)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that need the whole schema (references resolve against the root; unevaluated* see every
# subschema's annotations): with any of them anywhere, jsonschema answers for the whole body.
_WHOLE_SCHEMA = frozenset({"$ref", "$dynamicRef", "$recursiveRef", "$defs", "definitions", "$id", "$anchor",
                           "$dynamicAnchor", "$schema", "unevaluatedProperties", "unevaluatedItems"})
_COMPILED = frozenset({"type", "properties", "required", "additionalProperties", "items", "enum",
                       "minLength", "maxLength", "allOf", "anyOf", "oneOf", "format"})


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is float or kind is int:  # what orjson gives; the ABC check below is slow
        return True
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:  # draft 6 and later: 1.0 is an integer
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or isinstance(value, float) and value.is_integer()


# jsonschema's draft 2020-12 type checker, name by name.
_PLAIN_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "object": dict, "array": list,
                                                    "boolean": bool, "null": type(None)}


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def conforms(schema: Any, validator_class: Any) -> Check:
    """A predicate equal to ``validator_class(schema).is_valid`` (without a format checker)."""
    whole = validator_class(schema)
    if whole.format_checker is not None or _mentions(schema, _WHOLE_SCHEMA):
        return whole.is_valid
    return _Compiler(validator_class).compile(schema)


def _mentions(schema: Any, names: frozenset[str]) -> bool:
    if isinstance(schema, dict):
        return any(key in names or _mentions(value, names) for key, value in schema.items())
    if isinstance(schema, list):
        return any(_mentions(item, names) for item in schema)
    return False


class _Compiler:
    def __init__(self, validator_class: Any) -> None:
        self.cls = validator_class
        self.applied = frozenset(validator_class.VALIDATORS)

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            return self.cls(schema).is_valid
        applied = [key for key in schema if key in self.applied]
        unsupported = set(applied) - _COMPILED
        if unsupported or not self._supported_values(schema):
            return self.cls(schema).is_valid  # jsonschema itself, for this object only
        typed = self._typed(schema, set(applied))
        if typed is not None:
            return typed
        checks = [check for check in (self._type(schema), self._strings(schema), self._object(schema),
                                      self._array(schema), *self._combined(schema)) if check is not None]
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]

        def all_of(value: Any) -> bool:
            for check in checks:
                if not check(value):
                    return False
            return True

        return all_of

    @staticmethod
    def _supported_values(schema: dict[str, Any]) -> bool:
        """The keyword values compiled here; anything unusual is left to jsonschema."""
        types = schema.get("type", "string")
        names = types if isinstance(types, list) else [types]
        if not all(isinstance(n, str) and (n in _PLAIN_TYPES or n in ("number", "integer")) for n in names):
            return False
        if "enum" in schema and not (isinstance(schema["enum"], list)
                                     and all(isinstance(v, str) for v in schema["enum"])):
            return False
        if "patternProperties" in schema or "prefixItems" in schema:
            return False  # additionalProperties / items read them
        for key in ("minLength", "maxLength"):
            if key in schema and (isinstance(schema[key], bool) or not isinstance(schema[key], int)):
                return False
        return all(isinstance(schema.get(key, []), list) for key in ("required", "allOf", "anyOf", "oneOf"))

    def _typed(self, schema: dict[str, Any], applied: set[str]) -> Check | None:
        """One closure for the common shapes (an object, an array or a string, perhaps nullable): the
        same verdicts as the type check and the keyword checks one after the other, in fewer calls."""
        if "type" not in schema:
            return None
        kinds = set(schema["type"] if isinstance(schema["type"], list) else [schema["type"]])
        null_ok, kinds = "null" in kinds, kinds - {"null"}
        if kinds == {"object"} and applied <= {"type", "properties", "required", "additionalProperties",
                                               "format"}:
            fields = self._fields(schema)
            return lambda value: fields(value) if isinstance(value, dict) else null_ok and value is None
        if kinds == {"array"} and applied <= {"type", "items", "format"}:
            each = self.compile(schema.get("items", True))

            def typed_array(value: Any) -> bool:
                if not isinstance(value, list):
                    return null_ok and value is None
                for item in value:
                    if not each(item):
                        return False
                return True

            return typed_array
        if kinds == {"string"} and applied <= {"type", "enum", "minLength", "maxLength", "format"}:
            rules = self._strings(schema) or _always
            # null passes the type, then an enum of strings refuses it; length rules ignore it
            return lambda value: rules(value) if isinstance(value, str) else (
                null_ok and value is None and "enum" not in schema)
        return None

    @staticmethod
    def _type(schema: dict[str, Any]) -> Check | None:
        if "type" not in schema:
            return None
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        plain = tuple(_PLAIN_TYPES[n] for n in names if n in _PLAIN_TYPES)
        number, integer = "number" in names, "integer" in names and "number" not in names
        if not number and not integer:
            return lambda value: isinstance(value, plain)
        if number and not plain:
            return _is_number

        def is_type(value: Any) -> bool:
            if isinstance(value, plain):
                return True
            return (number and _is_number(value)) or (integer and _is_integer(value))

        return is_type

    @staticmethod
    def _strings(schema: dict[str, Any]) -> Check | None:
        if not {"enum", "minLength", "maxLength"} & set(schema):
            return None
        allowed = frozenset(schema["enum"]) if "enum" in schema else None
        shortest, longest = schema.get("minLength", 0), schema.get("maxLength")

        def string_rules(value: Any) -> bool:
            if allowed is not None and not (isinstance(value, str) and value in allowed):
                return False  # an enum of strings: only an equal string is one of them
            if isinstance(value, str):
                return len(value) >= shortest and (longest is None or len(value) <= longest)
            return True

        return string_rules

    def _object(self, schema: dict[str, Any]) -> Check | None:
        if not {"properties", "required", "additionalProperties"} & set(schema):
            return None
        fields = self._fields(schema)
        return lambda value: fields(value) if isinstance(value, dict) else True

    def _fields(self, schema: dict[str, Any]) -> Check:
        """``properties``, ``required`` and ``additionalProperties`` of a dict."""
        properties = (schema.get("properties") or {}).items()
        known = {name: (self._leaf_types(sub), self.compile(sub)) for name, sub in properties}
        required = tuple(schema.get("required", ()))
        extra = self.compile(schema["additionalProperties"]) if "additionalProperties" in schema else _always
        open_ended = extra is _always

        def object_rules(value: dict[str, Any]) -> bool:
            for name in required:
                if name not in value:
                    return False
            for name, item in value.items():
                rule = known.get(name)
                if rule is None:
                    if not open_ended and not extra(item):
                        return False
                elif type(item) not in rule[0] and not rule[1](item):
                    return False
            return True

        return object_rules

    def _leaf_types(self, schema: Any) -> frozenset[type]:
        """For a schema of nothing but a type: the exact Python types that surely pass it (JSON as orjson
        parses it), tested inline by the parent; anything else (a bool for a number, 1.0 for an
        integer, a subclass) still goes to the schema's check."""
        if not isinstance(schema, dict) or "type" not in schema or not self._supported_values(schema):
            return frozenset()
        if {key for key in schema if key in self.applied} - {"type", "format"}:
            return frozenset()
        exact = {"string": (str,), "null": (type(None),), "number": (int, float), "integer": (int,),
                 "boolean": (bool,), "object": (), "array": ()}
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return frozenset(kind for name in names for kind in exact[name])

    def _array(self, schema: dict[str, Any]) -> Check | None:
        if "items" not in schema:
            return None
        each = self.compile(schema["items"])

        def array_rules(value: Any) -> bool:
            if not isinstance(value, list):
                return True
            for item in value:
                if not each(item):
                    return False
            return True

        return array_rules

    def _combined(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "allOf" in schema:
            parts = [self.compile(sub) for sub in schema["allOf"]]
            out.append(lambda value: all(part(value) for part in parts))
        if "anyOf" in schema:
            options = [self.compile(sub) for sub in schema["anyOf"]]
            out.append(lambda value: any(option(value) for option in options))
        if "oneOf" in schema:
            choices = [self.compile(sub) for sub in schema["oneOf"]]
            out.append(lambda value: sum(1 for choice in choices if choice(value)) == 1)
        return out
