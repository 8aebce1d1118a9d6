"""Pydantic models of the Codat records this project reads and writes (CONTRACT §1–§3).

Reading is lenient: unknown fields are ignored, enums fall back to ``Unknown`` for values the spec
does not list, and fields are nullable where real data is. Writing is strict: :meth:`PushModel.to_push_json`
never sends read-only fields, omits unset optionals, checks the fields the schema requires, and writes
money as JSON numbers (``Decimal`` → ``240.50``, never ``"240.50"``).

    >>> invoice = Invoice(invoice_number="INV-1", customer_ref=CustomerRef(id="C-1"), issue_date=..., ...)
    >>> body: bytes = invoice.to_push_json()
    >>> Invoice.model_validate(record_dict)       # read a record from the API
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

T = TypeVar("T")


# --------------------------------------------------------------------------------------------- enums
class LenientEnum(StrEnum):
    """A string enum that reads values it does not know as ``Unknown`` instead of failing."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            for member in cls:  # the API is not always consistent about case
                if member.value.lower() == value.lower():
                    return member
        return cls.__members__.get("Unknown")


class AccountType(LenientEnum):
    Unknown = "Unknown"
    Asset = "Asset"
    Expense = "Expense"
    Income = "Income"
    Liability = "Liability"
    Equity = "Equity"


class AccountStatus(LenientEnum):
    Unknown = "Unknown"
    Active = "Active"
    Archived = "Archived"
    Pending = "Pending"


class RecordStatus(LenientEnum):
    """Status of tax rates, tracking categories, customers and contacts."""

    Unknown = "Unknown"
    Active = "Active"
    Archived = "Archived"


class BankAccountType(LenientEnum):
    Unknown = "Unknown"
    Credit = "Credit"
    Debit = "Debit"


class AddressType(LenientEnum):
    Unknown = "Unknown"
    Billing = "Billing"
    Delivery = "Delivery"


class PhoneNumberType(LenientEnum):
    Unknown = "Unknown"
    Primary = "Primary"
    Landline = "Landline"
    Mobile = "Mobile"
    Fax = "Fax"


class InvoiceStatus(LenientEnum):
    Unknown = "Unknown"
    Draft = "Draft"
    Submitted = "Submitted"
    PartiallyPaid = "PartiallyPaid"
    Paid = "Paid"
    Void = "Void"


CreditNoteStatus = InvoiceStatus  # the same six values (CONTRACT §2.2)


class BilledToType(LenientEnum):
    Unknown = "Unknown"
    NotApplicable = "NotApplicable"
    Project = "Project"


class PaymentLinkType(LenientEnum):
    Unknown = "Unknown"
    Unlinked = "Unlinked"
    Invoice = "Invoice"
    CreditNote = "CreditNote"
    Other = "Other"
    Refund = "Refund"
    Payment = "Payment"
    PaymentOnAccount = "PaymentOnAccount"
    ManualJournal = "ManualJournal"
    Discount = "Discount"


class PushOperationStatus(LenientEnum):
    Pending = "Pending"
    Failed = "Failed"
    Success = "Success"
    TimedOut = "TimedOut"
    Unknown = "Unknown"  # not in the spec: read-side fallback only

    @property
    def is_final(self) -> bool:
        """True once the operation will not change any more."""
        return self in _FINAL_STATUSES  # a set: settling asks this of every open operation, every round


_FINAL_STATUSES = frozenset({PushOperationStatus.Success, PushOperationStatus.Failed,
                             PushOperationStatus.TimedOut})


class PushChangeType(LenientEnum):
    Unknown = "Unknown"
    Created = "Created"
    Modified = "Modified"
    Deleted = "Deleted"
    AttachmentUploaded = "AttachmentUploaded"


class ConnectionStatus(LenientEnum):
    PendingAuth = "PendingAuth"
    Linked = "Linked"
    Unlinked = "Unlinked"
    Deauthorized = "Deauthorized"
    Unknown = "Unknown"  # read-side fallback only


