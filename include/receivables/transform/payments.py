"""Payments, credit-note allocations and platform fees -> their Codat request bodies (CONTRACT.md §11.3-4).

A payment is pushed gross: one line per allocation, then the unallocated remainder on account. Applying
a credit note to an invoice is a zero-total payment linking both; a payment's fee is a direct cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from receivables.documents import KIND, allocation_keys
from receivables.mappings import MappingLookup
from receivables.money import MinorText, minor_units_array, scaled_column, to_minor_column
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
from receivables.transform.keys import platform_ids_of, rate_json, resolve, rows_of, take_or_null
from receivables.transform.text import (
    Parts,
    choose,
    date_json,
    join,
    lists,
    lit,
    ref_json,
    sliced,
    strings,
    text_array,
)


@dataclass(frozen=True)
class _Payments:
    """Sorted payment rows with the columns payments and fees both read."""

    frame: pd.DataFrame
    company: pa.Array
    ids: pa.Array
    currency: pa.Array
    minor: np.ndarray
    references: pa.Array   # the reference, or the payment_id where there is none

    @classmethod
    def of(cls, payments: pd.DataFrame) -> _Payments:
        p = sorted_by(payments, ["company_id", KIND["payment"].id_column])
        ids, currency = text_array(p[KIND["payment"].id_column]), text_array(p["currency"])
        return cls(p, text_array(p["company_id"]), ids, currency, minor_units_array(currency.to_pylist()),
                   pc.coalesce(text_array(p["reference"]), ids))

    def minor_units(self, column: str) -> np.ndarray:
        """An amount column of these payments in rounded minor units."""
        values = self.frame[column].to_numpy(dtype=object)
        return to_minor_column(values, self.currency.to_pylist(), self.minor)

    def named(self, i: int) -> str:
        return f"payment {self.references[i].as_py()} (id {self.ids[i].as_py()})"

    def rates(self, companies: pd.DataFrame) -> pa.Array:
        return rate_json(self.currency, self.frame["currency_rate"].to_numpy(dtype=object), self.company,
                         companies)


def payments_to_payloads(payments: pd.DataFrame, allocations: pd.DataFrame, *, companies: pd.DataFrame,
                         mappings: MappingLookup, platform_ids: pd.DataFrame | None) -> pd.DataFrame:
    """``ar_payments`` + ``ar_payment_allocations`` -> Payment payloads, pushed gross.

    One line per allocation (invoice: line +X with an ``Invoice`` link -X; credit note, i.e. a refund:
    line -X with a ``CreditNote`` link +X), then the unallocated remainder as a ``PaymentOnAccount``
    line whose link id is the platform customer id. Each line's amount plus its links is 0 and the
    lines add up to ``totalAmount``. ``reference`` falls back to the payment_id when the warehouse has
    none, because the reference is how the payment is found again.
    """
    if payments.empty:
        return empty()
    p = _Payments.of(payments)
    customer = platform_ids_of(platform_ids, "customer", p.company, text_array(p.frame["customer_id"]))
    account = resolve(mappings, p.company, "payment_account", text_array(p.frame["method"]))
    problems = Problems()
    problems.where(missing(customer), lambda i: f"{p.named(i)}: customer has no platform id yet")
    problems.where(missing(account), lambda i: f"{p.named(i)}: no usable payment account mapping")
    alloc_lines, line_amounts, bounds = _allocation_lines(p, allocations, platform_ids, problems)
    problems.raise_any()
    amounts = p.minor_units("amount")
    remainder = amounts - group_sums(line_amounts, bounds)
    allocated = np.diff(bounds) > 0
    on_account = (remainder != 0) | ~allocated
    customer_json = strings(customer)
    money = MinorText(p.minor)
    amount_text = money(amounts)
    rest = pc.if_else(pa.array(on_account), join(
        '{"amount":', money(remainder), ',"links":[{"type":"PaymentOnAccount","id":', customer_json,
        ',"amount":', money(-remainder), "}]}"), lit(""))
    template = [
        '{"customerRef":{"id":', customer_json, '},"accountRef":{"id":', strings(account),
        '},"date":', date_json(p.frame["paid_on"]), ',"currency":', strings(p.currency),
        ',"currencyRate":', p.rates(companies), ',"totalAmount":', amount_text,
        ',"reference":', strings(p.references),
        ',"lines":[', lists(alloc_lines, bounds), choose(allocated & on_account, ",", ""), rest, "]}",
    ]
    return finish("payment", company_id=p.company, source_id=p.ids, document_number=p.references,
                  currency=p.currency, total_amount=decimals(amount_text), payload=_texts(template, bounds))


def _texts(template: Parts, bounds: np.ndarray):
    """The template joined a chunk of documents at a time (``bounds``: each document's lines, as in
    :func:`chunks`), for :func:`finish` to turn into bytes one chunk after the other."""
    for lo, hi in chunks(bounds):
        yield join(*sliced(template, lo, hi))


def _allocation_lines(p: _Payments, allocations: pd.DataFrame, platform_ids: pd.DataFrame | None,
                      problems: Problems) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Each allocation's payment line (JSON), its signed amount in minor units and each payment's slice
    bounds: in payment order, then by target (type, id) and their warehouse order."""
    a = _allocations_in_order(p, allocations)
    a_doc = a["_doc"].to_numpy(dtype=np.int64)
    bounds = np.searchsorted(a_doc, np.arange(len(p.frame) + 1))
    a_comp = p.company.take(pa.array(a_doc, pa.int64()))
    a_type, a_target = text_array(a["target_type"]), text_array(a["target_id"])
    is_invoice = pc.fill_null(pc.equal(a_type, lit("invoice")), False).to_numpy(zero_copy_only=False)
    target = pc.if_else(pa.array(is_invoice), platform_ids_of(platform_ids, "invoice", a_comp, a_target),
                        platform_ids_of(platform_ids, "credit_note", a_comp, a_target))
    problems.where(missing(target), lambda i: f"{p.named(int(a_doc[i]))}: {a_type[i].as_py()} "
                                              f"{a_target[i].as_py()} has no platform id yet")
    minor = p.minor[a_doc]
    currency = np.asarray(p.currency.to_pylist(), dtype=object)[a_doc]
    amount = to_minor_column(a["amount"].to_numpy(dtype=object), currency, minor)
    line = np.where(is_invoice, amount, -amount)  # an invoice's payment is +X, a refund -X
    money = MinorText(minor)
    link_type = choose(is_invoice, '"Invoice"', '"CreditNote"')
    lines = join('{"amount":', money(line), ',"links":[{"type":', link_type, ',"id":', strings(target),
                 ',"amount":', money(-line), "}]}")
    return lines, line, bounds


