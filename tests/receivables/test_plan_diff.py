"""A dry run that says what would change: field-level diffs against the payload last pushed, and counts."""

from __future__ import annotations

from datetime import date

import orjson
import pandas as pd

from receivables import plan_diff
from receivables.push import plan_pushes

INVOICE = {"invoiceNumber": "INV-1", "dueDate": "2026-01-31T00:00:00", "totalAmount": 100.0,
           "lineItems": [{"unitAmount": 100.0, "quantity": 1, "description": "Consulting"}]}


def _doc(payload: dict, source_id: str = "i1", document_type: str = "invoice") -> dict:
    body = orjson.dumps(payload)
    return {"company_id": "c1", "document_type": document_type, "source_id": source_id,
            "document_number": payload.get("invoiceNumber", source_id), "currency": "GBP",
            "total_amount": 100, "payload": body, "content_hash": plan_diff_hash(body)}


def plan_diff_hash(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


def test_field_changes_name_each_changed_leaf_old_and_new():
    new = dict(INVOICE, dueDate="2026-02-28T00:00:00",
               lineItems=[{"unitAmount": 120.0, "quantity": 1, "description": "Consulting"},
                          {"unitAmount": 5.0, "quantity": 2, "description": "Travel"}])
    changes = plan_diff.field_changes(orjson.dumps(INVOICE), orjson.dumps(new))
    assert ("dueDate", "2026-01-31T00:00:00", "2026-02-28T00:00:00") in changes
    assert ("lineItems[0].unitAmount", 100.0, 120.0) in changes
    assert ("lineItems[1].description", plan_diff.ABSENT, "Travel") in changes
    assert ("invoiceNumber", "INV-1", "INV-1") not in changes
    text = plan_diff.describe(changes)
    assert "dueDate: 2026-01-31T00:00:00 → 2026-02-28T00:00:00" in text
    assert "lineItems[0].unitAmount: 100.0 → 120.0" in text


def test_a_removed_field_shows_as_absent():
    new = {k: v for k, v in INVOICE.items() if k != "dueDate"}
    assert plan_diff.field_changes(orjson.dumps(INVOICE), orjson.dumps(new)) == [
        ("dueDate", "2026-01-31T00:00:00", plan_diff.ABSENT)]


def test_long_diffs_are_cut_with_a_count():
    changes = [(f"f{i}", i, i + 1) for i in range(20)]
    assert plan_diff.describe(changes).endswith(f"… and {20 - plan_diff.MAX_CHANGES_SHOWN} more field(s)")


def _ledger_row(doc: dict, status: str = "success") -> dict:
    return {"company_id": doc["company_id"], "document_type": doc["document_type"],
            "source_id": doc["source_id"],
            "content_hash": doc["content_hash"], "status": status, "platform_id": "p-" + doc["source_id"],
            "idempotency_key": "k", "push_operation_key": "op", "attempts": 1}


def test_a_planned_update_shows_old_to_new_against_the_last_pushed_payload(warehouse_engine):
    pushed = _doc(INVOICE)
    final = pd.DataFrame([dict(pushed, action="create", status="success")])
    assert plan_diff.record_pushed(warehouse_engine, final) == 1
    assert plan_diff.record_pushed(warehouse_engine, final) == 0, "an unchanged payload is not written again"

    edited = _doc(dict(INVOICE, totalAmount=120.0))
    plan = plan_pushes(pd.DataFrame([edited, _doc(INVOICE, source_id="i2")]),
                       pd.DataFrame([_ledger_row(pushed)]))
    rows = plan_diff.planned_rows(warehouse_engine, plan).set_index("source_id")
    assert rows.loc["i1", "action"] == "update"
    assert rows.loc["i1", "changes"] == "totalAmount: 100.0 → 120.0"
    assert rows.loc["i2", "action"] == "create" and rows.loc["i2", "changes"] == ""


def test_an_update_of_a_document_pushed_before_payloads_were_kept_says_so(warehouse_engine):
    pushed = _doc(INVOICE)
    plan = plan_pushes(pd.DataFrame([_doc(dict(INVOICE, totalAmount=1.0))]),
                       pd.DataFrame([_ledger_row(pushed)]))
    rows = plan_diff.planned_rows(warehouse_engine, plan)
    assert rows.loc[0, "action"] == "update"
    assert "not kept" in rows.loc[0, "changes"]


def test_failed_pushes_are_not_kept_as_what_the_platform_holds(warehouse_engine):
    final = pd.DataFrame([dict(_doc(INVOICE), action="create", status="failed")])
    assert plan_diff.record_pushed(warehouse_engine, final) == 0


def test_counts_always_name_creates_updates_unchanged_waiting_rejected():
    plan = pd.DataFrame({"action": ["create", "create", "unchanged", "reject"]})
    assert plan_diff.counts(plan) == {"create": 2, "update": 0, "unchanged": 1, "wait": 0, "reject": 1}


def test_the_dry_run_report_says_dry_run_at_the_top_with_counts_and_changes(tmp_path):
    companies = [{"company_id": "c1", "name": "Acme Trading"}, {"company_id": "c2", "name": "Globex"}]
    plan = pd.DataFrame([
        {"company_id": "c1", "document_type": "invoice", "source_id": "i1", "document_number": "INV-1",
         "action": "update", "changes": "totalAmount: 100.0 → 120.0", "reason": ""},
        {"company_id": "c1", "document_type": "payment", "source_id": "p1", "document_number": "PAY-1",
         "action": "reject", "changes": "", "reason": "allocates more than is open"},
    ])
    plan.to_csv(tmp_path / "plan-c1.csv", index=False)
    result = plan_diff.write_dry_run_report(tmp_path, date(2026, 11, 30), companies, "manual__x")

    summary = (tmp_path / "summary.txt").read_text().splitlines()
    assert summary[0].startswith("DRY RUN of 2026-11-30")
    assert summary[1] == "would do: 0 creates, 1 updates, 0 unchanged, 0 waiting, 1 rejected"
    assert "company Globex: 0 creates, 0 updates, 0 unchanged, 0 waiting, 0 rejected" in summary
    page = (tmp_path / "plan.html").read_text()
    assert page.index("DRY RUN") < page.index("Acme Trading")
    assert "totalAmount: 100.0 → 120.0" in page and "allocates more than is open" in page
    assert result["counts"]["update"] == 1
