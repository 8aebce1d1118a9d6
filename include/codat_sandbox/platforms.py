"""The accounting platforms a sandbox connection can be on, and each one's own push rules.

Codat's model is one over many platforms, but each platform still refuses what it cannot hold: QuickBooks
Online keeps at most 21 characters of a document number, Oracle NetSuite takes no payment of 0, and so
on. A :class:`Platform` lists those rules as data (:class:`Rule`: a property path, whether it is required,
a maximum length, the values allowed, "greater than zero"), plus whole-model facts: which data types it
can only create, whether multi-currency is on. The same rules feed both sides, so the push validation
enforces exactly what the connection's options (``GET …/options/{dataType}``, :mod:`codat_sandbox.options`)
document.

One rule per platform is deliberately *not* in the options: the period lock date (``lockDate``, set with
``PUT /admin/companies/{id}/platform``). A document dated on or before it fails at push with the
platform's own words, as a real platform refuses postings into a closed period without ever saying so
in its create model. docs/platforms.md gives each rule's source.

    >>> platform("QuickBooks Online").integration_key
    'qhyg'
    >>> [i["message"] for i in check(platform("qbo"), "invoices", {"invoiceNumber": "X" * 22}, "GBP")][:1]
    ["QuickBooks Online allows at most 21 characters in invoiceNumber; 'XXXXXXXXXXXXXXXXXXXXXX' has 22."]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# What each data type is called in messages, and its validator name (as the base rules use).
LABELS = {"customers": "customers", "invoices": "invoices", "creditNotes": "credit notes",
          "payments": "payments", "directCosts": "direct costs"}
VALIDATORS = {"customers": "Customer", "invoices": "Invoice", "creditNotes": "CreditNote",
              "payments": "Payment", "directCosts": "DirectCost"}
# The property holding a document's currency (a customer's default currency) and its posting date.
CURRENCY_FIELD = {"customers": "defaultCurrency", "invoices": "currency", "creditNotes": "currency",
                  "payments": "currency", "directCosts": "currency"}
DATE_FIELD = {"invoices": "issueDate", "creditNotes": "issueDate", "payments": "date",
              "directCosts": "issueDate"}


@dataclass(frozen=True)
class Rule:
    """One property's rule on one platform. ``path`` is dotted; arrays are stepped through
    (``lineItems.taxRateRef.id`` is the tax rate of every line)."""

    path: str
    required: bool = False
    max_length: int | None = None
    allowed: tuple[str, ...] | None = None
    positive: bool = False  # a number that must be greater than zero
    details: str | None = None  # the rule in the platform's own words, when more than the above
    on_create: bool = False  # checked when a record is created only (statuses of a new document)


@dataclass(frozen=True)
class Platform:
    """An integration kind: Codat's names for it and the rules its connections enforce."""

    alias: str
    name: str  # Connection.platformName
    integration_key: str  # Connection.integrationKey (Codat's four-letter key)
    rules: Mapping[str, tuple[Rule, ...]]
    create_only: tuple[str, ...] = ()  # data types it can create but never update
    multi_currency: bool = True  # default; a company can switch it (admin)
    lock_message: str = "The document date {date} is in a closed period (lock date {lock})."

    def rules_for(self, data_type: str, base_currency: str, multi_currency: bool | None = None) -> list[Rule]:
        """The rules of ``data_type`` for a company with this base currency (and multi-currency setting)."""
        rules = list(self.rules.get(data_type, ()))
        on = self.multi_currency if multi_currency is None else multi_currency
        if not on and data_type in CURRENCY_FIELD:
            rules.append(Rule(CURRENCY_FIELD[data_type], allowed=(base_currency,),
                              details=f"Must be the company's base currency ({base_currency}): "
                                      "multi-currency is not enabled for this company."))
        return rules