def _allocations_in_order(p: _Payments, allocations: pd.DataFrame) -> pd.DataFrame:
    """The allocations of these payments with ``_doc`` (their payment's row), sorted for the lines."""
    if allocations.empty:
        return pd.DataFrame({"_doc": pd.Series(dtype=np.int64), "target_type": pd.Series(dtype=object),
                             "target_id": pd.Series(dtype=object), "amount": pd.Series(dtype=object)})
    doc_of = rows_of((text_array(allocations["company_id"]), text_array(allocations["payment_id"])),
                     (p.company, p.ids))
    a = allocations.assign(_doc=doc_of, _order=np.arange(len(allocations)))[doc_of >= 0]
    return a.sort_values(["_doc", "target_type", "target_id", "_order"], kind="mergesort")


def credit_note_allocations_to_payloads(allocations: pd.DataFrame, *, documents: pd.DataFrame,
                                        companies: pd.DataFrame, platform_ids: pd.DataFrame | None
                                        ) -> pd.DataFrame:
    """``ar_credit_note_allocations`` -> zero-total Payments linking Invoice -X and CreditNote +X.

    ``documents`` gives each credit note's customer_id, currency and currency_rate (the
    ``known_documents`` frame of validation). The payment is in the credit note's currency and carries
    its rate (1 in the base currency): the platform refuses a foreign-currency payment without one.
    The source_id is the registry's allocation key (``<credit_note_id>:<invoice_id>``) and is also sent
    as the ``reference`` so the record can be found.
    """
    if allocations.empty:
        return empty()
    a = sorted_by(allocations.assign(source_id=allocation_keys(allocations["credit_note_id"],
                                                               allocations["invoice_id"])),
                  ["company_id", "source_id"])
    comp, src = text_array(a["company_id"]), text_array(a["source_id"])
    cn_ids, inv_ids = text_array(a["credit_note_id"]), text_array(a["invoice_id"])
    cn = documents[(documents["document_type"] == "credit_note").to_numpy(dtype=bool, na_value=False)]
    row = rows_of((comp, cn_ids), (text_array(cn["company_id"]), text_array(cn["source_id"])))
    currency = take_or_null(text_array(cn["currency"]), row)
    customer_id = take_or_null(text_array(cn["customer_id"]), row)
    customer = platform_ids_of(platform_ids, "customer", comp, customer_id)
    rates = np.append(cn["currency_rate"].to_numpy(dtype=object), None)[row]  # row -1: the None
    invoice_pid = platform_ids_of(platform_ids, "invoice", comp, inv_ids)
    credit_pid = platform_ids_of(platform_ids, "credit_note", comp, cn_ids)
    problems = Problems()
    problems.where(missing(currency) | missing(customer), lambda i: f"credit note allocation "
                   f"{src[i].as_py()}: credit note {cn_ids[i].as_py()} or its customer is not known")
    problems.where(missing(invoice_pid) | missing(credit_pid), lambda i: f"credit note allocation "
                   f"{src[i].as_py()}: invoice or credit note has no platform id yet")
    problems.raise_any()
    cur_list = currency.to_pylist()
    minor = minor_units_array(cur_list)
    money = MinorText(minor)
    amount = to_minor_column(a["amount"].to_numpy(dtype=object), cur_list, minor)
    zero = money(np.zeros(len(a), dtype=np.int64))
    template = [
        '{"customerRef":{"id":', strings(customer), '},"date":', date_json(a["allocated_on"]),
        ',"currency":', strings(currency),
        ',"currencyRate":', rate_json(currency, rates, comp, companies),
        ',"totalAmount":', zero, ',"reference":', strings(src), ',"lines":[{"amount":', zero,
        ',"links":[{"type":"Invoice","id":', strings(invoice_pid), ',"amount":', money(-amount),
        '},{"type":"CreditNote","id":', strings(credit_pid), ',"amount":', money(amount), "}]}]}",
    ]
    return finish("credit_note_allocation", company_id=comp, source_id=src, document_number=src,
                  currency=currency, total_amount=decimals(zero),
                  payload=_texts(template, np.arange(len(a) + 1)))


