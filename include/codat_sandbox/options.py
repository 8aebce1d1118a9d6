"""A connection's create/update models: ``GET …/connections/{id}/options/{dataType}``, Codat's ``PushOption``.

Each model is the data type's properties as the sandbox's base rules (:mod:`codat_sandbox.validation`)
check them — what is required, the allowed values — overlaid with the connection's platform rules
(:mod:`codat_sandbox.platforms`). Codat's ``PushOption`` has no ``maxLength`` or ``minimum`` keyword, so,
as Codat's own examples do, such rules are ``validation.warnings`` entries in words: ``{"field":
"InvoiceNumber", "details": "Max length of 21 characters."}``; allowed values are ``options``; a data type
the platform cannot update says so at the top: ``"Oracle NetSuite does not support updating credit notes:
they can only be created."``. The period lock date is deliberately left out (see :mod:`platforms`).

    >>> model = push_option(platforms.platform("qbo"), "invoices", "GBP")
    >>> model["properties"]["invoiceNumber"]["validation"]["warnings"]
    [{'field': 'InvoiceNumber', 'details': 'Max length of 21 characters.'}]
"""

from __future__ import annotations

from typing import Any

from codat_sandbox import platforms
from codat_sandbox.validation import CUSTOMER_STATUSES, LINK_TYPES

OPTION_TYPES = ("customers", "invoices", "creditNotes", "payments", "directCosts")
# What an admin can make a connection's options answer instead of its model.
OPTION_MODES = ("published", "notFound", "error", "empty")

