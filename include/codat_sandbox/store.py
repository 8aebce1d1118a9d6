"""The sandbox's state: companies, records, push operations and idempotency entries.

Everything lives in in-memory indexes (dicts keyed by id, so lookups are O(1)) and is written through to
a SQLite file, so a restarted server sees the same state. Records and push operations are held compactly
(:class:`_Row`: their orjson bytes, zlib-packed, plus the few fields queries filter on), decoded only when
read: a whole night (485k documents) fits in about a fifth of what nested dicts took. Push operations
settle lazily: any request that touches a company first finalises that company's operations whose push
delay has passed.

    >>> store = Store(None, push_delay=0)
    >>> company = store.create_company("Acme", "GBP")
    >>> len(store.list_records(company["id"], "accounts")) > 10
    True
"""

from __future__ import annotations

import bisect
import heapq
import os
import sqlite3
import sys
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

import orjson

from codat_sandbox import options, platforms, seed, validation
from codat_sandbox import query as codat_query
from codat_sandbox.schemas import PushSchemas

PUSH_TYPES = ("customers", "invoices", "creditNotes", "payments", "directCosts")
CONNECTION_STATUSES = ("PendingAuth", "Linked", "Unlinked", "Deauthorized")
# What Codat answers a push to a connection that is not Linked (CONTRACT §4, §7: push only to Linked
# connections): the status code and the reason, each with the advice the user needs.
_REFUSALS = {
    "Deauthorized": (401, "Data connection {id} is Deauthorized: the platform no longer grants access (the "
                          "company revoked it or its token expired). Ask the company to re-authorize the "
                          "connection in Codat Link; nothing can be pushed until then."),
    "Unlinked": (403, "Data connection {id} is Unlinked: access to the platform was revoked. Re-link the "
                      "connection before pushing; data already pulled can still be read."),
    "PendingAuth": (409, "Data connection {id} is PendingAuth: the company has not completed linking its "
                         "platform, so nothing can be pushed yet."),
}
NOT_READY_MESSAGE = ("The data type's dataset has not been requested or is still syncing: wait for the "
                     "company's sync to complete (GET /companies/{companyId}/dataStatus) and retry.")
# Codat's data-type name (queue, dataStatus, options) → the store's collection (its read-path segment).
DATA_TYPE_COLLECTIONS = {"chartOfAccounts": "accounts"}
UPDATABLE_TYPES = ("customers", "invoices", "creditNotes")
READ_TYPES = ("accounts", "taxRates", "trackingCategories", "customers", "invoices", "creditNotes",
              "payments",
              "directCosts", "bankAccounts")
IDEMPOTENCY_TTL_SECONDS = 90 * 60
_READ_ONLY = ("id", "modifiedDate", "sourceModifiedDate", "metadata")
_VALIDATOR_NAMES = {"customers": "Customer", "invoices": "Invoice", "creditNotes": "CreditNote",
                    "payments": "Payment", "directCosts": "DirectCost"}


def _money(value: Decimal) -> int | float:
    """A JSON number for an exact amount: an int when whole (JPY), else the nearest float (exact repr)."""
    return int(value) if value == value.to_integral_value() else float(value)


def new_id() -> str:
    """``str(uuid.uuid4())`` without the ``UUID`` object: 16 random bytes from the OS, the version nibble
    set to 4 and the variant's two top bits to 10, in the same text (a test compares both on the same
    bytes)."""
    h = _urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_urandom = os.urandom
# The variant's hex digit: (digit & 0b0011) | 0b1000, as uuid.UUID(..., version=4) sets it.
_VARIANT = {f"{d:x}": f"{(d & 0x3) | 0x8:x}" for d in range(16)}


_LAST_SECOND: list[Any] = [None, ""]  # the second iso() formatted last, and its text


def iso(ts: float) -> str:
    """Server time as Codat writes it: ISO 8601, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    # A push stamps three or four times, nearly always within one second: strftime once per second.
    second = moment.replace(microsecond=0)
    if second != _LAST_SECOND[0]:
        _LAST_SECOND[:] = [second, second.strftime("%Y-%m-%dT%H:%M:%S.")]
    return _LAST_SECOND[1] + f"{moment.microsecond // 1000:03d}Z"


# ---- compact rows ----------------------------------------------------------------------------------
# A preset dictionary of the keys and values every record repeats: zlib then packs a 2–3 KB invoice into a
# few hundred bytes without needing other records to learn from.
_ZDICT = orjson.dumps({
    "id": "", "pushOperationKey": "", "dataConnectionKey": "", "companyId": "", "dataType": "invoices",
    "requestedOnUtc": "", "completedOnUtc": "", "timeoutInMinutes": None, "status": "Success",
    "statusCode": 200,
    "errorMessage": None, "validation": {"errors": [], "warnings": []}, "changes": [{"type": "Created",
    "recordRef": {"id": "", "dataType": "invoices"}, "attachmentId": None}],
    "customerRef": {"id": "", "companyName": ""},
    "invoiceNumber": "", "creditNoteNumber": "", "issueDate": "",
    "dueDate": "", "currency": "GBP", "currencyRate": 1, "lineItems": [{"description": "", "unitAmount": 0,
    "quantity": 1, "discountAmount": 0, "subTotal": 0, "taxAmount": 0, "totalAmount": 0,
    "accountRef": {"id": ""},
    "taxRateRef": {"id": ""}, "itemRef": None, "tracking": {"recordRefs": [], "categoryRefs": []}}],
    "subTotal": 0, "totalTaxAmount": 0, "totalDiscount": 0, "totalAmount": 0, "amountDue": 0,
    "remainingCredit": 0, "paymentAllocations": [{"payment": {"id": "", "note": None, "reference": "",
    "accountRef": {"id": ""}, "currency": "GBP", "currencyRate": 1, "paidOnDate": "", "totalAmount": 0},
    "allocation": {"currency": "GBP", "currencyRate": 1, "allocatedOnDate": "", "totalAmount": 0}}],
    "lines": [{"amount": 0, "links": [{"type": "Invoice", "id": "", "amount": 0, "currencyRate": 1}]}],
    "note": None, "reference": "", "date": "", "paidOnDate": "", "allocatedOnDate": "", "customerName": "",
    "contactName": "", "emailAddress": "", "defaultCurrency": "GBP", "addresses": [], "contacts": [],
    "metadata": {"isDeleted": False}, "modifiedDate": "", "sourceModifiedDate": "", "T00:00:00": "",
    "Submitted": "PartiallyPaid", "Paid": "Draft", "Pending": "Failed",
})


def _new_packer() -> Any:
    # An 8 KiB window and small hash tables: zlib's default state (~270 KB, allocated and freed per row,
    # four rows per push) made the allocator hand memory back and fault it in again, ~60 µs a row; this
    # one (~40 KB) costs ~8 µs and packs a 2.3 KB invoice within two bytes of the default.
    # _unpack's 32 KiB window reads either.
    return zlib.compressobj(1, zlib.DEFLATED, -13, 5, zlib.Z_DEFAULT_STRATEGY, _ZDICT)


# A packer primed with the preset dictionary, never fed: each row starts from a copy of it (deflateCopy, a
# memcpy of its state) instead of a new state that loads the dictionary again — the same bytes out
# (tests/codat_sandbox/test_store_fast_paths.py), about half the time.
_PRIMED_PACKER = _new_packer()


def _pack(raw: bytes) -> bytes:
    packer = _PRIMED_PACKER.copy()
    return packer.compress(raw) + packer.flush()


def _pack_slow(raw: bytes) -> bytes:
    """:func:`_pack` with a new state per row (what it did before; the tests compare both)."""
    packer = _new_packer()
    return packer.compress(raw) + packer.flush()


def _unpack(packed: bytes) -> bytes:
    return zlib.decompressobj(-15, _ZDICT).decompress(packed)


_intern = sys.intern


class _Index:
    """The top-level fields of one kind of row that are kept as Python values for queries."""

    def __init__(self, *fields: str) -> None:
        self.fields = fields
        self.names = frozenset(fields)

    def values(self, obj: dict[str, Any]) -> tuple[Any, ...]:
        # short strings (statuses, types) interned: one object for the thousands of rows that repeat them
        values = [obj.get(name) for name in self.fields]
        return tuple([_intern(v) if type(v) is str and len(v) <= 16 else v for v in values])


# What the pipeline's and Codat users' queries filter and order on; anything else decodes the rows.
RECORD_INDEX = _Index("id", "modifiedDate", "sourceModifiedDate", "status", "invoiceNumber",
                      "creditNoteNumber",
                      "reference", "customerName")
OPERATION_INDEX = _Index("pushOperationKey", "dataType", "status", "requestedOnUtc", "completedOnUtc")


class _Row:
    """One record or push operation, immutable: its JSON zlib-packed and its indexed field values.

    A change stores a new row (``_Row.of``); the old one can stay shown (read-after-write lag) for free.
    """

    __slots__ = ("packed", "indexed")

    def __init__(self, packed: bytes, indexed: tuple[Any, ...]) -> None:
        self.packed = packed
        self.indexed = indexed

    @classmethod
    def of(cls, obj: dict[str, Any], index: _Index, raw: bytes | None = None) -> _Row:
        return cls(_pack(raw if raw is not None else orjson.dumps(obj)), index.values(obj))

    def raw(self) -> bytes:
        return _unpack(self.packed)

    def decode(self) -> dict[str, Any]:
        return orjson.loads(_unpack(self.packed))


class _View(dict):
    """What a query's predicate sees of a row (its indexed fields, or all of it) and the row itself."""

    __slots__ = ("row",)