def fees_to_payloads(payments: pd.DataFrame, *, companies: pd.DataFrame, mappings: MappingLookup
                     ) -> pd.DataFrame:
    """Payments with ``fee_amount`` > 0 -> DirectCost payloads for the fee withheld.

    Dated the payment date, in the payment currency, one untaxed line on the ``fee_account`` mapping,
    paid (``paymentAllocations``) from the payment's account, ``reference`` = the payment reference.
    """
    if payments.empty:
        return empty()
    fee_scaled = scaled_column(payments["fee_amount"].to_numpy(dtype=object))
    # A mask array, so rows are selected even when none match (a list of booleans would pick columns).
    with_fee = payments[fee_scaled.exact & (fee_scaled.mantissa > 0)]
    if with_fee.empty:
        return empty()
    p = _Payments.of(with_fee)
    account = resolve(mappings, p.company, "payment_account", text_array(p.frame["method"]))
    fee_account = resolve(mappings, p.company, "fee_account", None)
    problems = Problems()
    problems.where(missing(account) | missing(fee_account), lambda i: f"fee of {p.named(i)}: no usable "
                   f"{'payment' if account[i].as_py() is None else 'fee'} account mapping")
    problems.raise_any()
    money = MinorText(p.minor)
    fee = money(p.minor_units("fee_amount"))
    zero = money(np.zeros(len(p.frame), dtype=np.int64))
    rate, day, currency = p.rates(companies), date_json(p.frame["paid_on"]), strings(p.currency)
    refs = p.references
    paid = [',"currency":', currency, ',"currencyRate":', rate]
    note, description = join("Payment fee withheld from payment ", refs), join("Payment fee for ", refs)
    template = [
        '{"reference":', strings(refs), ',"note":', strings(note), ',"issueDate":', day, *paid,
        ',"lineItems":[{"description":', strings(description), ',"unitAmount":', fee,
        ',"quantity":1,"subTotal":', fee, ',"taxAmount":', zero, ',"totalAmount":', fee,
        ',"accountRef":', ref_json(fee_account), '}],"paymentAllocations":[{"payment":{"accountRef":',
        ref_json(account), *paid, ',"paidOnDate":', day, ',"totalAmount":', fee,
        '},"allocation":{"currency":', currency, ',"currencyRate":', rate, ',"allocatedOnDate":', day,
        ',"totalAmount":', fee, '}}],"subTotal":', fee, ',"taxAmount":', zero, ',"totalAmount":', fee, "}",
    ]
    return finish("fee", company_id=p.company, source_id=p.ids, document_number=refs, currency=p.currency,
                  total_amount=decimals(fee), payload=_texts(template, np.arange(len(p.frame) + 1)))
