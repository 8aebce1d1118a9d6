"""Bulk reads and writes: exact money, explicit dtypes, chunks, upserts and atomic replacement."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from receivables.warehouse import create_input_tables, delete_rows, read_frame, replace_rows, write_frame
from receivables.warehouse.io import execute_in_transaction
from receivables.warehouse.schema import (
    ar_companies,
    ar_customers,
    ar_invoice_lines,
    ar_invoices,
    ar_push_ledger,
    ar_reconciliation,
    ar_rejects,
)


def _ledger(n: int, status: str = "pending", total: Decimal = Decimal("10.00")) -> pd.DataFrame:
    return pd.DataFrame({
        "company_id": ["c1"] * n,
        "document_type": ["invoice"] * n,
        "source_id": [f"INV-{i:05d}" for i in range(n)],
        "content_hash": ["h"] * n,
        "idempotency_key": [f"k{i}" for i in range(n)],
        "status": [status] * n,
        "source_total": [total] * n,
        "attempts": [1] * n,
    })


def _rejects(day: date, ids: list[str], rule: str = "no_lines") -> pd.DataFrame:
    return pd.DataFrame({
        "business_date": [day] * len(ids), "company_id": ["c1"] * len(ids),
        "document_type": ["invoice"] * len(ids),
        "source_id": ids, "rule": [rule] * len(ids), "message": ["m"] * len(ids),
    })


def test_output_money_round_trips_every_digit(warehouse_engine):
    amounts = [Decimal("0.1") + Decimal("0.2"), Decimal("12345678901.123456789"), Decimal("-0.005"),
               Decimal("0"), None]
    frame = _ledger(len(amounts))
    frame["source_total"] = amounts
    write_frame(warehouse_engine, ar_push_ledger, frame)
    back = read_frame(warehouse_engine, ar_push_ledger).sort_values("source_id")
    assert back["source_total"].dtype == object
    assert back["source_total"].tolist() == amounts
    assert all(isinstance(v, Decimal) for v in back["source_total"] if v is not None)
    assert str(back["source_total"].iloc[1]) == "12345678901.123456789"


def test_input_numeric_reads_back_exact_decimals(warehouse_engine):
    create_input_tables(warehouse_engine)
    # Up to 15 significant digits: exact on SQLite (stored as REAL) as well as PostgreSQL.
    amounts = [Decimal("0.1"), Decimal("1234567890.12345"), Decimal("-5.5"), Decimal("100"),
               Decimal("0.0001")]
    lines = pd.DataFrame({
        "company_id": "c1", "invoice_id": "i1", "line_no": range(1, len(amounts) + 1),
        "quantity": [Decimal("1")] * len(amounts), "unit_amount": amounts, "discount_amount": Decimal("0"),
    })
    write_frame(warehouse_engine, ar_invoice_lines, lines)
    back = read_frame(warehouse_engine, ar_invoice_lines).sort_values("line_no")
    assert back["unit_amount"].tolist() == amounts
    assert not any(isinstance(v, float) for v in back["unit_amount"])
    summed = sum(back["unit_amount"].tolist()[:1] * 3, Decimal(0))
    assert summed == Decimal("0.3")


def test_frames_have_explicit_dtypes(warehouse_engine):
    create_input_tables(warehouse_engine)
    invoices = pd.DataFrame({
        "company_id": ["c1", "c1"], "invoice_id": ["i1", "i2"], "invoice_number": ["INV-1", "INV-2"],
        "customer_id": ["cu1", "cu1"], "issue_date": [date(2026, 11, 20), date(2026, 11, 21)],
        "due_date": [date(2026, 12, 20), date(2026, 12, 21)], "currency": ["GBP", "EUR"],
        "currency_rate": [None, Decimal("0.8612")], "status": ["submitted", "draft"], "note": ["", None],
        # an aware timestamp is stored as naive UTC
        "updated_at": [datetime(2026, 11, 20, 10, 30, 15, 123456),
                       datetime(2026, 11, 21, 9, 0, tzinfo=timezone(timedelta(hours=2)))],
    })
    write_frame(warehouse_engine, ar_invoices, invoices)
    write_frame(warehouse_engine, ar_companies, pd.DataFrame({
        "company_id": ["c1"], "connection_id": ["x"], "name": [None], "base_currency": ["GBP"],
        "active": [True]}))
    back = read_frame(warehouse_engine, ar_invoices).sort_values("invoice_id").reset_index(drop=True)
    assert back["invoice_number"].dtype == "string"
    assert back["issue_date"].dtype == "datetime64[us]"
    assert back["updated_at"].dtype == "datetime64[us]"
    assert back["issue_date"].tolist() == [pd.Timestamp("2026-11-20"), pd.Timestamp("2026-11-21")]
    assert back["updated_at"].tolist() == [pd.Timestamp("2026-11-20 10:30:15.123456"),
                                           pd.Timestamp("2026-11-21 07:00")]
    assert back["currency_rate"].tolist() == [None, Decimal("0.8612")]
    assert back["note"].iloc[0] == "" and back["note"].isna().iloc[1]  # empty text is not NULL
    companies = read_frame(warehouse_engine, ar_companies)
    assert companies["active"].dtype == bool and companies["active"].tolist() == [True]
    ledger = read_frame(warehouse_engine, ar_push_ledger)
    assert ledger.empty and ledger["attempts"].dtype == "Int64" and ledger["source_total"].dtype == object


def test_timestamps_given_as_iso_text_or_aware_values_are_stored_as_utc(warehouse_engine):
    frame = _ledger(3)
    frame["created_at"] = ["2026-11-20T10:00:00.000Z", "2026-11-20T12:00:00+02:00", None]
    frame["pushed_at"] = pd.Series(pd.to_datetime(["2026-11-20 10:00", "2026-11-20 11:00", None]).tz_localize(
        "Europe/London"))
    write_frame(warehouse_engine, ar_push_ledger, frame)
    back = read_frame(warehouse_engine, ar_push_ledger).sort_values("source_id")
    assert back["created_at"].tolist()[:2] == [pd.Timestamp("2026-11-20 10:00"),
                                               pd.Timestamp("2026-11-20 10:00")]
    assert back["created_at"].isna().tolist() == [False, False, True]
    assert back["pushed_at"].tolist()[:2] == [pd.Timestamp("2026-11-20 10:00"),
                                              pd.Timestamp("2026-11-20 11:00")]


def test_text_with_separators_quotes_and_newlines_survives(warehouse_engine):
    awkward = ['a,b', 'say "hi"', "two\nlines", "nan", "\\N", "  padded  ", "ünïcødé"]
    frame = _ledger(len(awkward))
    frame["last_error"] = awkward
    write_frame(warehouse_engine, ar_push_ledger, frame)
    back = read_frame(warehouse_engine, ar_push_ledger).sort_values("source_id")
    assert back["last_error"].tolist() == awkward


def test_chunked_reads_are_bounded_and_complete(warehouse_engine):
    write_frame(warehouse_engine, ar_push_ledger, _ledger(2500))
    chunks = list(read_frame(warehouse_engine, ar_push_ledger, chunksize=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert sorted(pd.concat(chunks)["source_id"]) == [f"INV-{i:05d}" for i in range(2500)]
    assert list(read_frame(warehouse_engine, ar_push_ledger, where={"company_id": "nobody"},
                           chunksize=10)) == []


def test_abandoning_a_chunked_read_releases_the_warehouse(warehouse_engine):
    write_frame(warehouse_engine, ar_push_ledger, _ledger(5000))
    chunks = read_frame(warehouse_engine, ar_push_ledger, chunksize=10)
    assert len(next(chunks)) == 10
    chunks.close()
    assert delete_rows(warehouse_engine, ar_push_ledger, {"company_id": "c1"}) == 5000


def test_where_filters_and_select_sources(warehouse_engine):
    frame = _ledger(4)
    frame.loc[3, "status"] = "failed"
    frame["platform_id"] = ["p0", None, "p2", "p3"]
    write_frame(warehouse_engine, ar_push_ledger, frame)
    picked = read_frame(warehouse_engine, ar_push_ledger, where={"source_id": ["INV-00000", "INV-00003"]})
    assert sorted(picked["source_id"]) == ["INV-00000", "INV-00003"]
    assert read_frame(warehouse_engine, ar_push_ledger,
                      where={"platform_id": None})["source_id"].tolist() == [
        "INV-00001"]
    stmt = sa.select(ar_push_ledger.c.source_id, ar_push_ledger.c.source_total).where(
        ar_push_ledger.c.status == "pending")
    selected = read_frame(warehouse_engine, stmt, where={"source_id": "INV-00002"})
    assert list(selected.columns) == ["source_id", "source_total"]
    assert selected["source_total"].tolist() == [Decimal("10.00")]
    with pytest.raises(ValueError, match="unknown column"):
        read_frame(warehouse_engine, ar_push_ledger, where={"nope": 1})


def test_a_table_read_can_name_its_columns_and_keeps_their_types(warehouse_engine):
    write_frame(warehouse_engine, ar_push_ledger, _ledger(3))
    full = read_frame(warehouse_engine, ar_push_ledger, where={"source_id": "INV-00001"})
    some = read_frame(warehouse_engine, ar_push_ledger, where={"source_id": "INV-00001"},
                      columns=["source_total", "source_id"])
    assert list(some.columns) == ["source_total", "source_id"]
    assert some.dtypes.to_dict() == full[["source_total", "source_id"]].dtypes.to_dict()
    assert some["source_total"].tolist() == full["source_total"].tolist() == [Decimal("10.00")]
    assert list(read_frame(warehouse_engine, ar_push_ledger, where={"source_id": "none"},
                           columns=["source_id"]).columns) == ["source_id"]  # empty: still named
    with pytest.raises(KeyError):
        read_frame(warehouse_engine, ar_push_ledger, columns=["nope"])
    with pytest.raises(TypeError, match="a Select already names its columns"):
        read_frame(warehouse_engine, sa.select(ar_push_ledger.c.source_id), columns=["source_id"])


def test_upsert_updates_existing_keys_and_inserts_new_ones(warehouse_engine):
    write_frame(warehouse_engine, ar_push_ledger, _ledger(2))
    again = _ledger(3, status="success", total=Decimal("12.34"))
    assert write_frame(warehouse_engine, ar_push_ledger, again, mode="upsert") == 3
    back = read_frame(warehouse_engine, ar_push_ledger).sort_values("source_id")
    assert back["status"].tolist() == ["success"] * 3
    assert back["source_total"].tolist() == [Decimal("12.34")] * 3

    with pytest.raises(ValueError, match="repeat a key"):
        write_frame(warehouse_engine, ar_push_ledger, pd.concat([again, again]), mode="upsert")


def test_append_of_an_existing_key_fails_and_writes_nothing(warehouse_engine):
    write_frame(warehouse_engine, ar_push_ledger, _ledger(1))
    with pytest.raises(sa.exc.IntegrityError):
        write_frame(warehouse_engine, ar_push_ledger, _ledger(3))
    assert len(read_frame(warehouse_engine, ar_push_ledger)) == 1


def test_replace_rows_replaces_only_the_matching_day(warehouse_engine):
    d1, d2 = date(2026, 11, 20), date(2026, 11, 21)
    write_frame(warehouse_engine, ar_rejects, pd.concat([_rejects(d1, ["a", "b"]), _rejects(d2, ["c"])]))
    replace_rows(warehouse_engine, ar_rejects, _rejects(d1, ["b", "z"], rule="due_before_issue"),
                 where={"business_date": d1})
    back = read_frame(warehouse_engine, ar_rejects).sort_values(["business_date", "source_id"])
    assert back["source_id"].tolist() == ["b", "z", "c"]
    assert back["rule"].tolist() == ["due_before_issue", "due_before_issue", "no_lines"]


def test_replace_rows_is_atomic_when_the_insert_fails(warehouse_engine):
    d1 = date(2026, 11, 20)
    write_frame(warehouse_engine, ar_rejects, _rejects(d1, ["a", "b"]))
    broken = _rejects(d1, ["x", "x"])  # the same key twice: the insert fails after the delete ran
    with pytest.raises(sa.exc.IntegrityError):
        replace_rows(warehouse_engine, ar_rejects, broken, where={"business_date": d1})
    assert sorted(read_frame(warehouse_engine, ar_rejects)["source_id"]) == ["a", "b"]


def test_writes_share_one_transaction_and_roll_back_together(warehouse_engine):
    def both(conn):
        write_frame(conn, ar_push_ledger, _ledger(1))
        write_frame(conn, ar_reconciliation, pd.DataFrame({
            "report_date": [date(2026, 11, 20)], "company_id": ["c1"], "document_type": ["invoice"],
            "document_key": ["INV-00000"], "difference": [Decimal("0.01")],
        }))
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        execute_in_transaction(warehouse_engine, both)
    assert read_frame(warehouse_engine, ar_push_ledger).empty
    assert read_frame(warehouse_engine, ar_reconciliation).empty


def test_delete_rows_and_refusals(warehouse_engine):
    write_frame(warehouse_engine, ar_push_ledger, _ledger(3))
    assert delete_rows(warehouse_engine, ar_push_ledger, {"source_id": ["INV-00000", "INV-00001"]}) == 2
    with pytest.raises(ValueError):
        delete_rows(warehouse_engine, ar_push_ledger, {})
    with pytest.raises(ValueError, match="no columns"):
        write_frame(warehouse_engine, ar_push_ledger, pd.DataFrame({"bogus": [1]}))
    assert write_frame(warehouse_engine, ar_push_ledger, _ledger(0)) == 0


def test_timestamps_compare_in_time_order_in_sql(warehouse_engine):
    # A row at exactly midnight must fall inside [midnight, next midnight) on both dialects.
    frame = _ledger(2)
    frame["updated_at"] = [datetime(2026, 11, 20, 0, 0), datetime(2026, 11, 21, 0, 0)]
    write_frame(warehouse_engine, ar_push_ledger, frame)
    start = datetime(2026, 11, 20, tzinfo=UTC).replace(tzinfo=None)
    stmt = sa.select(ar_push_ledger.c.source_id).where(
        ar_push_ledger.c.updated_at >= start, ar_push_ledger.c.updated_at < start + timedelta(days=1))
    assert read_frame(warehouse_engine, stmt)["source_id"].tolist() == ["INV-00000"]


def test_selects_with_subqueries_and_long_in_lists(warehouse_engine):
    create_input_tables(warehouse_engine)
    write_frame(warehouse_engine, ar_invoice_lines, pd.DataFrame({
        "company_id": "c1", "invoice_id": [f"i{i}" for i in range(3000)], "line_no": 1,
        "quantity": Decimal("1"), "unit_amount": Decimal("2.50"), "discount_amount": Decimal("0"),
    }))
    write_frame(warehouse_engine, ar_invoices, pd.DataFrame({
        "company_id": "c1", "invoice_id": ["i1", "i2"], "invoice_number": ["1", "2"], "customer_id": "cu",
        "issue_date": date(2026, 11, 20), "due_date": date(2026, 11, 20), "currency": "GBP",
        "status": "draft", "updated_at": [datetime(2026, 11, 20, 8), datetime(2026, 11, 21, 8)],
    }))
    parents = sa.select(ar_invoices.c.invoice_id).where(ar_invoices.c.updated_at < datetime(2026, 11, 21))
    children = sa.select(ar_invoice_lines).where(ar_invoice_lines.c.invoice_id.in_(parents))
    assert read_frame(warehouse_engine, children)["invoice_id"].tolist() == ["i1"]
    many = read_frame(warehouse_engine, ar_invoice_lines,
                      where={"invoice_id": [f"i{i}" for i in range(2500)]})
    assert len(many) == 2500 and many["unit_amount"].iloc[0] == Decimal("2.5")


def test_a_small_postgresql_read_skips_copy_and_reads_the_same_frame(warehouse_engine, monkeypatch):
    from receivables.warehouse import io

    if warehouse_engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL reads through COPY")
    create_input_tables(warehouse_engine)
    write_frame(warehouse_engine, ar_invoices, pd.DataFrame({
        "company_id": ["c1"] * 3, "invoice_id": ["i1", "i2", "i3"], "invoice_number": ["A,1", 'B"2', "C\n3"],
        "customer_id": ["cu1"] * 3, "issue_date": [date(2026, 11, 20)] * 3,
        "due_date": [date(2026, 12, 20)] * 3,
        "currency": ["GBP", "JPY", "BHD"], "currency_rate": [None, Decimal("150.25"), Decimal("1E-3")],
        "status": ["submitted"] * 3, "note": ["", None, "é"],
        "updated_at": [datetime(2026, 11, 20, 10, 30, 15, 123456)] * 3}))
    copies = []
    real = io._pg_chunks
    monkeypatch.setattr(io, "_pg_chunks", lambda *a: copies.append(1) or real(*a))
    small = read_frame(warehouse_engine, ar_invoices).sort_values("invoice_id").reset_index(drop=True)
    assert copies == []
    monkeypatch.setattr(io, "_SMALL_READ_ROWS", 2)  # three rows are now a big read
    big = read_frame(warehouse_engine, ar_invoices).sort_values("invoice_id").reset_index(drop=True)
    assert copies == [1]
    pd.testing.assert_frame_equal(small, big)
    assert small["note"].iloc[0] == "" and small["note"].isna().iloc[1]


def test_a_read_with_its_own_order_limit_and_offset_returns_those_rows_on_every_read_path(warehouse_engine,
                                                                                         monkeypatch):
    # A small read asks for one row more than its bound; a statement's own LIMIT and OFFSET must win.
    from receivables.warehouse import io

    create_input_tables(warehouse_engine)
    write_frame(warehouse_engine, ar_customers, pd.DataFrame({
        "company_id": "c1", "customer_id": [f"cu{i}" for i in range(7)], "name": [f"N{i}" for i in range(7)],
        "updated_at": datetime(2026, 11, 20)}))
    by_id = sa.select(ar_customers.c.customer_id).order_by(ar_customers.c.customer_id.desc())
    for small_rows in (5_000, 3, 0):  # small; a big read (COPY) on PostgreSQL; COPY for every read
        monkeypatch.setattr(io, "_SMALL_READ_ROWS", small_rows)

        def ids(stmt):
            return read_frame(warehouse_engine, stmt)["customer_id"].tolist()

        assert ids(by_id) == [f"cu{i}" for i in range(6, -1, -1)]
        assert ids(by_id.limit(2)) == ["cu6", "cu5"]
        assert ids(by_id.offset(5)) == ["cu1", "cu0"]
        assert ids(by_id.limit(2).offset(1)) == ["cu5", "cu4"]


def test_a_small_postgresql_write_is_one_insert_and_stores_what_copy_stores(warehouse_engine, monkeypatch):
    from receivables.warehouse import io

    if warehouse_engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL writes through COPY")
    create_input_tables(warehouse_engine)
    frame = pd.DataFrame({
        "company_id": ["c1"] * 3, "invoice_id": ["i1", "i2", "i3"], "invoice_number": ["A,1", 'B"2', "C\n3"],
        "customer_id": ["cu1"] * 3, "issue_date": [date(2026, 11, 20)] * 3,
        "due_date": [date(2026, 12, 20), date(2026, 12, 21), date(2999, 12, 31)],
        "currency": ["GBP", "JPY", "BHD"], "currency_rate": [None, Decimal("150.25"), Decimal("1E-3")],
        "status": ["submitted"] * 3, "note": ["", None, "é"],
        "updated_at": [datetime(2026, 11, 20, 10, 30, 15, 123456)] * 3})
    ledger = _ledger(3).assign(source_total=[Decimal("0.1") + Decimal("0.2"), None, Decimal("-0.005")])
    statements = []
    sa.event.listen(warehouse_engine, "before_cursor_execute", lambda c, cur, statement, *a:
                    statements.append(statement))
    written = {}
    for label, small_rows in (("insert", 1_000), ("copy", 0)):
        monkeypatch.setattr(io, "_SMALL_WRITE_ROWS", small_rows)
        statements.clear()
        write_frame(warehouse_engine, ar_invoices, frame)
        write_frame(warehouse_engine, ar_push_ledger, ledger, mode="upsert")
        write_frame(warehouse_engine, ar_push_ledger, ledger.assign(status="success"), mode="upsert")
        if label == "insert":  # no temporary table staged, nothing created
            assert not [s for s in statements if "TEMP" in s or "DROP" in s], statements
        written[label] = (read_frame(warehouse_engine, ar_invoices).sort_values("invoice_id")
                          .reset_index(drop=True),
                          read_frame(warehouse_engine, ar_push_ledger).sort_values("source_id")
                          .reset_index(drop=True))
        delete_rows(warehouse_engine, ar_invoices, where={"company_id": "c1"})
        delete_rows(warehouse_engine, ar_push_ledger, where={"company_id": "c1"})
    pd.testing.assert_frame_equal(written["insert"][0], written["copy"][0])
    given = list(ledger.columns)  # the others take their defaults (the time of the write)
    pd.testing.assert_frame_equal(written["insert"][1][given], written["copy"][1][given])
    assert written["insert"][1]["status"].tolist() == ["success"] * 3
    assert written["insert"][0]["note"].iloc[0] == "" and written["insert"][0]["note"].isna().iloc[1]


@pytest.mark.parametrize("small_read_rows", [5_000, 0], ids=["small read", "COPY read"])
def test_equal_amounts_written_with_different_decimals_read_back_as_written(warehouse_engine, monkeypatch,
                                                                            small_read_rows):
    # PostgreSQL keeps a NUMERIC's scale (2.5 and 2.50 are stored as written), and the payload sends the
    # amount as the warehouse holds it: a read must not hand one row another's equal-but-differently
    # written Decimal, or a document's bytes (and its content hash) would depend on which row came first.
    from receivables.warehouse import io

    if warehouse_engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores an input NUMERIC as REAL: it keeps no scale to read back")
    monkeypatch.setattr(io, "_SMALL_READ_ROWS", small_read_rows)
    create_input_tables(warehouse_engine)
    written = ["2.5", "2.50", "2.500", "10", "10.00", "0", "0.00"]
    write_frame(warehouse_engine, ar_invoice_lines, pd.DataFrame({
        "company_id": "c1", "invoice_id": "i1", "line_no": range(1, len(written) + 1),
        "quantity": [Decimal(t) for t in written], "unit_amount": Decimal("1"),
        "discount_amount": Decimal("0"),
    }))
    back = read_frame(warehouse_engine, ar_invoice_lines).sort_values("line_no")
    assert [str(v) for v in back["quantity"]] == written
