"""The push planner: what is created, updated, left alone or resolved first (pure, no HTTP)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from receivables.push import (
    CHANGED_AFTER_PUSH,
    CREATE,
    FAILED_UNCHANGED,
    RESOLVE,
    UNCHANGED,
    UPDATE,
    plan_pushes,
)

LEDGER_COLUMNS = ["company_id", "document_type", "source_id", "content_hash", "status", "platform_id",
                  "idempotency_key", "push_operation_key", "attempts"]


def docs(*rows):
    return pd.DataFrame([
        {"company_id": "c1", "document_type": t, "source_id": s, "document_number": s.upper(),
         "currency": "GBP", "total_amount": Decimal("10.00"), "payload": b"{}", "content_hash": h}
        for t, s, h in rows
    ])


def ledger(*rows):
    return pd.DataFrame([dict(zip(LEDGER_COLUMNS, ("c1", *r), strict=True)) for r in rows],
                        columns=LEDGER_COLUMNS)


def actions(plan):
    return dict(zip(plan["source_id"], plan["action"], strict=True))


def test_new_documents_are_created_with_a_deterministic_key():
    plan = plan_pushes(docs(("invoice", "i1", "h1")), ledger())
    again = plan_pushes(docs(("invoice", "i1", "h1")), ledger())
    assert actions(plan) == {"i1": CREATE}
    assert plan["idempotency_key"][0] == again["idempotency_key"][0]


def test_changed_content_gets_a_new_idempotency_key():
    a = plan_pushes(docs(("invoice", "i1", "h1")), ledger())["idempotency_key"][0]
    b = plan_pushes(docs(("invoice", "i1", "h2")), ledger())["idempotency_key"][0]
    assert a != b


def test_same_content_already_pushed_is_never_sent_again():
    plan = plan_pushes(docs(("invoice", "i1", "h1")),
                       ledger(("invoice", "i1", "h1", "success", "P1", "k", "op", 1)))
    assert actions(plan) == {"i1": UNCHANGED}


def test_changed_invoice_becomes_an_update_of_the_same_platform_record():
    plan = plan_pushes(docs(("invoice", "i1", "h2")),
                       ledger(("invoice", "i1", "h1", "success", "P1", "k", "op", 1)))
    assert actions(plan) == {"i1": UPDATE}
    assert plan["platform_id"][0] == "P1"


def test_changed_payment_is_reported_not_sent_because_payments_are_create_only():
    plan = plan_pushes(docs(("payment", "p1", "h2")),
                       ledger(("payment", "p1", "h1", "success", "P9", "k", "op", 1)))
    assert actions(plan) == {"p1": CHANGED_AFTER_PUSH}


def test_unknown_outcomes_are_resolved_before_anything_is_resent():
    plan = plan_pushes(
        docs(("invoice", "a", "h"), ("invoice", "b", "h"), ("invoice", "c", "h")),
        ledger(("invoice", "a", "h", "pending", None, "k", "op", 1),
               ("invoice", "b", "h", "timed_out", None, "k", "op", 1),
               ("invoice", "c", "h", "unknown", None, "k", None, 1)))
    assert actions(plan) == {"a": RESOLVE, "b": RESOLVE, "c": RESOLVE}


def test_waiting_rows_never_sent_are_plain_creates():
    plan = plan_pushes(docs(("payment", "p1", "h")),
                       ledger(("payment", "p1", "", "pending", None, "", None, 0)))
    assert actions(plan) == {"p1": CREATE}


def test_failed_push_is_retried_only_when_the_content_changed():
    failed = ledger(("invoice", "i1", "h1", "failed", None, "k", "op", 1))
    assert actions(plan_pushes(docs(("invoice", "i1", "h1")), failed)) == {"i1": FAILED_UNCHANGED}
    assert actions(plan_pushes(docs(("invoice", "i1", "h2")), failed)) == {"i1": CREATE}


def test_other_companies_rows_do_not_interfere():
    other = ledger(("invoice", "i1", "h1", "success", "P1", "k", "op", 1)).assign(company_id="c2")
    assert actions(plan_pushes(docs(("invoice", "i1", "h1")), other)) == {"i1": CREATE}
