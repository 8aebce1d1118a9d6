"""Customers, invoices and credit notes -> their Codat request bodies (CONTRACT.md §2, §9).

Invoices and credit notes share everything but a few field names, which come from the registry
(:data:`receivables.documents.KIND`: id and number columns, number field, open-balance field).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from receivables.documents import KIND, DocumentKind
from receivables.mappings import MappingLookup
from receivables.money import (
    MinorText,
    ScaledColumn,
    decimal_column,
    line_minor_amounts,
    minor_units_array,
    to_minor_column,
)
from receivables.transform.frame import (
    Problems,
    chunks,
    decimals,
    empty,
    finish,
    group_sums,
    missing,
    sorted_by,
)
from receivables.transform.keys import (
    Coded,
    coded,
    effective_rates,
    pair_codes,
    platform_ids_of,
    rate_json,
    resolve_codes,
    rows_of,
)
from receivables.transform.text import (
    TEXT,
    date_json,
    join,
    lists,
    ref,
    ref_json,
    sliced,
    strings,
    text_array,
)

# Warehouse status -> Codat enum spelling. ``void`` never reaches transform (validate holds it back).
_STATUS = {"draft": "Draft", "submitted": "Submitted"}


def customers_to_payloads(customers: pd.DataFrame) -> pd.DataFrame:
    """``ar_customers`` -> Customer payloads (name, email, default currency, status Active)."""
    if customers.empty:
        return empty()
    c = sorted_by(customers, ["company_id", KIND["customer"].id_column])
    names, currencies = text_array(c["name"]), text_array(c["default_currency"])
    emails = text_array(c["email"])
    payloads = join('{"customerName":', strings(names), ',"emailAddress":', strings(emails),
                    ',"defaultCurrency":', strings(currencies), ',"status":"Active"}')
    return finish("customer", company_id=text_array(c["company_id"]),
                  source_id=text_array(c[KIND["customer"].id_column]), document_number=names,
                  currency=currencies, total_amount=[None] * len(c), payload=payloads)


def invoices_to_payloads(invoices: pd.DataFrame, lines: pd.DataFrame, *, companies: pd.DataFrame,
                         mappings: MappingLookup, tax_rates: pd.DataFrame | None,
                         platform_ids: pd.DataFrame | None) -> pd.DataFrame:
    """``ar_invoices`` + ``ar_invoice_lines`` -> Invoice payloads (``amountDue`` = ``totalAmount``).

    ``tax_rates`` is ``ar_ref_tax_rates`` (company_id, platform_id, effective_tax_rate[, total_tax_rate]);
    ``platform_ids`` maps (company_id, document_type, source_id) to platform_id for pushed records.
    """
    return _sales_documents(KIND["invoice"], invoices, lines, companies=companies, mappings=mappings,
                            tax_rates=tax_rates, platform_ids=platform_ids)


def credit_notes_to_payloads(credit_notes: pd.DataFrame, lines: pd.DataFrame, **context) -> pd.DataFrame:
    """``ar_credit_notes`` + lines -> CreditNote payloads (``remainingCredit`` = ``totalAmount``); the
    keyword arguments are :func:`invoices_to_payloads`'."""
    return _sales_documents(KIND["credit_note"], credit_notes, lines, **context)


