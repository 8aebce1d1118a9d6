"""The warehouse tables of WAREHOUSE.md as SQLAlchemy Core ``Table`` objects: the only home of their names.

Inputs (``ar_companies`` … ``ar_credit_note_allocations``) belong to the data team: the pipeline only
reads them, and :func:`receivables.warehouse.migrations.create_input_tables` creates them for the demo,
tests and the sample-data generator. Outputs (``ar_ref_*``, ``ar_push_ledger``, ``ar_rejects``, …) are
ours and are created by the versioned migrations.

    >>> from receivables.warehouse.schema import ar_invoices, INPUT_TABLES
    >>> [c.name for c in ar_invoices.primary_key]
    ['company_id', 'invoice_id']

Money columns are :class:`~receivables.warehouse.types.InputNumeric` on inputs and
:class:`~receivables.warehouse.types.Money` on outputs (see that module for why they differ on SQLite).
Timestamps are naive and mean UTC.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Date, Integer, MetaData, Table, Text

from receivables.warehouse.types import InputNumeric, Money

metadata = MetaData()

Timestamp = sa.DateTime(timezone=False)


def _currency() -> sa.CHAR:
    return sa.CHAR(3)


# ---------------------------------------------------------------------------------------------- inputs

ar_companies = Table(
    "ar_companies", metadata,
    Column("company_id", Text, primary_key=True),
    Column("connection_id", Text, nullable=False),
    Column("name", Text),
    Column("base_currency", _currency(), nullable=False),
    Column("active", Boolean, nullable=False),
)

ar_mappings = Table(
    "ar_mappings", metadata,
    Column("company_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("source_code", Text, primary_key=True),
    Column("platform_id", Text),
)

ar_customers = Table(
    "ar_customers", metadata,
    Column("company_id", Text, primary_key=True),
    Column("customer_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("default_currency", _currency()),
    Column("updated_at", Timestamp, nullable=False),
)

ar_invoices = Table(
    "ar_invoices", metadata,
    Column("company_id", Text, primary_key=True),
    Column("invoice_id", Text, primary_key=True),
    Column("invoice_number", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("currency", _currency(), nullable=False),
    Column("currency_rate", InputNumeric),
    Column("status", Text, nullable=False),
    Column("note", Text),
    Column("updated_at", Timestamp, nullable=False),
)


def _lines(name: str, document_id: str) -> Table:
    return Table(
        name, metadata,
        Column("company_id", Text, primary_key=True),
        Column(document_id, Text, primary_key=True),
        Column("line_no", Integer, primary_key=True, autoincrement=False),
        Column("description", Text),
        Column("quantity", InputNumeric, nullable=False),
        Column("unit_amount", InputNumeric, nullable=False),
        Column("discount_amount", InputNumeric, nullable=False, server_default=sa.text("0")),
        Column("tax_code", Text),
        Column("revenue_code", Text),
        Column("tracking_code", Text),
    )


ar_invoice_lines = _lines("ar_invoice_lines", "invoice_id")

ar_credit_notes = Table(
    "ar_credit_notes", metadata,
    Column("company_id", Text, primary_key=True),
    Column("credit_note_id", Text, primary_key=True),
    Column("credit_note_number", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("currency", _currency(), nullable=False),
    Column("currency_rate", InputNumeric),
    Column("status", Text, nullable=False),
    Column("note", Text),
    Column("updated_at", Timestamp, nullable=False),
)

ar_credit_note_lines = _lines("ar_credit_note_lines", "credit_note_id")

ar_payments = Table(
    "ar_payments", metadata,
    Column("company_id", Text, primary_key=True),
    Column("payment_id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("currency", _currency(), nullable=False),
    Column("currency_rate", InputNumeric),
    Column("amount", InputNumeric, nullable=False),
    Column("fee_amount", InputNumeric, nullable=False, server_default=sa.text("0")),
    Column("method", Text),
    Column("reference", Text),
    Column("updated_at", Timestamp, nullable=False),
)

ar_payment_allocations = Table(
    "ar_payment_allocations", metadata,
    Column("company_id", Text, primary_key=True),
    Column("payment_id", Text, primary_key=True),
    Column("target_type", Text, primary_key=True),
    Column("target_id", Text, primary_key=True),
    Column("amount", InputNumeric, nullable=False),
)

ar_credit_note_allocations = Table(
    "ar_credit_note_allocations", metadata,
    Column("company_id", Text, primary_key=True),
    Column("credit_note_id", Text, primary_key=True),
    Column("invoice_id", Text, primary_key=True),
    Column("amount", InputNumeric, nullable=False),
    Column("allocated_on", Date),
    Column("updated_at", Timestamp),
)

INPUT_TABLES: tuple[Table, ...] = (
    ar_companies, ar_mappings, ar_customers, ar_invoices, ar_invoice_lines, ar_credit_notes,
    ar_credit_note_lines, ar_payments, ar_payment_allocations, ar_credit_note_allocations,
)

# --------------------------------------------------------------------------------------------- outputs


def _reference(name: str, *own: Column) -> Table:
    """A reference-data table: the latest copy of one platform data type, per company."""
    return Table(
        name, metadata,
        Column("company_id", Text, primary_key=True),
        Column("platform_id", Text, primary_key=True),
        Column("name", Text),
        Column("status", Text),
        Column("is_deleted", Boolean),
        Column("modified_date", Timestamp),
        Column("fetched_at", Timestamp),
        *own,
    )


ar_ref_accounts = _reference(
    "ar_ref_accounts",
    Column("nominal_code", Text),
    Column("type", Text),
    Column("currency", Text),
    Column("is_bank_account", Boolean),
    Column("fully_qualified_category", Text),
    Column("valid_datatype_links", Text),  # JSON text of Codat's validDatatypeLinks
)

ar_ref_bank_accounts = _reference(
    "ar_ref_bank_accounts",
    Column("account_type", Text),
    Column("currency", Text),
    Column("nominal_code", Text),
)

ar_ref_tax_rates = _reference(
    "ar_ref_tax_rates",
    Column("code", Text),
    Column("effective_tax_rate", Money),
    Column("total_tax_rate", Money),
)

ar_ref_tracking_categories = _reference(
    "ar_ref_tracking_categories",
    Column("parent_id", Text),
    Column("has_children", Boolean),
)

ar_ref_customers = _reference(
    "ar_ref_customers",
    Column("email", Text),
    Column("default_currency", Text),
)

ar_push_ledger = Table(
    "ar_push_ledger", metadata,
    Column("company_id", Text, primary_key=True),
    Column("document_type", Text, primary_key=True),
    Column("source_id", Text, primary_key=True),
    Column("document_number", Text),
    Column("currency", Text),
    Column("source_total", Money),
    Column("content_hash", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("operation", Text),  # create | update
    Column("push_operation_key", Text),
    Column("platform_id", Text),
    Column("status", Text, nullable=False),  # pending | success | failed | timed_out | unknown
    Column("attempts", Integer, nullable=False, server_default=sa.text("0")),
    Column("last_error", Text),
    Column("business_date", Date),
    Column("run_id", Text),
    Column("created_at", Timestamp),
    Column("updated_at", Timestamp),
    Column("pushed_at", Timestamp),
    Column("settled_at", Timestamp),
)

ar_rejects = Table(
    "ar_rejects", metadata,
    Column("business_date", Date, primary_key=True),
    Column("company_id", Text, primary_key=True),
    Column("document_type", Text, primary_key=True),
    Column("source_id", Text, primary_key=True),
    Column("run_id", Text),
    Column("rule", Text),
    Column("message", Text),
    Column("created_at", Timestamp),
)

ar_mapping_issues = Table(
    "ar_mapping_issues", metadata,
    Column("company_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("source_code", Text, primary_key=True),
    Column("platform_id", Text),
    Column("rule", Text),
    Column("message", Text),
    Column("checked_at", Timestamp),
)

ar_reconciliation = Table(
    "ar_reconciliation", metadata,
    Column("report_date", Date, primary_key=True),
    Column("company_id", Text, primary_key=True),
    Column("document_type", Text, primary_key=True),
    # source_id, or "platform:<platform_id>" for a platform record with no source row.
    Column("document_key", Text, primary_key=True),
    Column("source_id", Text),
    Column("document_number", Text),
    Column("platform_id", Text),
    Column("currency", Text),
    Column("source_total", Money),
    Column("platform_total", Money),
    Column("source_amount_due", Money),
    Column("platform_amount_due", Money),
    Column("difference", Money),
    Column("outcome", Text),
    Column("reason", Text),
    Column("due_date", Date),
    Column("days_overdue", Integer),
    Column("aging_bucket", Text),
    Column("run_id", Text),
    Column("exception_id", Text),
    Column("first_seen_date", Date),
    Column("action", Text),
)

ar_reconciliation_summary = Table(
    "ar_reconciliation_summary", metadata,
    Column("report_date", Date, primary_key=True),
    Column("company_id", Text, primary_key=True),
    Column("outcome", Text, primary_key=True),
    Column("currency", Text, primary_key=True),
    Column("document_count", Integer),
    Column("source_amount", Money),
    Column("platform_amount", Money),
    Column("difference", Money),
    Column("run_id", Text),
    # Added in version 3: what is still due on the group's open invoices, and the part past its due date
    # (the night-by-night trend of the report reads these).
    Column("amount_open", Money),
    Column("amount_overdue", Money),
)

ar_sync_state = Table(
    "ar_sync_state", metadata,
    Column("company_id", Text, primary_key=True),
    Column("data_type", Text, primary_key=True),
    Column("watermark", Text),  # the last modifiedDate seen, as the platform wrote it
    Column("updated_at", Timestamp),
)

# What the platform holds, kept up to date incrementally (read back by modifiedDate) for reconciliation,
# so a night reads what changed rather than every document ever pushed. Added in version 2.
ar_platform_documents = Table(
    "ar_platform_documents", metadata,
    Column("company_id", Text, primary_key=True),
    Column("data_type", Text, primary_key=True),  # invoices, creditNotes, payments, directCosts
    Column("platform_id", Text, primary_key=True),
    Column("document_number", Text),  # invoiceNumber / creditNoteNumber / reference
    Column("customer_platform_id", Text),
    Column("currency", Text),
    Column("total_amount", Money),
    Column("amount_due", Money),  # amountDue / remainingCredit
    Column("status", Text),
    Column("is_deleted", Boolean),
    Column("due_date", Date),
    Column("modified_date", Text),  # as the platform wrote it
    Column("fetched_at", Timestamp),
)

# Each company's state in each run, one row per stage (reference, sync, reconcile): the report reads the
# rows of its run so that a failed or skipped company is never shown as a clean night. Added in version 3.
ar_run_companies = Table(
    "ar_run_companies", metadata,
    Column("run_id", Text, primary_key=True),
    Column("company_id", Text, primary_key=True),
    Column("stage", Text, primary_key=True),  # reference | sync | reconcile
    Column("business_date", Date, nullable=False),
    Column("state", Text, nullable=False),  # running | success | failed (no row: skipped)
    Column("error", Text),  # one sentence, secrets redacted
    Column("advice", Text),  # what to do about it
    Column("dry_run", Boolean, nullable=False, server_default=sa.false()),
    Column("attempts", Integer, nullable=False, server_default=sa.text("1")),
    Column("started_at", Timestamp),
    Column("finished_at", Timestamp),
)

# The payload each document last reached the platform with (a ``success`` push): what a dry run's plan
# diffs field by field against. Added in version 4.
ar_push_payloads = Table(
    "ar_push_payloads", metadata,
    Column("company_id", Text, primary_key=True),
    Column("document_type", Text, primary_key=True),
    Column("source_id", Text, primary_key=True),
    Column("content_hash", Text, nullable=False),  # = ar_push_ledger.content_hash of that push
    Column("payload", Text, nullable=False),  # the JSON body as sent
    Column("pushed_at", Timestamp),
)

# Each connection's push rules per data type, flattened from Codat's "create/update model" (``PushOption``):
# one row per property path ('' = the model itself). A connection that publishes no model for a data
# type (404, an error, an empty model) has one row with published false and a note. Added in version 5.
ar_ref_push_options = Table(
    "ar_ref_push_options", metadata,
    Column("company_id", Text, primary_key=True),
    Column("connection_id", Text, primary_key=True),
    Column("data_type", Text, primary_key=True),  # invoices, creditNotes, payments, customers, directCosts
    Column("property_path", Text, primary_key=True),  # e.g. lineItems.taxRateRef.id; '' for the model
    Column("platform_name", Text),  # the connection's platformName, e.g. QuickBooks Online
    Column("published", Boolean, nullable=False),  # false: the integration publishes no model
    Column("display_name", Text),
    Column("option_type", Text),  # String, Number, Boolean, DateTime, Object, Array, …
    Column("required", Boolean),  # as published: required within its enclosing property
    Column("always_required", Boolean),  # required here and in every enclosing property
    Column("max_length", Integer),  # read from the validation details ("Max length of 21 characters")
    Column("allowed_values", Text),  # JSON array of options[].value; NULL when any value goes
    Column("validation_warnings", Text),  # JSON array of the rules, in the platform's words
    Column("validation_information", Text),  # JSON array of the guidance, in the platform's words
    Column("update_supported", Boolean),  # model row only: false when the platform only creates
    Column("note", Text),  # why nothing is published (status, error), or NULL
    Column("fetched_at", Timestamp),  # when this version of the model was read
)

REFERENCE_TABLES: tuple[Table, ...] = (
    ar_ref_accounts, ar_ref_bank_accounts, ar_ref_tax_rates, ar_ref_tracking_categories, ar_ref_customers,
)

# The tables of schema version 1 (frozen: later versions add tables in their own migrations).
VERSION_1_TABLES: tuple[Table, ...] = (
    *REFERENCE_TABLES, ar_push_ledger, ar_rejects, ar_mapping_issues, ar_reconciliation,
    ar_reconciliation_summary, ar_sync_state,
)

OUTPUT_TABLES: tuple[Table, ...] = (
    *VERSION_1_TABLES, ar_platform_documents, ar_run_companies, ar_push_payloads, ar_ref_push_options,
)

ar_schema_version = Table(
    "ar_schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("applied_at", Timestamp, nullable=False),
)
