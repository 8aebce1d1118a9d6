"""extract: platform records into ``ar_ref_*`` / ``ar_platform_documents`` rows, watermarks, and a day's
batch.

The pure converters are fed odd shapes (no records, records without an id, missing fields, deleted
records, offsets in timestamps); the warehouse parts run on SQLite and PostgreSQL (``warehouse_engine``).
The platform is a small recording stand-in with ``iter_records`` and ``refresh`` (the client calls
extract makes); the sandbox-backed pulls and read-back are covered in test_jobs.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from receivables import documents, extract
from receivables.codat.errors import CodatServerError
from receivables.codat.models import PullOperation
from receivables.warehouse import io, schema
from receivables.warehouse.migrations import create_input_tables

T = schema.metadata.tables
NOW = datetime(2026, 11, 21, 3, 0)
REF = {r.data_type: r for r in extract.REFERENCE_TYPES}
COMPANY = "c-1"


class Platform:
    """Answers ``iter_records`` from per-type records, applying the ``modifiedDate>`` query; records calls."""

    def __init__(self, records: dict[str, list[dict]]) -> None:
        self.records = records
        self.calls: list[dict] = []
        self.refresh_status: dict[str, str | None] = {}  # data type -> its refresh's status (None: refused)

    def iter_records(self, company_id, data_type, *, connection_id=None, query=None, order_by=None):
        self.calls.append({"company_id": company_id, "data_type": data_type, "connection_id": connection_id,
                           "query": query, "order_by": order_by})
        rows = self.records.get(data_type, [])
        if query:
            field, _, value = query.partition(">")
            assert field == "modifiedDate", query
            rows = [r for r in rows if r.get("modifiedDate", "") > value.strip('"')]
        return iter(sorted(rows, key=lambda r: r.get("modifiedDate") or ""))

    def refresh(self, company_id, data_type, *, deadline_seconds=None):
        self.calls.append({"refresh": data_type, "deadline_seconds": deadline_seconds})
        status = self.refresh_status.get(data_type, "Complete")
        if status is None:
            return None
        return PullOperation.model_validate({"id": "pull-1", "companyId": company_id, "connectionId": "k",
                                             "dataType": data_type, "status": status,
                                             "requested": NOW.isoformat(),
                                             "progress": 100 if status == "Complete" else 0,
                                             "isCompleted": status == "Complete", "isErrored": False})


# ------------------------------------------------------------------------------------ pure frames

def test_no_records_give_an_empty_frame_with_the_table_columns():
    for ref in extract.REFERENCE_TYPES:
        frame = extract.reference_frame(ref, [], company_id=COMPANY, fetched_at=NOW)
        assert frame.empty and list(frame.columns) == [c.name for c in ref.table.columns], ref.data_type
    docs = extract.platform_document_frame("invoices", [], company_id=COMPANY, fetched_at=NOW)
    assert docs.empty and list(docs.columns) == [c.name for c in T["ar_platform_documents"].columns]


def test_reference_rows_keep_deleted_records_and_skip_records_without_an_id():
    records = [
        {"id": "tr-20", "name": "Standard 20%", "status": "Active", "code": "S", "effectiveTaxRate": 20.0,
         "totalTaxRate": "20.000", "modifiedDate": "2026-11-20T10:00:00+02:00"},
        {"id": "tr-old", "name": "Old", "status": "Archived", "metadata": {"isDeleted": True}},
        {"id": None, "name": "no id"}, {"name": "no id either"},
    ]
    frame = extract.reference_frame(REF["taxRates"], records, company_id=COMPANY, fetched_at=NOW)
    assert frame["platform_id"].tolist() == ["tr-20", "tr-old"]
    assert frame["is_deleted"].tolist() == [False, True]
    first = frame.iloc[0]
    assert first["effective_tax_rate"] == Decimal("20.0") and first["total_tax_rate"] == Decimal("20.000")
    # The offset is taken into account: stored as naive UTC.
    assert first["modified_date"] == pd.Timestamp("2026-11-20 08:00:00")
    assert pd.isna(frame.iloc[1]["modified_date"]) and pd.isna(frame.iloc[1]["effective_tax_rate"])
    assert (frame["company_id"] == COMPANY).all() and (frame["fetched_at"] == NOW).all()


def test_reference_fields_of_each_type_land_in_their_columns():
    account = extract.reference_frame(REF["accounts"], [{
        "id": "a1", "name": "Sales", "status": "Active", "nominalCode": "4000", "type": "Income",
        "currency": "GBP", "isBankAccount": None,
        "validDatatypeLinks": [{"property": "id", "links": ["invoices"]}]}], company_id=COMPANY,
                                      fetched_at=NOW)
    assert not account.iloc[0]["is_bank_account"]  # a null flag is "not a bank account"
    assert account.iloc[0]["valid_datatype_links"] == '[{"links": ["invoices"], "property": "id"}]'
    bank = extract.reference_frame(REF["bankAccounts"], [{"id": "b1", "accountName": "Current"}],
                                   company_id=COMPANY, fetched_at=NOW)
    assert bank.iloc[0]["name"] == "Current" and bank.iloc[0]["status"] == "Active"  # Codat omits it
    customer = extract.reference_frame(REF["customers"],
                                       [{"id": "cu", "customerName": "Acme", "status": "Active",
                                         "emailAddress": "ar@acme.test"}],
                                       company_id=COMPANY, fetched_at=NOW)
    assert customer.iloc[0][["name", "email"]].tolist() == ["Acme", "ar@acme.test"]
    assert pd.isna(customer.iloc[0]["default_currency"])


def test_platform_documents_carry_the_identity_and_open_balance_of_their_type():
    invoices = extract.platform_document_frame("invoices", [
        {"id": "p1", "invoiceNumber": "INV-1", "customerRef": {"id": "cu"}, "currency": "JPY",
         "totalAmount": 1235, "amountDue": 0, "status": "Paid", "dueDate": "2026-12-01T00:00:00Z",
         "modifiedDate": "2026-11-20T10:00:00Z"},
        {"id": "p2", "invoiceNumber": "INV-2", "totalAmount": 10.125, "metadata": {"isDeleted": True}},
    ], company_id=COMPANY, fetched_at=NOW)
    assert invoices["document_number"].tolist() == ["INV-1", "INV-2"]
    assert invoices["total_amount"].tolist() == [Decimal("1235"), Decimal("10.125")]  # exact, not floats
    assert invoices.iloc[0]["amount_due"] == Decimal("0") and pd.isna(invoices.iloc[1]["amount_due"])
    assert pd.isna(invoices.iloc[1]["customer_platform_id"]) and invoices["is_deleted"].tolist() == [False,
                                                                                                     True]
    credit = extract.platform_document_frame("creditNotes", [{"id": "k", "creditNoteNumber": "CN-1",
                                                             "remainingCredit": "4.5"}],
                                             company_id=COMPANY, fetched_at=NOW)
    assert credit.iloc[0][["document_number", "amount_due"]].tolist() == ["CN-1", Decimal("4.5")]
    payments = extract.platform_document_frame("payments",
                                               [{"id": "pay", "reference": "RCPT-1", "amountDue": 9}],
                                               company_id=COMPANY, fetched_at=NOW)
    assert payments.iloc[0]["document_number"] == "RCPT-1" and pd.isna(payments.iloc[0]["amount_due"])
    with pytest.raises(KeyError):
        extract.platform_document_frame("bills", [], company_id=COMPANY, fetched_at=NOW)


# ------------------------------------------------------------------------------------ watermarks

def _watermarks(engine) -> dict[str, str]:
    state = io.read_frame(engine, T["ar_sync_state"], where={"company_id": COMPANY})
    return dict(zip(state["data_type"], state["watermark"], strict=True))


def test_first_pull_is_full_then_only_strictly_newer_records(warehouse_engine):
    platform = Platform({"customers": [
        {"id": "a", "customerName": "A", "status": "Active", "modifiedDate": "2026-11-19T10:00:00Z"},
        {"id": "b", "customerName": "B", "status": "Active", "modifiedDate": "2026-11-20T10:00:00Z"}]})
    first = extract.fetch_changed(platform, warehouse_engine, company_id=COMPANY, data_type="customers")
    assert platform.calls[-1]["query"] is None and platform.calls[-1]["order_by"] == "modifiedDate"
    assert [r["id"] for r in first.records] == ["a", "b"] and first.newest == "2026-11-20T10:00:00Z"
    first.advance(NOW)
    assert _watermarks(warehouse_engine) == {"customers": "2026-11-20T10:00:00Z"}

    again = extract.fetch_changed(platform, warehouse_engine, company_id=COMPANY, data_type="customers")
    assert platform.calls[-1]["query"] == "modifiedDate>2026-11-20T10:00:00Z"
    assert again.records == [] and again.newest == again.previous == "2026-11-20T10:00:00Z"
    again.advance(NOW)  # nothing new: the watermark stays
    assert _watermarks(warehouse_engine) == {"customers": "2026-11-20T10:00:00Z"}

    full = extract.fetch_changed(platform, warehouse_engine, company_id=COMPANY, data_type="customers",
                                 full=True)
    assert platform.calls[-1]["query"] is None and len(full.records) == 2


def test_a_crash_before_advance_fetches_the_same_records_again(warehouse_engine):
    platform = Platform({"accounts": [{"id": "x", "modifiedDate": "2026-11-20T10:00:00Z"}]})
    # never advanced
    extract.fetch_changed(platform, warehouse_engine, company_id=COMPANY, data_type="accounts")
    retry = extract.fetch_changed(platform, warehouse_engine, company_id=COMPANY, data_type="accounts")
    assert [r["id"] for r in retry.records] == ["x"] and retry.previous is None


def test_records_without_modified_date_do_not_move_the_watermark(warehouse_engine):
    platform = Platform({"trackingCategories": [{"id": "t1", "name": "Region"}]})
    changed = extract.fetch_changed(platform, warehouse_engine, company_id=COMPANY,
                                    data_type="trackingCategories")
    assert changed.newest is None
    changed.advance(NOW)
    assert _watermarks(warehouse_engine) == {}


def test_reference_pull_upserts_each_type_and_reads_bank_accounts_per_connection(warehouse_engine):
    records = {
        "accounts": [{"id": "a1", "name": "Sales", "status": "Active",
                      "modifiedDate": "2026-11-20T10:00:00Z"}],
        "bankAccounts": [{"id": "b1", "accountName": "Current", "modifiedDate": "2026-11-20T10:00:00Z"}],
        "taxRates": [], "trackingCategories": [],
        "customers": [{"id": "cu", "customerName": "Acme", "status": "Active",
                       "modifiedDate": "2026-11-20T10:00:00Z"}],
    }
    platform = Platform(records)
    counts = extract.pull_reference_data(platform, warehouse_engine, company_id=COMPANY,
                                         connection_id="conn-1", now=NOW)
    assert counts == {"accounts": 1, "bankAccounts": 1, "taxRates": 0, "trackingCategories": 0,
                      "customers": 1}
    scoped = {c["data_type"]: c["connection_id"] for c in platform.calls}
    assert scoped == {"accounts": None, "bankAccounts": "conn-1", "taxRates": None,
                      "trackingCategories": None, "customers": None}

    # Later: the account is renamed, the customer deleted. Both rows are updated in place, none is lost.
    records["accounts"][0].update(name="Sales UK", modifiedDate="2026-11-21T09:00:00Z")
    records["customers"][0].update(metadata={"isDeleted": True}, modifiedDate="2026-11-21T09:00:00Z")
    counts = extract.pull_reference_data(platform, warehouse_engine, company_id=COMPANY,
                                         connection_id="conn-1",
                                         now=NOW, data_types=["accounts", "customers"])
    assert counts == {"accounts": 1, "customers": 1}
    ref = extract.read_reference(warehouse_engine, [COMPANY])
    assert ref["accounts"]["name"].tolist() == ["Sales UK"]
    assert ref["customers"]["is_deleted"].tolist() == [True] and len(ref["bankAccounts"]) == 1
    assert extract.read_reference(warehouse_engine, ["another"])["accounts"].empty
    # A reader that needs only some types reads only those; a misspelt type is an error, not an empty frame.
    some = extract.read_reference(warehouse_engine, [COMPANY], ["taxRates", "customers"])
    assert sorted(some) == ["customers", "taxRates"] and some["customers"].equals(ref["customers"])
    with pytest.raises(ValueError, match="unknown reference data type.*taxrates"):
        extract.read_reference(warehouse_engine, [COMPANY], ["taxrates"])


# ------------------------------------------------------------------------------------ the day's batch

def _customer(cid: str, updated: str) -> dict:
    return {"company_id": COMPANY, "customer_id": cid, "name": f"Customer {cid}", "email": None,
            "default_currency": "GBP", "updated_at": pd.Timestamp(updated)}


def _invoice(iid: str, updated: str, customer: str = "cu-1") -> dict:
    return {"company_id": COMPANY, "invoice_id": iid, "invoice_number": iid.upper(), "customer_id": customer,
            "issue_date": date(2026, 11, 20), "due_date": date(2026, 12, 20), "currency": "GBP",
            "currency_rate": None, "status": "submitted", "note": None, "updated_at": pd.Timestamp(updated)}


def _line(iid: str, n: int) -> dict:
    return {"company_id": COMPANY, "invoice_id": iid, "line_no": n, "description": "x",
            "quantity": Decimal(1),
            "unit_amount": Decimal("10.00"), "discount_amount": Decimal(0), "tax_code": None,
            "revenue_code": "SALES", "tracking_code": None}


@pytest.fixture
def inputs(warehouse_engine):
    """The warehouse with the data team's input tables, empty."""
    create_input_tables(warehouse_engine)
    return warehouse_engine


