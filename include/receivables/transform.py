"""Accepted batch DataFrames -> Codat payload bytes, column-wise (CONTRACT.md §2, §9, §11.3-4).

Every function is pure and returns one row per document with the columns of :data:`PAYLOAD_COLUMNS`:
company_id, document_type, source_id, document_number, currency, total_amount (rounded Decimal),
payload (orjson bytes) and content_hash (sha256 hex of the payload). Rows come sorted by company_id,
source_id, so the same input always gives the same bytes.

    >>> out = invoices_to_payloads(invoices, lines, companies=companies, mappings=lookup,
    ...                            tax_rates=ar_ref_tax_rates, platform_ids=ledger_ids)
    >>> orjson.loads(out.loc[0, "payload"])["totalAmount"]

How it is fast without changing a byte: the money is int64 minor units (:mod:`receivables.money`'s
column helpers: one ``str`` per input amount, integer products and half-up rounding, Decimal only for
the rare value that does not fit), and the JSON text of invoices, credit notes, payments and fees is
assembled column by column with Arrow string kernels (``binary_join_element_wise`` over formatted
columns, ``binary_join`` of each document's lines). Python runs per distinct mapping code, per
document (bytes and hash), and per problem found, never per line.

Numbers are written by us, never through a float: each amount is its Decimal's own text in plain notation
(``-0`` written as ``0``) or the rounded minor units with the currency's decimals, so the bytes are what
orjson would write for a dict with ``orjson.Fragment`` numbers (the tests compare with such a per-row
reference), the value is exact, and the currency's decimals survive (``12.50`` GBP, ``1500`` JPY,
``1.235`` BHD). Strings are escaped as orjson escapes them (``"``, ``\\`` and control characters; those
few values go through orjson itself).

Inputs must already have passed :mod:`receivables.validate`. What transform cannot do without (a
customer or linked document without a platform id, an unmapped account) raises
:class:`UnresolvedReferenceError` naming every affected document, rather than sending a broken payload.
Empty inputs of any kind give an empty frame with the same columns.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from receivables.mappings import MappingLookup
from receivables.money import (
    MinorText,
    decimal_column,
    line_minor_amounts,
    minor_units_array,
    plain_text,
    round_half_up,
    round_many,
    to_minor_column,
)

PAYLOAD_COLUMNS = [
    "company_id",
    "document_type",
    "source_id",
    "document_number",
    "currency",
    "total_amount",
    "payload",
    "content_hash",
]

# Warehouse status -> Codat enum spelling. ``void`` never reaches transform (validate holds it back).
_STATUS = {"draft": "Draft", "submitted": "Submitted"}
_ONE = orjson.Fragment(b"1")
_TEXT = pa.large_string()  # 64-bit offsets: a night's JSON text can pass 2 GiB
# What orjson escapes inside a string; anything else is copied as it is (non-ASCII included).
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


class UnresolvedReferenceError(ValueError):
    """A document needs a platform id (customer, linked document, mapped account) that is not known."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{len(problems)} document(s) cannot be transformed: {shown}{more}")


def money_json(value: Decimal) -> orjson.Fragment:
    """The exact JSON number for a finite Decimal, with its decimals as written (``-0`` becomes ``0``)."""
    return orjson.Fragment(plain_text(value).encode())