# ---------------------------------------------------------------------------------------------- base
def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send the amount {value} to Codat")
        # A Fragment is written verbatim: the exact decimal as a JSON number.
        return orjson.Fragment(format(value.normalize() if value == value.to_integral() else value, "f"))
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    """Serialise for the API: Decimals as JSON numbers, enums as values, UTC datetimes with ``Z``."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_UTC_Z)


class CodatModel(BaseModel):
    """Base of every model: camelCase aliases, snake_case attributes, unknown fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              use_enum_values=False)


class PushModel(CodatModel):
    """A record that can be pushed. Subclasses list what the API would refuse or ignore."""

    # Fields the API owns: never sent (CONTRACT §3 "id, modifiedDate and sourceModifiedDate are read-only").
    read_only: ClassVar[frozenset[str]] = frozenset(
        {"id", "modified_date", "source_modified_date", "metadata"})
    # Fields the schema requires on a write (snake_case attribute names).
    required_on_push: ClassVar[tuple[str, ...]] = ()

    def push_dict(self, *, include_source_modified_date: bool = False) -> dict[str, Any]:
        """The body as a dict with camelCase keys: set, non-null, writable fields only."""
        missing = [name for name in self.required_on_push if getattr(self, name) is None]
        if missing:
            names = ", ".join(type(self).model_fields[n].alias or n for n in missing)
            raise ValueError(f"{type(self).__name__} cannot be pushed without {names}")
        exclude = set(self.read_only)
        if include_source_modified_date:
            exclude.discard("source_modified_date")  # a PUT may carry it for the forceUpdate check
        return self.model_dump(by_alias=True, exclude_unset=False, exclude_none=True, exclude=exclude,
                               mode="python")

    def to_push_json(self, *, include_source_modified_date: bool = False) -> bytes:
        """The exact bytes to POST/PUT (see :func:`dumps`)."""
        return dumps(self.push_dict(include_source_modified_date=include_source_modified_date))


# ----------------------------------------------------------------------------------- shared bits
class Metadata(CodatModel):
    is_deleted: bool | None = None


class ValidDataTypeLink(CodatModel):
    property: str | None = None
    links: list[str] | None = None


class AccountRef(CodatModel):
    id: str | None = None
    name: str | None = None


class TaxRateRef(CodatModel):
    id: str | None = None
    name: str | None = None
    effective_tax_rate: Decimal | None = None


class ItemRef(CodatModel):
    id: str = Field(min_length=1)
    name: str | None = None


class TrackingCategoryRef(CodatModel):
    id: str
    name: str | None = None


class CustomerRef(CodatModel):
    id: str = Field(min_length=1)
    company_name: str | None = None


class ProjectRef(CodatModel):
    id: str
    name: str | None = None


class RecordRef(CodatModel):
    id: str | None = None
    data_type: str | None = None


class PaymentMethodRef(CodatModel):
    id: str | None = None
    name: str | None = None


class SupplementalData(CodatModel):
    content: dict[str, dict[str, Any]] | None = None


class WithholdingTax(CodatModel):
    name: str
    amount: Decimal


class LineTracking(CodatModel):
    """Line-level tracking of invoices and credit notes."""

    category_refs: list[TrackingCategoryRef] = Field(default_factory=list)
    customer_ref: CustomerRef | None = None
    project_ref: ProjectRef | None = None
    is_billed_to: BilledToType = BilledToType.Unknown
    is_rebilled_to: BilledToType = BilledToType.Unknown


class AllocationPayment(CodatModel):
    id: str | None = None
    note: str | None = None
    reference: str | None = None
    account_ref: AccountRef | None = None
    currency: str | None = None
    currency_rate: Decimal | None = None
    paid_on_date: datetime | None = None
    total_amount: Decimal | None = None


class Allocation(CodatModel):
    currency: str | None = None
    currency_rate: Decimal | None = None
    allocated_on_date: datetime | None = None
    total_amount: Decimal | None = None


class PaymentAllocation(CodatModel):
    """A payment applied to a document (read model on invoices and credit notes)."""

    payment: AllocationPayment
    allocation: Allocation