def test_an_empty_warehouse_gives_every_table_empty_with_its_columns(inputs):
    warehouse_engine = inputs
    batch = extract.load_batch(warehouse_engine, company_id=COMPANY, business_date=date(2026, 11, 20),
                               timezone="UTC", carried_over={"ar_invoices": ["does-not-exist"]})
    assert set(batch.frames) == set(documents.BATCH_TABLES)
    assert set(batch.counts().values()) == {0}
    for name, frame in batch.frames.items():
        assert list(frame.columns) == [c.name for c in T[name].columns], name


def test_batch_is_the_business_day_in_its_timezone_plus_carried_over_documents(inputs):
    warehouse_engine = inputs
    # Business day 2026-11-20 in Tokyo is [2026-11-19 15:00, 2026-11-20 15:00) UTC (naive UTC in the
    # warehouse).
    io.write_frame(warehouse_engine, T["ar_customers"], pd.DataFrame([_customer("cu-1", "2026-11-19 15:00")]))
    io.write_frame(warehouse_engine, T["ar_invoices"], pd.DataFrame([
        _invoice("inv-start", "2026-11-19 15:00"),      # first instant of the day: in
        _invoice("inv-end", "2026-11-20 15:00"),        # first instant of the next day: out
        _invoice("inv-old", "2026-10-01 09:00"),        # an earlier day, but carried over (not final)
        _invoice("inv-older", "2026-09-01 09:00"),      # an earlier day, not carried: out
    ]))
    io.write_frame(warehouse_engine, T["ar_invoice_lines"], pd.DataFrame(
        [_line("inv-start", 1), _line("inv-start", 2), _line("inv-end", 1), _line("inv-old", 1),
         _line("inv-older", 1)]))
    other = _invoice("inv-other", "2026-11-20 01:00") | {"company_id": "c-2"}
    io.write_frame(warehouse_engine, T["ar_invoices"], pd.DataFrame([other]))

    batch = extract.load_batch(warehouse_engine, company_id=COMPANY, business_date=date(2026, 11, 20),
                               timezone="Asia/Tokyo", carried_over={"ar_invoices": ["inv-old", "inv-old"]})
    assert sorted(batch["ar_invoices"]["invoice_id"]) == ["inv-old", "inv-start"]
    lines = batch["ar_invoice_lines"]
    assert sorted(zip(lines["invoice_id"], lines["line_no"], strict=True)) == [
        ("inv-old", 1), ("inv-start", 1), ("inv-start", 2)]
    assert batch["ar_customers"]["customer_id"].tolist() == ["cu-1"]
    assert batch.counts()["ar_invoices"] == 2 and batch.counts()["ar_payments"] == 0
    assert batch.company_id == COMPANY and batch.business_date == date(2026, 11, 20)

    utc = extract.load_batch(warehouse_engine, company_id=COMPANY, business_date=date(2026, 11, 20),
                             timezone="UTC")
    assert sorted(utc["ar_invoices"]["invoice_id"]) == ["inv-end"]