@dataclass(frozen=True)
class _Lines:
    """A batch's lines in document order, then ``line_no`` (lines of no document in the batch left out)."""

    frame: pd.DataFrame
    rows: np.ndarray       # row positions in ``frame``, in that order
    bounds: np.ndarray     # document i's lines are rows[bounds[i]:bounds[i + 1]]
    doc: np.ndarray        # the document row of each line
    in_order: bool         # ``frame`` is already in that order (the usual case): no take needed

    @classmethod
    def of(cls, lines: pd.DataFrame, id_col: str, doc_company: pa.Array, doc_ids: pa.Array) -> _Lines:
        n_docs = len(doc_ids)
        if lines.empty:
            rows, bounds = np.zeros(0, dtype=np.int64), np.zeros(n_docs + 1, dtype=np.int64)
        else:
            keys = (text_array(lines["company_id"]), text_array(lines[id_col]))
            doc_of = rows_of(keys, (doc_company, doc_ids))
            rows = np.flatnonzero(doc_of >= 0)
            line_no = lines["line_no"].to_numpy(dtype=np.int64, na_value=0)[rows]
            rows = rows[np.lexsort((line_no, doc_of[rows]))]
            bounds = np.searchsorted(doc_of[rows], np.arange(n_docs + 1))
        in_order = len(rows) == len(lines) and bool(np.all(rows == np.arange(len(rows))))
        return cls(lines, rows, bounds, np.repeat(np.arange(n_docs), np.diff(bounds)), in_order)

    def text(self, col: str) -> pa.Array:
        values = text_array(self.frame[col])
        return values if self.in_order else values.take(pa.array(self.rows, pa.int64()))

    def objects(self, col: str) -> np.ndarray:
        values = self.frame[col].to_numpy(dtype=object)
        return values if self.in_order else values[self.rows]


@dataclass(frozen=True)
class _Documents:
    """The sorted header rows of one kind, with the columns every step reads."""

    kind: DocumentKind
    frame: pd.DataFrame
    company: pa.Array
    ids: pa.Array
    numbers: pa.Array
    currency: pa.Array
    minor: np.ndarray

    @classmethod
    def of(cls, kind: DocumentKind, docs: pd.DataFrame) -> _Documents:
        docs = sorted_by(docs, ["company_id", kind.id_column])
        currency = text_array(docs["currency"])
        return cls(kind, docs, text_array(docs["company_id"]), text_array(docs[kind.id_column]),
                   text_array(docs[kind.number_column]), currency, minor_units_array(currency.to_pylist()))

    def named(self, i: int) -> str:
        """How a problem names document row ``i``: ``invoice INV-7 (id inv_7)``."""
        return f"{self.kind.name} {self.numbers[i].as_py()} (id {self.ids[i].as_py()})"


@dataclass(frozen=True)
class _LineMoney:
    """Each line's figures in minor units (and the two amounts sent as the warehouse wrote them)."""

    unit_text: pa.Array
    quantity_text: pa.Array
    discount: np.ndarray
    sub: np.ndarray
    tax: np.ndarray
    minor: np.ndarray


def _sales_documents(kind: DocumentKind, docs: pd.DataFrame, lines: pd.DataFrame, *, companies: pd.DataFrame,
                     mappings: MappingLookup, tax_rates: pd.DataFrame | None,
                     platform_ids: pd.DataFrame | None) -> pd.DataFrame:
    """Invoice or credit note payloads: lines resolved and priced column-wise, then each header."""
    if docs.empty:
        return empty()
    d = _Documents.of(kind, docs)
    ls = _Lines.of(lines, kind.id_column, d.company, d.ids)
    problems = Problems()
    company_codes, companies_seen = coded(d.company)
    line_comp = (company_codes[ls.doc], companies_seen)  # each line's company, coded as its document's
    tail, rates = _line_refs(d, ls, line_comp, mappings, tax_rates, problems)
    money = _line_money(d, ls, rates)
    customer = platform_ids_of(platform_ids, "customer", d.company, text_array(d.frame["customer_id"]))
    status = d.frame["status"].astype(object).map(_STATUS)
    problems.where(missing(customer), lambda i: f"{d.named(i)}: customer {d.frame['customer_id'].iat[i]} "
                                                "has no platform id yet")
    problems.where(status.isna().to_numpy(), lambda i: f"{d.named(i)}: status '{d.frame['status'].iat[i]}' "
                                                      "cannot be pushed")
    problems.raise_any()
    return _sales_payloads(d, _LineText(ls.text("description"), money, *tail), ls.bounds, money, customer,
                           text_array(status), companies)