# (path, PushOptionType, required by the base rules, description)
_Spec = tuple[tuple[str, str, bool, str], ...]
_REF = "The id of an existing {what} (from GET …/data/{data_type})."
_SALES_LINE: _Spec = (
    ("lineItems", "Array", True, "The lines; at least one."),
    ("lineItems.description", "String", False, "What the line is for."),
    ("lineItems.quantity", "Number", True, "Quantity."),
    ("lineItems.unitAmount", "Number", True, "Price of one unit, excluding tax."),
    ("lineItems.discountAmount", "Number", False, "Discount on the line, in the document's currency."),
    ("lineItems.discountPercentage", "Number", False, "Discount on the line as a percentage (0–100)."),
    ("lineItems.subTotal", "Number", False, "quantity × unitAmount less the discount, excluding tax."),
    ("lineItems.taxAmount", "Number", True, "Tax on the line."),
    ("lineItems.totalAmount", "Number", False, "subTotal plus taxAmount."),
    ("lineItems.accountRef", "Object", True, "The income account the line books to."),
    ("lineItems.accountRef.id", "String", True, _REF.format(what="income account", data_type="accounts")),
    ("lineItems.taxRateRef", "Object", False, "The tax rate of the line."),
    ("lineItems.taxRateRef.id", "String", False, _REF.format(what="tax rate", data_type="taxRates")),
    ("lineItems.itemRef", "Object", False, "The item sold."),
    ("lineItems.itemRef.id", "String", True, "The id of an existing item."),
    ("lineItems.tracking", "Object", False, "Tracking of the line."),
    ("lineItems.tracking.categoryRefs", "Array", False, "At most 2 leaf categories with different parents."),
    ("lineItems.tracking.categoryRefs.id", "String", True,
     _REF.format(what="leaf tracking category", data_type="trackingCategories")),
)
_CUSTOMER_REF: _Spec = (
    ("customerRef", "Object", True, "The customer."),
    ("customerRef.id", "String", True, _REF.format(what="active customer", data_type="customers")),
)
_BASE: dict[str, _Spec] = {
    "customers": (
        ("customerName", "String", True, "The customer's name."),
        ("contactName", "String", False, "Main contact."),
        ("emailAddress", "String", False, "Email address."),
        ("phone", "String", False, "Phone number."),
        ("defaultCurrency", "String", False, "ISO 4217 code of the customer's currency."),
        ("registrationNumber", "String", False, "Company registration number."),
        ("taxNumber", "String", False, "Tax (VAT) number."),
        ("status", "String", True, "Active or Archived."),
        ("addresses", "Array", False, "Postal addresses."),
        ("addresses.type", "String", True, "Kind of address."),
        *((f"addresses.{name}", "String", False, f"Address {name}.")
          for name in ("line1", "line2", "city", "region", "country", "postalCode")),
    ),
    "invoices": (
        ("invoiceNumber", "String", False, "The invoice number the customer sees."), *_CUSTOMER_REF,
        ("issueDate", "DateTime", True, "Date of issue."),
        ("dueDate", "DateTime", False, "Date payment is due."),
        ("currency", "String", False, "ISO 4217 code; the base currency when absent."),
        ("currencyRate", "Number", False, "Base currency per unit of currency; required if it differs."),
        ("status", "String", True, "Status of the new invoice."), ("note", "String", False, "Note."),
        *_SALES_LINE,
        ("subTotal", "Number", False, "Sum of the lines' subTotal."),
        ("totalDiscount", "Number", False, "Sum of the lines' discountAmount."),
        ("totalTaxAmount", "Number", True, "Sum of the lines' taxAmount."),
        ("totalAmount", "Number", True, "Sum of the lines' totalAmount."),
        ("amountDue", "Number", True, "Outstanding amount; equals totalAmount on a new invoice."),
    ),
    "creditNotes": (
        ("creditNoteNumber", "String", False, "The credit note number the customer sees."), *_CUSTOMER_REF,
        ("issueDate", "DateTime", True, "Date of issue."),
        ("currency", "String", False, "ISO 4217 code; the base currency when absent."),
        ("currencyRate", "Number", False, "Base currency per unit of currency; required if it differs."),
        ("status", "String", True, "Status of the new credit note."), ("note", "String", False, "Note."),
        *_SALES_LINE,
        ("subTotal", "Number", True, "Sum of the lines' subTotal."),
        ("totalDiscount", "Number", True, "Sum of the lines' discountAmount."),
        ("discountPercentage", "Number", True, "Discount percentage (0–100)."),
        ("totalTaxAmount", "Number", True, "Sum of the lines' taxAmount."),
        ("totalAmount", "Number", True, "Sum of the lines' totalAmount; greater than 0."),
        ("remainingCredit", "Number", True, "Unused credit; equals totalAmount on a new credit note."),
    ),
    "payments": (
        *_CUSTOMER_REF,
        ("accountRef", "Object", False, "The bank account the money lands in."),
        ("accountRef.id", "String", False, _REF.format(what="bank account", data_type="accounts")),
        ("totalAmount", "Number", True, "Sum of the lines' amount."),
        ("currency", "String", False, "ISO 4217 code; the base currency when absent."),
        ("currencyRate", "Number", False, "Base currency per unit of currency; required if it differs."),
        ("date", "DateTime", True, "Date of the payment."), ("note", "String", False, "Note."),
        ("reference", "String", False, "Payment reference."),
        ("lines", "Array", True, "The lines; at least one."),
        ("lines.amount", "Number", True, "Amount of the line; plus its links' amounts it is 0."),
        ("lines.links", "Array", False, "What the line pays or allocates."),
        ("lines.links.type", "String", True, "Kind of the linked record."),
        ("lines.links.id", "String", True, "The invoice or credit note (the customer for PaymentOnAccount)."),
        ("lines.links.amount", "Number", True, "Change to the linked record's balance, in its currency."),
        ("lines.links.currencyRate", "Number", False, "Rate between the linked record and the payment."),
    ),
    "directCosts": (
        ("reference", "String", False, "Reference."), ("note", "String", False, "Note."),
        ("issueDate", "DateTime", True, "Date of the cost."), ("currency", "String", True, "ISO 4217 code."),
        ("currencyRate", "Number", False, "Base currency per unit of currency; required if it differs."),
        ("lineItems", "Array", True, "The lines; at least one."),
        ("lineItems.description", "String", False, "What the line is for."),
        ("lineItems.quantity", "Number", True, "Quantity."),
        ("lineItems.unitAmount", "Number", True, "Unit price."),
        ("lineItems.subTotal", "Number", False, "Line amount excluding tax."),
        ("lineItems.taxAmount", "Number", False, "Tax on the line."),
        ("lineItems.totalAmount", "Number", False, "subTotal plus taxAmount."),
        ("lineItems.accountRef", "Object", True, "The expense account."),
        ("lineItems.accountRef.id", "String", True, _REF.format(what="account", data_type="accounts")),
        ("lineItems.taxRateRef", "Object", False, "The tax rate of the line."),
        ("lineItems.taxRateRef.id", "String", False, _REF.format(what="tax rate", data_type="taxRates")),
        ("subTotal", "Number", True, "Sum of the lines' subTotal."),
        ("taxAmount", "Number", True, "Sum of the lines' taxAmount."),
        ("totalAmount", "Number", True, "Sum of the lines' totalAmount."),
        ("paymentAllocations", "Array", True, "How the cost was paid."),
        ("paymentAllocations.payment", "Object", True, "The payment."),
        ("paymentAllocations.payment.accountRef", "Object", True, "The bank account it was paid from."),
        ("paymentAllocations.payment.accountRef.id", "String", True,
         _REF.format(what="bank account", data_type="accounts")),
        ("paymentAllocations.allocation", "Object", False, "The allocation."),
    ),
}
# Allowed values the base rules enforce (a platform may narrow them).
_BASE_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "status"): CUSTOMER_STATUSES,
    ("customers", "addresses.type"): ("Unknown", "Billing", "Delivery"),
    ("invoices", "status"): ("Draft", "Submitted"),
    ("creditNotes", "status"): ("Draft", "Submitted"),
    ("payments", "lines.links.type"): LINK_TYPES,
}
_DISPLAY = {"customers": "Customer", "invoices": "Invoice", "creditNotes": "Credit note",
            "payments": "Payment", "directCosts": "Direct cost"}