# --------------------------------------------------------------------------------- reference data
class Account(CodatModel):
    """An account of the chart of accounts (data type ``chartOfAccounts``, path ``/data/accounts``)."""

    id: str | None = None
    nominal_code: str | None = None
    name: str | None = None
    description: str | None = None
    fully_qualified_category: str | None = None
    fully_qualified_name: str | None = None
    currency: str | None = None
    current_balance: Decimal | None = None
    type: AccountType = AccountType.Unknown
    status: AccountStatus = AccountStatus.Unknown
    is_bank_account: bool | None = None
    valid_datatype_links: list[ValidDataTypeLink] | None = None
    metadata: Metadata | None = None
    modified_date: datetime | None = None
    source_modified_date: datetime | None = None


class BankAccount(CodatModel):
    """A bank account of one connection."""

    id: str | None = None
    account_name: str | None = None
    account_type: BankAccountType = BankAccountType.Unknown
    nominal_code: str | None = None
    sort_code: str | None = None
    account_number: str | None = None
    i_ban: str | None = Field(None, alias="iBan")
    currency: str | None = None
    balance: Decimal | None = None
    available_balance: Decimal | None = None
    overdraft_limit: Decimal | None = None
    institution: str | None = None
    status: AccountStatus | None = None
    metadata: Metadata | None = None
    modified_date: datetime | None = None
    source_modified_date: datetime | None = None


class TaxRateComponent(CodatModel):
    name: str | None = None
    rate: Decimal | None = None
    is_compound: bool = False


class TaxRate(CodatModel):
    """A tax rate; lines are taxed at ``effective_tax_rate`` (CONTRACT §11.3)."""

    id: str | None = None
    name: str | None = None
    code: str | None = None
    status: RecordStatus = RecordStatus.Unknown
    effective_tax_rate: Decimal | None = None
    total_tax_rate: Decimal | None = None
    components: list[TaxRateComponent] | None = None
    valid_datatype_links: list[ValidDataTypeLink] | None = None
    metadata: Metadata | None = None
    modified_date: datetime | None = None
    source_modified_date: datetime | None = None


class TrackingCategory(CodatModel):
    """A tracking category (class, department, location…); lines may use only leaves."""

    id: str | None = None
    name: str | None = None
    status: RecordStatus = RecordStatus.Unknown
    parent_id: str | None = None
    has_children: bool | None = None
    metadata: Metadata | None = None
    modified_date: datetime | None = None
    source_modified_date: datetime | None = None


# -------------------------------------------------------------------------------------- customers
class Address(CodatModel):
    type: AddressType = AddressType.Unknown
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    postal_code: str | None = None


class PhoneNumber(CodatModel):
    number: str
    type: PhoneNumberType = PhoneNumberType.Unknown


class Contact(CodatModel):
    name: str | None = None
    email: str | None = None
    phone: list[PhoneNumber] | None = None
    address: Address | None = None
    status: RecordStatus = RecordStatus.Unknown
    modified_date: datetime | None = None


class Customer(PushModel):
    """A customer (debtor)."""

    required_on_push: ClassVar[tuple[str, ...]] = ("status",)
    read_only: ClassVar[frozenset[str]] = PushModel.read_only

    id: str | None = None
    customer_name: str | None = None
    contact_name: str | None = None
    email_address: str | None = None
    default_currency: str | None = None
    phone: str | None = None
    addresses: list[Address] | None = None
    contacts: list[Contact] | None = None
    registration_number: str | None = None
    tax_number: str | None = None
    status: RecordStatus | None = RecordStatus.Active
    metadata: Metadata | None = None
    supplemental_data: SupplementalData | None = None
    modified_date: datetime | None = None
    source_modified_date: datetime | None = None


# ------------------------------------------------------------------------ invoices and credit notes
class InvoiceLineItem(CodatModel):
    """One line of an invoice or credit note; ``total_amount`` includes tax (CONTRACT §11.3)."""

    description: str | None = None
    unit_amount: Decimal
    quantity: Decimal
    discount_amount: Decimal | None = None
    discount_percentage: Decimal | None = None
    sub_total: Decimal | None = None
    tax_amount: Decimal | None = None
    total_amount: Decimal | None = None
    account_ref: AccountRef | None = None
    tax_rate_ref: TaxRateRef | None = None
    item_ref: ItemRef | None = None
    tracking_category_refs: list[TrackingCategoryRef] | None = None
    tracking: LineTracking | None = None
    is_direct_income: bool | None = None


