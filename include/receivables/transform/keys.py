"""Look-ups for whole columns: rows matched on (company, id) pairs, platform ids, mappings, rates.

Pairs of texts are matched as int64 keys (codes over the distinct values, sorted once, binary-searched)
and every mapping or reference question is asked once per distinct pair, never once per row.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from receivables.mappings import MappingLookup
from receivables.money import decimal_column
from receivables.transform.text import TEXT, lit, objects, text_array


def rows_of(query: tuple[pa.Array, pa.Array], table: tuple[pa.Array, pa.Array]) -> np.ndarray:
    """For each (first, second) pair of ``query``, the last row of ``table`` with that pair, or -1."""
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


def take_or_null(values: pa.Array, rows: np.ndarray) -> pa.Array:
    """``values[rows]`` with null where a row is -1."""
    return values.take(pa.array(rows, mask=rows < 0))


Coded = tuple[np.ndarray, list]  # per row 1 + its value's index in the list (0 for null), and the values


def coded(values: pa.Array | Coded) -> Coded:
    """A column as integer codes over its distinct values (a column already coded is kept as it is)."""
    if isinstance(values, tuple):
        return values
    encoded = pc.dictionary_encode(values)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    return codes, encoded.dictionary.to_pylist()


def pair_codes(first: pa.Array | Coded, second: pa.Array | Coded) -> tuple[np.ndarray, list[tuple]]:
    """Codes 0..k-1 per row for the distinct (first, second) pairs, and the pairs (None for null)."""
    if len(first[0] if isinstance(first, tuple) else first) == 0:
        return np.zeros(0, dtype=np.int64), []
    (ai, da), (bi, db) = coded(first), coded(second)
    width = len(db) + 1
    codes, uniques = pd.factorize(ai * width + bi)
    pairs = [(da[u // width - 1] if u // width else None, db[u % width - 1] if u % width else None)
             for u in uniques.tolist()]
    return codes, pairs


def resolve_codes(mappings: MappingLookup, company_ids: pa.Array | Coded, kind: str, codes: pa.Array | None
                  ) -> tuple[np.ndarray, list[str | None], list[tuple]]:
    """Per row an index into the returned usable platform ids of mapping ``kind`` for (company, code)
    (None where unmapped or broken; also where the row has no code and ``codes`` is optional), and the
    distinct (company, code) pairs those indexes stand for; each pair is asked once."""
    if codes is None:
        codes = pa.nulls(len(company_ids[0] if isinstance(company_ids, tuple) else company_ids), TEXT)
    rows, pairs = pair_codes(company_ids, codes)
    return rows, [mappings.platform_id(comp, kind, code) for comp, code in pairs], pairs


def resolve(mappings: MappingLookup, company_ids: pa.Array, kind: str, codes: pa.Array | None) -> pa.Array:
    """Usable platform id per row for (company, code) of mapping ``kind`` (null where unmapped or broken)."""
    rows, pids, _ = resolve_codes(mappings, company_ids, kind, codes)
    return pa.array(pids, TEXT).take(pa.array(rows))


def platform_ids_of(platform_ids: pd.DataFrame | None, document_type: str, company_ids: pa.Array,
                    source_ids: pa.Array) -> pa.Array:
    """platform_id per row of records already in the platform (null where not known); the last row wins."""
    if platform_ids is None or platform_ids.empty or len(company_ids) == 0:
        return pa.nulls(len(company_ids), TEXT)
    known = platform_ids[(platform_ids["document_type"] == document_type).to_numpy(dtype=bool, na_value=False)
                         & platform_ids["platform_id"].notna().to_numpy()]
    table = (text_array(known["company_id"]), text_array(known["source_id"]))
    rows = rows_of((company_ids, source_ids), table)
    return take_or_null(text_array(known["platform_id"]), rows)


def rate_json(currencies: pa.Array, rates: np.ndarray, company_ids: pa.Array, companies: pd.DataFrame
              ) -> pa.Array:
    """``currencyRate`` per document: 1 in the base currency, else the warehouse rate (null if none).

    ``rates`` are the documents' ``currency_rate`` objects (Decimal or None)."""
    base = dict(zip(objects(companies["company_id"]), objects(companies["base_currency"]), strict=True))
    encoded = company_ids.dictionary_encode()
    base_of = pa.array([base.get(c) for c in encoded.dictionary.to_pylist()], TEXT)
    in_base = pc.fill_null(pc.equal(currencies, base_of.take(encoded.indices)), False)
    foreign = np.flatnonzero(~in_base.to_numpy(zero_copy_only=False))
    text = pa.nulls(len(currencies), TEXT)
    if len(foreign):
        foreign_text, _ = decimal_column(np.asarray(rates, dtype=object)[foreign])
        mask = np.zeros(len(currencies), dtype=bool)
        mask[foreign] = True
        text = pc.replace_with_mask(text, pa.array(mask), foreign_text)
    return pc.fill_null(pc.if_else(in_base, lit("1"), text), lit("null"))


def effective_rates(tax_rates: pd.DataFrame | None) -> dict[tuple[str, str], Decimal]:
    """(company_id, tax platform id) -> effective rate (the total rate where no effective one is given)."""
    if tax_rates is None or tax_rates.empty:
        return {}
    eff = objects(tax_rates["effective_tax_rate"])
    tot = objects(tax_rates["total_tax_rate"]) if "total_tax_rate" in tax_rates else [None] * len(eff)
    out = {}
    for comp, pid, e, t in zip(objects(tax_rates["company_id"]), objects(tax_rates["platform_id"]),
                               eff, tot, strict=True):
        rate = e if e is not None else t
        if rate is not None:
            out[(comp, pid)] = rate if isinstance(rate, Decimal) else Decimal(str(rate))
    return out