def _cn_allocation(cn: str, inv: str, updated: str) -> dict:
    return {"company_id": COMPANY, "credit_note_id": cn, "invoice_id": inv, "amount": Decimal("5.00"),
            "allocated_on": date(2026, 11, 1), "updated_at": pd.Timestamp(updated)}


def test_a_carried_over_credit_note_allocation_brings_that_pair_and_not_its_credit_notes_others(inputs):
    # A rerun carries over a rejected allocation; the credit note's allocation of an earlier day (already
    # pushed) must not come back with it and be decided again against today's state (found by
    # tests/generative: that earlier allocation's invoice had been voided since).
    io.write_frame(inputs, T["ar_credit_note_allocations"], pd.DataFrame([
        _cn_allocation("cn-1", "inv-a", "2026-11-01 09:00"),   # an earlier day, pushed then: out
        _cn_allocation("cn-1", "inv-b", "2026-11-01 10:00"),   # an earlier day, carried over: in
        _cn_allocation("cn-2", "inv-b", "2026-11-20 10:00"),   # the day's own: in
    ]))
    batch = extract.load_batch(inputs, company_id=COMPANY, business_date=date(2026, 11, 20), timezone="UTC",
                               carried_over={"ar_credit_note_allocations": [("cn-1", "inv-b")]})
    allocations = batch["ar_credit_note_allocations"]
    assert sorted(zip(allocations["credit_note_id"], allocations["invoice_id"], strict=True)) == [
        ("cn-1", "inv-b"), ("cn-2", "inv-b")]