CreditNoteLineItem = InvoiceLineItem


class SalesDocument(PushModel):
    """What invoices and credit notes share: customer, dates, currency, lines, totals, status."""

    id: str | None = None
    customer_ref: CustomerRef | None = None
    issue_date: datetime | None = None
    currency: str | None = None
    currency_rate: Decimal | None = None
    line_items: list[InvoiceLineItem] | None = None
    payment_allocations: list[PaymentAllocation] | None = None
    withholding_tax: list[WithholdingTax] | None = None
    total_discount: Decimal | None = None
    sub_total: Decimal | None = None
    additional_tax_amount: Decimal | None = None
    additional_tax_percentage: Decimal | None = None
    total_tax_amount: Decimal | None = None
    total_amount: Decimal | None = None
    discount_percentage: Decimal | None = None
    status: InvoiceStatus | None = None
    note: str | None = None
    metadata: Metadata | None = None
    supplemental_data: SupplementalData | None = None
    modified_date: datetime | None = None
    source_modified_date: datetime | None = None


class Invoice(SalesDocument):
    """A sales invoice. ``payment_allocations`` and ``paid_on_date`` are read-only."""

    read_only: ClassVar[frozenset[str]] = PushModel.read_only | {"payment_allocations", "paid_on_date"}
    required_on_push: ClassVar[tuple[str, ...]] = (
        "issue_date", "due_date", "total_tax_amount", "total_amount", "amount_due", "status")

    invoice_number: str | None = None
    sales_order_refs: list[Any] | None = None
    due_date: datetime | None = None
    paid_on_date: datetime | None = None
    amount_due: Decimal | None = None


class CreditNote(SalesDocument):
    """A sales credit note; on create send ``remaining_credit = total_amount`` (CONTRACT §2.2)."""

    read_only: ClassVar[frozenset[str]] = PushModel.read_only | {"payment_allocations", "allocated_on_date"}
    required_on_push: ClassVar[tuple[str, ...]] = (
        "total_amount", "total_discount", "sub_total", "total_tax_amount", "discount_percentage",
        "remaining_credit", "status")

    credit_note_number: str | None = None
    remaining_credit: Decimal | None = None
    allocated_on_date: datetime | None = None


# --------------------------------------------------------------------------------------- payments
class PaymentLineLink(CodatModel):
    """What a payment line settles. Amounts are the change to the linked item's AR balance:
    negative pays an invoice, positive uses a credit note; ``PaymentOnAccount`` ids are customer ids."""

    type: PaymentLinkType
    id: str | None = None
    amount: Decimal | None = None
    currency_rate: Decimal | None = None


class PaymentLine(CodatModel):
    amount: Decimal
    links: list[PaymentLineLink] | None = None
    allocated_on_date: datetime | None = None


class Payment(PushModel):
    """A customer receipt, refund or allocation (create-only: CONTRACT §11.9)."""

    required_on_push: ClassVar[tuple[str, ...]] = ("date",)

    id: str | None = None
    customer_ref: CustomerRef | None = None
    account_ref: AccountRef | None = None
    payment_method_ref: PaymentMethodRef | None = None
    total_amount: Decimal | None = None
    currency: str | None = None
    currency_rate: Decimal | None = None
    date: datetime | None = None
    note: str | None = None
    reference: str | None = None
    lines: list[PaymentLine] | None = None
    metadata: Metadata | None = None
    supplemental_data: SupplementalData | None = None
    modified_date: datetime | None = None
    source_modified_date: datetime | None = None


# ------------------------------------------------------------------------------------ direct costs
class ContactRef(CodatModel):
    id: str = Field(min_length=1)
    data_type: str | None = None


class DirectCostTracking(CodatModel):
    record_refs: list[RecordRef] = Field(default_factory=list)