@dataclass(frozen=True)
class _LineRates:
    """Each line's tax rate: whether it has one, the rate (Decimal or None) and the rate as scaled int64."""

    has_rate: np.ndarray
    objects: np.ndarray
    scaled: ScaledColumn


def _line_refs(d: _Documents, ls: _Lines, line_comp: Coded, mappings: MappingLookup,
               tax_rates: pd.DataFrame | None, problems: Problems
               ) -> tuple[tuple[pa.Array, np.ndarray], _LineRates]:
    """Each line's JSON from its ``accountRef`` on — one text per distinct account, tax rate and tracking
    category, and each line's index into them — and its tax rate; mappings and tax rates are resolved
    once per distinct (company, code)."""
    tax_code, tracking_code = ls.text("tax_code"), ls.text("tracking_code")
    acc_rows, acc_ids, _ = resolve_codes(mappings, line_comp, "income_account", ls.text("revenue_code"))
    tax_rows, tax_ids, tax_pairs = resolve_codes(mappings, line_comp, "tax_rate", tax_code)
    trk_rows, trk_ids, trk_pairs = resolve_codes(mappings, line_comp, "tracking_category", tracking_code)
    # No code, no ref (the '*' default applies to a code that is not mapped, not to a missing one).
    tax_ids = [pid if code is not None else None for pid, (_, code) in zip(tax_ids, tax_pairs, strict=True)]
    trk_ids = [pid if code is not None else None for pid, (_, code) in zip(trk_ids, trk_pairs, strict=True)]
    rates_by_id = effective_rates(tax_rates)
    unique_rates = [None if pid is None else rates_by_id.get((comp, pid))
                    for pid, (comp, _) in zip(tax_ids, tax_pairs, strict=True)]
    has_tax = np.array([code is not None for _, code in tax_pairs] + [False], dtype=bool)[tax_rows]
    distinct_rates = np.array([*unique_rates, None], dtype=object)
    rate_objects = distinct_rates[tax_rows]
    has_rate = has_tax & ~pd.isna(rate_objects)
    _, scaled = decimal_column(distinct_rates)  # parsed once per distinct rate, then spread over the lines
    rates = _LineRates(has_rate, rate_objects, scaled.take(tax_rows))
    line_no = ls.frame["line_no"].to_numpy(dtype=object)[ls.rows]

    def line_problem(mask: np.ndarray, why: str) -> None:
        problems.where(mask, lambda i: f"{d.named(int(ls.doc[i]))} line {line_no[i]}: {why}")

    line_problem(has_tax & ~has_rate, "tax code has no usable tax rate")
    line_problem(np.array([pid is None for pid in acc_ids] + [False], dtype=bool)[acc_rows],
                 "no usable income account")
    width = len(tax_ids) + 1
    tails_rows, tails = pair_codes(pa.array(acc_rows * width + tax_rows), pa.array(trk_rows, pa.int64()))
    tail_text = [_line_tail(acc_ids[combined // width], tax_ids[combined % width], trk_ids[trk])
                 for combined, trk in tails]
    return (pa.array(tail_text, TEXT), tails_rows), rates


def _line_tail(account: str | None, tax: str | None, tracking: str | None) -> str:
    """A line's refs from ``accountRef`` on, closing the line's object (one text per distinct combination,
    so the field name costs the line template no piece of its own)."""
    return (',"accountRef":' + ref(account) + ("" if tax is None else ',"taxRateRef":' + ref(tax))
            + ("" if tracking is None else ',"tracking":{"categoryRefs":[' + ref(tracking)
               + '],"isBilledTo":"Unknown","isRebilledTo":"Unknown"}') + "}")


def _line_money(d: _Documents, ls: _Lines, rates: _LineRates) -> _LineMoney:
    """WAREHOUSE.md's line rule in int64 minor units: the discount rounded first, then subtotal and tax."""
    minor = d.minor[ls.doc]
    currency = np.asarray(d.currency.to_pylist(), dtype=object)[ls.doc]
    qty, unit = ls.objects("quantity"), ls.objects("unit_amount")
    qty_text, qty_scaled = decimal_column(qty)
    unit_text, unit_scaled = decimal_column(unit)
    discount = to_minor_column(ls.objects("discount_amount"), currency, minor)
    sub, tax = line_minor_amounts(qty_scaled, unit_scaled, discount, rates.scaled, rates.has_rate, minor,
                                  (qty, unit, rates.objects, currency))
    return _LineMoney(unit_text, qty_text, discount, sub, tax, minor)


@dataclass(frozen=True)
class _LineText:
    """What each line's JSON object is made of; the text itself is built for a range of lines at a time."""

    description: pa.Array
    money: _LineMoney
    tails: pa.Array        # the distinct texts from ``accountRef`` on
    tail_rows: np.ndarray  # each line's index into them

    def items(self, start: int, stop: int) -> pa.Array:
        """The JSON object of each line ``start:stop``."""
        m, rows = self.money, slice(start, stop)
        as_text = MinorText(m.minor[rows])
        sub, tax = m.sub[rows], m.tax[rows]
        return join(
            '{"description":', strings(self.description.slice(start, stop - start)),
            ',"unitAmount":', m.unit_text.slice(start, stop - start),
            ',"quantity":', m.quantity_text.slice(start, stop - start),
            ',"discountAmount":', as_text(m.discount[rows]), ',"subTotal":', as_text(sub),
            ',"taxAmount":', as_text(tax), ',"totalAmount":', as_text(sub + tax),
            self.tails.take(pa.array(self.tail_rows[rows])),
        )


def _sales_payloads(d: _Documents, lines: _LineText, bounds: np.ndarray, money: _LineMoney,
                    customer: pa.Array, status: pa.Array, companies: pd.DataFrame) -> pd.DataFrame:
    """Each document's JSON around its lines; totals are sums of the rounded lines. The text is built a
    chunk of documents at a time (:func:`chunks`): their lines' objects, the lists of them and the
    documents' text live only until the chunk's bytes are made."""
    invoice = d.kind.name == "invoice"
    sub_sum, tax_sum = group_sums(money.sub, bounds), group_sums(money.tax, bounds)
    as_text = MinorText(d.minor)
    total_text = as_text(sub_sum + tax_sum)
    dates = [',"issueDate":', date_json(d.frame["issue_date"])]
    if invoice:
        dates += [',"dueDate":', date_json(d.frame["due_date"])]
    notes = text_array(d.frame["note"]) if "note" in d.frame else pa.nulls(len(d.frame), TEXT)
    rates = rate_json(d.currency, d.frame["currency_rate"].to_numpy(dtype=object), d.company, companies)
    head = [
        f'{{"{d.kind.number_field}":', strings(d.numbers), ',"customerRef":', ref_json(customer), *dates,
        ',"currency":', strings(d.currency), ',"currencyRate":', rates,
        ',"status":', strings(status), ',"note":', strings(notes), ',"lineItems":[',
    ]
    foot = [
        '],"subTotal":', as_text(sub_sum), ',"totalDiscount":', as_text(group_sums(money.discount, bounds)),
        "" if invoice else ',"discountPercentage":0',
        ',"totalTaxAmount":', as_text(tax_sum), ',"totalAmount":', total_text,
        f',"{d.kind.amount_due_field}":', total_text, "}",
    ]

    def texts():
        for lo, hi in chunks(bounds):
            first, last = int(bounds[lo]), int(bounds[hi])
            items = lists(lines.items(first, last), bounds[lo:hi + 1] - first)
            yield join(*sliced(head, lo, hi), items, *sliced(foot, lo, hi))

    return finish(d.kind.name, company_id=d.company, source_id=d.ids, document_number=d.numbers,
                  currency=d.currency, total_amount=decimals(total_text), payload=texts())