def test_more_carried_over_ids_than_one_query_takes_are_all_read_once_with_their_lines(inputs, monkeypatch):
    monkeypatch.setattr(extract.selects, "MAX_IDS_PER_QUERY", 3)
    old = [f"inv-old-{n}" for n in range(8)]
    io.write_frame(inputs, T["ar_invoices"], pd.DataFrame(
        [_invoice(i, "2026-10-01 09:00") for i in old] + [_invoice("inv-today", "2026-11-20 09:00")]))
    io.write_frame(inputs, T["ar_invoice_lines"], pd.DataFrame(
        [_line(i, 1) for i in old] + [_line("inv-today", 1), _line("inv-today", 2)]))
    batch = extract.load_batch(inputs, company_id=COMPANY, business_date=date(2026, 11, 20), timezone="UTC",
                               carried_over={"ar_invoices": old})
    assert sorted(batch["ar_invoices"]["invoice_id"]) == sorted(old + ["inv-today"])
    lines = batch["ar_invoice_lines"]
    assert len(lines) == len(old) + 2
    assert not lines.duplicated(["invoice_id", "line_no"]).any()


def test_a_query_never_silently_drops_ids_beyond_its_limit():
    table = T["ar_invoices"]
    ids = [f"i{n}" for n in range(extract.selects.MAX_IDS_PER_QUERY + 1)]
    with pytest.raises(ValueError, match="use in_chunks"):
        extract.selects.updated_between(table, COMPANY, datetime(2026, 11, 20), datetime(2026, 11, 21),
                                        id_columns=("invoice_id",), extra_ids=ids)
    assert [len(c) for c in extract.selects.in_chunks(ids)] == [extract.selects.MAX_IDS_PER_QUERY, 1]
    assert extract.selects.in_chunks([]) == [[]]