class DirectCostLineItem(CodatModel):
    description: str | None = None
    unit_amount: Decimal
    quantity: Decimal
    discount_amount: Decimal | None = None
    discount_percentage: Decimal | None = None
    sub_total: Decimal | None = None
    tax_amount: Decimal | None = None
    total_amount: Decimal | None = None
    account_ref: AccountRef | None = None
    tax_rate_ref: TaxRateRef | None = None
    item_ref: ItemRef | None = None
    tracking_category_refs: list[TrackingCategoryRef] | None = None
    tracking: DirectCostTracking | None = None


class DirectCost(PushModel):
    """A spend/receive-money transaction (e.g. bank charges). The schema requires
    ``paymentAllocations`` on create: the payment that settled it at once."""

    required_on_push: ClassVar[tuple[str, ...]] = (
        "issue_date", "currency", "line_items", "payment_allocations", "sub_total", "tax_amount",
        "total_amount")

    id: str | None = None
    reference: str | None = None
    note: str | None = None
    contact_ref: ContactRef | None = None
    issue_date: datetime | None = None
    currency: str | None = None
    currency_rate: Decimal | None = None
    line_items: list[DirectCostLineItem] | None = None
    payment_allocations: list[PaymentAllocation] | None = None
    sub_total: Decimal | None = None
    tax_amount: Decimal | None = None
    total_amount: Decimal | None = None
    metadata: Metadata | None = None
    supplemental_data: SupplementalData | None = None
    modified_date: datetime | None = None
    source_modified_date: datetime | None = None


# ---------------------------------------------------------------------------- push operations, errors
class ValidationItem(CodatModel):
    item_id: str | None = None
    message: str | None = None
    validator_name: str | None = None


class Validation(CodatModel):
    errors: list[ValidationItem] | None = None
    warnings: list[ValidationItem] | None = None


class PushChange(CodatModel):
    type: PushChangeType = PushChangeType.Unknown
    record_ref: RecordRef | None = None
    attachment_id: str | None = None


class PushOperation(CodatModel):
    """The asynchronous result of a push; poll until :attr:`is_final`."""

    push_operation_key: str
    company_id: str | None = None
    data_connection_key: str | None = None
    data_type: str | None = None
    requested_on_utc: datetime | None = None
    completed_on_utc: datetime | None = None
    timeout_in_minutes: int | None = None
    timeout_in_seconds: int | None = None
    status: PushOperationStatus = PushOperationStatus.Unknown
    status_code: int | None = None
    error_message: str | None = None
    validation: Validation | None = None
    changes: list[PushChange] | None = None

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    @property
    def record_id(self) -> str | None:
        """Platform id of the created/modified record (``changes[0].recordRef.id``, CONTRACT §11.2)."""
        for change in self.changes or []:
            if change.record_ref and change.record_ref.id:
                return change.record_ref.id
        return None

    def validation_messages(self) -> list[str]:
        """The platform's validation errors as ``"itemId: message"`` lines."""
        items = (self.validation.errors if self.validation else None) or []
        return [f"{i.item_id}: {i.message}" if i.item_id else str(i.message) for i in items]


class PullOperation(CodatModel):
    """A queued, running or finished refresh of one data type (``POST /companies/{id}/data/queue/{type}``)."""

    id: str
    company_id: str | None = None
    connection_id: str | None = None
    data_type: str | None = None
    status: str = "Unknown"
    status_description: str | None = None
    error_message: str | None = None
    requested: datetime | None = None
    completed: datetime | None = None
    progress: int | None = None
    is_completed: bool = False
    is_errored: bool = False

    @property
    def is_complete(self) -> bool:
        return self.is_completed or self.status == "Complete"

    @property
    def is_final(self) -> bool:
        """Complete, errored, or in a state the refresh does not leave by itself."""
        return self.is_complete or self.is_errored or self.status.endswith("Error") or self.status in (
            "Cancelled", "NotSupported", "PrerequisiteNotMet")


class ErrorMessage(CodatModel):
    status_code: int | None = None
    service: str | None = None
    error: str | None = None
    correlation_id: str | None = None
    validation: Validation | None = None
    can_be_retried: str | None = None
    detailed_error_code: int | None = None


