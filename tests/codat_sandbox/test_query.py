"""The Codat query language as a plain function (CONTRACT §6, §11.6)."""

from __future__ import annotations

import pytest

from codat_sandbox.query import QueryError, compile_query, filter_records, parse_query, sort_records

RECORDS = [
    {"id": "a", "status": "Submitted", "totalAmount": 120, "customerRef": {"id": "C1"},
     "modifiedDate": "2026-05-01T10:00:00.000Z", "metadata": {"isDeleted": False}, "note": "Urgent order"},
    {"id": "b", "status": "Paid", "totalAmount": 40, "customerRef": {"id": "C2"},
     "modifiedDate": "2026-05-03T10:00:00.000Z", "metadata": {"isDeleted": True}, "note": None},
    {"id": "c", "status": "Draft", "totalAmount": 75.5, "customerRef": {"id": "c1"},
     "modifiedDate": "2026-05-02T10:00:00.000Z", "lineItems": [{"unitAmount": 1}]},
]


def ids(query: str) -> list[str]:
    return [record["id"] for record in filter_records(RECORDS, query)]


@pytest.mark.parametrize(("query", "expected"), [
    ("status=submitted", ["a"]),
    ("status!=PAID", ["a", "c"]),
    ("note~URGENT", ["a"]),
    ("totalAmount>75.5", ["a"]),
    ("totalAmount>=75.5", ["a", "c"]),
    ("totalAmount<75.5", ["b"]),
    ("totalAmount<=40", ["b"]),
    ("totalAmount=75.5", ["c"]),
    ("customerRef.id=C1", ["a", "c"]),
    ("modifiedDate>=2026-05-02", ["b", "c"]),
    ("modifiedDate>2026-05-02T10:00:00Z", ["b"]),
    ("modifiedDate<2026-05-02T12:00:00+02:00", ["a"]),
    ('status="Draft"', ["c"]),
    ("status = 'paid'", ["b"]),
])
def test_operators_compare_strings_case_insensitively_and_numbers_and_dates_by_value(query, expected):
    assert ids(query) == expected


def test_and_binds_tighter_than_or():
    # status=Paid || (status=Draft && totalAmount>100): only b.
    assert ids("status=Paid || status=Draft && totalAmount>100") == ["b"]
    assert ids("{status=Paid || status=Draft} && totalAmount>50") == ["c"]
    assert ids("{totalAmount > 100 || totalAmount < 50} && status != paid") == ["a"]


def test_null_or_missing_properties_match_only_not_equal():
    assert ids("metadata.isDeleted!=true") == ["a", "c"]
    assert ids("metadata.isDeleted=false") == ["a"]
    assert ids("note=x") == []
    assert ids("note!=x") == ["a", "b", "c"]
    assert ids("note~o") == ["a"]


def test_a_path_through_an_array_is_refused():
    with pytest.raises(QueryError, match="array"):
        ids("lineItems.unitAmount=1")


@pytest.mark.parametrize("query", ["status", "status=", "=1", "{status=Paid", "status=Paid}", "a=1 &&",
                                   "a=1 ||| b=2", "a=1 || && b=2", "x" * 2048 + "=1", "'a'=1"])
def test_malformed_queries_are_refused(query):
    with pytest.raises(QueryError):
        compile_query(query)


def test_parse_keeps_the_grouping():
    tree = parse_query("a=1 || b=2 && c=3")
    assert type(tree).__name__ == "Disjunction"
    assert type(tree.terms[1]).__name__ == "Conjunction"


def test_order_by_descending_puts_missing_values_last():
    records = RECORDS + [{"id": "d"}]
    assert [r["id"] for r in sort_records(records, "-modifiedDate")] == ["b", "c", "a", "d"]
    assert [r["id"] for r in sort_records(records, "totalAmount")] == ["b", "c", "a", "d"]
    with pytest.raises(QueryError):
        sort_records(records, "-")


@pytest.mark.parametrize(("query", "expected"), [
    ("modifiedDate>=2026-05-02T10:00:00Z", ["b", "c"]),
    ("modifiedDate>2026-05-02T10:00:00.000Z", ["b"]),
    ("modifiedDate=2026-05-02T12:00:00+02:00", ["c"]),
    ("modifiedDate<2026-05-02T10:00:00.0005Z", ["a", "c"]),
    ("modifiedDate<=2026-05-01T10:00:00", ["a"]),
])
def test_server_times_compare_by_instant_whatever_the_literal_form(query, expected):
    assert ids(query) == expected