def _query_fields(query: str | None, order_by: str | None) -> set[str]:
    """The top-level fields a query and an ordering read (parsing raises :class:`QueryError` as before)."""
    names: set[str] = set()
    stack: list[Any] = [codat_query.parse_query(query)] if query else []
    while stack:
        node = stack.pop()
        if isinstance(node, codat_query.Comparison):
            names.add(node.path[0])
        else:
            stack.extend(node.terms)
    if order_by:
        names.add(codat_query.parse_order_by(order_by)[0][0])
    return names


class Listing(Sequence[dict[str, Any]]):
    """A query's result: rows in order, decoded only for the page asked for (paging stays O(page))."""

    def __init__(self, rows: list[_Row]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [row.decode() for row in self._rows[index]]
        return self._rows[index].decode()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (row.decode() for row in self._rows)

    def json_slice(self, start: int, stop: int) -> list[orjson.Fragment]:
        """The page's records as their stored JSON (the same bytes ``orjson.dumps`` gives their dicts)."""
        return [orjson.Fragment(row.raw()) for row in self._rows[start:stop]]


class NotFound(LookupError):
    """A company, connection, record or operation that does not exist (HTTP 404)."""


class Refused(Exception):
    """A request Codat refuses with ``status`` and ``message`` (a connection not Linked, data syncing)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Unseen:
    """A write the company's cached data does not show yet (read-after-write lag).

    ``stale`` is the version list queries still show (``None``: the record is not listed at all) until
    ``visible_at`` passes or the data type is refreshed (``POST /companies/{id}/data/queue/{dataType}``).
    """

    visible_at: float
    stale: _Row | None


@dataclass
class PendingPush:
    """What the store needs to finish a push operation later (never shown to clients)."""

    data_type: str
    body: dict[str, Any]
    record_id: str | None
    force_update: bool
    ready_at: float
    fate: str = "normal"  # normal | timeout | timeout_no_write | pending_forever
    timeout_at: float | None = None


_JSON_HEADERS = (("content-type", "application/json"),)


class CachedResponse:
    """A first response kept for ``Idempotency-Key`` replays (fingerprint as its digest, body packed)."""

    __slots__ = ("_digest", "created_at", "status", "_body", "_headers", "done")

    def __init__(self, fingerprint: str, created_at: float, status: int = 0, body: bytes = b"",
                 headers: list[tuple[str, str]] | None = None, done: bool = False) -> None:
        self.fingerprint = fingerprint
        self.created_at = created_at
        self.status = status
        self.body = body
        self.headers = headers or []
        self.done = done

    @property
    def fingerprint(self) -> str:
        digest = self._digest
        return digest.hex() if isinstance(digest, bytes) else digest

    @fingerprint.setter
    def fingerprint(self, value: str) -> None:
        try:  # the app's sha256 hex digest: 32 bytes instead of a 64-character string
            self._digest = bytes.fromhex(value) if len(value) == 64 and value == value.lower() else value
        except ValueError:
            self._digest = value

    @property
    def body(self) -> bytes:
        return _unpack(self._body) if self._body else b""

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = _pack(value) if value else b""

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [tuple(h) for h in self._headers]

    @headers.setter
    def headers(self, value: list[tuple[str, str]]) -> None:
        pairs = tuple(tuple(h) for h in value)
        self._headers = _JSON_HEADERS if pairs == _JSON_HEADERS else pairs


_SAVE = ("INSERT INTO state VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, company, part, id) "
         "DO UPDATE SET body = excluded.body")
_DELETE = "DELETE FROM state WHERE kind=? AND company=? AND part=? AND id=?"


class _Persistence:
    """Write-through SQLite mirror of the in-memory state (or nothing, for ``path=None``).

    Each write is its own transaction, unless the writes are held (:meth:`hold`, as the app does): then
    they wait, in order, for :meth:`flush`, which commits them as one. A push writes three or four rows
    (the operation twice, the record, the idempotency entry); one commit for them costs a third less.
    """

    def __init__(self, path: str | None) -> None:
        self.db = sqlite3.connect(path or ":memory:", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS state (kind TEXT, company TEXT, part TEXT, id TEXT, body BLOB, "
            "PRIMARY KEY (kind, company, part, id))"
        )
        self._held: list[tuple[str, tuple[Any, ...]]] | None = None

    def hold(self) -> None:
        """From now on writes wait for :meth:`flush` (the app flushes before every answer)."""
        if self._held is None:
            self._held = []

    def flush(self) -> None:
        """Commit the held writes in one transaction, in the order they were made."""
        held = self._held
        if not held:
            return
        self._held = []
        self.db.execute("BEGIN")
        try:
            for statement, params in held:
                self.db.execute(statement, params)
        finally:
            self.db.execute("COMMIT")

    def _write(self, statement: str, params: tuple[Any, ...]) -> None:
        if self._held is None:
            self.db.execute(statement, params)
        else:
            self._held.append((statement, params))

    def save(self, kind: str, company: str, part: str, record_id: str, body: Any,
             raw: bytes | None = None) -> None:
        self._write(_SAVE, (kind, company, part, record_id, raw if raw is not None else orjson.dumps(body)))

    def delete(self, kind: str, company: str, part: str, record_id: str) -> None:
        self._write(_DELETE, (kind, company, part, record_id))

    def load(self) -> list[tuple[str, str, str, str, Any]]:
        """Every row in write order, its body as JSON (a record stored packed: as its :class:`_Row`)."""
        rows = self.db.execute("SELECT kind, company, part, id, body FROM state ORDER BY rowid").fetchall()
        return [(kind, company, part, rid, _stored_body(kind, body))
                for kind, company, part, rid, body in rows]

    def clear(self) -> None:
        self._write("DELETE FROM state", ())

    def close(self) -> None:
        self.flush()
        self.db.close()


# A record's row in the file is its packed JSON behind this byte (JSON text never starts with NUL), the
# bytes its _Row holds in memory anyway: a fifth of the plain JSON to write and to keep. Files written
# before hold plain JSON records, which still load.
_PACKED_RECORD = b"\x00"


def _stored_body(kind: str, body: bytes) -> Any:
    if kind == "record" and body[:1] == _PACKED_RECORD:
        packed = bytes(body[1:])
        return _Row(packed, RECORD_INDEX.values(orjson.loads(_unpack(packed))))
    return orjson.loads(body)


_REFERENCE_TYPES = frozenset({"accounts", "taxRates", "trackingCategories", "bankAccounts"})


class _CompanyView:
    """The :class:`validation.CompanyView` of one company in the store."""

    def __init__(self, company_id: str, records: dict[str, dict[str, _Row]], base_currency: str,
                 decoded: OrderedDict[tuple[str, str, str], tuple[_Row, dict[str, Any]]]) -> None:
        self.company_id = company_id
        self.records = records
        self.base_currency = base_currency
        self.decoded = decoded

    def get(self, data_type: str, record_id: str) -> dict[str, Any] | None:
        row = self.records.get(data_type, {}).get(record_id)
        if row is None:
            return None
        if data_type not in _REFERENCE_TYPES:
            return row.decode()
        # The rules read the same few accounts and tax rates for every line: decode each of those once.
        key = (self.company_id, data_type, record_id)
        hit = self.decoded.get(key)
        if hit is not None and hit[0] is row:
            self.decoded.move_to_end(key)
            return hit[1]
        record = row.decode()
        self.decoded[key] = (row, record)
        if len(self.decoded) > 4096:
            self.decoded.popitem(last=False)
        return record


class Store:
    """All sandbox state, with O(1) lookups and lazy settlement of push operations."""

    def __init__(self, path: str | None, push_delay: float = 0.05, clock: Callable[[], float] = time.time,
                 read_lag: Callable[[str], float] | float = 0.0, schemas: PushSchemas | None = None) -> None:
        self.push_delay = push_delay
        # Codat's request schemas, applied to every push body before the business rules.
        self.schemas = schemas or PushSchemas.builtin()
        self.clock = clock
        # Seconds before a pushed write shows in reads, per data type (a number, or a callable so the
        # fault injector can change it at run time).
        self.read_lag: Callable[[str], float] = read_lag if callable(read_lag) else (lambda _t, s=read_lag: s)
        self._db = _Persistence(path)
        self._listing_cache: OrderedDict[tuple[Any, ...], Listing] = OrderedDict()
        self._reset_memory()
        self._load()

    # ---- lifecycle -------------------------------------------------------------------------------
    def _reset_memory(self) -> None:
        self.companies: dict[str, dict[str, Any]] = {}
        self.company_settings: dict[str, dict[str, Any]] = {}
        self.connections: dict[str, dict[str, Any]] = {}
        # company → data type → record id → row; company → push operation key → row
        self.records: dict[str, dict[str, dict[str, _Row]]] = {}
        self.versions: dict[tuple[str, str], int] = {}
        self.operations: dict[str, dict[str, _Row]] = {}
        self.pending: dict[str, PendingPush] = {}
        # The dict submit_push returned, while its operation is pending: settling updates it in place.
        self._live_operations: dict[str, dict[str, Any]] = {}
        # recently decoded reference rows the validation rules read (read-only there); see _CompanyView.get
        self._decoded_for_rules: OrderedDict[tuple[str, str, str],
                                             tuple[_Row, dict[str, Any]]] = OrderedDict()
        self.queue: dict[str, deque[str]] = {}
        self.forever: dict[str, set[str]] = {}
        self.idempotency: dict[tuple[str, str], CachedResponse] = {}
        # read-after-write lag: company → data type → record id → what reads show meanwhile
        self.unseen: dict[str, dict[str, dict[str, Unseen]]] = {}
        self._unseen_heap: dict[str, list[tuple[float, str, str]]] = {}
        self.syncing: dict[str, tuple[float, frozenset[str] | None]] = {}
        self.connection_flips: dict[str, tuple[str, int]] = {}
        self.last_sync: dict[str, dict[str, str]] = {}
        self.pulls: dict[str, dict[str, dict[str, Any]]] = {}
        # company → [operations indexed, their requestedOnUtc keys in list order, all server times in order]
        self._op_times: dict[str, list[Any]] = {}
        self._listing_cache.clear()

    def _load(self) -> None:
        for kind, company, part, record_id, body in self._db.load():
            if kind == "company":
                self._install_company(body["company"], body["settings"], body["connection"])
            elif kind == "record":
                row = body if isinstance(body, _Row) else _Row.of(body, RECORD_INDEX)
                self.records[company].setdefault(part, {})[record_id] = row
            elif kind == "op":
                self.operations[company][record_id] = _Row.of(body["operation"], OPERATION_INDEX)
                if body.get("pending"):
                    self._enqueue(company, record_id, PendingPush(**body["pending"]))
            elif kind == "idem":
                cached = CachedResponse(body["fingerprint"], body["created_at"], body["status"],
                                        body["body"].encode(), [tuple(h) for h in body["headers"]], True)
                self.idempotency[(company, record_id)] = cached

    def reset(self) -> None:
        """Forget everything (admin ``POST /admin/reset``)."""
        self._db.clear()
        self._reset_memory()

    def close(self) -> None:
        self._db.close()

    def hold_writes(self) -> None:
        """Writes reach the SQLite file at :meth:`flush_writes`, in one transaction (the app, per request)."""
        self._db.hold()

    def flush_writes(self) -> None:
        self._db.flush()

    def now(self) -> float:
        return self.clock()

    # ---- companies -------------------------------------------------------------------------------
    def _install_company(self, company: dict[str, Any], settings: dict[str, Any],
                         connection: dict[str, Any]) -> None:
        company_id = company["id"]
        self.companies[company_id] = company
        self.company_settings[company_id] = settings
        self.connections[company_id] = connection
        self.records.setdefault(company_id, {t: {} for t in READ_TYPES})
        self.operations.setdefault(company_id, {})
        self.queue.setdefault(company_id, deque())
        self.forever.setdefault(company_id, set())
        self.unseen.setdefault(company_id, {})
        self._unseen_heap.setdefault(company_id, [])
        self.pulls.setdefault(company_id, {})

    def create_company(self, name: str, base_currency: str, platform: str = "Xero",
                       company_id: str | None = None) -> dict[str, Any]:
        """A company with one Linked connection and its seeded reference data (idempotent per id).

        ``platform`` names one of :data:`platforms.PLATFORMS` (``Xero``, ``QuickBooks Online``, ``Oracle
        NetSuite``, or their aliases); its rules apply to every push to the connection.
        """
        plat = platforms.platform(platform)
        company_id = company_id or new_id()
        if company_id in self.companies:
            return self.company_with_connections(company_id)
        now = iso(self.now())
        connection_id = seed.connection_id(company_id)
        connection = {
            "id": connection_id, "integrationId": seed.stable_id(plat.name, "integration"),
            "integrationKey": plat.integration_key, "sourceId": seed.stable_id(plat.name, "source"),
            "sourceType": "Accounting", "platformName": plat.name,
            "linkUrl": f"https://link-api.codat.io/companies/{company_id}/connections/{connection_id}/start",
            "status": "Linked", "lastSync": now, "created": now, "dataConnectionErrors": [],
        }
        company = {
            "id": company_id, "name": name, "description": None,
            "redirect": f"https://link.codat.io/company/{company_id}", "lastSync": now, "created": now,
            "createdByUserName": "sandbox", "products": ["accounting"], "tags": {},
            "referenceParentCompany": None, "referenceSubsidiaryCompanies": [],
        }
        settings = {"baseCurrency": base_currency, "platform": plat.name}
        self._install_company(company, settings, connection)
        self._db.save("company", company_id, "", company_id,
                      {"company": company, "settings": settings, "connection": connection})
        for data_type, records in seed.reference_data(company_id, base_currency, now).items():
            for record in records:
                self._save_record(company_id, data_type, record)
        return self.company_with_connections(company_id)

    def company_with_connections(self, company_id: str) -> dict[str, Any]:
        company = self.company(company_id)
        return {**company, "dataConnections": [self.connections[company_id]]}

    def company(self, company_id: str) -> dict[str, Any]:
        try:
            return self.companies[company_id]
        except KeyError:
            raise NotFound(f"Company '{company_id}' was not found.") from None

    def base_currency(self, company_id: str) -> str:
        return self.company_settings[company_id]["baseCurrency"]

    # ---- the connection's platform: rules, options and their admin settings ----------------------------
    def platform(self, company_id: str) -> platforms.Platform:
        return platforms.platform(self.company_settings[company_id].get("platform"))

    def platform_settings(self, company_id: str) -> dict[str, Any]:
        """``platformName``, ``multiCurrency``, ``lockDate`` and what the options answer (``optionsMode``)."""
        settings, plat = self.company_settings[self.company(company_id)["id"]], self.platform(company_id)
        return {"platformName": plat.name, "integrationKey": plat.integration_key,
                "multiCurrency": settings.get("multiCurrency", plat.multi_currency),
                "lockDate": settings.get("lockDate"), "optionsMode": settings.get("optionsMode", "published"),
                "optionsDataTypes": settings.get("optionsDataTypes")}

    def set_platform_settings(self, company_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Admin: switch multi-currency, set the period lock date, make the options answer 404/500/empty."""
        settings = self.company_settings[self.company(company_id)["id"]]
        unknown = sorted(set(changes) - {"multiCurrency", "lockDate", "optionsMode", "optionsDataTypes"})
        if unknown:
            raise ValueError(f"unknown platform settings: {', '.join(unknown)}")
        if "multiCurrency" in changes and not isinstance(changes["multiCurrency"], bool):
            raise ValueError("multiCurrency must be true or false")
        lock = changes.get("lockDate")
        if lock is not None and (not isinstance(lock, str) or len(lock) != 10
                                 or not validation.is_date(lock)):
            raise ValueError("lockDate must be a date YYYY-MM-DD (or null for none)")
        if changes.get("optionsMode", "published") not in options.OPTION_MODES:
            raise ValueError(f"optionsMode must be one of {', '.join(options.OPTION_MODES)}")
        types = changes.get("optionsDataTypes")
        if types is not None and (not isinstance(types, list) or not set(types) <= set(options.OPTION_TYPES)):
            raise ValueError(f"optionsDataTypes must be a list of {', '.join(options.OPTION_TYPES)} "
                             "(or null for all)")
        settings.update(changes)
        self._save_company(company_id)
        return self.platform_settings(company_id)

    def push_options(self, company_id: str, connection_id: str, data_type: str) -> dict[str, Any]:
        """The connection's ``PushOption`` for ``data_type`` (raises :class:`Refused` as configured)."""
        self.connection(company_id, connection_id)
        plat, settings = self.platform(company_id), self.platform_settings(company_id)
        mode, types = settings["optionsMode"], settings["optionsDataTypes"]
        if types is not None and data_type not in types:
            mode = "published"
        if mode == "notFound":
            raise NotFound(f"Datatype {data_type} not supported by platform(s) {plat.name}: no create model "
                           f"is published.")
        if mode == "error":
            raise Refused(500, f"An error occurred in a downstream service ({plat.name}) while reading the "
                               f"{data_type} model; please retry later.")
        if mode == "empty":
            return options.empty_option(data_type)
        return options.push_option(plat, data_type, self.base_currency(company_id), settings["multiCurrency"])

    def _platform_errors(self, company_id: str, pending: PendingPush) -> list[dict[str, Any]]:
        settings = self.platform_settings(company_id)
        return platforms.check(self.platform(company_id), pending.data_type, pending.body,
                               self.base_currency(company_id), creating=pending.record_id is None,
                               multi_currency=settings["multiCurrency"], lock_date=settings["lockDate"])

    def _save_company(self, company_id: str) -> None:
        self._db.save("company", company_id, "", company_id, {
            "company": self.companies[company_id], "settings": self.company_settings[company_id],
            "connection": self.connections[company_id]})

    # ---- connection states and syncing ------------------------------------------------------------
    def set_connection_status(self, company_id: str, status: str,
                              after_pushes: int | None = None) -> dict[str, Any]:
        """Admin: set the connection's status now, or after ``after_pushes`` more accepted pushes."""
        self.company(company_id)
        if status not in CONNECTION_STATUSES:
            raise ValueError(f"status must be one of {', '.join(CONNECTION_STATUSES)}")
        if after_pushes is not None:
            if not isinstance(after_pushes, int) or after_pushes < 0:
                raise ValueError("afterPushes must be a whole number, 0 or more")
            if after_pushes > 0:
                self.connection_flips[company_id] = (status, after_pushes)
                return {**self.connections[company_id], "becomes": status, "afterPushes": after_pushes}
        self.connection_flips.pop(company_id, None)
        connection = self.connections[company_id]
        connection["status"] = status
        connection["dataConnectionErrors"] = [] if status == "Linked" else [{
            "statusCode": "401" if status == "Deauthorized" else "403", "statusText": status,
            "errorMessage": _REFUSALS.get(status, (0, ""))[1].format(id=connection["id"]),
            "erroredOnUtc": iso(self.now()),
        }]
        self._save_company(company_id)
        return connection

    def push_refusal(self, company_id: str) -> Refused | None:
        """Why a push to this company's connection is refused now (``None``: it is Linked)."""
        connection = self.connections[company_id]
        refusal = _REFUSALS.get(connection["status"])
        return Refused(refusal[0], refusal[1].format(id=connection["id"])) if refusal else None

    def _count_push_towards_flip(self, company_id: str) -> None:
        flip = self.connection_flips.get(company_id)
        if flip is None:
            return
        status, remaining = flip
        if remaining <= 1:
            self.set_connection_status(company_id, status)
        else:
            self.connection_flips[company_id] = (status, remaining - 1)

    def set_syncing(self, company_id: str, seconds: float | None,
                    data_types: list[str] | None = None) -> dict[str, Any]:
        """Admin: the company's data is still syncing for ``seconds`` (``None``: until cleared; 0 clears).

        Meanwhile reads of those data types (all when ``data_types`` is None) answer 409.
        """
        self.company(company_id)
        if seconds is not None and (not isinstance(seconds, int | float) or seconds < 0):
            raise ValueError("seconds must be a non-negative number or null (until cleared)")
        if seconds == 0:
            self.syncing.pop(company_id, None)
        else:
            until = float("inf") if seconds is None else self.now() + seconds
            types = frozenset(DATA_TYPE_COLLECTIONS.get(t, t) for t in data_types) if data_types else None
            self.syncing[company_id] = (until, types)
        return {"companyId": company_id, "syncing": self.is_syncing(company_id, None)}

    def is_syncing(self, company_id: str, data_type: str | None) -> bool:
        entry = self.syncing.get(company_id)
        if entry is None:
            return False
        until, types = entry
        if until <= self.now():
            self.syncing.pop(company_id, None)
            return False
        return types is None or data_type is None or data_type in types

    def check_readable(self, company_id: str, data_type: str) -> None:
        """Raise :class:`Refused` (409) while the company's data of this type is still syncing."""
        self.company(company_id)
        if self.is_syncing(company_id, data_type):
            raise Refused(409, NOT_READY_MESSAGE)

    def connection(self, company_id: str, connection_id: str) -> dict[str, Any]:
        self.company(company_id)
        connection = self.connections[company_id]
        if connection["id"] != connection_id:
            raise NotFound(f"Connection '{connection_id}' was not found for company '{company_id}'.")
        return connection

    # ---- records ---------------------------------------------------------------------------------
    def _save_record(self, company_id: str, data_type: str, record: dict[str, Any]) -> None:
        row = _Row.of(record, RECORD_INDEX, orjson.dumps(record))
        self.records[company_id][data_type][record["id"]] = row
        self._bump(company_id, data_type)
        self._db.save("record", company_id, data_type, record["id"], None, _PACKED_RECORD + row.packed)

    def _record(self, company_id: str, data_type: str, record_id: str) -> dict[str, Any] | None:
        """A decoded copy of the record (changes to it are kept only through :meth:`_save_record`)."""
        row = self.records[company_id][data_type].get(record_id)
        return row.decode() if row is not None else None

    def _bump(self, company_id: str, data_type: str) -> None:
        key = (company_id, data_type)
        self.versions[key] = self.versions.get(key, 0) + 1

    # ---- read-after-write lag ----------------------------------------------------------------------
    def _before_write(self, company_id: str, data_type: str, record_id: str) -> None:
        """Keep what reads show of a record a push is about to write, while pushed writes lag.

        Codat does not cache written records: until the data type is refreshed, reads show the
        version last pulled (or nothing, for a new record). With no lag this costs nothing.
        """
        lag = self.read_lag(data_type)
        if lag <= 0:
            return
        visible_at = self.now() + lag
        pending = self.unseen[company_id].setdefault(data_type, {})
        entry = pending.get(record_id)
        if entry is None:
            # Rows are immutable: the current one is the stale version, no copy needed.
            pending[record_id] = Unseen(visible_at, self.records[company_id][data_type].get(record_id))
        else:
            entry.visible_at = visible_at
        heapq.heappush(self._unseen_heap[company_id], (visible_at, data_type, record_id))

    def _reveal_due(self, company_id: str) -> None:
        """Writes whose lag has passed become visible."""
        heap = self._unseen_heap.get(company_id)
        now = self.now()
        while heap and heap[0][0] <= now:
            _, data_type, record_id = heapq.heappop(heap)
            pending = self.unseen[company_id].get(data_type, {})
            entry = pending.get(record_id)
            if entry is not None and entry.visible_at <= now:
                del pending[record_id]
                self._bump(company_id, data_type)

    def _visible(self, company_id: str, data_type: str) -> Iterable[_Row]:
        source = self.records[company_id][data_type]
        pending = self.unseen[company_id].get(data_type)
        if not pending:
            return source.values()
        shown = []
        for record_id, record in source.items():
            entry = pending.get(record_id)
            if entry is None:
                shown.append(record)
            elif entry.stale is not None:
                shown.append(entry.stale)
        return shown

    def unseen_count(self, company_id: str) -> int:
        """How many pushed writes reads do not show yet (admin stats, tests)."""
        self._reveal_due(company_id)
        return sum(len(p) for p in self.unseen.get(company_id, {}).values())

    def refresh(self, company_id: str, data_type: str, connection_id: str | None = None) -> dict[str, Any]:
        """``POST /companies/{id}/data/queue/{dataType}``: the cached data catches up with the platform.

        Returns Codat's ``PullOperation``. It completes at once on a Linked connection that is not
        syncing; on a broken link it ends ``AuthError`` and reads keep showing what was cached.
        """
        self.company(company_id)
        collection = DATA_TYPE_COLLECTIONS.get(data_type, data_type)
        if (collection not in self.records[company_id]
                or collection == "accounts" and data_type != "chartOfAccounts"):
            raise NotFound(f"Datatype {data_type} not supported by platform(s) "
                           f"{self.company_settings[company_id]['platform']}.")
        connection = self.connections[company_id]
        if connection_id is not None and connection_id != connection["id"]:
            raise NotFound(f"Data connection {connection_id} not found")
        operation = {
            "id": new_id(), "companyId": company_id, "connectionId": connection["id"],
            "dataType": data_type, "status": "Queued", "statusDescription": None, "errorMessage": None,
            "requested": iso(self.now()), "progress": 0, "isCompleted": False, "isErrored": False,
        }
        self.pulls[company_id][operation["id"]] = operation
        self._run_pull(company_id, operation)
        return operation

    def _run_pull(self, company_id: str, operation: dict[str, Any]) -> None:
        """Finish a queued refresh when it can: not while the company syncs; AuthError on a broken link."""
        if operation["status"] != "Queued":
            return
        collection = DATA_TYPE_COLLECTIONS.get(operation["dataType"], operation["dataType"])
        refusal = self.push_refusal(company_id)
        if refusal is None and self.is_syncing(company_id, collection):
            return
        now = iso(self.now())
        if refusal is None:
            if self.unseen[company_id].pop(collection, None):
                self._bump(company_id, collection)
            self.last_sync.setdefault(company_id, {})[operation["dataType"]] = now
        operation.update(status="Complete" if refusal is None else "AuthError", completed=now, progress=100,
                         isCompleted=refusal is None, isErrored=refusal is not None,
                         errorMessage=None if refusal is None else str(refusal))

    def pull_operation(self, company_id: str, pull_id: str) -> dict[str, Any]:
        """``GET /companies/{id}/data/history/{datasetId}``: a refresh, finished once it can be."""
        self.company(company_id)
        operation = self.pulls[company_id].get(pull_id)
        if operation is None:
            raise NotFound(f"No pull operation with id '{pull_id}'.")
        self._run_pull(company_id, operation)
        return operation

    def pull_operations(self, company_id: str) -> list[dict[str, Any]]:
        self.company(company_id)
        for operation in self.pulls[company_id].values():
            self._run_pull(company_id, operation)
        return list(self.pulls[company_id].values())

    def data_status(self, company_id: str) -> dict[str, Any]:
        """``GET /companies/{id}/dataStatus``: one ``DataStatus`` per data type the sandbox holds."""
        company = self.company(company_id)
        statuses = {}
        for collection in READ_TYPES:
            name = next((k for k, v in DATA_TYPE_COLLECTIONS.items() if v == collection), collection)
            last = self.last_sync.get(company_id, {}).get(name, company["created"])
            sync_id = seed.stable_id(company_id, f"sync:{name}:{last}")
            statuses[name] = {
                "dataType": name, "lastSuccessfulSync": last,
                "currentStatus": "Fetching" if self.is_syncing(company_id, collection) else "Complete",
                "latestSyncId": sync_id, "latestSuccessfulSyncId": sync_id,
            }
        return statuses

    def _touch(self, record: dict[str, Any]) -> None:
        stamp = iso(self.now())
        record["modifiedDate"] = stamp
        record["sourceModifiedDate"] = stamp

    def list_records(self, company_id: str, data_type: str) -> list[dict[str, Any]]:
        self.company(company_id)
        return [row.decode() for row in self.records[company_id][data_type].values()]

    def get_record(self, company_id: str, data_type: str, record_id: str) -> dict[str, Any]:
        self.company(company_id)
        record = self._record(company_id, data_type, record_id)
        if record is None:
            raise NotFound(f"No {data_type} record with id '{record_id}'.")
        return record

    def read_record(self, company_id: str, data_type: str, record_id: str) -> dict[str, Any]:
        """A record as the API shows it (``GET …/data/{type}/{id}``): subject to the read-after-write lag."""
        self.company(company_id)
        self._reveal_due(company_id)
        entry = self.unseen[company_id].get(data_type, {}).get(record_id)
        if entry is not None:
            if entry.stale is None:
                raise NotFound(f"No {data_type} record with id '{record_id}'.")
            return entry.stale.decode()
        return self.get_record(company_id, data_type, record_id)

    def query(self, company_id: str, data_type: str, query: str | None, order_by: str | None) -> Listing:
        """Filtered, ordered records as reads show them; cached per collection version (paging is O(page)).

        Push operations are never lagged; records are (see :meth:`_before_write`). Queries over indexed
        fields only (ids, dates, status, document numbers) never decode a row.
        """
        self.company(company_id)
        source: Iterable[_Row]
        if data_type == "pushOperations":
            source, index = self.operations[company_id].values(), OPERATION_INDEX
        else:
            self._reveal_due(company_id)
            source, index = self._visible(company_id, data_type), RECORD_INDEX
        key = (company_id, data_type, query or "", order_by or "",
               self.versions.get((company_id, data_type), 0))
        cached = self._listing_cache.get(key)
        if cached is not None:
            self._listing_cache.move_to_end(key)
            return cached
        fields = _query_fields(query, order_by)
        if data_type == "pushOperations" and query and not order_by:
            rows = self._operations_by_time(company_id, query)
            if rows is not None:
                result = Listing(rows)
                self._listing_cache[key] = result
                if len(self._listing_cache) > 32:
                    self._listing_cache.popitem(last=False)
                return result
        views = list(self._views(source, index, fields <= index.names))
        matched = codat_query.sort_records(codat_query.filter_records(views, query), order_by)
        result = Listing([view.row for view in matched])
        self._listing_cache[key] = result
        if len(self._listing_cache) > 32:
            self._listing_cache.popitem(last=False)
        return result

    def _operations_by_time(self, company_id: str, query: str) -> list[_Row] | None:
        """``requestedOnUtc`` >, >=, < or <= a time: the matching operations by bisection, in list order.

        ``None`` (the caller filters every row) for any other query, or while the company's operations
        are not all server times in non-decreasing list order (the only case where bisection gives
        exactly the rows the filter keeps, in the same order).
        """
        node = codat_query.parse_query(query)
        if not (isinstance(node, codat_query.Comparison) and node.path == ("requestedOnUtc",)
                and node.operator in (">=", ">", "<=", "<")):
            return None
        literal = codat_query._server_time_key(codat_query._parse_datetime(node.value))
        if literal is None:
            return None
        operations = self.operations[company_id]
        entry = self._op_times.get(company_id)
        if entry is None:
            entry = self._op_times[company_id] = [0, [], True]
        if entry[0] < len(operations):
            times: list[str] = entry[1]
            slot = OPERATION_INDEX.fields.index("requestedOnUtc")
            for row in islice(operations.values(), entry[0], None):
                value = row.indexed[slot]
                if not (type(value) is str and codat_query._is_server_time(value)):
                    entry[2] = False
                    break
                text = value[:23]
                if times and text < times[-1]:
                    entry[2] = False
                    break
                times.append(text)
            entry[0] = len(operations)
        if not entry[2]:
            return None
        times = entry[1]
        if node.operator == ">=":
            return list(islice(operations.values(), bisect.bisect_left(times, literal), None))
        if node.operator == ">":
            return list(islice(operations.values(), bisect.bisect_right(times, literal), None))
        if node.operator == "<":
            return list(islice(operations.values(), bisect.bisect_left(times, literal)))
        return list(islice(operations.values(), bisect.bisect_right(times, literal)))

    @staticmethod
    def _views(rows: Iterable[_Row], index: _Index, indexed_only: bool) -> Iterator[_View]:
        fields = index.fields
        for row in rows:
            if indexed_only:
                # Nulls kept (dict(zip) runs in C): absent and null read the same to the query language,
                # to its path walk and to the ordering (all see None either way).
                view = _View(zip(fields, row.indexed, strict=True))
            else:
                view = _View(row.decode())
            view.row = row
            yield view

    def insert_raw(self, company_id: str, data_type: str, body: dict[str, Any]) -> dict[str, Any]:
        """Admin: store a record as given (plus id, dates and metadata), no validation."""
        self.company(company_id)
        if data_type not in self.records[company_id]:
            raise NotFound(f"Unknown data type '{data_type}'.")
        record = orjson.loads(orjson.dumps(body))  # a deep copy of plain JSON
        record.setdefault("id", new_id())
        record.setdefault("metadata", {"isDeleted": False})
        self._touch(record)
        self._save_record(company_id, data_type, record)
        return record

    def patch_raw(self, company_id: str, data_type: str, record_id: str,
                  fields: dict[str, Any]) -> dict[str, Any]:
        """Admin: overwrite top-level fields of a record (to make it diverge from the warehouse)."""
        record = self.get_record(company_id, data_type, record_id)
        record.update(orjson.loads(orjson.dumps({k: v for k, v in fields.items() if k != "id"})))
        self._touch(record)
        self._save_record(company_id, data_type, record)
        return record

    def delete_raw(self, company_id: str, data_type: str, record_id: str) -> dict[str, Any]:
        """Admin: mark a record deleted in the platform (it keeps its status, §6)."""
        return self.patch_raw(company_id, data_type, record_id, {"metadata": {"isDeleted": True}})

    # ---- push operations -------------------------------------------------------------------------
    def _enqueue(self, company_id: str, key: str, pending: PendingPush) -> None:
        self.pending[key] = pending
        if pending.fate == "pending_forever":
            self.forever[company_id].add(key)
        else:
            self.queue[company_id].append(key)

    def _save_operation(self, company_id: str, key: str, operation: dict[str, Any]) -> None:
        pending = self.pending.get(key)
        raw = orjson.dumps(operation)
        row = _Row.of(operation, OPERATION_INDEX, raw)
        operations = self.operations[company_id]
        old = operations.get(key)
        if old is not None and old.indexed != row.indexed and company_id in self._op_times:
            slot = OPERATION_INDEX.fields.index("requestedOnUtc")
            if old.indexed[slot] != row.indexed[slot]:
                del self._op_times[company_id]  # a request time changed: rebuild the time index
        operations[key] = row
        version = (company_id, "pushOperations")
        self.versions[version] = self.versions.get(version, 0) + 1
        pending_json = orjson.dumps(pending.__dict__) if pending else b"null"
        self._db.save("op", company_id, "", key, None,
                      b'{"operation":' + raw + b',"pending":' + pending_json + b"}")

    def submit_push(self, company_id: str, connection_id: str, data_type: str, body: dict[str, Any],
                    record_id: str | None = None, timeout_minutes: int | None = None,
                    force_update: bool = False, fate: str = "normal") -> dict[str, Any]:
        """Record a push operation (``Pending``); it settles after the push delay.

        Raises :class:`Refused` when the connection is not Linked.
        """
        self.connection(company_id, connection_id)
        refusal = self.push_refusal(company_id)
        if refusal is not None:
            raise refusal
        if record_id is not None:
            if record_id not in self.records[company_id][data_type]:
                raise NotFound(f"No {data_type} record with id '{record_id}'.")
        now = self.now()
        key = new_id()
        operation = {
            "changes": [], "dataType": data_type, "companyId": company_id, "pushOperationKey": key,
            "dataConnectionKey": connection_id, "requestedOnUtc": iso(now),
            "timeoutInMinutes": timeout_minutes,
            "status": "Pending", "statusCode": 202, "errorMessage": None,
            "validation": {"errors": [], "warnings": []},
        }
        self._live_operations[key] = operation  # stored (packed) once settled, or just below
        timeout_at = now + timeout_minutes * 60 if timeout_minutes else None
        self._enqueue(company_id, key, PendingPush(data_type, body, record_id, force_update,
                                                   now + self.push_delay, fate, timeout_at))
        if self.push_delay <= 0 and fate != "pending_forever":
            self.settle(company_id)  # saves the operation once, already final
        else:
            self._save_operation(company_id, key, operation)
        self._count_push_towards_flip(company_id)
        return operation

    def settle(self, company_id: str) -> None:
        """Finalise this company's operations whose delay has passed, oldest first."""
        queue = self.queue.get(company_id)
        if queue is None:
            return
        now = self.now()
        while queue:
            key = queue[0]
            pending = self.pending.get(key)
            if pending is None:
                queue.popleft()
                continue
            if pending.ready_at > now:
                break
            queue.popleft()
            self._finalise(company_id, key, pending)
        for key in [k for k in self.forever[company_id]
                    if self.pending[k].timeout_at is not None and self.pending[k].timeout_at <= now]:
            self.forever[company_id].discard(key)
            self._complete(company_id, key, "TimedOut", 504, errorMessage="The push operation timed out.")

    def _complete(self, company_id: str, key: str, status: str, status_code: int, **fields: Any) -> None:
        operation = self._live_operations.pop(key, None) or self.operations[company_id][key].decode()
        operation.update(status=status, statusCode=status_code, completedOnUtc=iso(self.now()), **fields)
        self.pending.pop(key, None)
        self._save_operation(company_id, key, operation)

    def _finalise(self, company_id: str, key: str, pending: PendingPush) -> None:
        if pending.fate == "timeout_no_write":
            self._complete(company_id, key, "TimedOut", 504, errorMessage="The push operation timed out.")
            return
        refusal = self.push_refusal(company_id)
        if refusal is not None:
            # The link broke while the operation waited: the platform never saw the write.
            self._complete(company_id, key, "Failed", refusal.status, errorMessage=str(refusal))
            return
        errors = self._validate(company_id, pending)
        if errors:
            name = _VALIDATOR_NAMES[pending.data_type]
            self._complete(company_id, key, "Failed", 400,
                           errorMessage=f"Push failed for {name}: see validation for more information",
                           validation={"errors": errors, "warnings": []})
            return
        record = self._apply(company_id, pending)
        if pending.fate == "timeout":
            # The write landed but the client is told only that the outcome is unknown.
            self._complete(company_id, key, "TimedOut", 504, errorMessage="The push operation timed out.")
            return
        change = "Modified" if pending.record_id else "Created"
        self._complete(company_id, key, "Success", 200, changes=[{
            "type": change, "recordRef": {"id": record["id"], "dataType": pending.data_type},
            "attachmentId": None,
        }])

    def _validate(self, company_id: str, pending: PendingPush) -> list[dict[str, Any]]:
        view = _CompanyView(company_id, self.records[company_id], self.base_currency(company_id),
                            self._decoded_for_rules)
        body, creating = pending.body, pending.record_id is None
        name = _VALIDATOR_NAMES[pending.data_type]
        if not isinstance(body, dict):
            return [{"itemId": None, "message": "The body must be a JSON object.", "validatorName": name}]
        shape = self.schemas.errors(pending.data_type, body)
        if shape:
            return shape  # like Codat's model binding: the rules below assume a well-formed body
        if not creating:
            existing = view.get(pending.data_type, pending.record_id)
            if validation.is_deleted(existing):
                return [{"itemId": pending.record_id, "message": "The record has been deleted.",
                         "validatorName": name}]
            sent = body.get("sourceModifiedDate")
            if sent and not pending.force_update and sent != existing.get("sourceModifiedDate"):
                return [{"itemId": "sourceModifiedDate", "validatorName": name,
                         "message": "The record was modified in the platform since it was last pulled; pull "
                                    "the data again or set forceUpdate=true."}]
        # The base rules (every platform), then the connection's platform's own (what its options say).
        platform_errors = self._platform_errors(company_id, pending)
        if pending.data_type == "customers":
            return validation.validate_customer(body, view) + platform_errors
        if pending.data_type == "invoices":
            errors = validation.validate_invoice(body, view, creating, due_date_required=False,
                                                 description_required=False)
        elif pending.data_type == "creditNotes":
            errors = validation.validate_credit_note(body, view, creating, description_required=False)
        elif pending.data_type == "payments":
            return validation.validate_payment(body, view) + platform_errors
        else:
            return validation.validate_direct_cost(body, view) + platform_errors
        errors += platform_errors
        if not creating and not errors:
            errors = self._check_settled_amount(existing, body, pending.data_type, name)
        return errors

    @staticmethod
    def _settled_field(data_type: str) -> str:
        return "amountDue" if data_type == "invoices" else "remainingCredit"

    def _check_settled_amount(self, existing: dict[str, Any], body: dict[str, Any], data_type: str,
                              name: str) -> list[dict[str, Any]]:
        settled = self._settled(existing, self._settled_field(data_type))
        if validation.exact(body["totalAmount"]) < settled:
            return [{"itemId": "totalAmount", "validatorName": name,
                     "message": f"totalAmount {body['totalAmount']:g} is less than the {settled:f} already "
                                f"paid or allocated; {self._settled_field(data_type)} would be negative."}]
        return []

    @staticmethod
    def _settled(document: dict[str, Any], balance_field: str) -> Decimal:
        """How much of a document has been paid or allocated (exact)."""
        total = validation.exact(document.get("totalAmount") or 0)
        return total - validation.exact(document.get(balance_field) or 0)

    # ---- effects of a successful push ------------------------------------------------------------
    def _apply(self, company_id: str, pending: PendingPush) -> dict[str, Any]:
        data_type, body = pending.data_type, pending.body
        # The body was parsed for this request alone, so the record may share its nested objects.
        record = {k: v for k, v in body.items() if k not in _READ_ONLY}
        record["metadata"] = {"isDeleted": False}
        existing = self._record(company_id, data_type, pending.record_id) if pending.record_id else None
        record["id"] = existing["id"] if existing else new_id()
        if data_type in ("invoices", "creditNotes", "payments", "directCosts"):
            record.setdefault("currency", self.base_currency(company_id))
        if data_type in ("invoices", "creditNotes"):
            self._derive_balance(record, existing, data_type)
        self._touch(record)
        self._before_write(company_id, data_type, record["id"])
        self._save_record(company_id, data_type, record)
        if data_type == "payments":
            self._apply_payment(company_id, record)
        return record

    def _derive_balance(self, record: dict[str, Any], existing: dict[str, Any] | None,
                        data_type: str) -> None:
        """amountDue / remainingCredit and status follow from what has been paid or allocated."""
        balance_field = self._settled_field(data_type)
        settled = Decimal(0)
        if existing is not None:
            settled = self._settled(existing, balance_field)
            record["paymentAllocations"] = existing.get("paymentAllocations", [])
        else:
            record["paymentAllocations"] = []
        # Exact decimal arithmetic on the amounts as written (no float drift in 0- or 3-decimal currencies).
        record[balance_field] = _money(validation.exact(record.get("totalAmount") or 0) - settled)
        self._derive_status(record, balance_field, settled)

    @staticmethod
    def _derive_status(record: dict[str, Any], balance_field: str, settled: Decimal) -> None:
        if record.get("status") in ("Draft", "Void"):
            return
        if settled <= 0:
            record["status"] = "Submitted"
        elif record[balance_field] <= 0:
            record[balance_field] = 0
            record["status"] = "Paid"
        else:
            record["status"] = "PartiallyPaid"

    def _apply_payment(self, company_id: str, payment: dict[str, Any]) -> None:
        for line in payment.get("lines") or []:
            for link in line.get("links") or []:
                kind = link.get("type")
                if kind not in ("Invoice", "CreditNote"):
                    continue
                data_type = "invoices" if kind == "Invoice" else "creditNotes"
                document = self._record(company_id, data_type, link["id"])
                self._before_write(company_id, data_type, document["id"])
                balance_field = self._settled_field(data_type)
                amount = abs(float(link["amount"]))
                document[balance_field] = _money(validation.exact(document[balance_field])
                                                 - validation.exact(abs(link["amount"])))
                self._derive_status(document, balance_field, self._settled(document, balance_field))
                document.setdefault("paymentAllocations", []).append({
                    "payment": {
                        "id": payment["id"], "note": payment.get("note"),
                        "reference": payment.get("reference"),
                        "accountRef": payment.get("accountRef"), "currency": payment.get("currency"),
                        "currencyRate": payment.get("currencyRate"), "paidOnDate": payment.get("date"),
                        "totalAmount": payment.get("totalAmount"),
                    },
                    "allocation": {"currency": document.get("currency"),
                                   "currencyRate": link.get("currencyRate"),
                                   "allocatedOnDate": payment.get("date"), "totalAmount": amount},
                })
                if document.get("status") == "Paid":
                    paid_field = "paidOnDate" if data_type == "invoices" else "allocatedOnDate"
                    document[paid_field] = payment.get("date")
                self._touch(document)
                self._save_record(company_id, data_type, document)

    # ---- operation reads and admin -----------------------------------------------------------------
    def operation(self, company_id: str, key: str) -> dict[str, Any]:
        self.company(company_id)
        row = self.operations[company_id].get(key)
        if row is None:
            raise NotFound(f"Push operation '{key}' was not found.")
        return row.decode()

    def force_operation_status(self, key: str, status: str) -> dict[str, Any]:
        """Admin: set an operation's status (e.g. to simulate a stuck or lost operation)."""
        codes = {"Pending": 202, "Success": 200, "Failed": 400, "TimedOut": 504}
        if status not in codes:
            raise ValueError(f"status must be one of {', '.join(codes)}")
        for company_id, operations in self.operations.items():
            if key in operations:
                if status == "Pending":
                    operation = operations[key].decode()
                    operation.update(status="Pending", statusCode=202)
                    operation.pop("completedOnUtc", None)
                    self._save_operation(company_id, key, operation)
                else:
                    self.forever[company_id].discard(key)
                    self._complete(company_id, key, status, codes[status])
                return operations[key].decode()
        raise NotFound(f"Push operation '{key}' was not found.")

    # ---- idempotency -----------------------------------------------------------------------------
    def idempotency_lookup(self, scope: str, key: str) -> CachedResponse | None:
        cached = self.idempotency.get((scope, key))
        if cached is not None and cached.done and self.now() - cached.created_at >= IDEMPOTENCY_TTL_SECONDS:
            self.idempotency_forget(scope, key)
            return None
        return cached

    def idempotency_begin(self, scope: str, key: str, fingerprint: str) -> CachedResponse:
        cached = CachedResponse(fingerprint=fingerprint, created_at=self.now())
        self.idempotency[(scope, key)] = cached
        return cached

    def idempotency_finish(self, scope: str, key: str, status: int, body: bytes,
                           headers: list[tuple[str, str]]) -> None:
        cached = self.idempotency[(scope, key)]
        cached.status, cached.body, cached.headers, cached.done = status, body, headers, True
        self._db.save("idem", scope, "", key, {
            "fingerprint": cached.fingerprint, "created_at": cached.created_at, "status": status,
            "body": body.decode(), "headers": headers, "done": True,
        })

    def idempotency_forget(self, scope: str, key: str) -> None:
        self.idempotency.pop((scope, key), None)
        self._db.delete("idem", scope, "", key)

    def age_idempotency(self, seconds: float) -> int:
        """Admin: make every cached response ``seconds`` older; returns how many there are."""
        for (scope, key), cached in self.idempotency.items():
            cached.created_at -= seconds
            if cached.done:
                self.idempotency_finish(scope, key, cached.status, cached.body, cached.headers)
        return len(self.idempotency)