# ------------------------------------------------------------------------------------ read-back

INVOICE = {"id": "p1", "invoiceNumber": "INV-1", "totalAmount": 10, "modifiedDate": "2026-11-20T10:00:00Z"}


def test_the_read_back_refreshes_each_type_first_and_moves_the_watermark_after_a_complete_refresh(
        warehouse_engine):
    platform = Platform({"invoices": [INVOICE]})
    read = extract.refresh_platform_documents(platform, warehouse_engine, company_id=COMPANY,
                                              connection_id="k", now=NOW, refresh_deadline_seconds=3)
    assert dict(read) == {"invoices": 1, "creditNotes": 0, "payments": 0,
                          "directCosts": 0} and read.stale == {}
    for data_type in documents.READ_BACK:  # each list is read only after its refresh
        refreshed = platform.calls.index({"refresh": data_type, "deadline_seconds": 3})
        listed = next(i for i, c in enumerate(platform.calls) if c.get("data_type") == data_type)
        assert refreshed < listed
    assert _watermarks(warehouse_engine) == {"platform:invoices": "2026-11-20T10:00:00Z"}


@pytest.mark.parametrize("status", ["Queued", "Fetching", None])
def test_a_refresh_that_does_not_complete_leaves_the_watermark_and_reports_the_type_stale(
        warehouse_engine, status):
    platform = Platform({"invoices": [INVOICE]})
    platform.refresh_status = {"invoices": status}
    read = extract.refresh_platform_documents(platform, warehouse_engine, company_id=COMPANY,
                                              connection_id="k", now=NOW)
    assert set(read.stale) == {"invoices"} and (status or "would not refresh") in read.stale["invoices"]
    assert read["invoices"] == 1, "what the platform shows is still read (and kept)"
    assert _watermarks(warehouse_engine) == {}, "no watermark moves without a completed refresh"
    stored = io.read_frame(warehouse_engine, T["ar_platform_documents"], where={"company_id": COMPANY})
    assert stored["platform_id"].tolist() == ["p1"]

    platform.refresh_status = {}
    again = extract.refresh_platform_documents(platform, warehouse_engine, company_id=COMPANY,
                                               connection_id="k", now=NOW)
    assert again["invoices"] == 1 and again.stale == {}, "the same records are read again once it completes"
    assert _watermarks(warehouse_engine) == {"platform:invoices": "2026-11-20T10:00:00Z"}


