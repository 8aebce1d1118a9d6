"""Codat's request schemas for push bodies, applied before the business rules of :mod:`validation`.

Two sources, one checker:

- **Codat's OpenAPI file** when the sandbox is started with it (``--oas-dir DIR`` or
  ``CODAT_SANDBOX_OAS_DIR``; DIR holds ``Codat-Accounting.yaml``, as ``CODAT_OAS_DIR`` does for the
  contract tests). Its component schemas ``Invoice``, ``CreditNote``, ``Payment``, ``Customer`` and
  ``DirectCost`` become JSON Schemas (``$ref`` inlined, 3.0's ``nullable`` read as 3.1's ``null`` type).
- **The sandbox's own copy** otherwise (the spec files are never copied into the repo): the same rules
  for every property a receivables push uses — types, required fields, enums, ``minLength`` and
  ``additionalProperties: false`` (payment links, direct-cost tracking). A contract test checks that the
  copy states nothing the spec does not.

A body that breaks its schema fails its push operation with Codat-style validation items::

    >>> PushSchemas.builtin().errors("payments", {"date": "2026-05-01", "lines": [{"amount": 1, "links": [
    ...     {"type": "Invoice", "id": "i", "amount": -1, "surprise": 1}]}]})[0]["message"]
    "lines[0].links[0]: Additional properties are not allowed ('surprise' was unexpected)"
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from codat_sandbox.fastschema import conforms

# Data type → component schema name in Codat-Accounting.yaml (and the validator name in errors).
SCHEMA_NAMES = {"invoices": "Invoice", "creditNotes": "CreditNote", "payments": "Payment",
                "customers": "Customer",
                "directCosts": "DirectCost"}
_DROP = {"definitions", "discriminator", "xml", "externalDocs", "example", "examples", "deprecated",
         "readOnly", "writeOnly", "nullable", "x-internal", "title", "description"}


# ---- Codat's OpenAPI files -----------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def load_spec(path: Path) -> dict[str, Any]:
    """Parse a spec once per process (the Accounting YAML is 2.3 MB: the C loader when present)."""
    import yaml

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
    # Another of Spec A's: BankStatementAccount (the deprecated company-scoped GET of one bank account)
    # types its modifiedDate/sourceModifiedDate as the ModifiedDates wrapper objects, not DateTime, so no
    # record could conform (schemathesis found it).
    schemas = spec.get("components", {}).get("schemas", {})
    statement = schemas.get("BankStatementAccount", {}).get("properties", {})
    for name in ("modifiedDate", "sourceModifiedDate"):
        if statement.get(name, {}).get("$ref", "").startswith("#/components/schemas/ModifiedDates/"):
            statement[name] = {"$ref": "#/components/schemas/DateTime"}
    return spec


def resolve(spec: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer such as ``#/components/schemas/Invoice``."""
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        key = unquote(part.replace("~1", "/").replace("~0", "~"))
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def to_json_schema(spec: dict[str, Any], schema: dict[str, Any] | str, _stack: tuple[str, ...] = ()) -> Any:
    """An inlined JSON Schema (draft 2020-12) for a component name or an OpenAPI schema object."""
    if isinstance(schema, str):
        return to_json_schema(spec, {"$ref": f"#/components/schemas/{schema}"}, ())
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


# ---- the sandbox's own copy ----------------------------------------------------------------------

def _t(kind: str, nullable: bool = False, **more: Any) -> dict[str, Any]:
    return {"type": [kind, "null"] if nullable else kind, **more}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = (), nullable: bool = False,
         closed: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = _t("object", nullable, properties=properties)
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def _array(items: dict[str, Any], nullable: bool = True) -> dict[str, Any]:
    return _t("array", nullable, items=items)


