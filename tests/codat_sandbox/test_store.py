"""The store as plain objects: lazy settlement on a controlled clock, effects, reload from SQLite."""

from __future__ import annotations

import pytest

from codat_sandbox.store import NotFound, Store
from tests.codat_sandbox.builders import invoice, payment


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _company(store: Store) -> tuple[str, str]:
    company = store.create_company("Store Ltd", "GBP")
    return company["id"], company["dataConnections"][0]["id"]


def test_an_operation_stays_pending_until_the_push_delay_has_passed(clock):
    store = Store(None, push_delay=2.0, clock=clock)
    company_id, connection_id = _company(store)
    operation = store.submit_push(company_id, connection_id, "customers",
                                  {"customerName": "A", "status": "Active"})
    store.settle(company_id)
    assert operation["status"] == "Pending" and "completedOnUtc" not in operation
    clock.now += 2.0
    store.settle(company_id)
    assert operation["status"] == "Success"
    record_id = operation["changes"][0]["recordRef"]["id"]
    assert store.get_record(company_id, "customers", record_id)["customerName"] == "A"


def test_pending_forever_times_out_only_after_timeout_in_minutes(clock):
    store = Store(None, push_delay=0, clock=clock)
    company_id, connection_id = _company(store)
    operation = store.submit_push(company_id, connection_id, "customers",
                                  {"customerName": "A", "status": "Active"},
                                  timeout_minutes=5, fate="pending_forever")
    clock.now += 299
    store.settle(company_id)
    assert operation["status"] == "Pending"
    clock.now += 2
    store.settle(company_id)
    assert (operation["status"], operation["changes"]) == ("TimedOut", [])
    assert store.list_records(company_id, "customers") == []


def test_a_payment_settles_against_the_invoice_it_pays(clock):
    store = Store(None, push_delay=1.0, clock=clock)
    company_id, connection_id = _company(store)
    customer = store.submit_push(company_id, connection_id, "customers",
                                 {"customerName": "A", "status": "Active"})
    clock.now += 1
    store.settle(company_id)
    customer_id = customer["changes"][0]["recordRef"]["id"]
    created = store.submit_push(company_id, connection_id, "invoices", invoice(company_id, customer_id))
    clock.now += 0.5
    store.settle(company_id)  # half the delay: still pending
    assert created["status"] == "Pending"
    clock.now += 1
    store.settle(company_id)
    invoice_id = created["changes"][0]["recordRef"]["id"]
    paid = store.submit_push(company_id, connection_id, "payments",
                             payment(company_id, customer_id,
                                     [{"type": "Invoice", "id": invoice_id, "amount": -120}]))
    clock.now += 1
    store.settle(company_id)
    assert paid["status"] == "Success"
    assert store.get_record(company_id, "invoices", invoice_id)["status"] == "Paid"


def test_state_reloads_from_the_sqlite_file(tmp_path, clock):
    path = str(tmp_path / "state.db")
    store = Store(path, push_delay=1.0, clock=clock)
    company_id, connection_id = _company(store)
    pending = store.submit_push(company_id, connection_id, "customers",
                                {"customerName": "A", "status": "Active"})
    store.close()
    reloaded = Store(path, push_delay=1.0, clock=clock)
    assert reloaded.operation(company_id, pending["pushOperationKey"])["status"] == "Pending"
    clock.now += 1
    reloaded.settle(company_id)
    operation = reloaded.operation(company_id, pending["pushOperationKey"])
    assert operation["status"] == "Success"
    assert len(reloaded.list_records(company_id, "customers")) == 1
    with pytest.raises(NotFound):
        reloaded.company("nope")


def test_the_same_company_id_always_yields_the_same_reference_ids(clock):
    first = Store(None, clock=clock)
    second = Store(None, clock=clock)
    one = first.create_company("A", "GBP", company_id="fixed-id")
    two = second.create_company("A", "GBP", company_id="fixed-id")
    assert one["dataConnections"][0]["id"] == two["dataConnections"][0]["id"]
    ids = [[r["id"] for r in s.list_records("fixed-id", "taxRates")] for s in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == 6


def _customers(store: Store, clock: Clock, names: list[str]) -> tuple[str, list[str]]:
    company_id, connection_id = _company(store)
    operations = [store.submit_push(company_id, connection_id, "customers",
                                    {"customerName": n, "status": "Active"})
                  for n in names]
    clock.now += 1
    store.settle(company_id)
    return company_id, [op["changes"][0]["recordRef"]["id"] for op in operations]


def test_a_listing_page_is_the_stored_json_of_its_records_in_order(clock):
    """Pages are served from the compact rows as they are: the same bytes as the records' own JSON."""
    import orjson

    store = Store(None, push_delay=1.0, clock=clock)
    company_id, _ids = _customers(store, clock, ["Cobalt", "alpha", "Bravo"])
    listing = store.query(company_id, "customers", "customerName!=Bravo", "customerName")
    assert [r["customerName"] for r in listing] == ["alpha", "Cobalt"]
    assert orjson.dumps(listing.json_slice(0, 2)) == orjson.dumps(listing[0:2])
    # an un-indexed field (contacts, metadata) filters on the decoded records, with the same result shape
    assert [r["customerName"] for r in store.query(company_id, "customers", "metadata.isDeleted=false",
                                                    "-customerName")] == ["Cobalt", "Bravo", "alpha"]


def test_a_record_read_is_a_copy_changes_count_only_through_the_store(clock):
    store = Store(None, push_delay=1.0, clock=clock)
    company_id, (record_id,) = _customers(store, clock, ["A"])
    store.get_record(company_id, "customers", record_id)["customerName"] = "changed by a reader"
    assert store.get_record(company_id, "customers", record_id)["customerName"] == "A"
    store.patch_raw(company_id, "customers", record_id, {"customerName": "B"})
    assert store.get_record(company_id, "customers", record_id)["customerName"] == "B"
    assert [r["customerName"] for r in store.query(company_id, "customers", "customerName=b", None)] == ["B"]
