"""Push validation, Xero-like (CONTRACT §2.1–2.4 and §11): what makes a push operation ``Failed``.

Each ``validate_*`` function is pure: it takes the pushed body and a read-only view of the company's
data and returns the validation errors (``[]`` = valid) in Codat's ``ValidationItem`` shape. The body's
shape (types, required fields, enums, ``additionalProperties: false``) is checked before, by
:mod:`codat_sandbox.schemas`.

Money is compared exactly, as decimals (the JSON number as written, never a float sum):

- a document's ``subTotal``, tax and ``totalAmount`` equal the sums of its lines exactly, a payment's
  ``totalAmount`` the sum of its line amounts, and each line's ``totalAmount`` its ``subTotal`` plus tax;
- only what rounding explains may be off by one minor unit: a line's ``subTotal`` against
  quantity × unitAmount − discount, its tax against the tax rate, and a link converted with its
  ``currencyRate``;
- amounts (not unit prices or quantities) are whole minor units of their currency: no fractional yen
  (JPY, 0 decimals), fils to 3 decimals (BHD).

    >>> view = DictCompanyView("GBP",
    ...                        {"customers": {"c1": {"id": "c1", "customerName": "A", "status": "Active"}}})
    >>> validate_customer({"customerName": "", "status": "Active"}, view)[0]["message"]
    'customerName is required.'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from codat_sandbox.seed import CREDIT_NOTE_LINE_ACCOUNT, INVOICE_LINE_ACCOUNT, PAYMENT_ACCOUNT

# Currencies whose minor unit is not a cent; the tolerance for totals is one minor unit.
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3,
                 "TND": 3}
_CURRENCY = re.compile(r"^[A-Z]{3}$")

CREATE_STATUSES = ("Draft", "Submitted")
UPDATE_STATUSES = ("Draft", "Submitted", "PartiallyPaid", "Paid", "Void")
PAYABLE_STATUSES = ("Submitted", "PartiallyPaid")
CUSTOMER_STATUSES = ("Active", "Archived")
LINK_TYPES = ("Invoice", "CreditNote", "PaymentOnAccount")
ALL_LINK_TYPES = ("Unknown", "Unlinked", "Invoice", "CreditNote", "Other", "Refund", "Payment",
                  "PaymentOnAccount", "ManualJournal", "Discount")


class CompanyView(Protocol):
    """What validation may read about a company."""

    base_currency: str

    def get(self, data_type: str, record_id: str) -> dict[str, Any] | None:
        """The stored record, or ``None``."""


@dataclass
class DictCompanyView:
    """A :class:`CompanyView` over plain dicts (tests, and the store's own indexes)."""

    base_currency: str
    records: Mapping[str, Mapping[str, dict[str, Any]]] = field(default_factory=dict)

    def get(self, data_type: str, record_id: str) -> dict[str, Any] | None:
        return self.records.get(data_type, {}).get(record_id)


def tolerance(currency: str | None) -> float:
    """One minor unit of ``currency`` (0.01 for most), plus float slack (the store's balance arithmetic)."""
    return 10.0 ** -_MINOR_DIGITS.get(currency or "", 2) + 1e-9


def minor_unit(currency: str | None) -> Decimal:
    """One minor unit of ``currency`` as a Decimal: 1 for JPY, 0.01 for GBP, 0.001 for BHD."""
    return Decimal(1).scaleb(-_MINOR_DIGITS.get(currency or "", 2))


def exact(value: int | float) -> Decimal:
    """The JSON number as written (a float's shortest repr), so sums are exact."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _show(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_date(value: Any) -> bool:
    """Whether ``value`` is an ISO 8601 date or date-time string."""
    return _is_datetime(value)


def is_deleted(record: Mapping[str, Any]) -> bool:
    return bool((record.get("metadata") or {}).get("isDeleted"))


class _Errors:
    """Collects ``ValidationItem`` dicts for one validator."""

    def __init__(self, validator: str) -> None:
        self.validator = validator
        self.items: list[dict[str, Any]] = []

    def add(self, item_id: str | None, message: str) -> None:
        self.items.append({"itemId": item_id, "message": message, "validatorName": self.validator})


def _ref_id(body: Mapping[str, Any], name: str) -> str | None:
    ref = body.get(name)
    if isinstance(ref, Mapping) and isinstance(ref.get("id"), str) and ref["id"]:
        return ref["id"]
    return None


def _active_record(errors: _Errors, view: CompanyView, data_type: str, label: str, item: str,
                   record_id: str) -> dict[str, Any] | None:
    """The referenced record when it exists and is usable, else an error is recorded."""
    record = view.get(data_type, record_id)
    if record is None or is_deleted(record):
        errors.add(item, f"{label} '{record_id}' does not exist.")
        return None
    if record.get("status") == "Archived":
        errors.add(item, f"{label} '{record_id}' is archived.")
        return None
    return record


def _check_currency(errors: _Errors, body: Mapping[str, Any], view: CompanyView,
                    required: bool = False) -> str:
    currency = body.get("currency")
    if currency is None:
        if required:
            errors.add("currency", "currency is required.")
        return view.base_currency
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        errors.add("currency", f"currency '{currency}' is not an ISO 4217 code.")
        return view.base_currency
    if currency != view.base_currency:
        rate = body.get("currencyRate")
        if not is_number(rate) or rate <= 0:
            errors.add("currencyRate",
                       f"currencyRate is required when currency ({currency}) differs from the base currency "
                       f"({view.base_currency}).")
    return currency


def _check_date(errors: _Errors, body: Mapping[str, Any], name: str, required: bool = True) -> None:
    value = body.get(name)
    if value is None:
        if required:
            errors.add(name, f"{name} is required.")
    elif not _is_datetime(value):
        errors.add(name, f"{name} '{value}' is not an ISO 8601 date.")


def _check_customer(errors: _Errors, body: Mapping[str, Any], view: CompanyView) -> str | None:
    customer_id = _ref_id(body, "customerRef")
    if customer_id is None:
        errors.add("customerRef.id", "customerRef.id is required.")
        return None
    if _active_record(errors, view, "customers", "Customer", "customerRef.id", customer_id) is None:
        return None
    return customer_id


def _tracking_refs(line: Mapping[str, Any]) -> list[str]:
    refs: list[Any] = list(line.get("trackingCategoryRefs") or [])
    tracking = line.get("tracking")
    if isinstance(tracking, Mapping):
        refs += list(tracking.get("categoryRefs") or [])
    ids = [ref.get("id") for ref in refs if isinstance(ref, Mapping)]
    return [i for i in dict.fromkeys(ids) if i is not None]


def _check_tracking(errors: _Errors, view: CompanyView, line: Mapping[str, Any], where: str) -> None:
    refs = _tracking_refs(line)
    if len(refs) > 2:
        errors.add(f"{where}.tracking", "A line can have at most 2 tracking categories.")
    parents: set[str | None] = set()
    for ref in refs:
        category = _active_record(errors, view, "trackingCategories", "Tracking category",
                                  f"{where}.tracking.categoryRefs", ref)
        if category is None:
            continue
        if category.get("hasChildren"):
            errors.add(f"{where}.tracking.categoryRefs",
                       f"Tracking category '{ref}' must not be a parent tracking category.")
        parent = category.get("parentId")
        if parent in parents:
            errors.add(f"{where}.tracking.categoryRefs",
                       "Tracking categories on a line must have different parents.")
        parents.add(parent)


def _number(errors: _Errors, container: Mapping[str, Any], name: str, where: str,
            required: bool) -> float | None:
    value = container.get(name)
    if value is None:
        if required:
            errors.add(where, f"{where} is required.")
        return None
    if not is_number(value):
        errors.add(where, f"{where} must be a number.")
        return None
    return float(value)


def _amount(errors: _Errors, container: Mapping[str, Any], name: str, where: str, required: bool,
            currency: str) -> Decimal | None:
    """A money amount: a number in whole minor units of ``currency``."""
    value = _number(errors, container, name, where, required)
    if value is None:
        return None
    raw = container[name]
    amount = exact(raw)
    digits = _MINOR_DIGITS.get(currency, 2)
    # A whole number has no decimal places in any currency (normalize() is the dearest step here).
    whole = isinstance(raw, int) or raw.is_integer()
    # By exponent, not quantize(): quantize overflows on absurd amounts such as 1e308 (schemathesis found it).
    if not whole and _decimal_places(raw, amount) > digits:
        errors.add(where,
                   f"{where} {_show(amount)} has more decimal places than {currency} allows ({digits}).")
    return amount


def _decimal_places(raw: int | float, amount: Decimal) -> int:
    """How many decimal places a number that is not whole has: ``-amount.normalize()``'s exponent.

    A float's shortest repr in positional form (``123.45``: no exponent, never a trailing zero after the
    point unless whole) has exactly that many digits after its point; any other form goes to Decimal.
    """
    if type(raw) is float:
        text = repr(raw)
        point = text.find(".")
        if point >= 0 and "e" not in text:
            return len(text) - point - 1
    return -amount.normalize().as_tuple().exponent


def _check_income_account(errors: _Errors, view: CompanyView, line: Mapping[str, Any], where: str,
                          usage: str) -> None:
    account_id = _ref_id(line, "accountRef")
    if account_id is None:
        errors.add(f"{where}.accountRef.id", f"{where}.accountRef.id is required.")
        return
    account = _active_record(errors, view, "accounts", "Account", f"{where}.accountRef.id", account_id)
    if account is None:
        return
    usable = any(link.get("property") == usage for link in account.get("validDatatypeLinks") or [])
    if account.get("type") != "Income" and not usable:
        errors.add(f"{where}.accountRef.id", f"Account '{account_id}' is not an Income account.")


def _check_sales_lines(errors: _Errors, body: Mapping[str, Any], view: CompanyView, currency: str,
                       usage: str,
                       description_required: bool = True) -> tuple[Decimal, Decimal, Decimal] | None:
    """Check invoice/credit-note lines; returns the exact sums (subTotal, tax, total) when computable."""
    lines = body.get("lineItems")
    if not isinstance(lines, list) or not lines:
        errors.add("lineItems", "At least one line item is required.")
        return None
    unit_of_money = minor_unit(currency)
    sums = [Decimal(0), Decimal(0), Decimal(0)]
    complete = True
    for index, line in enumerate(lines):
        where = f"lineItems[{index}]"
        if not isinstance(line, Mapping):
            errors.add(where, f"{where} must be an object.")
            complete = False
            continue
        described = isinstance(line.get("description"), str) and line["description"].strip()
        if description_required and not described:
            errors.add(f"{where}.description", f"{where}.description is required.")
        quantity = _number(errors, line, "quantity", f"{where}.quantity", True)
        unit = _number(errors, line, "unitAmount", f"{where}.unitAmount", True)
        tax = _amount(errors, line, "taxAmount", f"{where}.taxAmount", True, currency)
        discount = _amount(errors, line, "discountAmount", f"{where}.discountAmount", False,
                           currency) or Decimal(0)
        percent = _number(errors, line, "discountPercentage", f"{where}.discountPercentage", False)
        sub = _amount(errors, line, "subTotal", f"{where}.subTotal", False, currency)
        total = _amount(errors, line, "totalAmount", f"{where}.totalAmount", False, currency)
        _check_income_account(errors, view, line, where, usage)
        rate = None
        tax_rate_id = _ref_id(line, "taxRateRef")
        if tax_rate_id is not None:
            tax_rate = _active_record(errors, view, "taxRates", "Tax rate", f"{where}.taxRateRef.id",
                                      tax_rate_id)
            if tax_rate is not None and is_number(tax_rate.get("effectiveTaxRate")):
                rate = exact(tax_rate["effectiveTaxRate"])
        _check_tracking(errors, view, line, where)
        if quantity is None or unit is None or tax is None:
            complete = False
            continue
        gross = exact(line["quantity"]) * exact(line["unitAmount"])
        if discount:
            expected_sub = gross - discount
        else:
            expected_sub = gross * (1 - exact(line["discountPercentage"]) / 100) if percent else gross
        if sub is None:
            sub = expected_sub
        elif abs(sub - expected_sub) > unit_of_money:
            errors.add(f"{where}.subTotal",
                       f"{where}.subTotal {_show(sub)} does not equal quantity × unitAmount less discount "
                       f"({_show(expected_sub)}) to within one minor unit "
                       f"({_show(unit_of_money)} {currency}).")
        if rate is not None and abs(tax - sub * rate / 100) > unit_of_money:
            errors.add(f"{where}.taxAmount",
                       f"{where}.taxAmount {_show(tax)} does not match the tax rate ({_show(rate)}% of "
                       f"{_show(sub)}) to within one minor unit ({_show(unit_of_money)} {currency}).")
        if total is None:
            total = sub + tax
        elif total != sub + tax:
            errors.add(f"{where}.totalAmount",
                       f"{where}.totalAmount {_show(total)} must equal subTotal + taxAmount "
                       f"({_show(sub + tax)}).")
        sums[0] += sub
        sums[1] += tax
        sums[2] += total
    return (sums[0], sums[1], sums[2]) if complete else None


def _check_document_totals(errors: _Errors, body: Mapping[str, Any],
                           sums: tuple[Decimal, Decimal, Decimal] | None,
                           currency: str, tax_field: str = "totalTaxAmount") -> None:
    """Document totals are the exact sums of their lines: a document one minor unit off is refused."""
    total = _amount(errors, body, "totalAmount", "totalAmount", True, currency)
    tax = _amount(errors, body, tax_field, tax_field, True, currency)
    sub = _amount(errors, body, "subTotal", "subTotal", False, currency)
    discount = _amount(errors, body, "totalDiscount", "totalDiscount", False, currency)
    if sums is None:
        return
    for name, value, expected in (("subTotal", sub, sums[0]), (tax_field, tax, sums[1]),
                                  ("totalAmount", total, sums[2])):
        if value is not None and value != expected:
            errors.add(name,
                       f"{name} {_show(value)} does not equal the sum of the line items ({_show(expected)}).")
    line_discounts = [line.get("discountAmount") for line in body["lineItems"]]
    if discount is not None and all(is_number(d) for d in line_discounts):
        expected_discount = sum((exact(d) for d in line_discounts), Decimal(0))
        if discount != expected_discount:
            errors.add("totalDiscount",
                       f"totalDiscount {_show(discount)} does not equal the sum of the lines' "
                                        f"discountAmount ({_show(expected_discount)}).")


def _check_status(errors: _Errors, body: Mapping[str, Any], creating: bool) -> None:
    status = body.get("status")
    allowed = CREATE_STATUSES if creating else UPDATE_STATUSES
    if status is None:
        errors.add("status", "status is required.")
    elif status not in allowed:
        action = "created" if creating else "updated"
        errors.add("status", f"status '{status}' is not allowed when a document is {action}; use one of "
                             f"{', '.join(allowed)}.")


def validate_customer(body: Mapping[str, Any], view: CompanyView) -> list[dict[str, Any]]:
    """A customer needs a name and a status; currency and address types must be well formed."""
    errors = _Errors("Customer")
    name = body.get("customerName")
    if not isinstance(name, str) or not name.strip():
        errors.add("customerName", "customerName is required.")
    status = body.get("status")
    if status is None:
        errors.add("status", "status is required.")
    elif status not in CUSTOMER_STATUSES:
        errors.add("status", f"status '{status}' is not one of {', '.join(CUSTOMER_STATUSES)}.")
    currency = body.get("defaultCurrency")
    if currency is not None and (not isinstance(currency, str) or not _CURRENCY.match(currency)):
        errors.add("defaultCurrency", f"defaultCurrency '{currency}' is not an ISO 4217 code.")
    for index, address in enumerate(body.get("addresses") or []):
        if not isinstance(address, Mapping) or address.get("type") not in ("Unknown", "Billing", "Delivery"):
            errors.add(f"addresses[{index}].type", "Address type must be one of Unknown, Billing, Delivery.")
    return errors.items


def validate_invoice(body: Mapping[str, Any], view: CompanyView, creating: bool = True,
                     due_date_required: bool = True,
                     description_required: bool = True) -> list[dict[str, Any]]:
    """References, statuses and totals of an invoice (CONTRACT §2.1, §11.3–11.4).

    Whether a due date and line descriptions are required depends on the platform: the store leaves that
    to :mod:`codat_sandbox.platforms` (``due_date_required=False, description_required=False``) and
    checks only the due date's format here.
    """
    errors = _Errors("Invoice")
    _check_customer(errors, body, view)
    _check_date(errors, body, "issueDate")
    _check_date(errors, body, "dueDate", required=due_date_required)
    _check_status(errors, body, creating)
    currency = _check_currency(errors, body, view)
    sums = _check_sales_lines(errors, body, view, currency, INVOICE_LINE_ACCOUNT, description_required)
    _check_document_totals(errors, body, sums, currency)
    due = _amount(errors, body, "amountDue", "amountDue", creating, currency)
    total = body.get("totalAmount")
    if creating and due is not None and is_number(total) and due != exact(total):
        errors.add("amountDue",
                   f"amountDue {_show(due)} must equal totalAmount {_show(exact(total))} on a new invoice.")
    return errors.items


def validate_credit_note(body: Mapping[str, Any], view: CompanyView, creating: bool = True,
                         description_required: bool = True) -> list[dict[str, Any]]:
    """References, statuses and totals of a credit note (CONTRACT §2.2); line descriptions as for invoices."""
    errors = _Errors("CreditNote")
    _check_customer(errors, body, view)
    _check_date(errors, body, "issueDate")
    _check_status(errors, body, creating)
    currency = _check_currency(errors, body, view)
    sums = _check_sales_lines(errors, body, view, currency, CREDIT_NOTE_LINE_ACCOUNT, description_required)
    _check_document_totals(errors, body, sums, currency)
    total = body.get("totalAmount")
    if is_number(total) and total <= 0:
        errors.add("totalAmount", "totalAmount of a credit note must be greater than 0.")
    for name in ("totalDiscount", "discountPercentage"):
        _number(errors, body, name, name, True)
    remaining = _amount(errors, body, "remainingCredit", "remainingCredit", creating, currency)
    if creating and remaining is not None and is_number(total) and remaining != exact(total):
        errors.add("remainingCredit", f"remainingCredit {_show(remaining)} must equal totalAmount "
                                      f"{_show(exact(total))} on a new credit note.")
    return errors.items


def _check_bank_account(errors: _Errors, view: CompanyView, account_id: str | None, where: str) -> None:
    if account_id is None:
        errors.add(where, f"{where} is required.")
        return
    account = _active_record(errors, view, "accounts", "Account", where, account_id)
    if account is None:
        return
    usable = any(link.get("property") == PAYMENT_ACCOUNT for link in account.get("validDatatypeLinks") or [])
    if not account.get("isBankAccount") and not usable:
        errors.add(where, f"Account '{account_id}' is not a bank account and cannot receive payments.")


def _link_in_payment_currency(link: Mapping[str, Any], document: Mapping[str, Any] | None,
                              payment_currency: str) -> tuple[Decimal, bool]:
    """The link's amount in the payment's currency, and whether a ``currencyRate`` converted it."""
    amount = exact(link["amount"])
    rate = link.get("currencyRate")
    if document is not None and document.get("currency") not in (None, payment_currency) and is_number(rate):
        return amount * exact(rate), True
    return amount, False


def _check_link(errors: _Errors, view: CompanyView, link: Any, where: str, customer_id: str | None,
                usage: dict[tuple[str, str], Decimal], currency: str) -> dict[str, Any] | None:
    """Check one payment link; returns the linked document (invoice/credit note) when there is one."""
    if not isinstance(link, Mapping):
        errors.add(where, f"{where} must be an object.")
        return None
    kind, link_id, amount = link.get("type"), link.get("id"), link.get("amount")
    if kind not in ALL_LINK_TYPES:
        errors.add(f"{where}.type", f"Link type '{kind}' is not a valid payment link type.")
        return None
    if kind not in LINK_TYPES:
        errors.add(f"{where}.type",
                   f"Link type '{kind}' is not supported; use one of {', '.join(LINK_TYPES)}.")
        return None
    if not is_number(amount):
        errors.add(f"{where}.amount", f"{where}.amount is required.")
        return None
    if not isinstance(link_id, str) or not link_id:
        errors.add(f"{where}.id", f"{where}.id is required.")
        return None
    if kind == "PaymentOnAccount":
        if link_id != customer_id:
            errors.add(f"{where}.id", "A PaymentOnAccount link's id must be the payment's customer id.")
        _amount(errors, link, "amount", f"{where}.amount", True, currency)
        return None
    data_type, label = ("invoices", "Invoice") if kind == "Invoice" else ("creditNotes", "Credit note")
    if kind == "Invoice" and amount >= 0:
        errors.add(f"{where}.amount", "Invoice link amounts must be negative (they reduce the amount due).")
    if kind == "CreditNote" and amount <= 0:
        errors.add(f"{where}.amount", "Credit note link amounts must be positive.")
    document = view.get(data_type, link_id)
    if document is None or is_deleted(document):
        errors.add(f"{where}.id", f"{label} '{link_id}' does not exist.")
        return None
    # A link's amount is in the linked document's currency (CONTRACT §2.3).
    _amount(errors, link, "amount", f"{where}.amount", True, document.get("currency") or currency)
    if customer_id is not None and _ref_id(document, "customerRef") != customer_id:
        errors.add(f"{where}.id", f"{label} '{link_id}' belongs to a different customer.")
    if document.get("status") not in PAYABLE_STATUSES:
        errors.add(f"{where}.id", f"{label} '{link_id}' has status '{document.get('status')}'; it must be "
                                  f"Submitted or PartiallyPaid.")
    usage[(data_type, link_id)] = usage.get((data_type, link_id), Decimal(0)) + abs(exact(amount))
    return document


def validate_payment(body: Mapping[str, Any], view: CompanyView) -> list[dict[str, Any]]:
    """Signs, balances and references of a payment or credit-note allocation (CONTRACT §2.3, §11.10)."""
    errors = _Errors("Payment")
    customer_id = _check_customer(errors, body, view)
    _check_date(errors, body, "date")
    currency = _check_currency(errors, body, view)
    unit = minor_unit(currency)
    total = _amount(errors, body, "totalAmount", "totalAmount", True, currency)
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        errors.add("lines", "At least one payment line is required.")
        return errors.items
    usage: dict[tuple[str, str], Decimal] = {}
    kinds: set[str] = set()
    line_sum = Decimal(0)
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if not isinstance(line, Mapping):
            errors.add(where, f"{where} must be an object.")
            continue
        amount = _amount(errors, line, "amount", f"{where}.amount", True, currency)
        links = line.get("links") or []
        if not isinstance(links, list):
            errors.add(f"{where}.links", f"{where}.links must be an array.")
            continue
        link_sum, link_sum_ok, converted = Decimal(0), True, False
        for link_index, link in enumerate(links):
            link_where = f"{where}.links[{link_index}]"
            document = _check_link(errors, view, link, link_where, customer_id, usage, currency)
            if isinstance(link, Mapping) and is_number(link.get("amount")):
                kinds.add(str(link.get("type")))
                value, by_rate = _link_in_payment_currency(link, document, currency)
                link_sum += value
                converted = converted or by_rate
            else:
                link_sum_ok = False
        if amount is None:
            continue
        line_sum += amount
        # Exact, unless a currencyRate converted a link: then rounding explains one minor unit.
        off = abs(amount + link_sum)
        if link_sum_ok and links and (off > unit if converted else off != 0):
            errors.add(f"{where}.amount",
                       f"{where}.amount {_show(amount)} plus its links ({_show(link_sum)}) "
                                          "must be 0.")
    for (data_type, doc_id), used in usage.items():
        document = view.get(data_type, doc_id) or {}
        field_name = "amountDue" if data_type == "invoices" else "remainingCredit"
        available = document.get(field_name)
        if is_number(available) and used > exact(available):
            label = "Invoice" if data_type == "invoices" else "Credit note"
            errors.add(doc_id, f"{label} '{doc_id}' has {field_name} {_show(exact(available))}; the payment "
                               f"allocates {_show(used)}.")
    if total is not None and line_sum != total:
        errors.add("totalAmount", f"totalAmount {_show(total)} must equal the sum of the line amounts "
                                  f"({_show(line_sum)}).")
    if total is not None and total == 0:
        if not {"Invoice", "CreditNote"} <= kinds:
            errors.add("totalAmount",
                       "totalAmount must not be 0 unless the payment is a credit note allocation "
                                      "(Invoice and Credit Note ID must be provided in order to allocate a "
                                      "Credit Note to an Invoice).")
        account_id = _ref_id(body, "accountRef")
        if account_id is not None:
            _check_bank_account(errors, view, account_id, "accountRef.id")
    else:
        _check_bank_account(errors, view, _ref_id(body, "accountRef"), "accountRef.id")
    return errors.items


def validate_direct_cost(body: Mapping[str, Any], view: CompanyView) -> list[dict[str, Any]]:
    """References and totals of a direct cost (``DirectCost`` schema in Codat-Accounting.yaml)."""
    errors = _Errors("DirectCost")
    _check_date(errors, body, "issueDate")
    currency = _check_currency(errors, body, view, required=True)
    totals = {name: _amount(errors, body, name, name, True, currency) for name in ("subTotal", "taxAmount",
                                                                                   "totalAmount")}
    lines = body.get("lineItems")
    if not isinstance(lines, list) or not lines:
        errors.add("lineItems", "At least one line item is required.")
        lines = []
    sums = {name: Decimal(0) for name in totals}
    known = {name: True for name in totals}
    for index, line in enumerate(lines):
        where = f"lineItems[{index}]"
        if not isinstance(line, Mapping):
            errors.add(where, f"{where} must be an object.")
            continue
        _number(errors, line, "quantity", f"{where}.quantity", True)
        _number(errors, line, "unitAmount", f"{where}.unitAmount", True)
        account_id = _ref_id(line, "accountRef")
        if account_id is None:
            errors.add(f"{where}.accountRef.id", f"{where}.accountRef.id is required.")
        else:
            _active_record(errors, view, "accounts", "Account", f"{where}.accountRef.id", account_id)
        tax_rate_id = _ref_id(line, "taxRateRef")
        if tax_rate_id is not None:
            _active_record(errors, view, "taxRates", "Tax rate", f"{where}.taxRateRef.id", tax_rate_id)
        _check_tracking_legacy(errors, view, line, where)
        amounts = {name: _amount(errors, line, name, f"{where}.{name}", False, currency) for name in totals}
        for name, value in amounts.items():
            if value is None:
                known[name] = False
            else:
                sums[name] += value
        line_sum = None if None in amounts.values() else amounts["subTotal"] + amounts["taxAmount"]
        if line_sum is not None and amounts["totalAmount"] != line_sum:
            errors.add(f"{where}.totalAmount",
                       f"{where}.totalAmount {_show(amounts['totalAmount'])} must equal "
                       f"subTotal + taxAmount ({_show(line_sum)}).")
    for name, value in totals.items():
        if lines and known[name] and value is not None and value != sums[name]:
            errors.add(name,
                       f"{name} {_show(value)} does not equal the sum of the line items "
                       f"({_show(sums[name])}).")
    allocations = body.get("paymentAllocations")
    if not isinstance(allocations, list):
        errors.add("paymentAllocations", "paymentAllocations is required.")
        allocations = []
    for index, allocation in enumerate(allocations):
        payment = allocation.get("payment") if isinstance(allocation, Mapping) else None
        account_id = _ref_id(payment, "accountRef") if isinstance(payment, Mapping) else None
        _check_bank_account(errors, view, account_id, f"paymentAllocations[{index}].payment.accountRef.id")
    return errors.items


def _check_tracking_legacy(errors: _Errors, view: CompanyView, line: Mapping[str, Any], where: str) -> None:
    """Direct-cost lines carry only the deprecated ``trackingCategoryRefs``; same leaf/parent rules."""
    if line.get("trackingCategoryRefs"):
        _check_tracking(errors, view, {"trackingCategoryRefs": line["trackingCategoryRefs"]}, where)


def first_messages(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """The messages of validation items, for error summaries."""
    return [str(item.get("message")) for item in items]
