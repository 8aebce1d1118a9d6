"""The registry of document kinds: what every other module asks about a kind."""

import pandas as pd
import pytest

from receivables import documents
from receivables.documents import KIND, LedgerStatus, Outcome


def test_every_kind_comes_after_what_it_depends_on():
    order = [k.name for k in documents.in_push_order()]
    assert sorted(order) == sorted(KIND)
    for position, name in enumerate(order):
        assert set(KIND[name].depends_on) <= set(order[:position]), name


def test_create_only_types_are_not_updatable():
    create_only = {k.name for k in documents.KINDS if not k.updatable}
    assert create_only == {"payment", "fee", "credit_note_allocation"}
    assert documents.updatable(pd.Series(["invoice", "payment", "no_such_kind"], dtype=object)).tolist() == [
        True, False, False]


def test_an_allocation_key_splits_back_into_its_pair():
    keys = documents.allocation_keys(pd.Series(["CN-1", "CN-2"]), pd.Series(["INV-9", "INV:10"]))
    assert keys == ["CN-1:INV-9", "CN-2:INV:10"]
    assert [documents.split_allocation_key(k) for k in keys] == [("CN-1", "INV-9"), ("CN-2", "INV:10")]
    frame = pd.DataFrame({"credit_note_id": ["CN-1"], "invoice_id": ["INV-9"]})
    assert KIND["credit_note_allocation"].source_ids(frame) == ["CN-1:INV-9"]
    assert KIND["invoice"].source_ids(pd.DataFrame({"invoice_id": [17]})) == ["17"]


def test_every_kind_names_a_payload_function_and_real_tables():
    from receivables.warehouse import schema

    for k in documents.KINDS:
        assert callable(k.payload_function()), k.name
        assert k.table in schema.metadata.tables, k.name
        assert k.lines_table is None or k.lines_table in schema.metadata.tables, k.name


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="one of customer, invoice"):
        documents.kind("refund")


def test_statuses_are_the_stored_text():
    assert LedgerStatus("timed_out") is LedgerStatus.TIMED_OUT and LedgerStatus.SUCCESS == "success"
    assert documents.NOT_FINAL == {"pending", "timed_out", "unknown"}
    assert Outcome.PUSH_FAILED == "push_failed" and Outcome.MATCHED not in documents.EXCEPTION_OUTCOMES


def test_what_a_row_refers_to_is_pushed_before_it():
    for k in documents.KINDS:
        assert {on for on, _ in k.references} <= set(k.depends_on), k.name
    assert KIND["credit_note_allocation"].references == (
        ("invoice", "invoice_id"), ("credit_note", "credit_note_id"))