# ------------------------------------------------------------------------------- Arrow text pieces


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of text columns and literals (a null anywhere gives null)."""
    return pc.binary_join_element_wise(*(_lit(p) if isinstance(p, str) else p for p in parts), _lit(""))


def _text_array(values: pd.Series | np.ndarray | list) -> pa.Array:
    """A text column as one Arrow large_string array, nulls kept (zero-copy for Arrow-backed strings)."""
    if isinstance(values, pd.Series) and not isinstance(values.dtype, (pd.StringDtype, pd.ArrowDtype)):
        values = values.astype(object).where(values.notna(), None)
    arr = pa.array(values, type=_TEXT, from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _json_strings(text: pa.Array) -> pa.Array:
    """JSON string literals of a text column (null -> ``null``), byte for byte as orjson writes them."""
    quoted = _join('"', text, '"')
    special = pc.fill_null(pc.match_substring_regex(text, _NEEDS_ESCAPE), False)
    if pc.any(special).as_py():
        rows = np.flatnonzero(special.to_numpy(zero_copy_only=False))
        escaped = pa.array([orjson.dumps(text[int(i)].as_py()).decode() for i in rows], _TEXT)
        quoted = pc.replace_with_mask(quoted, special, escaped)
    return pc.fill_null(quoted, _lit("null"))


def _ref_json(pids: pa.Array) -> pa.Array:
    """``{"id":...}`` per platform id (``{"id":null}`` where unknown)."""
    return _join('{"id":', _json_strings(pids), "}")


def _date_json(series: pd.Series) -> pa.Array:
    """Dates as Codat's unqualified ``"YYYY-MM-DDT00:00:00"`` (a missing date is ``null``); a batch has
    few distinct dates, so each is formatted once."""
    codes, days = pd.factorize(pd.to_datetime(series))
    text = ['"' + t + '"' for t in pd.Index(days).strftime("%Y-%m-%dT00:00:00")]
    return pa.array([*text, "null"], _TEXT).take(pa.array(codes))  # code -1 (missing) is the last


def _objects(values: pa.Array | pd.Series | list) -> list:
    """A column as a plain list with every NULL flavour turned into None."""
    if isinstance(values, list):
        return values
    if isinstance(values, pa.Array):
        return values.to_pylist()
    out = values.astype(object)
    return out.where(out.notna(), None).tolist()


def _rows_of(query: tuple[pa.Array, pa.Array], table: tuple[pa.Array, pa.Array]) -> np.ndarray:
    """For each (first, second) pair of ``query``, the last row of ``table`` with that pair, or -1.

    Both columns become integer codes over the table's distinct values, so pairs are matched as int64
    keys (sorted once, binary-searched) rather than as texts."""
    if len(query[0]) == 0 or len(table[0]) == 0:
        return np.full(len(query[0]), -1, dtype=np.int64)
    uniques = [pc.unique(column).drop_null() for column in table]
    keys = []
    for side in (query, table):
        key = np.zeros(len(side[0]), dtype=np.int64)
        missing = np.zeros(len(side[0]), dtype=bool)
        for column, distinct in zip(side, uniques, strict=True):
            code = pc.fill_null(pc.index_in(column, value_set=distinct), -1).to_numpy(zero_copy_only=False)
            missing |= code < 0
            key = key * (len(distinct) + 1) + code.astype(np.int64) + 1
        keys.append(np.where(missing, -1, key))
    order = np.argsort(keys[1], kind="stable")
    found = np.searchsorted(keys[1][order], keys[0], side="right") - 1
    found = np.clip(found, 0, None)
    hit = (keys[1][order][found] == keys[0]) & (keys[0] >= 0)
    return np.where(hit, order[found], -1)


def _pair_codes(first: pa.Array, second: pa.Array) -> tuple[np.ndarray, list[tuple]]:
    """Codes 0..k-1 per row for the distinct (first, second) pairs, and the pairs (None for null)."""
    if len(first) == 0:
        return np.zeros(0, dtype=np.int64), []
    a, b = pc.dictionary_encode(first), pc.dictionary_encode(second)
    ai = pc.fill_null(a.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    bi = pc.fill_null(b.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    width = len(b.dictionary) + 1
    codes, uniques = pd.factorize(ai * width + bi)
    da, db = a.dictionary.to_pylist(), b.dictionary.to_pylist()
    pairs = [(da[u // width - 1] if u // width else None, db[u % width - 1] if u % width else None)
             for u in uniques.tolist()]
    return codes, pairs


def _resolve_codes(mappings: MappingLookup, company_ids: pa.Array, kind: str, codes: pa.Array | None
                   ) -> tuple[np.ndarray, list[str | None]]:
    """Per row an index into the returned usable platform ids of ``kind`` for (company, code) (None
    where unmapped or broken; also where the row has no code and ``codes`` is optional); each distinct
    pair is asked once."""
    if codes is None:
        codes = pa.nulls(len(company_ids), _TEXT)
    rows, pairs = _pair_codes(company_ids, codes)
    return rows, [mappings.platform_id(comp, kind, code) for comp, code in pairs]


def _resolve(mappings: MappingLookup, company_ids: pa.Array, kind: str, codes: pa.Array | None) -> pa.Array:
    """Usable platform id per row for (company, code) of ``kind`` (null where unmapped or broken)."""
    rows, pids = _resolve_codes(mappings, company_ids, kind, codes)
    return pa.array(pids, _TEXT).take(pa.array(rows))


def _ref(pid: str | None) -> str:
    return '{"id":' + orjson.dumps(pid).decode() + "}"


def _platform_ids(platform_ids: pd.DataFrame | None, document_type: str, company_ids: pa.Array,
                  source_ids: pa.Array) -> pa.Array:
    """platform_id per row of records already in the platform (null where not known); the last row wins."""
    if platform_ids is None or platform_ids.empty or len(company_ids) == 0:
        return pa.nulls(len(company_ids), _TEXT)
    known = platform_ids[(platform_ids["document_type"] == document_type).to_numpy(dtype=bool, na_value=False)
                         & platform_ids["platform_id"].notna().to_numpy()]
    rows = _rows_of((company_ids, source_ids), (_text_array(known["company_id"]), _text_array(known["source_id"])))
    return _take_or_null(_text_array(known["platform_id"]), rows)


def _take_or_null(values: pa.Array, rows: np.ndarray) -> pa.Array:
    """``values[rows]`` with null where a row is -1."""
    return values.take(pa.array(rows, mask=rows < 0))


def _rate_json(currencies: pa.Array, rates: pd.Series, company_ids: pa.Array, companies: pd.DataFrame) -> pa.Array:
    """``currencyRate`` per document: 1 in the base currency, else the warehouse rate (null if none)."""
    base = dict(zip(_objects(companies["company_id"]), _objects(companies["base_currency"]), strict=True))
    base_of = pa.array([base.get(c) for c in company_ids.dictionary_encode().dictionary.to_pylist()], _TEXT)
    in_base = pc.fill_null(pc.equal(currencies, base_of.take(company_ids.dictionary_encode().indices)), False)
    foreign = np.flatnonzero(~in_base.to_numpy(zero_copy_only=False))
    text = pa.nulls(len(currencies), _TEXT)
    if len(foreign):
        foreign_text, _ = decimal_column(rates.to_numpy(dtype=object)[foreign])
        mask = np.zeros(len(currencies), dtype=bool)
        mask[foreign] = True
        text = pc.replace_with_mask(text, pa.array(mask), foreign_text)
    return pc.fill_null(pc.if_else(in_base, _lit("1"), text), _lit("null"))


def _group_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Exact sum of ``values[bounds[i]:bounds[i + 1]]`` per group (int64, or Python ints if they would not fit)."""
    if values.dtype != object and np.abs(values).astype(np.float64).sum() < 2.0**62:  # no partial sum overflows
        running = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
        return running[bounds[1:]] - running[bounds[:-1]]
    # Python ints: exact whatever the size (lines beyond int64 come as objects from money).
    sums = np.empty(len(bounds) - 1, dtype=object)
    sums[:] = [sum(values[lo:hi].tolist()) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return sums


def _lists(items: pa.Array, bounds: np.ndarray) -> pa.Array:
    """Each group's texts joined with commas (a group without items gives an empty text)."""
    return pc.binary_join(pa.LargeListArray.from_arrays(pa.array(bounds, pa.int64()), items), _lit(","))


def _finish(rows: dict[str, list], document_type: str) -> pd.DataFrame:
    """Serialise payload dicts (or take bytes / a text column as they are) and attach hashes."""
    payload = rows.pop("payload")
    if isinstance(payload, pa.Array):
        payloads = payload.cast(pa.large_binary()).to_pylist()
    else:
        payloads = [p if isinstance(p, bytes) else orjson.dumps(p) for p in payload]
    return pd.DataFrame(
        {
            "company_id": pd.Series(_objects(rows["company_id"]), dtype=object),
            "document_type": document_type,
            "source_id": pd.Series(_objects(rows["source_id"]), dtype=object),
            "document_number": pd.Series(_objects(rows["document_number"]), dtype=object),
            "currency": pd.Series(_objects(rows["currency"]), dtype=object),
            "total_amount": pd.Series(rows["total_amount"], dtype=object),
            "payload": pd.Series(payloads, dtype=object),
            "content_hash": pd.Series(_hashes(payloads), dtype=object),
        },
        columns=PAYLOAD_COLUMNS,
    )


def _hashes(payloads: list[bytes]) -> list[str]:
    sha = hashlib.sha256
    return [sha(p).hexdigest() for p in payloads]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PAYLOAD_COLUMNS})


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def _effective_rates(tax_rates: pd.DataFrame | None) -> dict[tuple[str, str], Decimal]:
    """(company_id, tax platform id) -> effective rate (the total rate where no effective one is given)."""
    if tax_rates is None or tax_rates.empty:
        return {}
    eff = _objects(tax_rates["effective_tax_rate"])
    tot = _objects(tax_rates["total_tax_rate"]) if "total_tax_rate" in tax_rates else [None] * len(eff)
    out = {}
    for comp, pid, e, t in zip(_objects(tax_rates["company_id"]), _objects(tax_rates["platform_id"]),
                               eff, tot, strict=True):
        rate = e if e is not None else t
        if rate is not None:
            out[(comp, pid)] = rate if isinstance(rate, Decimal) else Decimal(str(rate))
    return out


