"""The sandbox's CPU fast paths give what the slow paths gave.

- rows packed from a copy of a primed zlib state: the same bytes as a new state per row;
- ``store.new_id``: the text ``str(uuid.UUID(bytes=…, version=4))`` gives for the same random bytes;
- a keyed POST's body parsed once (fingerprint and handler): the same fingerprint, the same answers;
- one write per answer (``serving``): the same bytes in the same order, ``100 Continue`` and ``HEAD``
  answered as before, a held head sent before a close;
- a money amount's decimal places read from its float's repr: what ``Decimal.normalize()`` says;
- a plain request path read from the scope: what Starlette's ``request.url.path`` gives.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import sqlite3
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from codat_sandbox import store as store_module
from codat_sandbox import validation
from codat_sandbox.app import _UNPARSED, Sandbox, _request_path
from codat_sandbox.serving import _CONTINUE, _HeadHoldingTransport

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=40,
)


# ---- rows ---------------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=6000))
def test_a_row_packs_to_the_same_bytes_as_with_a_new_state(raw: bytes) -> None:
    packed = store_module._pack(raw)
    assert packed == store_module._pack_slow(raw)
    assert store_module._unpack(packed) == raw


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_a_json_row_packs_to_the_same_bytes_as_with_a_new_state(value: Any) -> None:
    raw = orjson.dumps(value)
    assert store_module._pack(raw) == store_module._pack_slow(raw)


def test_packing_many_rows_in_a_row_does_not_carry_state_between_them() -> None:
    raws = [orjson.dumps({"id": str(i), "invoiceNumber": f"INV-{i}", "totalAmount": i * 1.5})
            for i in range(50)]
    fast = [store_module._pack(r) for r in raws]
    assert fast == [store_module._pack_slow(r) for r in raws]
    assert [store_module._unpack(p) for p in fast] == raws


# ---- ids ----------------------------------------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=16, max_size=16))
def test_new_id_is_uuid4_text_of_the_same_bytes(random_bytes: bytes) -> None:
    original = store_module._urandom
    store_module._urandom = lambda n: random_bytes[:n]
    try:
        assert store_module.new_id() == str(uuid.UUID(bytes=random_bytes, version=4))
    finally:
        store_module._urandom = original


def test_new_ids_are_version_4_and_distinct() -> None:
    ids = [store_module.new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:200]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


# ---- fingerprint and the body parsed once --------------------------------------------------------------
def _old_fingerprint(method: str, path: str, body: bytes) -> str:
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values.map(orjson.dumps), st.binary(max_size=200)), st.sampled_from(["POST", "PUT"]))
def test_the_fingerprint_and_the_parsed_body_are_what_two_parses_gave(body: bytes, method: str) -> None:
    path = "/companies/c/connections/d/push/invoices"
    digest, parsed = Sandbox._fingerprint_parsed(method, path, body)
    assert digest == _old_fingerprint(method, path, body) == Sandbox._fingerprint(method, path, body)
    try:
        expected = orjson.loads(body) if body else _UNPARSED
    except orjson.JSONDecodeError:
        expected = _UNPARSED
    if expected is _UNPARSED:
        assert parsed is _UNPARSED
    else:
        assert orjson.dumps(parsed) == orjson.dumps(expected)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b'"text"'])
def test_a_keyed_push_of_a_bad_body_is_refused_as_an_unkeyed_one(api, http, body) -> None:
    plain = http.post(api.push_url("customers"), content=body, headers={"content-type": "application/json"})
    keyed = http.post(api.push_url("customers"), content=body,
                      headers={"content-type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
    assert keyed.status_code == plain.status_code == 400
    assert keyed.json()["error"] == plain.json()["error"]


def test_a_keyed_push_is_settled_as_an_unkeyed_one(api, http) -> None:
    body = {"customerName": "Once Parsed Ltd", "status": "Active"}
    plain = api.settle(http.post(api.push_url("customers"), json=body).json())
    key = str(uuid.uuid4())
    keyed = api.settle(http.post(api.push_url("customers"), json=body,
                                 headers={"Idempotency-Key": key}).json())
    assert plain["status"] == keyed["status"] == "Success"
    first = api.get("customers", plain["changes"][0]["recordRef"]["id"])
    second = api.get("customers", keyed["changes"][0]["recordRef"]["id"])
    for record in (first, second):
        for name in ("id", "modifiedDate", "sourceModifiedDate"):
            record.pop(name)
    assert first == second
    replay = http.post(api.push_url("customers"), json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 200


# ---- one write per answer -----------------------------------------------------------------------------
class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_the_head_goes_out_with_the_body_in_one_write() -> None:
    real = _Recorder()
    transport = _HeadHoldingTransport(real)
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert real.writes == []
    transport.write(b"{}")
    transport.write(b"more")
    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"more"]


def test_100_continue_is_written_at_once_and_the_head_still_waits_for_the_body() -> None:
    real = _Recorder()
    transport = _HeadHoldingTransport(real)
    transport.write(_CONTINUE)
    assert real.writes == [_CONTINUE]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert real.writes == [_CONTINUE, b"HTTP/1.1 200 OK\r\n\r\nbody"]


def test_a_held_head_is_sent_before_a_close_or_any_other_transport_call() -> None:
    real = _Recorder()
    transport = _HeadHoldingTransport(real)
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.close()
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\n"] and real.closed
    other = _Recorder()
    transport = _HeadHoldingTransport(other)
    transport.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    assert transport.is_closing() is False
    assert other.writes == [b"HTTP/1.1 500 Internal Server Error\r\n\r\n"]


def _raw_exchange(server, request: bytes, then: bytes | None = None) -> bytes:
    """Send a raw HTTP/1.1 request (``Connection: close``) and read until the server closes."""
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        if then is not None:
            while b"100 Continue\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                assert chunk, received
                received += chunk
            sock.sendall(then)
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_a_head_request_is_answered_with_its_head(server) -> None:
    request = (f"HEAD /companies HTTP/1.1\r\nHost: x\r\nAuthorization: {server.auth_header}\r\n"
               "Connection: close\r\n\r\n").encode()
    answer = _raw_exchange(server, request)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\n")


def test_an_expect_100_continue_push_is_answered_after_its_body(server, api) -> None:
    body = orjson.dumps({"customerName": "Continue Ltd", "status": "Active"})
    path = api.push_url("customers")
    request = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {server.auth_header}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n"
               "Connection: close\r\n\r\n").encode()
    answer = _raw_exchange(server, request, then=body)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    operation = orjson.loads(answer.split(b"\r\n\r\n", 2)[2])
    assert operation["status"] == "Pending" and operation["dataType"] == "customers"


# ---- decimal places and the request path --------------------------------------------------------------
@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False)
       | st.decimals(min_value=-10**9, max_value=10**9, places=4, allow_nan=False).map(float)
       | st.integers(-10**8, 10**8).map(lambda n: n / 1000))
def test_decimal_places_from_the_repr_are_those_of_normalize(value: float) -> None:
    amount = validation.exact(value)
    if value.is_integer():
        return  # whole numbers never ask (no decimal places in any currency)
    assert validation._decimal_places(value, amount) == -amount.normalize().as_tuple().exponent


@pytest.mark.parametrize("value", [0.5, -0.125, 1e-05, 1.5e-07, 123.456, 1234567890123456.8, 0.1 + 0.2])
def test_decimal_places_of_known_amounts(value: float) -> None:
    amount = validation.exact(value)
    assert validation._decimal_places(value, amount) == -amount.normalize().as_tuple().exponent


@pytest.mark.parametrize(("value", "currency", "refused"), [
    (10.5, "GBP", False), (10.555, "GBP", True), (10.555, "BHD", False), (10.5, "JPY", True),
    (1e-05, "GBP", True), (100.0, "JPY", False), (7, "JPY", False),
])
def test_the_decimal_places_rule_still_refuses_what_it_refused(value, currency, refused) -> None:
    errors = validation._Errors("Invoice")
    validation._amount(errors, {"totalAmount": value}, "totalAmount", "totalAmount", True, currency)
    assert bool(errors.items) == refused


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": path, "raw_path": path.encode("utf-8", "replace"),
            "query_string": b"", "headers": [(b"host", b"127.0.0.1:8000")], "scheme": "http",
            "server": ("127.0.0.1", 8000)}


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from("abcXYZ019/_.~-?#%\\ é:@+"), max_size=40).map(lambda t: "/" + t))
def test_the_request_path_is_the_urls_path(path: str) -> None:
    request = Request(_scope(path))
    assert _request_path(request) == request.url.path


def test_the_request_path_of_a_push_route_is_the_urls_path() -> None:
    path = f"/companies/{uuid.uuid4()}/connections/{uuid.uuid4()}/push/invoices"
    request = Request(_scope(path))
    assert _request_path(request) == request.url.path == path


# ---- the state file ------------------------------------------------------------------------------------
def _records(store: store_module.Store, company_id: str) -> dict[str, list[dict[str, Any]]]:
    return {t: store.list_records(company_id, t) for t in store_module.READ_TYPES}


def test_records_stored_packed_reload_as_they_were(tmp_path) -> None:
    path = str(tmp_path / "state.db")
    first = store_module.Store(path, push_delay=0)
    company = first.create_company("Packed Ltd", "GBP")
    company_id, connection_id = company["id"], company["dataConnections"][0]["id"]
    operation = first.submit_push(company_id, connection_id, "customers",
                                  {"customerName": "Packed Customer", "status": "Active"})
    assert operation["status"] == "Success"
    before = _records(first, company_id)
    first.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        bodies = [body for (body,) in db.execute("SELECT body FROM state WHERE kind='record'")]
    assert bodies and all(body[:1] == b"\x00" for body in bodies)
    stored = [orjson.loads(store_module._unpack(body[1:])) for body in bodies]
    assert [r["customerName"] for r in stored if "customerName" in r] == ["Packed Customer"]
    second = store_module.Store(path, push_delay=0)
    assert _records(second, company_id) == before
    listed = second.query(company_id, "customers", 'customerName="Packed Customer"', None)
    assert [r["customerName"] for r in listed] == ["Packed Customer"]
    second.close()


def test_a_file_of_plain_json_records_still_loads(tmp_path) -> None:
    """A state file written before records were stored packed (every body plain JSON) loads the same."""
    path = str(tmp_path / "state.db")
    first = store_module.Store(path, push_delay=0)
    company = first.create_company("Plain Ltd", "GBP")
    company_id, connection_id = company["id"], company["dataConnections"][0]["id"]
    first.submit_push(company_id, connection_id, "customers",
                      {"customerName": "Plain Customer", "status": "Active"})
    before = _records(first, company_id)
    first.close()
    with contextlib.closing(sqlite3.connect(path)) as db:  # every record row as the older code wrote it
        rows = db.execute("SELECT rowid, body FROM state WHERE kind='record'").fetchall()
        for rowid, body in rows:
            db.execute("UPDATE state SET body=? WHERE rowid=?", (store_module._unpack(body[1:]), rowid))
        db.commit()
    second = store_module.Store(path, push_delay=0)
    assert _records(second, company_id) == before
    second.close()
