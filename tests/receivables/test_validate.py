"""Validation: each rule rejects what it names, with a message a finance person can act on."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.receivables.test_transform import COMPANIES, frame, make_batch, reference_data

from receivables.documents import BATCH_TABLES as TABLES
from receivables.mappings import check_mappings, resolve_mappings
from receivables.transform import (
    credit_note_allocations_to_payloads,
    fees_to_payloads,
    invoices_to_payloads,
    payments_to_payloads,
)
from receivables.validate import RULE_ORDER, validate_batch

D = Decimal
MONEY = ("quantity", "unit_amount", "discount_amount", "currency_rate", "amount", "fee_amount",
         "total_amount")
DATES = ("issue_date", "due_date", "paid_on", "allocated_on", "updated_at")


@pytest.fixture(scope="module")
def refdata():
    return reference_data()


@pytest.fixture(scope="module")
def lookup(refdata):
    issues = check_mappings(refdata["mappings"], refdata["accounts"], refdata["bank_accounts"],
                            refdata["tax_rates"], refdata["tracking_categories"])
    return resolve_mappings(refdata["mappings"], issues)


def base_rows() -> dict[str, list[dict]]:
    """One clean day for company c-gbp: a customer, an invoice, a credit note, a payment and allocations."""
    c = "c-gbp"
    return {
        "ar_customers": [{"company_id": c, "customer_id": "cu1", "name": "Acme", "email": "ap@acme.test",
                          "default_currency": "GBP", "updated_at": "2026-03-02 09:00"}],
        "ar_invoices": [{"company_id": c, "invoice_id": "inv_9", "invoice_number": "INV-1009",
                         "customer_id": "cu1",
                         "issue_date": "2026-02-01", "due_date": "2026-03-01", "currency": "GBP",
                         "currency_rate": None, "status": "submitted", "note": None,
                         "updated_at": "2026-03-02 09:00"}],
        "ar_invoice_lines": [{"company_id": c, "invoice_id": "inv_9", "line_no": 1, "description": "Widget",
                              "quantity": D(2), "unit_amount": D("50.00"), "discount_amount": D(0),
                              "tax_code": "VAT20", "revenue_code": "SALES", "tracking_code": "NORTH"}],
        "ar_credit_notes": [{"company_id": c, "credit_note_id": "cn_1", "credit_note_number": "CN-1",
                             "customer_id": "cu1", "issue_date": "2026-02-02", "currency": "GBP",
                             "currency_rate": None, "status": "submitted", "note": None,
                             "updated_at": "2026-03-02 09:00"}],
        "ar_credit_note_lines": [{"company_id": c, "credit_note_id": "cn_1", "line_no": 1,
                                  "description": "Refund",
                                  "quantity": D(1), "unit_amount": D("10.00"), "discount_amount": D(0),
                                  "tax_code": None, "revenue_code": None, "tracking_code": None}],
        "ar_payments": [{"company_id": c, "payment_id": "pay_1", "customer_id": "cu1",
                         "paid_on": "2026-03-02",
                         "currency": "GBP", "currency_rate": None, "amount": D("100.00"),
                         "fee_amount": D("1.50"),
                         "method": "card", "reference": "RCPT-1", "updated_at": "2026-03-02 09:00"}],
        "ar_payment_allocations": [{"company_id": c, "payment_id": "pay_1", "target_type": "invoice",
                                    "target_id": "inv_9", "amount": D("80.00")}],
        "ar_credit_note_allocations": [{"company_id": c, "credit_note_id": "cn_1", "invoice_id": "inv_9",
                                        "amount": D("10.00"), "allocated_on": "2026-03-02",
                                        "updated_at": "2026-03-02 09:00"}],
    }


def to_batch(rows: dict[str, list[dict]]) -> dict[str, pd.DataFrame]:
    out = {}
    for table in TABLES:
        data = rows.get(table, [])
        out[table] = frame(data, numeric=MONEY, dates=DATES, integers=("line_no",)) if data else pd.DataFrame(
            columns=list(base_rows()[table][0]))
    return out


def run(rows, lookup, refdata, **kw):
    kw.setdefault("platform_ids", frame([{"company_id": "c-gbp", "document_type": "customer",
                                          "source_id": "cu1",
                                          "platform_id": "P-cu1"}]))
    return validate_batch(to_batch(rows), companies=COMPANIES, mappings=lookup,
                          tax_rates=refdata["tax_rates"], **kw)


def rejected(result) -> dict[tuple[str, str], tuple[str, str]]:
    return {(r.document_type, r.source_id): (r.rule, r.message) for r in result.rejects.itertuples()}


def test_a_clean_day_is_accepted_whole(lookup, refdata):
    result = run(base_rows(), lookup, refdata)
    assert result.rejects.empty and result.waiting.empty and result.needs_manual_action.empty
    for table, rows in base_rows().items():
        assert len(result.accepted[table]) == len(rows), table


def mutate(table: str, **changes):
    def apply(rows):
        rows[table][0].update(changes)
    return apply


CASES = [
    # (mutation, document_type, source_id, rule, message fragment)
    (mutate("ar_invoices", customer_id="nobody"), "invoice", "inv_9", "unknown_customer", "customer nobody"),
    (mutate("ar_customers", default_currency="XYZ"), "invoice", "inv_9", "customer_rejected",
     "cu1 was rejected"),
    (mutate("ar_invoices", status="paid"), "invoice", "inv_9", "invalid_status", "status 'paid'"),
    (mutate("ar_invoices", status="void"), "invoice", "inv_9", "void_document", "never pushed"),
    (mutate("ar_invoices", currency="GBX"), "invoice", "inv_9", "invalid_currency", "'GBX'"),
    (mutate("ar_invoices", currency="USD"), "invoice", "inv_9", "missing_currency_rate",
     "currency_rate is None"),
    (mutate("ar_invoices", currency="USD", currency_rate=D("-1")), "invoice", "inv_9",
     "missing_currency_rate",
     "USD"),
    (mutate("ar_invoices", issue_date=None), "invoice", "inv_9", "invalid_date", "issue_date is missing"),
    (mutate("ar_invoices", due_date="2026-01-01"), "invoice", "inv_9", "due_before_issue",
     "invoice INV-1009 (id inv_9): due_date 2026-01-01 is before issue_date 2026-02-01"),
    (mutate("ar_invoice_lines", quantity=D("-1")), "invoice", "inv_9", "invalid_amount",
     "quantity -1 is negative"),
    (mutate("ar_invoice_lines", unit_amount=D("NaN")), "invoice", "inv_9", "invalid_amount", "not a finite"),
    (mutate("ar_invoice_lines", unit_amount=float("inf")), "invoice", "inv_9", "invalid_amount",
     "not a finite"),
    (mutate("ar_invoice_lines", unit_amount=D("1E+20")), "invoice", "inv_9", "invalid_amount", "largest"),
    (mutate("ar_invoice_lines", unit_amount=D("1.1234567")), "invoice", "inv_9", "invalid_amount",
     "decimals"),
    (mutate("ar_invoice_lines", unit_amount=D("-5")), "invoice", "inv_9", "invalid_amount", "not above zero"),
    (mutate("ar_invoice_lines", unit_amount=None), "invoice", "inv_9", "invalid_amount",
     "unit_amount is missing"),
    (mutate("ar_invoice_lines", tracking_code="WEST"), "invoice", "inv_9", "unmapped_tracking_code",
     "'WEST'"),
    (mutate("ar_payments", currency="EUR", currency_rate=D("0.85")), "payment", "pay_1",
     "allocation_currency_mismatch", "is in GBP, not EUR"),
    (mutate("ar_payments", amount=D("50.00")), "payment", "pay_1", "allocation_exceeds_payment",
     "allocations total 80.00 but the payment amount is 50.00"),
    (mutate("ar_payments", amount=D("100.001")), "payment", "pay_1", "invalid_amount",
     "more than 2 decimals"),
    (mutate("ar_payment_allocations", target_id="inv_404"), "payment", "pay_1", "allocation_target_unknown",
     "inv_404"),
    (mutate("ar_payment_allocations", target_type="credit_note", target_id="cn_1"), "payment", "pay_1",
     "invalid_amount", "a receipt can only settle invoices"),
    (mutate("ar_payment_allocations", amount=D("115.00")), "payment", "pay_1", "allocation_exceeds_payment",
     None),
    (mutate("ar_credit_note_allocations", amount=D("10.01")), "credit_note_allocation", "cn_1:inv_9",
     "allocation_exceeds_open_amount", "only 10.00 of 10.00 is still open"),
    (mutate("ar_credit_note_allocations", allocated_on=None), "credit_note_allocation", "cn_1:inv_9",
     "invalid_date", "allocated_on is missing"),
]


@pytest.mark.parametrize(("change", "doc_type", "source_id", "rule", "fragment"), CASES,
                         ids=[f"{c[3]}-{n}" for n, c in enumerate(CASES)])
def test_each_rule_rejects_its_document(lookup, refdata, change, doc_type, source_id, rule, fragment):
    rows = copy.deepcopy(base_rows())
    change(rows)
    result = run(rows, lookup, refdata)
    got = rejected(result)
    assert (doc_type, source_id) in got, (got, result.waiting.to_dict("records"))
    assert got[(doc_type, source_id)][0] == rule, got
    if fragment:
        assert fragment in got[(doc_type, source_id)][1]
    assert rule in RULE_ORDER or rule == "broken_mapping"


def test_broken_mapping_message_cites_the_mapping_issue(refdata):
    maps = refdata["mappings"].copy()
    maps.loc[(maps["kind"] == "income_account") & (maps["source_code"] == "SALES"),
             "platform_id"] = "exp-fees"
    issues = check_mappings(maps, refdata["accounts"], refdata["bank_accounts"], refdata["tax_rates"],
                            refdata["tracking_categories"])
    lookup = resolve_mappings(maps, issues)
    result = run(base_rows(), lookup, refdata)
    rule, message = rejected(result)[("invoice", "inv_9")]
    assert rule == "broken_mapping"
    assert "exp-fees" in message and "not an Income account" in message


def test_missing_rate_uses_the_first_rule_and_lists_the_others(lookup, refdata):
    rows = base_rows()
    rows["ar_invoices"][0].update(currency="USD", due_date="2026-01-01")
    rule, message = rejected(run(rows, lookup, refdata))[("invoice", "inv_9")]
    assert rule == "missing_currency_rate"
    assert "also failed: due_before_issue" in message


def test_rejected_invoice_sends_its_payment_and_allocation_to_waiting(lookup, refdata):
    rows = base_rows()
    rows["ar_invoices"][0]["due_date"] = "2026-01-01"
    result = run(rows, lookup, refdata)
    waiting = {(r.document_type, r.source_id): r.reason for r in result.waiting.itertuples()}
    assert "rejected" in waiting[("payment", "pay_1")]
    assert ("credit_note_allocation", "cn_1:inv_9") in waiting
    assert result.accepted["ar_payments"].empty and result.accepted["ar_payment_allocations"].empty
    assert result.accepted["ar_invoice_lines"].empty  # lines go with their document


def test_void_document_already_pushed_needs_manual_action(lookup, refdata):
    rows = base_rows()
    rows["ar_invoices"][0]["status"] = "void"
    rows["ar_payment_allocations"] = []
    rows["ar_credit_note_allocations"] = []
    pushed = frame([{"company_id": "c-gbp", "document_type": t, "source_id": s, "platform_id": "P"}
                    for t, s in [("customer", "cu1"), ("invoice", "inv_9")]])
    result = run(rows, lookup, refdata, platform_ids=pushed)
    assert result.needs_manual_action["source_id"].tolist() == ["inv_9"]
    assert "void it in the accounting platform" in result.needs_manual_action.loc[0, "reason"]
    assert ("invoice", "inv_9") not in rejected(result)
    assert result.accepted["ar_invoices"].empty


def test_allocation_to_an_earlier_day_document_uses_its_open_amount(lookup, refdata):
    rows = base_rows()
    rows["ar_payment_allocations"][0].update(target_id="inv_old", amount=D("30.00"))
    rows["ar_payments"][0]["fee_amount"] = D(0)
    known = frame([{"company_id": "c-gbp", "document_type": "invoice", "source_id": "inv_old",
                    "customer_id": "cu1", "currency": "GBP", "total_amount": D("500.00"),
                    "status": "submitted",
                    "rejected": False, "document_number": "INV-OLD"}], numeric=MONEY)
    pushed = frame([{"company_id": "c-gbp", "document_type": t, "source_id": s, "platform_id": "P"}
                    for t, s in [("customer", "cu1"), ("invoice", "inv_old")]])
    ok = run(rows, lookup, refdata, known_documents=known, platform_ids=pushed)
    assert ok.rejects.empty and len(ok.accepted["ar_payments"]) == 1
    open_now = frame([{"company_id": "c-gbp", "document_type": "invoice", "source_id": "inv_old",
                       "open_amount": D("20.00")}], numeric=("open_amount",))
    over = run(rows, lookup, refdata, known_documents=known, platform_ids=pushed, open_amounts=open_now)
    rule, message = rejected(over)[("payment", "pay_1")]
    assert rule == "allocation_exceeds_open_amount"
    assert ("allocates 30.00 to invoice INV-OLD (id inv_old), but only 20.00 of 500.00 is still open"
            in message)


def test_duplicate_numbers_within_the_batch_and_against_earlier_days(lookup, refdata):
    rows = base_rows()
    second = dict(rows["ar_invoices"][0], invoice_id="inv_10")
    rows["ar_invoices"].append(second)
    rows["ar_invoice_lines"].append(dict(rows["ar_invoice_lines"][0], invoice_id="inv_10"))
    got = rejected(run(rows, lookup, refdata))
    assert got[("invoice", "inv_9")][0] == got[("invoice", "inv_10")][0] == "duplicate_document_number"
    assert "already used by inv_10" in got[("invoice", "inv_9")][1]
    known = frame([{"company_id": "c-gbp", "document_type": "credit_note", "source_id": "cn_0",
                    "customer_id": "cu1",
                    "currency": "GBP", "total_amount": D(5), "status": "submitted", "rejected": False,
                    "document_number": "CN-1"}], numeric=MONEY)
    got = rejected(run(base_rows(), lookup, refdata, known_documents=known))
    assert got[("credit_note", "cn_1")][0] == "duplicate_document_number"


def test_numbers_differing_only_in_case_or_spaces_are_duplicates(lookup, refdata):
    # The platform compares numbers case-insensitively: read-back could not tell these two apart.
    rows = base_rows()
    first = rows["ar_invoices"][0]
    rows["ar_invoices"].append(dict(first, invoice_id="inv_10",
                                    invoice_number=f" {first['invoice_number'].lower()} "))
    rows["ar_invoice_lines"].append(dict(rows["ar_invoice_lines"][0], invoice_id="inv_10"))
    got = rejected(run(rows, lookup, refdata))
    assert got[("invoice", "inv_10")][0] == "duplicate_document_number"


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_number_is_no_number(lookup, refdata, blank):
    rows = base_rows()
    rows["ar_invoices"][0] = dict(rows["ar_invoices"][0], invoice_number=blank)
    source_id = rows["ar_invoices"][0]["invoice_id"]
    rule, message = rejected(run(rows, lookup, refdata))[("invoice", source_id)]
    assert rule == "duplicate_document_number" and "has no number" in message


def test_fee_without_usable_fee_account_is_rejected(refdata):
    maps = refdata["mappings"][refdata["mappings"]["kind"] != "fee_account"]
    lookup = resolve_mappings(maps, check_mappings(maps, refdata["accounts"], refdata["bank_accounts"],
                                                   refdata["tax_rates"], refdata["tracking_categories"]))
    rule, message = rejected(run(base_rows(), lookup, refdata))[("payment", "pay_1")]
    assert rule == "missing_fee_account" and "Expense account" in message


def test_unmapped_payment_method_without_default(refdata):
    maps = refdata["mappings"]
    maps = maps[~((maps["kind"] == "payment_account") & (maps["source_code"] == "*"))]
    lookup = resolve_mappings(maps, check_mappings(maps, refdata["accounts"], refdata["bank_accounts"],
                                                   refdata["tax_rates"], refdata["tracking_categories"]))
    rows = base_rows()
    rows["ar_payments"][0]["method"] = "cheque"
    rule, message = rejected(run(rows, lookup, refdata))[("payment", "pay_1")]
    assert rule == "unmapped_payment_method" and "'cheque'" in message


def test_unmapped_tax_code_without_default(refdata):
    maps = refdata["mappings"]
    maps = maps[~((maps["kind"] == "tax_rate") & (maps["source_code"] == "*"))]
    lookup = resolve_mappings(maps, check_mappings(maps, refdata["accounts"], refdata["bank_accounts"],
                                                   refdata["tax_rates"], refdata["tracking_categories"]))
    rows = base_rows()
    rows["ar_invoice_lines"][0]["tax_code"] = "ZERO"
    assert rejected(run(rows, lookup, refdata))[("invoice", "inv_9")][0] == "unmapped_tax_code"


def test_document_without_lines_is_rejected(lookup, refdata):
    rows = base_rows()
    rows["ar_credit_note_lines"] = []
    assert rejected(run(rows, lookup, refdata))[("credit_note", "cn_1")][0] == "no_lines"


def _input_documents(batch) -> set:
    docs = set()
    for table, kind, col in [("ar_customers", "customer", "customer_id"),
                             ("ar_invoices", "invoice", "invoice_id"),
                             ("ar_credit_notes", "credit_note", "credit_note_id"),
                             ("ar_payments", "payment", "payment_id")]:
        docs |= {(c, kind, s) for c, s in zip(batch[table]["company_id"], batch[table][col], strict=True)}
    cna = batch["ar_credit_note_allocations"]
    docs |= {(c, "credit_note_allocation", f"{a}:{b}")
             for c, a, b in zip(cna["company_id"], cna["credit_note_id"], cna["invoice_id"], strict=True)}
    return docs


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_nothing_is_dropped_every_document_ends_in_exactly_one_place(lookup, refdata, seed):
    batch = make_batch(seed, n_docs=80)
    # Corrupt a few rows so every outcome occurs.
    inv = batch["ar_invoices"]
    inv.loc[inv.index[0], "status"] = "bogus"
    inv.loc[inv.index[1], "currency"] = "ZZZ"
    lines = batch["ar_invoice_lines"]
    lines.loc[lines.index[5], "unit_amount"] = D("NaN")
    result = validate_batch({t: batch[t] for t in TABLES}, companies=COMPANIES, mappings=lookup,
                            tax_rates=refdata["tax_rates"], platform_ids=batch["platform_ids"])
    outcome_sets = []
    for table, kind, col in [("ar_customers", "customer", "customer_id"),
                             ("ar_invoices", "invoice", "invoice_id"),
                             ("ar_credit_notes", "credit_note", "credit_note_id"),
                             ("ar_payments", "payment", "payment_id")]:
        acc = result.accepted[table]
        outcome_sets.append({(c, kind, s) for c, s in zip(acc["company_id"], acc[col], strict=True)})
    acc = result.accepted["ar_credit_note_allocations"]
    outcome_sets.append({(c, "credit_note_allocation", f"{a}:{b}")
                         for c, a, b in zip(acc["company_id"], acc["credit_note_id"], acc["invoice_id"],
                                            strict=True)})
    for frame_ in (result.rejects, result.waiting, result.needs_manual_action):
        outcome_sets.append(set(zip(frame_["company_id"], frame_["document_type"], frame_["source_id"],
                                    strict=True)))
    flat = [k for s in outcome_sets for k in s]
    assert len(flat) == len(set(flat)), "a document ended in two places"
    assert set(flat) == _input_documents(batch)
    assert len(result.rejects) == len(set(zip(result.rejects["document_type"], result.rejects["source_id"],
                                              strict=True)))
    assert not result.rejects.empty and not result.accepted["ar_invoices"].empty
    # Lines of a rejected invoice are gone with it.
    rejected_invoices = set(result.rejects.loc[result.rejects["document_type"] == "invoice", "source_id"])
    assert not set(result.accepted["ar_invoice_lines"]["invoice_id"]) & rejected_invoices


def test_payment_for_a_customer_not_yet_in_the_platform_waits(lookup, refdata):
    rows = base_rows()
    rows["ar_customers"] = []
    rows["ar_payment_allocations"] = []
    rows["ar_credit_note_allocations"] = []
    known = frame([{"company_id": "c-gbp", "customer_id": "cu1", "name": "Acme"}])
    result = run(rows, lookup, refdata, known_customers=known,
                 platform_ids=pd.DataFrame(columns=["company_id", "document_type", "source_id",
                                                    "platform_id"]))
    waiting = dict(zip(result.waiting["source_id"], result.waiting["reason"], strict=True))
    assert "waits for customer cu1" in waiting["pay_1"]
    assert "waits for customer cu1" in waiting["inv_9"] and "cn_1" in waiting
    assert result.rejects.empty and result.accepted["ar_invoices"].empty


BAD_VALUES = [None, D("NaN"), float("nan"), float("inf"), D("-Infinity"), D("1E+25"), D("-3"), D("0.0000001"),
              D("0")]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bad_input_anywhere_never_loses_a_document(lookup, refdata, data):
    batch = make_batch(data.draw(st.integers(0, 1000)), n_docs=12)
    for _ in range(data.draw(st.integers(1, 6))):
        table, column = data.draw(st.sampled_from([
            ("ar_invoice_lines", "quantity"), ("ar_invoice_lines", "unit_amount"),
            ("ar_invoice_lines", "discount_amount"), ("ar_credit_note_lines", "unit_amount"),
            ("ar_payments", "amount"), ("ar_payments", "fee_amount"), ("ar_payments", "currency_rate"),
            ("ar_invoices", "currency_rate"), ("ar_payment_allocations", "amount"),
            ("ar_credit_note_allocations", "amount"),
        ]))
        frame_ = batch[table]
        if frame_.empty:
            continue
        row = frame_.index[data.draw(st.integers(0, len(frame_) - 1))]
        frame_[column] = frame_[column].astype(object)
        frame_.at[row, column] = data.draw(st.sampled_from(BAD_VALUES))
    result = validate_batch({t: batch[t] for t in TABLES}, companies=COMPANIES, mappings=lookup,
                            tax_rates=refdata["tax_rates"], platform_ids=batch["platform_ids"])
    ended = []
    for table, kind, col in [("ar_customers", "customer", "customer_id"),
                             ("ar_invoices", "invoice", "invoice_id"),
                             ("ar_credit_notes", "credit_note", "credit_note_id"),
                             ("ar_payments", "payment", "payment_id")]:
        acc = result.accepted[table]
        ended += [(c, kind, s) for c, s in zip(acc["company_id"], acc[col], strict=True)]
    acc = result.accepted["ar_credit_note_allocations"]
    ended += [(c, "credit_note_allocation", f"{a}:{b}")
              for c, a, b in zip(acc["company_id"], acc["credit_note_id"], acc["invoice_id"], strict=True)]
    for out in (result.rejects, result.waiting, result.needs_manual_action):
        ended += list(zip(out["company_id"], out["document_type"], out["source_id"], strict=True))
    assert len(ended) == len(set(ended))
    assert set(ended) == _input_documents(batch)
    assert set(result.rejects["rule"]) <= set(RULE_ORDER)


@pytest.mark.parametrize("seed", [21, 22])
def test_whatever_is_accepted_can_be_transformed(lookup, refdata, seed):
    batch = make_batch(seed, n_docs=60)
    result = validate_batch({t: batch[t] for t in TABLES}, companies=COMPANIES, mappings=lookup,
                            tax_rates=refdata["tax_rates"], platform_ids=batch["platform_ids"])
    acc = result.accepted
    kw = {"companies": COMPANIES, "mappings": lookup, "platform_ids": batch["platform_ids"]}
    invoices = invoices_to_payloads(acc["ar_invoices"], acc["ar_invoice_lines"],
                                    tax_rates=refdata["tax_rates"], **kw)
    assert len(invoices) == len(acc["ar_invoices"]) > 0
    assert (invoices["total_amount"] > 0).all()
    payments = payments_to_payloads(acc["ar_payments"], acc["ar_payment_allocations"], **kw)
    assert len(payments) == len(acc["ar_payments"]) > 0
    # One fee per accepted payment with a fee, one zero payment per accepted credit-note allocation.
    fees = fees_to_payloads(acc["ar_payments"], companies=COMPANIES, mappings=lookup)
    paid = acc["ar_payments"]
    with_fee = paid[[pd.notna(f) and f > 0 for f in paid["fee_amount"]]]
    assert sorted(fees["source_id"]) == sorted(with_fee["payment_id"]) and len(fees) > 0
    allocs = acc["ar_credit_note_allocations"]
    cn_payments = credit_note_allocations_to_payloads(allocs, documents=batch["documents"],
                                                      companies=COMPANIES,
                                                      platform_ids=batch["platform_ids"])
    assert sorted(cn_payments["source_id"]) == sorted(allocs["credit_note_id"] + ":" + allocs["invoice_id"])
    assert len(cn_payments) > 0
    for raw in cn_payments["payload"]:
        links = json.loads(raw, parse_float=Decimal, parse_int=Decimal)["lines"][0]["links"]
        assert sum(link["amount"] for link in links) == 0 and {link["type"] for link in links} == {
            "Invoice", "CreditNote"}


def test_allocations_to_a_draft_invoice_wait_until_it_is_submitted(lookup, refdata):
    rows = base_rows()
    rows["ar_invoices"][0]["status"] = "draft"
    result = run(rows, lookup, refdata)
    waiting = dict(zip(result.waiting["source_id"], result.waiting["reason"], strict=True))
    assert waiting["pay_1"] == ("payment RCPT-1 (id pay_1): waits until invoice INV-1009 (id inv_9) "
                                "is submitted (it is a draft)")
    assert "cn_1:inv_9" in waiting
    assert len(result.accepted["ar_invoices"]) == 1 and result.rejects.empty


def test_an_empty_day_keeps_the_table_shapes(lookup, refdata):
    result = run({}, lookup, refdata)
    assert result.rejects.empty and result.waiting.empty
    for table in TABLES:
        assert result.accepted[table].empty
        assert list(result.accepted[table].columns) == list(base_rows()[table][0])


_ALLOCATING = ("ar_payment_allocations", "ar_credit_note_allocations")


@pytest.mark.parametrize("kept", [(), *((t,) for t in TABLES),
                                  *(tuple(x for x in TABLES if x != t) for t in TABLES),
                                  tuple(t for t in TABLES if t not in _ALLOCATING)],
                         ids=lambda kept: "+".join(kept) or "nothing")
def test_any_subset_of_the_input_tables_may_be_empty(lookup, refdata, kept):
    """Issue 11 defect 2, at the gate: any subset of the input tables empty for a company (one table
    alone, one table missing, no allocation of any kind) validates, keeps every column, and every
    document ends accepted, rejected or waiting."""
    rows = {t: r for t, r in base_rows().items() if t in kept}
    batch = to_batch(rows)
    result = run(rows, lookup, refdata)
    for table in TABLES:
        assert list(result.accepted[table].columns) == list(batch[table].columns), table
    inputs = _input_documents(batch)
    recorded = pd.concat([result.rejects, result.waiting, result.needs_manual_action], ignore_index=True)
    ended = set(zip(recorded["company_id"], recorded["document_type"], recorded["source_id"],
                    strict=True)) | \
        _input_documents(result.accepted)
    assert inputs <= ended