_STR, _NSTR, _NUM, _NNUM = _t("string"), _t("string", True), _t("number"), _t("number", True)
_BOOL = _t("boolean")
_ID = _t("string", minLength=1)
_REF = _obj({"id": _STR, "name": _STR})
_CUSTOMER_REF = _obj({"id": _ID, "companyName": _NSTR}, ("id",))
_CATEGORY_REF = _obj({"id": _ID, "name": _NSTR}, ("id",))
_BILLED = _t("string", enum=["Unknown", "NotApplicable", "Project"])
_DOC_STATUS = ["Unknown", "Draft", "Submitted", "PartiallyPaid", "Paid", "Void"]
_RECORD_STATUS = _t("string", enum=["Unknown", "Active", "Archived"])
_METADATA = _obj({"isDeleted": _t("boolean", True)})
_ALLOCATION = _obj({
    "payment": _obj({"id": _STR, "note": _NSTR, "reference": _NSTR, "accountRef": _REF, "currency": _STR,
                     "currencyRate": _NNUM, "paidOnDate": _STR, "totalAmount": _NUM}),
    "allocation": _obj({"currency": _STR, "currencyRate": _NNUM, "allocatedOnDate": _STR,
                        "totalAmount": _NUM}),
}, ("payment", "allocation"))
_TYPED_REF = _obj({"id": _STR, "dataType": _STR})
_SALES_LINE = _obj({
    "description": _NSTR, "unitAmount": _NUM, "quantity": _NUM, "discountAmount": _NNUM,
    "discountPercentage": _NNUM,
    "subTotal": _NNUM, "taxAmount": _NNUM, "totalAmount": _NNUM, "accountRef": _REF,
    "taxRateRef": _obj({"id": _STR, "name": _STR, "effectiveTaxRate": _NUM}),
    "itemRef": _obj({"id": _ID, "name": _NSTR}, ("id",)), "trackingCategoryRefs": _array(_CATEGORY_REF),
    "tracking": _obj({"categoryRefs": _array(_CATEGORY_REF, nullable=False), "customerRef": _CUSTOMER_REF,
                      "projectRef": _obj({"id": _ID, "name": _NSTR}, ("id",)), "isBilledTo": _BILLED,
                      "isRebilledTo": _BILLED}, ("categoryRefs", "isBilledTo", "isRebilledTo")),
    "isDirectIncome": _BOOL,
}, ("unitAmount", "quantity"))
_SALES_DOCUMENT = {
    "id": _STR, "customerRef": _CUSTOMER_REF, "issueDate": _STR, "currency": _STR, "currencyRate": _NNUM,
    "lineItems": _array(_SALES_LINE), "withholdingTax": _array(_obj({"name": _ID, "amount": _NUM},
                                                                    ("amount", "name"))),
    "totalDiscount": _NUM, "subTotal": _NUM, "additionalTaxAmount": _NUM, "additionalTaxPercentage": _NUM,
    "totalTaxAmount": _NUM, "totalAmount": _NUM, "discountPercentage": _NUM,
    "status": _t("string", enum=_DOC_STATUS),
    "note": _NSTR, "metadata": _METADATA, "paymentAllocations": _array(_ALLOCATION),
}
_LINK = _obj({"type": _t("string",
                         enum=["Unknown", "Unlinked", "Invoice", "CreditNote", "Other", "Refund", "Payment",
                                         "PaymentOnAccount", "ManualJournal", "Discount"]),
              "id": _STR, "amount": _NNUM, "currencyRate": _NNUM}, ("type",), closed=True)
_ADDRESS = _obj({"type": _t("string", enum=["Unknown", "Billing", "Delivery"]), "line1": _NSTR,
                 "line2": _NSTR,
                 "city": _NSTR, "region": _NSTR, "country": _NSTR, "postalCode": _NSTR}, ("type",))