def _document_lines(docs: pd.DataFrame, doc_company: pa.Array, doc_ids: pa.Array, id_col: str,
                    lines: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of ``lines`` ordered by their document's row in ``docs`` then line_no (lines of no
    document in ``docs`` left out), and each document's slice bounds in that order."""
    if lines.empty:
        return np.zeros(0, dtype=np.int64), np.zeros(len(docs) + 1, dtype=np.int64)
    doc_of = _rows_of((_text_array(lines["company_id"]), _text_array(lines[id_col])), (doc_company, doc_ids))
    rows = np.flatnonzero(doc_of >= 0)
    line_no = lines["line_no"].to_numpy(dtype=np.int64, na_value=0)[rows]
    order = np.lexsort((line_no, doc_of[rows]))
    rows = rows[order]
    bounds = np.searchsorted(doc_of[rows], np.arange(len(docs) + 1))
    return rows, bounds


def customers_to_payloads(customers: pd.DataFrame) -> pd.DataFrame:
    """``ar_customers`` -> Customer payloads (name, email, default currency, status Active)."""
    if customers.empty:
        return _empty()
    c = _sorted(customers, ["company_id", "customer_id"])
    names = _objects(c["name"])
    emails = _objects(c["email"])
    currencies = _objects(c["default_currency"])
    payloads = [
        {"customerName": n, "emailAddress": e, "defaultCurrency": cur, "status": "Active"}
        for n, e, cur in zip(names, emails, currencies, strict=True)
    ]
    return _finish(
        {
            "company_id": _objects(c["company_id"]),
            "source_id": _objects(c["customer_id"]),
            "document_number": names,
            "currency": currencies,
            "total_amount": [None] * len(c),
            "payload": payloads,
        },
        "customer",
    )


