"""docs/warehouse.md's worked example is true: the payload it shows is what the real transform makes."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd

from receivables.mappings import resolve_mappings
from receivables.transform import invoices_to_payloads
from tests.receivables.test_transform import frame as _frame

DOC = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
D = Decimal


def example_payload() -> tuple[bytes, Decimal]:
    """The rows of the worked example, through ``invoices_to_payloads``: (payload bytes, total)."""
    companies = _frame([{"company_id": "acme", "connection_id": "conn-1", "name": "Acme Ltd",
                         "base_currency": "GBP", "active": True}])
    invoice = _frame([{"company_id": "acme", "invoice_id": "src-881", "invoice_number": "INV-2026-0042",
                       "customer_id": "cust-17", "issue_date": "2026-03-02", "due_date": "2026-04-01",
                       "currency": "EUR", "currency_rate": D("0.8571"), "status": "submitted",
                       "note": "PO 7731", "updated_at": "2026-03-02 16:05:00"}],
                     numeric=("currency_rate",), dates=("issue_date", "due_date", "updated_at"))
    lines = _frame([
        {"company_id": "acme", "invoice_id": "src-881", "line_no": 1, "description": "Consulting, March",
         "quantity": D(3), "unit_amount": D("49.995"), "discount_amount": D("5.00"), "tax_code": "VAT20",
         "revenue_code": "CONS", "tracking_code": None},
        {"company_id": "acme", "invoice_id": "src-881", "line_no": 2, "description": "Travel (no VAT)",
         "quantity": D(1), "unit_amount": D("12.50"), "discount_amount": D(0), "tax_code": None,
         "revenue_code": "CONS", "tracking_code": None},
    ], numeric=("quantity", "unit_amount", "discount_amount"), integers=("line_no",))
    mappings = _frame([
        {"company_id": "acme", "kind": "income_account", "source_code": "CONS", "platform_id": "acc-4000"},
        {"company_id": "acme", "kind": "tax_rate", "source_code": "VAT20", "platform_id": "tr-20"},
    ])
    issues = pd.DataFrame(columns=["company_id", "kind", "source_code", "message"])
    tax_rates = pd.DataFrame([{"company_id": "acme", "platform_id": "tr-20", "effective_tax_rate": D(20)}])
    pushed = _frame([{"company_id": "acme", "document_type": "customer", "source_id": "cust-17",
                      "platform_id": "cus-5f2a"}])
    out = invoices_to_payloads(invoice, lines, companies=companies,
                               mappings=resolve_mappings(mappings, issues),
                               tax_rates=tax_rates, platform_ids=pushed)
    return out.loc[0, "payload"], out.loc[0, "total_amount"]


def pretty(body: bytes) -> str:
    """The payload indented for reading, every number exactly as sent (``5.00`` stays ``5.00``)."""
    def show(value, depth: int) -> str:
        pad, inner = "  " * depth, "  " * (depth + 1)
        if isinstance(value, dict):
            items = [f"{inner}{json.dumps(k)}: {show(v, depth + 1)}" for k, v in value.items()]
            return "{\n" + ",\n".join(items) + f"\n{pad}}}" if items else "{}"
        if isinstance(value, list):
            items = [f"{inner}{show(v, depth + 1)}" for v in value]
            return "[\n" + ",\n".join(items) + f"\n{pad}]" if items else "[]"
        if isinstance(value, Decimal):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    return show(json.loads(body, parse_float=Decimal, parse_int=Decimal), 0) + "\n"


def test_the_worked_example_shows_the_payload_the_transform_makes():
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- worked-example-payload -->\s*```json\n(.*?)```", text, re.S)
    assert match, "docs/warehouse.md lost its worked-example payload block"
    body, total = example_payload()
    assert match.group(1) == pretty(body)
    assert total == D("186.49") and "186.49" in text
