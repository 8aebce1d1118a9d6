"""The push-operation list's ``requestedOnUtc`` index gives exactly what filtering every operation gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from codat_sandbox import query as codat_query
from codat_sandbox.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


def _slow(store: Store, company_id: str, query: str) -> list[dict]:
    """The old path: every operation, decoded, through the query language's filter, in list order."""
    operations = [row.decode() for row in store.operations[company_id].values()]
    return codat_query.filter_records(operations, query)


def _literal(base: float, offset_ms: int, style: int) -> str:
    moment = datetime.fromtimestamp(base, UTC) + timedelta(milliseconds=offset_ms)
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if style == 1:
        return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    if style == 2:  # another offset, same instant
        return moment.astimezone(datetime.now().astimezone().tzinfo).isoformat()
    if style == 3:  # sub-millisecond: not a server-time key, the filter's own path
        return (moment + timedelta(microseconds=1)).isoformat()
    return moment.strftime("%Y-%m-%d")


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.integers(min_value=-1500, max_value=1500), min_size=0, max_size=25),
       probes=st.lists(st.tuples(st.sampled_from([">=", ">", "<=", "<", "=", "!="]),
                                 st.integers(min_value=-3000, max_value=40000), st.integers(0, 4)),
                       min_size=1, max_size=6),
       settle_every=st.integers(min_value=1, max_value=4))
def test_time_queries_match_the_filter_over_every_operation(steps, probes, settle_every):
    clock = Clock()
    store = Store(None, push_delay=0.5, clock=clock)
    company = store.create_company("Index Ltd", "GBP")
    company_id, connection_id = company["id"], company["dataConnections"][0]["id"]
    start = clock.now
    for number, step in enumerate(steps):
        clock.now += step / 1000  # negative steps: a clock that goes back (the index must step aside)
        store.submit_push(company_id, connection_id, "customers",
                          {"customerName": f"C{number}", "status": "Active"})
        if number % settle_every == 0:
            store.settle(company_id)
        for operator, offset, style in probes:
            text = f"requestedOnUtc{operator}{_literal(start, offset, style)}"
            assert list(store.query(company_id, "pushOperations", text, None)) == _slow(store, company_id,
                                                                                        text)


def test_a_changed_request_time_rebuilds_the_index():
    clock = Clock()
    store = Store(None, push_delay=0, clock=clock)
    company = store.create_company("Index Ltd", "GBP")
    company_id, connection_id = company["id"], company["dataConnections"][0]["id"]
    keys = []
    for _ in range(4):
        clock.now += 1
        keys.append(store.submit_push(company_id, connection_id, "customers",
                                      {"customerName": "C", "status": "Active"})["pushOperationKey"])
    text = "requestedOnUtc>=" + store.operation(company_id, keys[2])["requestedOnUtc"]
    listed = store.query(company_id, "pushOperations", text, None)
    assert [op["pushOperationKey"] for op in listed] == keys[2:]
    assert store._operations_by_time(company_id, text) is not None  # the index answered
    moved = store.operation(company_id, keys[0])
    moved["requestedOnUtc"] = "2099-01-01T00:00:00.000Z"
    store._save_operation(company_id, keys[0], moved)
    assert store._operations_by_time(company_id, text) is None  # out of order now: every row is filtered
    got = [op["pushOperationKey"] for op in store.query(company_id, "pushOperations", text, None)]
    assert got == [op["pushOperationKey"] for op in _slow(store, company_id, text)] == [keys[0], *keys[2:]]