BUILTIN_SCHEMAS: dict[str, dict[str, Any]] = {
    "Invoice": _obj({**_SALES_DOCUMENT, "invoiceNumber": _NSTR, "dueDate": _STR, "amountDue": _NUM,
                     "totalDiscount": _NNUM, "subTotal": _NNUM, "discountPercentage": _NNUM},
                    ("issueDate", "totalTaxAmount", "totalAmount", "amountDue", "status")),
    "CreditNote": _obj({**_SALES_DOCUMENT, "creditNoteNumber": _NSTR, "remainingCredit": _NUM},
                       ("totalAmount", "totalDiscount", "subTotal", "totalTaxAmount", "discountPercentage",
                        "remainingCredit", "status")),
    "Payment": _obj({
        "id": _STR, "customerRef": _CUSTOMER_REF, "accountRef": _REF,
        "paymentMethodRef": _obj({"id": _STR, "name": _NSTR}),
        "totalAmount": _NUM, "currency": _STR, "currencyRate": _NNUM, "date": _STR, "note": _NSTR,
        "reference": _NSTR,
        "lines": _array(_obj({"amount": _NUM, "links": _array(_LINK), "allocatedOnDate": _STR}, ("amount",))),
        "metadata": _METADATA,
    }, ("date",)),
    "Customer": _obj({
        "id": _STR, "customerName": _NSTR, "contactName": _NSTR, "emailAddress": _NSTR,
        "defaultCurrency": _STR,
        "phone": _NSTR, "addresses": _array(_ADDRESS), "registrationNumber": _NSTR, "taxNumber": _NSTR,
        "status": _RECORD_STATUS, "metadata": _METADATA,
    }, ("status",)),
    "DirectCost": _obj({
        "id": _STR, "reference": _NSTR, "note": _NSTR, "contactRef": _obj({"id": _ID, "dataType": _NSTR},
                                                                          ("id",)),
        "issueDate": _STR, "currency": _STR, "currencyRate": _NNUM,
        "lineItems": _array(_obj({
            "description": _NSTR, "unitAmount": _NUM, "quantity": _NUM, "discountAmount": _NNUM,
            "discountPercentage": _NNUM, "subTotal": _NNUM, "taxAmount": _NNUM, "totalAmount": _NNUM,
            "accountRef": _REF, "taxRateRef": _obj({"id": _STR, "name": _STR, "effectiveTaxRate": _NUM}),
            "itemRef": _obj({"id": _ID, "name": _NSTR}, ("id",)),
            "trackingCategoryRefs": _array(_CATEGORY_REF),
            "tracking": _obj({"recordRefs": _array(_TYPED_REF, nullable=False), "invoiceTo": _TYPED_REF},
                             ("recordRefs",), closed=True),
        }, ("unitAmount", "quantity")), nullable=False),
        "paymentAllocations": _array(_ALLOCATION, nullable=False),
        "subTotal": _NUM, "taxAmount": _NUM, "totalAmount": _NUM, "metadata": _METADATA,
    }, ("issueDate", "currency", "lineItems", "paymentAllocations", "subTotal", "taxAmount", "totalAmount")),
}


# ---- the checker ---------------------------------------------------------------------------------

def _where(path: Any) -> str:
    where = ""
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


class PushSchemas:
    """JSON-Schema validators for push bodies, by data type."""

    def __init__(self, schemas: dict[str, dict[str, Any]], source: str) -> None:
        import jsonschema

        cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
        self.source = source
        self._validators = {name: cls(schema) for name, schema in schemas.items()}
        # Compiled once per schema: a conforming body (nearly every push) costs no jsonschema walk.
        self._conforms = {name: conforms(schema, cls) for name, schema in schemas.items()}

    def __repr__(self) -> str:
        return f"PushSchemas(source={self.source!r})"

    @classmethod
    def builtin(cls) -> PushSchemas:
        return cls(BUILTIN_SCHEMAS, "the sandbox's own copy of Codat's rules")

    @classmethod
    def from_oas_dir(cls, directory: str | Path) -> PushSchemas:
        """The request schemas of ``DIR/Codat-Accounting.yaml``; a clear error when it is missing."""
        path = Path(directory) / "Codat-Accounting.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: --oas-dir must name the folder holding Codat's "
                                    "OpenAPI files (the contract tests' CODAT_OAS_DIR)")
        # not cached: the server keeps the five schemas, not the whole file
        spec = load_spec.__wrapped__(path)
        return cls({name: to_json_schema(spec, name) for name in SCHEMA_NAMES.values()}, str(path))

    def errors(self, data_type: str, body: Any) -> list[dict[str, Any]]:
        """Codat ``ValidationItem``s for every way ``body`` breaks its schema (``[]`` when it conforms)."""
        name = SCHEMA_NAMES[data_type]
        if self._conforms[name](body):
            return []  # exactly when jsonschema finds no error (see codat_sandbox.fastschema)
        found = sorted(self._validators[name].iter_errors(body),
                       key=lambda e: (list(map(str, e.absolute_path)),
                                                                                 e.message))
        items = []
        for error in found:
            where = _where(error.absolute_path) or "body"
            items.append({"itemId": where, "message": f"{where}: {error.message[:300]}",
                          "validatorName": name})
        return items