# ------------------------------------------------------------------------ push options (per platform)
class PushOptionType(LenientEnum):
    Unknown = "Unknown"  # read-side fallback only
    Array = "Array"
    Object = "Object"
    String = "String"
    Number = "Number"
    Boolean = "Boolean"
    DateTime = "DateTime"
    File = "File"
    MultiPart = "MultiPart"


class PushFieldValidation(CodatModel):
    """One rule or hint about a field, in the platform's words (``details`` is free text)."""

    field: str | None = None
    details: str | None = None
    ref: str | None = None


class PushValidationInfo(CodatModel):
    """``warnings``: what a request must meet; ``information``: guidance (CONTRACT §3, options endpoint)."""

    warnings: list[PushFieldValidation] | None = None
    information: list[PushFieldValidation] | None = None

    def details(self) -> list[str]:
        """Every warning's and information's text, warnings first."""
        return [i.details for i in (self.warnings or []) + (self.information or []) if i.details]


class PushOptionChoice(CodatModel):
    """One value the platform accepts for a field (``options`` of a property)."""

    value: str | None = None
    type: PushOptionType | None = None
    display_name: str | None = None
    description: str | None = None
    required: bool | None = None


class PushOptionProperty(CodatModel):
    """One field of a push model, with its own fields (``properties``) when it is an object or array."""

    type: PushOptionType = PushOptionType.Unknown
    display_name: str | None = None
    description: str | None = None
    required: bool = False
    properties: dict[str, PushOptionProperty] | None = None
    options: list[PushOptionChoice] | None = None
    validation: PushValidationInfo | None = None

    def walk(self, path: str = "") -> Iterator[tuple[str, PushOptionProperty]]:
        """This property and every nested one, depth first, as ``("lineItems.taxRateRef.id", property)``."""
        yield path, self
        for name, child in (self.properties or {}).items():
            yield from child.walk(f"{path}.{name}" if path else name)


class PushOption(PushOptionProperty):
    """A connection's create/update model of one data type (``GET …/options/{dataType}``: ``PushOption``).

    Codat publishes per platform (and sometimes per company) which fields a push may carry, which are
    required, the values allowed and, in ``validation``, rules in words. Read leniently: a platform that
    publishes nothing answers an empty model (:attr:`is_empty`).

        >>> model = client.get_push_options(company_id, connection_id, "invoices")
        >>> dict(model.walk())["invoiceNumber"].validation.details()
        ['Should not be longer than 21 characters.']
    """

    @property
    def is_empty(self) -> bool:
        """No field and no rule: the integration publishes no model for this data type."""
        rules = self.validation.details() if self.validation else []
        return not self.properties and not self.options and not rules


# --------------------------------------------------------------------------- companies, connections
class Connection(CodatModel):
    """A company's link to one accounting platform; push only to ``Linked`` ones."""

    id: str
    integration_id: str | None = None
    integration_key: str | None = None
    source_id: str | None = None
    source_type: str | None = None
    platform_name: str | None = None
    link_url: str | None = None
    status: ConnectionStatus = ConnectionStatus.Unknown
    last_sync: datetime | None = None
    created: datetime | None = None


class Company(CodatModel):
    id: str
    name: str | None = None
    description: str | None = None
    redirect: str | None = None
    last_sync: datetime | None = None
    created: datetime | None = None
    products: list[str] | None = None
    tags: dict[str, str] | None = None
    data_connections: list[Connection] | None = None


# ------------------------------------------------------------------------------------ paging envelope
class HalRef(CodatModel):
    href: str | None = None


class Links(CodatModel):
    self_: HalRef | None = Field(None, alias="self")
    current: HalRef | None = None
    next: HalRef | None = None
    previous: HalRef | None = None


class Page(CodatModel, Generic[T]):
    """One page of a list endpoint (``PagingInfo`` + ``results``)."""

    results: list[T] = Field(default_factory=list)
    page_number: int
    page_size: int
    total_results: int
    links: Links | None = Field(None, alias="_links")
