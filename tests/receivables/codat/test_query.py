"""The query builder: what reaches the API for typical incremental and lookup queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import unquote

import pytest

from codat_sandbox.query import compile_query
from receivables.codat.models import InvoiceStatus
from receivables.codat.query import Q


def test_incremental_pull_condition_renders_utc_with_z():
    since = datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert str(Q("modifiedDate") >= since) == "modifiedDate>=2024-01-01T00:00:00Z"
    assert str(Q("issueDate") < date(2024, 5, 1)) == "issueDate<2024-05-01"


@pytest.mark.parametrize(("value", "expected"), [
    ("INV-1001", "invoiceNumber=INV-1001"),
    ("Smith & Sons", 'invoiceNumber="Smith & Sons"'),
    ("a||b", 'invoiceNumber="a||b"'),
    ("{x}", 'invoiceNumber="{x}"'),
    ('say "hi"', "invoiceNumber='say \"hi\"'"),
    ("", 'invoiceNumber=""'),
])
def test_values_with_special_characters_are_quoted(value, expected):
    assert str(Q("invoiceNumber") == value) == expected


def test_a_value_with_both_quote_kinds_is_refused():
    with pytest.raises(ValueError, match="both kinds of quote"):
        str(Q("note") == "it's \"odd\"")


def test_groups_are_braced_and_flattened():
    query = Q.all(Q("status") != InvoiceStatus.Void, Q.any(Q("currency") == "GBP", Q("currency") == "EUR"),
                  Q("totalAmount") > Decimal("100.50"))
    assert str(query) == "status!=Void&&{currency=GBP||currency=EUR}&&totalAmount>100.50"
    assert str((Q("a") == 1) & (Q("b") == 2) & (Q("c") == True)) == "a=1&&b=2&&c=true"  # noqa: E712
    assert str(Q.all(None, "x=1||y=2", Q("z") == 3)) == "{x=1||y=2}&&z=3"


def test_encoded_form_round_trips():
    query = Q.all(Q("modifiedDate") >= datetime(2024, 1, 1, tzinfo=UTC),
                  Q("customerRef.companyName").contains("A&B"))
    assert "%26%26" in query.encoded() and "%3E%3D" in query.encoded()
    assert unquote(query.encoded()) == str(query)


def test_bad_property_names_and_long_queries_are_refused():
    with pytest.raises(ValueError):
        Q("status=1||x")
    with pytest.raises(ValueError, match="2048"):
        str(Q.any(*[Q("id") == f"id-{i:05d}" for i in range(300)]))


def test_the_sandbox_parser_reads_what_the_builder_writes():
    query = Q.all(Q("customerName") == 'Smith & "Sons" {Ltd}', Q("status") != "Archived")
    matches = compile_query(str(query))
    assert matches({"customerName": 'smith & "sons" {ltd}', "status": "Active"})
    assert not matches({"customerName": "Smith", "status": "Active"})