def _display(name: str) -> str:
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return words[:1].upper() + words[1:]


def _field(path: str) -> str:
    """Codat's name in validation entries: ``lineItems.taxRateRef.id`` → ``LineItems.TaxRateRef.Id``."""
    return ".".join(part[:1].upper() + part[1:] for part in path.split("."))


def _choices(values: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"value": v, "type": "String", "displayName": v, "description": v, "required": False}
            for v in values]


def _tree(data_type: str) -> dict[str, Any]:
    root: dict[str, Any] = {"type": "Object", "displayName": _DISPLAY[data_type],
                            "description": f"The {_DISPLAY[data_type].lower()} model of this connection.",
                            "required": True, "properties": {}, "options": None,
                            "validation": {"warnings": [], "information": []}}
    for path, kind, required, description in _BASE[data_type]:
        parent = root
        *parents, name = path.split(".")
        for part in parents:
            parent = parent["properties"][part]
        parent["properties"] = parent.get("properties") or {}
        parent["properties"][name] = {"type": kind, "displayName": _display(name), "description": description,
                                      "required": required, "properties": None, "options": None,
                                      "validation": {"warnings": [], "information": []}}
        choices = _BASE_CHOICES.get((data_type, path))
        if choices:
            parent["properties"][name]["options"] = _choices(choices)
    return root


def _node(root: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The nodes from the model down to ``path`` (a platform rule must name a property the model has)."""
    nodes, node = [], root
    for part in path.split("."):
        node = node["properties"][part]
        nodes.append(node)
    return nodes


def _apply(root: dict[str, Any], rule: platforms.Rule) -> None:
    nodes = _node(root, rule.path)
    node, warnings = nodes[-1], nodes[-1]["validation"]["warnings"]
    field = _field(rule.path)
    if rule.required:
        for step in nodes:
            step["required"] = True
    if rule.max_length is not None:
        warnings.append({"field": field, "details": f"Max length of {rule.max_length} characters."})
    if rule.allowed is not None:
        node["options"] = _choices(rule.allowed)
    if rule.details:
        warnings.append({"field": field, "details": rule.details})


def push_option(plat: platforms.Platform, data_type: str, base_currency: str,
                multi_currency: bool | None = None) -> dict[str, Any]:
    """The ``PushOption`` of ``data_type`` on a connection to ``plat`` (a company in ``base_currency``)."""
    root = _tree(data_type)
    for rule in plat.rules_for(data_type, base_currency, multi_currency):
        _apply(root, rule)
    if data_type in plat.create_only:
        root["validation"]["warnings"].append({
            "details": f"{plat.name} does not support updating {platforms.LABELS[data_type]}: they can only "
                       f"be created."})
    label = platforms.LABELS[data_type]
    root["validation"]["information"].append({"details": f"The {plat.name} model for {label}."})
    return root


def empty_option(data_type: str) -> dict[str, Any]:
    """What an integration that publishes no model answers: a model with no properties."""
    return {"type": "Object", "displayName": _DISPLAY[data_type], "description": "No model is published.",
            "required": False, "properties": {}, "options": None, "validation": None}