_STATUSES_DRAFT_OR_SUBMITTED = ("Draft", "Submitted")
_SUBMITTED = ("Submitted",)
# A line description: Xero's and QuickBooks Online's models require it (at most 4000 characters);
# Oracle NetSuite's does not.
_DESCRIBED_LINES = (Rule("lineItems.description", required=True, max_length=4000),)
_TAX_RATE_ON_EVERY_LINE = (Rule("lineItems.taxRateRef", required=True),
                           Rule("lineItems.taxRateRef.id", required=True))

XERO = Platform(
    alias="xero", name="Xero", integration_key="gbol",
    rules={
        "customers": (Rule("customerName", required=True, max_length=255),),
        "invoices": (Rule("invoiceNumber", max_length=255), Rule("dueDate", required=True),
                     Rule("status", required=True, allowed=_STATUSES_DRAFT_OR_SUBMITTED, on_create=True),
                     *_DESCRIBED_LINES),
        "creditNotes": (Rule("creditNoteNumber", max_length=225),
                        Rule("status", required=True, allowed=_STATUSES_DRAFT_OR_SUBMITTED, on_create=True),
                        *_DESCRIBED_LINES),
        "payments": (Rule("reference", max_length=255),),
        "directCosts": (Rule("reference", max_length=255),),
    },
    lock_message="The document date cannot be before the period lock date, currently set at {lock} "
                 "(the document is dated {date}).",
)

QUICKBOOKS_ONLINE = Platform(
    alias="qbo", name="QuickBooks Online", integration_key="qhyg",
    rules={
        "customers": (Rule("customerName", required=True, max_length=100,
                           details="Names must be unique across customers, suppliers and employees."),),
        "invoices": (Rule("invoiceNumber", max_length=21), Rule("dueDate", required=True),
                     Rule("currency", required=True),
                     Rule("status", required=True, allowed=_SUBMITTED, on_create=True,
                          details='QuickBooks Online only supports "Submitted" as a status for new '
                                  'invoices.'),
                     *_TAX_RATE_ON_EVERY_LINE, *_DESCRIBED_LINES),
        "creditNotes": (Rule("creditNoteNumber", max_length=21), Rule("currency", required=True),
                        Rule("status", required=True, allowed=_SUBMITTED, on_create=True,
                             details='QuickBooks Online only supports "Submitted" as a status for new credit '
                                     'notes.'),
                        *_TAX_RATE_ON_EVERY_LINE, *_DESCRIBED_LINES),
        "payments": (Rule("reference", max_length=21),),
        "directCosts": (Rule("reference", max_length=21),),
    },
    multi_currency=False,
    lock_message="Account Period Closed, Cannot Update Through Services API: the books are closed up to "
                 "{lock} and the transaction is dated {date}.",
)

NETSUITE = Platform(
    alias="netsuite", name="Oracle NetSuite", integration_key="akxx",
    rules={
        "customers": (Rule("customerName", required=True, max_length=83),
                      Rule("defaultCurrency", required=True)),
        "invoices": (Rule("invoiceNumber", max_length=45),
                     Rule("status", required=True, allowed=_SUBMITTED, on_create=True)),
        "creditNotes": (Rule("creditNoteNumber", max_length=45),
                        Rule("status", required=True, allowed=_SUBMITTED, on_create=True)),
        "payments": (Rule("totalAmount", required=True, positive=True,
                          details="Must be greater than zero: Oracle NetSuite cannot allocate a credit note "
                                  "to an invoice through a payment of 0 (Value 0.0 outside of valid min/max "
                                  "range for field payment)."),
                     Rule("lines.links.type", allowed=("Invoice", "PaymentOnAccount"),
                          details="Credit notes cannot be allocated to invoices through payments on Oracle "
                                  "NetSuite."),
                     Rule("reference", max_length=45)),
        "directCosts": (Rule("reference", max_length=45),),
    },
    create_only=("creditNotes",),
    lock_message="The accounting period is closed: Oracle NetSuite does not post to periods up to {lock} "
                 "(the transaction is dated {date}).",
)