def _sales_documents(
    docs: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    kind: str,
    companies: pd.DataFrame,
    mappings: MappingLookup,
    tax_rates: pd.DataFrame | None,
    platform_ids: pd.DataFrame | None,
) -> pd.DataFrame:
    """Invoices and credit notes share everything but a few field names."""
    id_col, number_col = ("invoice_id", "invoice_number") if kind == "invoice" else (
        "credit_note_id", "credit_note_number")
    if docs.empty:
        return _empty()
    docs = _sorted(docs, ["company_id", id_col])
    doc_comp = _text_array(docs["company_id"])
    doc_ids = _text_array(docs[id_col])
    numbers = _text_array(docs[number_col])
    doc_cur = _text_array(docs["currency"])
    doc_minor = minor_units_array(doc_cur.to_pylist())
    rows, bounds = _document_lines(docs, doc_comp, doc_ids, id_col, lines)
    line_doc = np.repeat(np.arange(len(docs)), np.diff(bounds))
    in_order = len(rows) == len(lines) and bool(np.all(rows == np.arange(len(rows))))  # the usual case
    take = pa.array(rows, pa.int64())

    def line_text(col: str) -> pa.Array:
        return _text_array(lines[col]) if in_order else _text_array(lines[col]).take(take)

    def line_objects(col: str) -> np.ndarray:
        values = lines[col].to_numpy(dtype=object)
        return values if in_order else values[rows]

    problems: list[str] = []

    def line_problem(mask: np.ndarray, why: str) -> None:
        line_no = lines["line_no"].to_numpy(dtype=object)[rows]
        for i in np.flatnonzero(mask):
            d = int(line_doc[i])
            problems.append(f"{kind} {numbers[d].as_py()} (id {doc_ids[d].as_py()}) line {line_no[i]}: {why}")

    # Mappings and tax rates, resolved once per distinct (company, code); a line's JSON from its
    # accountRef on is one text per distinct (account, tax rate, tracking category).
    line_comp = doc_comp.take(pa.array(line_doc, pa.int64()))
    acc_rows, acc_ids = _resolve_codes(mappings, line_comp, "income_account", line_text("revenue_code"))
    tax_code, tracking_code = line_text("tax_code"), line_text("tracking_code")
    tax_rows, tax_ids = _resolve_codes(mappings, line_comp, "tax_rate", tax_code)
    trk_rows, trk_ids = _resolve_codes(mappings, line_comp, "tracking_category", tracking_code)
    _, tax_pairs = _pair_codes(line_comp, tax_code)
    rates_by_id = _effective_rates(tax_rates)
    tax_ids = [pid if code is not None else None for pid, (_, code) in zip(tax_ids, tax_pairs, strict=True)]
    trk_pairs = _pair_codes(line_comp, tracking_code)[1]
    trk_ids = [pid if code is not None else None for pid, (_, code) in zip(trk_ids, trk_pairs, strict=True)]
    unique_rates = [None if pid is None else rates_by_id.get((comp, pid))
                    for pid, (comp, _) in zip(tax_ids, tax_pairs, strict=True)]
    has_tax = np.array([code is not None for _, code in tax_pairs] + [False], dtype=bool)[tax_rows]
    rate_objects = np.array([*unique_rates, None], dtype=object)[tax_rows]
    has_rate = has_tax & ~pd.isna(rate_objects)
    line_problem(has_tax & ~has_rate, "tax code has no usable tax rate")
    line_problem(np.array([pid is None for pid in acc_ids] + [False], dtype=bool)[acc_rows],
                 "no usable income account")
    tails_rows, tails = _pair_codes(pa.array(acc_rows * (len(tax_ids) + 1) + tax_rows),
                                    pa.array(trk_rows, pa.int64()))
    tail_text = []
    for combined, trk in tails:
        acc, tax = acc_ids[combined // (len(tax_ids) + 1)], tax_ids[combined % (len(tax_ids) + 1)]
        tracking = trk_ids[trk]
        tail_text.append(
            _ref(acc) + ("" if tax is None else ',"taxRateRef":' + _ref(tax))
            + ("" if tracking is None else ',"tracking":{"categoryRefs":[' + _ref(tracking)
               + '],"isBilledTo":"Unknown","isRebilledTo":"Unknown"}') + "}")
    tail = pa.array(tail_text, _TEXT).take(pa.array(tails_rows))

    # Money in int64 minor units: the discount rounded first, then WAREHOUSE.md's line rule.
    line_minor = doc_minor[line_doc]
    line_cur = np.asarray(doc_cur.to_pylist(), dtype=object)[line_doc]
    qty = line_objects("quantity")
    unit = line_objects("unit_amount")
    qty_text, qty_scaled = decimal_column(qty)
    unit_text, unit_scaled = decimal_column(unit)
    discount = to_minor_column(line_objects("discount_amount"), line_cur, line_minor)
    _, rate_scaled = decimal_column(rate_objects)
    sub, tax = line_minor_amounts(qty_scaled, unit_scaled, discount, rate_scaled, has_rate, line_minor,
                                  (qty, unit, rate_objects, line_cur))
    line_money = MinorText(line_minor)
    items = _join(
        '{"description":', _json_strings(line_text("description")), ',"unitAmount":', unit_text,
        ',"quantity":', qty_text, ',"discountAmount":', line_money(discount),
        ',"subTotal":', line_money(sub), ',"taxAmount":', line_money(tax),
        ',"totalAmount":', line_money(sub + tax), ',"accountRef":', tail,
    )

    customer = _platform_ids(platform_ids, "customer", doc_comp, _text_array(docs["customer_id"]))
    for i in np.flatnonzero(~customer.is_valid().to_numpy(zero_copy_only=False)):
        problems.append(f"{kind} {numbers[int(i)].as_py()} (id {doc_ids[int(i)].as_py()}): customer "
                        f"{docs['customer_id'].iat[int(i)]} has no platform id yet")
    status = docs["status"].astype(object).map(_STATUS)
    for i in np.flatnonzero(status.isna().to_numpy()):
        problems.append(f"{kind} {numbers[int(i)].as_py()} (id {doc_ids[int(i)].as_py()}): status "
                        f"'{docs['status'].iat[int(i)]}' cannot be pushed")
    if problems:
        raise UnresolvedReferenceError(problems)

    sub_sum, tax_sum = _group_sums(sub, bounds), _group_sums(tax, bounds)
    total = sub_sum + tax_sum
    doc_money = MinorText(doc_minor)
    total_text = doc_money(total)
    dates = [',"issueDate":', _date_json(docs["issue_date"])]
    if kind == "invoice":
        dates += [',"dueDate":', _date_json(docs["due_date"])]
    notes = _text_array(docs["note"]) if "note" in docs else pa.nulls(len(docs), _TEXT)
    payloads = _join(
        '{"invoiceNumber":' if kind == "invoice" else '{"creditNoteNumber":', _json_strings(numbers),
        ',"customerRef":', _ref_json(customer), *dates,
        ',"currency":', _json_strings(doc_cur), ',"currencyRate":', _rate_json(doc_cur, docs["currency_rate"],
                                                                            doc_comp, companies),
        ',"status":', _json_strings(_text_array(status)), ',"note":', _json_strings(notes),
        ',"lineItems":[', _lists(items, bounds), '],"subTotal":', doc_money(sub_sum),
        ',"totalDiscount":', doc_money(_group_sums(discount, bounds)),
        ',"discountPercentage":0' if kind == "credit_note" else "",
        ',"totalTaxAmount":', doc_money(tax_sum), ',"totalAmount":', total_text,
        ',"amountDue":' if kind == "invoice" else ',"remainingCredit":', total_text, "}",
    )
    return _finish(
        {
            "company_id": doc_comp,
            "source_id": doc_ids,
            "document_number": numbers,
            "currency": doc_cur,
            "total_amount": list(map(Decimal, total_text.to_pylist())),
            "payload": payloads,
        },
        kind,
    )


def invoices_to_payloads(
    invoices: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    companies: pd.DataFrame,
    mappings: MappingLookup,
    tax_rates: pd.DataFrame | None,
    platform_ids: pd.DataFrame | None,
) -> pd.DataFrame:
    """``ar_invoices`` + ``ar_invoice_lines`` -> Invoice payloads (``amountDue`` = ``totalAmount``).

    ``tax_rates`` is ``ar_ref_tax_rates`` (company_id, platform_id, effective_tax_rate[, total_tax_rate]);
    ``platform_ids`` maps (company_id, document_type, source_id) to platform_id for pushed records.
    """
    return _sales_documents(invoices, lines, kind="invoice", companies=companies, mappings=mappings,
                            tax_rates=tax_rates, platform_ids=platform_ids)


def credit_notes_to_payloads(
    credit_notes: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    companies: pd.DataFrame,
    mappings: MappingLookup,
    tax_rates: pd.DataFrame | None,
    platform_ids: pd.DataFrame | None,
) -> pd.DataFrame:
    """``ar_credit_notes`` + lines -> CreditNote payloads (``remainingCredit`` = ``totalAmount``)."""
    return _sales_documents(credit_notes, lines, kind="credit_note", companies=companies, mappings=mappings,
                            tax_rates=tax_rates, platform_ids=platform_ids)


def payments_to_payloads(
    payments: pd.DataFrame,
    allocations: pd.DataFrame,
    *,
    companies: pd.DataFrame,
    mappings: MappingLookup,
    platform_ids: pd.DataFrame | None,
) -> pd.DataFrame:
    """``ar_payments`` + ``ar_payment_allocations`` -> Payment payloads, pushed gross.

    One line per allocation (invoice: line +X with an ``Invoice`` link -X; credit note, i.e. a refund:
    line -X with a ``CreditNote`` link +X), then the unallocated remainder as a ``PaymentOnAccount``
    line whose link id is the platform customer id. Each line's amount plus its links is 0 and the
    lines add up to ``totalAmount``. ``reference`` falls back to the payment_id when the warehouse has
    none, because the reference is how the payment is found again.
    """
    if payments.empty:
        return _empty()
    p = _sorted(payments, ["company_id", "payment_id"])
    comp = _text_array(p["company_id"])
    ids = _text_array(p["payment_id"])
    cur = _text_array(p["currency"])
    cur_list = cur.to_pylist()
    minor = minor_units_array(cur_list)
    amounts = to_minor_column(p["amount"].to_numpy(dtype=object), cur_list, minor)
    refs = pc.coalesce(_text_array(p["reference"]), ids)
    customer = _platform_ids(platform_ids, "customer", comp, _text_array(p["customer_id"]))
    account = _resolve(mappings, comp, "payment_account", _text_array(p["method"]))
    problems: list[str] = []
    no_customer = ~customer.is_valid().to_numpy(zero_copy_only=False)
    no_account = ~account.is_valid().to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(no_customer | no_account):
        r, pid = refs[int(i)].as_py(), ids[int(i)].as_py()
        if no_customer[i]:
            problems.append(f"payment {r} (id {pid}): customer has no platform id yet")
        if no_account[i]:
            problems.append(f"payment {r} (id {pid}): no usable payment account mapping")

    # Allocations in payment order, then by target (type, id) and their warehouse order.
    if allocations.empty:
        allocs = pd.DataFrame({"_doc": pd.Series(dtype=np.int64), "target_type": pd.Series(dtype=object),
                               "target_id": pd.Series(dtype=object), "amount": pd.Series(dtype=object),
                               "company_id": pd.Series(dtype=object)})
    else:
        doc_of = _rows_of((_text_array(allocations["company_id"]), _text_array(allocations["payment_id"])),
                          (comp, ids))
        allocs = allocations.assign(_doc=doc_of, _order=np.arange(len(allocations)))
        allocs = allocs[(doc_of >= 0)]
        allocs = allocs.sort_values(["_doc", "target_type", "target_id", "_order"], kind="mergesort")
    a_doc = allocs["_doc"].to_numpy(dtype=np.int64)
    bounds = np.searchsorted(a_doc, np.arange(len(p) + 1))
    a_comp = comp.take(pa.array(a_doc, pa.int64()))
    a_type = _text_array(allocs["target_type"])
    a_target = _text_array(allocs["target_id"])
    is_invoice = pc.fill_null(pc.equal(a_type, _lit("invoice")), False).to_numpy(zero_copy_only=False)
    target = pc.if_else(pa.array(is_invoice), _platform_ids(platform_ids, "invoice", a_comp, a_target),
                        _platform_ids(platform_ids, "credit_note", a_comp, a_target))
    for i in np.flatnonzero(~target.is_valid().to_numpy(zero_copy_only=False)):
        d = int(a_doc[i])
        problems.append(f"payment {refs[d].as_py()} (id {ids[d].as_py()}): {a_type[int(i)].as_py()} "
                        f"{a_target[int(i)].as_py()} has no platform id yet")
    if problems:
        raise UnresolvedReferenceError(problems)

    a_minor = minor[a_doc]
    a_amount = to_minor_column(allocs["amount"].to_numpy(dtype=object), [cur_list[d] for d in a_doc], a_minor)
    line = np.where(is_invoice, a_amount, -a_amount)  # an invoice's payment is +X, a refund -X
    alloc_money = MinorText(a_minor)
    alloc_lines = _join(
        '{"amount":', alloc_money(line), ',"links":[{"type":',
        pc.if_else(pa.array(is_invoice), _lit('"Invoice"'), _lit('"CreditNote"')), ',"id":', _json_strings(target),
        ',"amount":', alloc_money(-line), "}]}",
    )
    remainder = amounts - _group_sums(line, bounds)
    allocated = np.diff(bounds) > 0
    on_account = (remainder != 0) | ~allocated
    customer_json = _json_strings(customer)
    money = MinorText(minor)
    amount_text = money(amounts)
    rest = pc.if_else(pa.array(on_account), _join(
        '{"amount":', money(remainder), ',"links":[{"type":"PaymentOnAccount","id":', customer_json,
        ',"amount":', money(-remainder), "}]}"), _lit(""))
    payloads = _join(
        '{"customerRef":{"id":', customer_json, '},"accountRef":{"id":', _json_strings(account),
        '},"date":', _date_json(p["paid_on"]), ',"currency":', _json_strings(cur),
        ',"currencyRate":', _rate_json(cur, p["currency_rate"], comp, companies),
        ',"totalAmount":', amount_text, ',"reference":', _json_strings(refs),
        ',"lines":[', _lists(alloc_lines, bounds), pc.if_else(pa.array(allocated & on_account), _lit(","), _lit("")),
        rest, "]}",
    )
    return _finish(
        {"company_id": comp, "source_id": ids, "document_number": refs, "currency": cur,
         "total_amount": list(map(Decimal, amount_text.to_pylist())), "payload": payloads},
        "payment",
    )


def credit_note_allocations_to_payloads(
    allocations: pd.DataFrame,
    *,
    documents: pd.DataFrame,
    companies: pd.DataFrame,
    platform_ids: pd.DataFrame | None,
) -> pd.DataFrame:
    """``ar_credit_note_allocations`` -> zero-total Payments linking Invoice -X and CreditNote +X.

    ``documents`` gives each credit note's customer_id, currency and currency_rate (the
    ``known_documents`` frame of validation). The payment is in the credit note's currency and carries
    its rate (1 in the base currency): the platform refuses a foreign-currency payment without one.
    The source_id is ``<credit_note_id>:<invoice_id>`` and is also sent as the ``reference`` so the
    record can be found.
    """
    if allocations.empty:
        return _empty()
    a = allocations.assign(source_id=allocations["credit_note_id"].astype(object) + ":"
                           + allocations["invoice_id"].astype(object))
    a = _sorted(a, ["company_id", "source_id"])
    docs = documents[(documents["document_type"] == "credit_note").to_numpy(dtype=bool, na_value=False)]
    doc_info = {
        (c, s): (cust, cur, rate)
        for c, s, cust, cur, rate in zip(_objects(docs["company_id"]), _objects(docs["source_id"]),
                                         _objects(docs["customer_id"]), _objects(docs["currency"]),
                                         _objects(docs["currency_rate"]), strict=True)
    }
    pids = _platform_id_index(platform_ids)
    comp = _objects(a["company_id"])
    src = _objects(a["source_id"])
    cn_ids = _objects(a["credit_note_id"])
    inv_ids = _objects(a["invoice_id"])
    problems: list[str] = []
    currencies, customers, doc_rates = [], [], []
    for c, cn, s in zip(comp, cn_ids, src, strict=True):
        cust, cur, rate = doc_info.get((c, cn), (None, None, None))
        currencies.append(cur)
        doc_rates.append(rate)
        cust_pid = pids.get((c, "customer", cust))
        customers.append(cust_pid)
        if cur is None or cust_pid is None:
            problems.append(f"credit note allocation {s}: credit note {cn} or its customer is not known")
    amounts = round_many(_objects(a["amount"]), [c or "XXX" for c in currencies])
    inv_pids = [pids.get((c, "invoice", i)) for c, i in zip(comp, inv_ids, strict=True)]
    cn_pids = [pids.get((c, "credit_note", i)) for c, i in zip(comp, cn_ids, strict=True)]
    for s, ip, cp in zip(src, inv_pids, cn_pids, strict=True):
        if ip is None or cp is None:
            problems.append(f"credit note allocation {s}: invoice or credit note has no platform id yet")
    if problems:
        raise UnresolvedReferenceError(problems)
    dates = _date_text(a["allocated_on"])
    rates = _rates_json(currencies, doc_rates, comp, _base_currencies(companies))
    payloads = []
    totals = []
    for i in range(len(a)):
        zero = round_half_up(Decimal(0), currencies[i])
        totals.append(zero)
        amt = amounts[i]
        payloads.append({
            "customerRef": {"id": customers[i]},
            "date": dates[i],
            "currency": currencies[i],
            "currencyRate": rates[i],
            "totalAmount": money_json(zero),
            "reference": src[i],
            "lines": [{"amount": money_json(zero), "links": [
                {"type": "Invoice", "id": inv_pids[i], "amount": money_json(-amt)},
                {"type": "CreditNote", "id": cn_pids[i], "amount": money_json(amt)},
            ]}],
        })
    return _finish(
        {"company_id": comp, "source_id": src, "document_number": src, "currency": currencies,
         "total_amount": totals, "payload": payloads},
        "credit_note_allocation",
    )


def _platform_id_index(platform_ids: pd.DataFrame | None) -> dict[tuple[str, str, str], str]:
    """(company_id, document_type, source_id) -> platform_id of records already in the platform."""
    if platform_ids is None or platform_ids.empty:
        return {}
    cols = platform_ids[["company_id", "document_type", "source_id", "platform_id"]].astype(object)
    cols = cols[cols["platform_id"].notna().to_numpy()]
    return dict(zip(zip(cols["company_id"], cols["document_type"], cols["source_id"], strict=True),
                    cols["platform_id"], strict=True))


def _date_text(series: pd.Series) -> list[str | None]:
    """Dates as Codat's unqualified ``YYYY-MM-DDT00:00:00`` (None stays None)."""
    text = pd.to_datetime(series).dt.strftime("%Y-%m-%dT00:00:00").astype(object).tolist()
    return [t if isinstance(t, str) else None for t in text]


def _base_currencies(companies: pd.DataFrame) -> dict[str, str]:
    return dict(zip(companies["company_id"].astype(object), companies["base_currency"].astype(object),
                    strict=True))


def _rates_json(currencies: list, rates: list, company_ids: list, base: dict[str, str]) -> list:
    """``currencyRate`` per document: 1 in the base currency, else the warehouse rate (null if none)."""
    return [
        _ONE if cur == base.get(comp) else (None if rate is None else money_json(rate))
        for cur, rate, comp in zip(currencies, rates, company_ids, strict=True)
    ]


def fees_to_payloads(
    payments: pd.DataFrame,
    *,
    companies: pd.DataFrame,
    mappings: MappingLookup,
) -> pd.DataFrame:
    """Payments with ``fee_amount`` > 0 -> DirectCost payloads for the fee withheld.

    Dated the payment date, in the payment currency, one untaxed line on the ``fee_account`` mapping,
    paid (``paymentAllocations``) from the payment's account, ``reference`` = the payment reference.
    """
    if payments.empty:
        return _empty()
    _, fee_scaled = decimal_column(payments["fee_amount"].to_numpy(dtype=object))
    p = payments[fee_scaled.exact & (fee_scaled.mantissa > 0)]  # a mask array: rows even when none match
    if p.empty:
        return _empty()
    p = _sorted(p, ["company_id", "payment_id"])
    comp = _text_array(p["company_id"])
    ids = _text_array(p["payment_id"])
    cur = _text_array(p["currency"])
    cur_list = cur.to_pylist()
    minor = minor_units_array(cur_list)
    refs = pc.coalesce(_text_array(p["reference"]), ids)
    money = MinorText(minor)
    fee = money(to_minor_column(p["fee_amount"].to_numpy(dtype=object), cur_list, minor))
    account = _resolve(mappings, comp, "payment_account", _text_array(p["method"]))
    fee_account = _resolve(mappings, comp, "fee_account", None)
    broken = ~(account.is_valid().to_numpy(zero_copy_only=False) & fee_account.is_valid().to_numpy(zero_copy_only=False))
    problems = [
        f"fee of payment {refs[int(i)].as_py()} (id {ids[int(i)].as_py()}): no usable "
        f"{'payment' if account[int(i)].as_py() is None else 'fee'} account mapping"
        for i in np.flatnonzero(broken)
    ]
    if problems:
        raise UnresolvedReferenceError(problems)
    zero = money(np.zeros(len(p), dtype=np.int64))
    rate = _rate_json(cur, p["currency_rate"], comp, companies)
    day = _date_json(p["paid_on"])
    currency = _json_strings(cur)
    payloads = _join(
        '{"reference":', _json_strings(refs), ',"note":', _json_strings(_join("Payment fee withheld from payment ", refs)),
        ',"issueDate":', day, ',"currency":', currency, ',"currencyRate":', rate,
        ',"lineItems":[{"description":', _json_strings(_join("Payment fee for ", refs)), ',"unitAmount":', fee,
        ',"quantity":1,"subTotal":', fee, ',"taxAmount":', zero, ',"totalAmount":', fee,
        ',"accountRef":', _ref_json(fee_account), '}],"paymentAllocations":[{"payment":{"accountRef":',
        _ref_json(account), ',"currency":', currency, ',"currencyRate":', rate, ',"paidOnDate":', day,
        ',"totalAmount":', fee, '},"allocation":{"currency":', currency, ',"currencyRate":', rate,
        ',"allocatedOnDate":', day, ',"totalAmount":', fee, '}}],"subTotal":', fee, ',"taxAmount":', zero,
        ',"totalAmount":', fee, "}",
    )
    return _finish(
        {"company_id": comp, "source_id": ids, "document_number": refs, "currency": cur,
         "total_amount": list(map(Decimal, fee.to_pylist())), "payload": payloads},
        "fee",
    )
