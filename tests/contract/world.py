"""A sandbox holding one record of each type we push, written through our own client (contract tests).

    >>> world = build_world(tmp_path)      # {"server", "company", "operation", "records": {type: id}}
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from tests.codat_sandbox import builders
from tests.fixtures.sandbox import SandboxProcess, start_sandbox

from receivables.codat import CodatClient, PushOperationStatus
from receivables.codat.models import (
    AccountRef,
    Allocation,
    AllocationPayment,
    DirectCost,
    DirectCostLineItem,
    PaymentAllocation,
)
from receivables.settings import CodatSettings


def direct_cost(company_id: str) -> bytes:
    bank = AccountRef(id=builders.account_id(company_id, "1200"))
    day = datetime(2026, 5, 3)
    return DirectCost(
        reference="FEE-1", issue_date=day, currency="GBP", sub_total=D("2.5"), tax_amount=D(0),
        total_amount=D("2.5"),
        line_items=[DirectCostLineItem(description="Card fees", unit_amount=D("2.5"), quantity=D(1),
                                       sub_total=D("2.5"), tax_amount=D(0), total_amount=D("2.5"),
                                       account_ref=AccountRef(id=builders.account_id(company_id, "6100")))],
        payment_allocations=[PaymentAllocation(
            payment=AllocationPayment(account_ref=bank, currency="GBP", paid_on_date=day,
                                      total_amount=D("2.5")),
            allocation=Allocation(currency="GBP", allocated_on_date=day, total_amount=D("2.5")))],
    ).to_push_json()


def build_world(workdir: Path) -> Iterator[dict[str, Any]]:
    """A sandbox with one company holding one record of each pushed type (pushed through our client)."""
    server = start_sandbox(workdir, push_delay_ms=0)
    try:
        company = server.admin.create_company("Contract Ltd", "GBP")
        cid, conn = company["id"], company["connectionId"]
        codat = CodatClient(CodatSettings(base_url=server.base_url, api_key=server.api_key,
                                          settle_poll_interval_seconds=0.05))

        def create(data_type: str, body: Any, key: str) -> dict[str, Any]:
            op = codat.push(cid, conn, data_type, body, idempotency_key=f"{cid}-{key}")
            final = codat.settle(cid, [op.push_operation_key])[op.push_operation_key]
            assert final.status is PushOperationStatus.Success, final.validation_messages()
            return {"id": final.record_id, "key": op.push_operation_key}

        customer = create("customers", {"customerName": "Contract Customer", "status": "Active"},
                          "cust")["id"]
        invoice = create("invoices", builders.invoice(cid, customer), "inv")["id"]
        credit = create("creditNotes", builders.credit_note(cid, customer), "cn")["id"]
        payment = create("payments",
                         builders.payment(cid, customer, [{"type": "Invoice", "id": invoice, "amount": -60},
                                                 {"type": "CreditNote", "id": credit,
                                                  "amount": 60}],
                                amount=0), "alloc")["id"]
        operation = create("directCosts", direct_cost(cid), "dc")
        failed = codat.push(cid, conn, "invoices", builders.invoice(cid, "no-such-customer"),
                            idempotency_key="bad")
        codat.settle(cid, [failed.push_operation_key])
        codat.close()
        records = {"customers": customer, "invoices": invoice, "creditNotes": credit, "payments": payment,
                   "directCosts": operation["id"]}
        yield {"server": server, "company": company, "operation": operation["key"], "records": records}
    finally:
        server.stop()


def fetch(server: SandboxProcess, path: str, *, auth: bool = True, expect: int = 200, **params: Any) -> Any:
    with server.client() as http:
        if not auth:
            http.headers["Authorization"] = "Basic bm90LXRoZS1rZXk="
        response = http.get(path, params=params)
    assert response.status_code == expect, response.text
    return response.json()