PLATFORMS: tuple[Platform, ...] = (XERO, QUICKBOOKS_ONLINE, NETSUITE)
DEFAULT = XERO


def platform(name: str | None) -> Platform:
    """The platform called ``name`` (its platformName, alias or integration key; any case).

    Raises ``ValueError`` naming the known ones.
    """
    if name is None:
        return DEFAULT
    wanted = name.strip().lower()
    for candidate in PLATFORMS:
        if wanted in (candidate.name.lower(), candidate.alias, candidate.integration_key):
            return candidate
    known = ", ".join(f"{p.name} ({p.alias})" for p in PLATFORMS)
    raise ValueError(f"unknown platform {name!r}; the sandbox models {known}")


# ---- checking a body against a platform's rules -----------------------------------------------------

def values_at(body: Any, path: str, where: str = "") -> Iterator[tuple[str, Any]]:
    """``(itemId, value)`` of each place ``path`` names in ``body``; arrays are stepped through with
    their index (``lineItems[0].taxRateRef.id``), a missing step yields ``None`` at the full path."""
    head, _, rest = path.partition(".")
    value = body.get(head) if isinstance(body, Mapping) else None
    here = f"{where}.{head}" if where else head
    if isinstance(value, list) and rest:
        for index, item in enumerate(value):
            yield from values_at(item, rest, f"{here}[{index}]")
    elif rest:
        yield from values_at(value, rest, here) if value is not None else iter([(f"{here}.{rest}", None)])
    else:
        yield here, value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rule_errors(plat: Platform, rule: Rule, body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for where, value in values_at(body, rule.path):
        if _missing(value):
            if rule.required:
                yield where, f"{where} is required on {plat.name}."
            continue
        if rule.max_length is not None and isinstance(value, str) and len(value) > rule.max_length:
            yield where, (f"{plat.name} allows at most {rule.max_length} characters in {where}; "
                          f"'{value}' has {len(value)}.")
        if rule.allowed is not None and value not in rule.allowed:
            yield where, f"{where} '{value}' is not accepted by {plat.name}; use {' or '.join(rule.allowed)}."
        if rule.positive and isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            yield where, f"{plat.name} requires {where} to be greater than zero; it is {value}."


def check(plat: Platform, data_type: str, body: Mapping[str, Any], base_currency: str, *,
          creating: bool = True, multi_currency: bool | None = None,
          lock_date: str | None = None) -> list[dict[str, Any]]:
    """The platform's objections to a push, as Codat ``ValidationItem`` dicts (``[]`` = none)."""
    validator = VALIDATORS[data_type]
    if not creating and data_type in plat.create_only:
        return [{"itemId": None, "validatorName": validator,
                 "message": f"{plat.name} does not support updating {LABELS[data_type]}: they can only be "
                            f"created."}]
    found = [(where, message) for rule in plat.rules_for(data_type, base_currency, multi_currency)
             if creating or not rule.on_create for where, message in _rule_errors(plat, rule, body)]
    # A missing object is reported once, not again for each of its required properties.
    places = {where for where, _ in found}
    items = [{"itemId": where, "message": message, "validatorName": validator} for where, message in found
             if not any(where.startswith(place + ".") for place in places)]
    return items + _closed_period(plat, data_type, body, lock_date, validator)


def _closed_period(plat: Platform, data_type: str, body: Mapping[str, Any], lock_date: str | None,
                   validator: str) -> list[dict[str, Any]]:
    """The rule the options never describe: nothing is posted on or before the lock date."""
    name = DATE_FIELD.get(data_type)
    value = body.get(name) if name else None
    if lock_date is None or not isinstance(value, str) or value[:10] > lock_date:
        return []
    return [{"itemId": name, "validatorName": validator,
             "message": plat.lock_message.format(lock=lock_date, date=value[:10])}]
