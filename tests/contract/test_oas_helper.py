"""The schema helper itself: nullable, $ref and the Payments defect are handled."""

from __future__ import annotations

from tests.contract.oas import oas_dir, validation_errors

OAS = oas_dir()
ACCOUNTING = OAS / "Codat-Accounting.yaml"


def test_nullable_fields_accept_null_and_types_are_still_checked():
    assert validation_errors(ACCOUNTING, "Account",
                             {"id": "a", "name": None, "type": "Income", "status": "Active",
                              "isBankAccount": False}) == []
    errors = validation_errors(ACCOUNTING, "Account", {"id": "a", "type": "Income", "status": "Active",
                                                      "isBankAccount": "no", "currentBalance": "12"})
    assert any(e.startswith("isBankAccount") for e in errors) and any(e.startswith("currentBalance")
                                                                      for e in errors)


def test_required_fields_and_enums_are_enforced():
    errors = validation_errors(ACCOUNTING, "Invoice", {"status": "Sent"})
    assert any("'issueDate' is a required property" in e for e in errors)
    assert any(e.startswith("status") for e in errors)


def test_payments_list_items_are_checked_as_payments_not_envelopes():
    envelope = {"pageNumber": 1, "pageSize": 1, "totalResults": 1,
                "_links": {"self": {"href": "/p"}, "current": {"href": "/p"}}}
    good = {**envelope, "results": [{"id": "p1", "date": "2024-01-01T00:00:00", "totalAmount": 10}]}
    bad = {**envelope, "results": [{"id": "p1", "totalAmount": "ten"}]}
    assert validation_errors(ACCOUNTING, "Payments", good) == []
    assert any("results/0" in e for e in validation_errors(ACCOUNTING, "Payments", bad))
