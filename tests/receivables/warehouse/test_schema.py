"""The tables say exactly what WAREHOUSE.md and the lead's output details say."""

from __future__ import annotations

import sqlalchemy as sa

from receivables.warehouse import schema
from receivables.warehouse.types import InputNumeric, Money


def _pk(table: sa.Table) -> list[str]:
    return [c.name for c in table.primary_key]


def test_input_keys_and_money_columns():
    assert _pk(schema.ar_mappings) == ["company_id", "kind", "source_code"]
    assert _pk(schema.ar_invoice_lines) == ["company_id", "invoice_id", "line_no"]
    assert _pk(schema.ar_credit_note_lines) == ["company_id", "credit_note_id", "line_no"]
    assert "due_date" not in schema.ar_credit_notes.c
    for table, column in [
        (schema.ar_invoice_lines, "unit_amount"), (schema.ar_invoice_lines, "discount_amount"),
        (schema.ar_payments, "amount"), (schema.ar_payments, "fee_amount"),
        (schema.ar_invoices, "currency_rate"),
        (schema.ar_payment_allocations, "amount"), (schema.ar_credit_note_allocations, "amount"),
    ]:
        assert isinstance(table.c[column].type, InputNumeric), (table.name, column)


def test_reconciliation_has_the_contract_columns_and_document_key():
    contract = (
        "report_date company_id document_type source_id document_number platform_id currency source_total "
        "platform_total source_amount_due platform_amount_due difference outcome reason due_date "
        "days_overdue aging_bucket run_id"
    ).split()
    columns = set(schema.ar_reconciliation.c.keys())
    assert set(contract) <= columns
    assert {"document_key", "exception_id", "first_seen_date", "action"} <= columns
    assert _pk(schema.ar_reconciliation) == ["report_date", "company_id", "document_type", "document_key"]
    assert not schema.ar_reconciliation.c.document_key.nullable
    for money in ("source_total", "platform_total", "source_amount_due", "platform_amount_due", "difference"):
        assert isinstance(schema.ar_reconciliation.c[money].type, Money)


def test_ledger_and_reference_tables():
    ledger = schema.ar_push_ledger
    assert _pk(ledger) == ["company_id", "document_type", "source_id"]
    for required in ("content_hash", "idempotency_key", "status", "attempts"):
        assert not ledger.c[required].nullable
    for table in schema.REFERENCE_TABLES:
        assert _pk(table) == ["company_id", "platform_id"]
        assert {"name", "status", "is_deleted", "modified_date", "fetched_at"} <= set(table.c.keys())
    assert isinstance(schema.ar_ref_tax_rates.c.effective_tax_rate.type, Money)
    assert _pk(schema.ar_rejects) == ["business_date", "company_id", "document_type", "source_id"]
    assert _pk(schema.ar_reconciliation_summary) == ["report_date", "company_id", "outcome", "currency"]
    assert _pk(schema.ar_sync_state) == ["company_id", "data_type"]
    assert _pk(schema.ar_mapping_issues) == ["company_id", "kind", "source_code"]