# ------------------------------------------------------------------------------------ reads at once

class MeetingPlatform(Platform):
    """A platform that answers no list until every expected list request has arrived: a pull that asked one
    type after another would wait forever (the barrier breaks after 10 s and the pull fails)."""

    def __init__(self, records: dict[str, list[dict]], together: int, fail: str | None = None) -> None:
        super().__init__(records)
        self.barrier = threading.Barrier(together, timeout=10)
        self.fail = fail

    def iter_records(self, company_id, data_type, *, connection_id=None, query=None, order_by=None):
        self.barrier.wait()
        if data_type == self.fail:
            raise CodatServerError(f"GET {data_type} answered 500", status_code=500)
        return super().iter_records(company_id, data_type, connection_id=connection_id, query=query,
                                    order_by=order_by)


def _reference_records() -> dict[str, list[dict]]:
    return {ref.data_type: [{"id": f"{ref.data_type}-1", "name": "x", "accountName": "x", "customerName": "x",
                             "status": "Active", "modifiedDate": "2026-11-20T10:00:00Z"}]
            for ref in extract.REFERENCE_TYPES}


def test_the_reference_types_are_read_at_once_and_written_in_their_order(warehouse_engine, caplog):
    platform = MeetingPlatform(_reference_records(), together=len(extract.REFERENCE_TYPES))
    with caplog.at_level("INFO", logger="receivables.extract"):
        counts = extract.pull_reference_data(platform, warehouse_engine, company_id=COMPANY,
                                             connection_id="conn-1", now=NOW)
    order = [ref.data_type for ref in extract.REFERENCE_TYPES]
    assert list(counts) == order and set(counts.values()) == {1}
    logged = [next(t for t in order if f": {t} —" in r.getMessage()) for r in caplog.records
              if " record(s) " in r.getMessage()]
    assert logged == order
    assert set(_watermarks(warehouse_engine)) == set(order)


def test_a_failing_reference_type_fails_the_pull_and_nothing_after_it_is_written(warehouse_engine):
    order = [ref.data_type for ref in extract.REFERENCE_TYPES]
    failing = order[2]
    platform = MeetingPlatform(_reference_records(), together=len(order), fail=failing)
    with pytest.raises(CodatServerError, match=failing):
        extract.pull_reference_data(platform, warehouse_engine, company_id=COMPANY, connection_id="conn-1",
                                    now=NOW)
    # As a loop would leave it: the types before the failure stored and advanced, none from it on.
    assert set(_watermarks(warehouse_engine)) == set(order[:2])
    ref = extract.read_reference(warehouse_engine, [COMPANY])
    assert [t for t in order if len(ref[t])] == order[:2]


def test_the_read_back_refreshes_and_reads_every_type_at_once(warehouse_engine):
    platform = MeetingPlatform({"invoices": [INVOICE]}, together=len(documents.READ_BACK))
    read = extract.refresh_platform_documents(platform, warehouse_engine, company_id=COMPANY,
                                              connection_id="k", now=NOW, refresh_deadline_seconds=3)
    assert list(read) == list(documents.READ_BACK) and read["invoices"] == 1 and read.stale == {}
    assert _watermarks(warehouse_engine) == {"platform:invoices": "2026-11-20T10:00:00Z"}
