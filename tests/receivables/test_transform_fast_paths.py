"""Byte identity with the per-row reference on both sides of every fast path of the transform.

The money columns take a fast path when every value fits it (Arrow's decimal128 conversion at a fixed
scale for amounts that are only rounded, the plain-text parse for the amounts sent as written, the
quotes inlined into the JSON template for strings without a null or an escape) and a careful path for a
column with one value that does not. Each batch here is drawn so that both happen, at the rounding edges:
x.xx5 ties, JPY (0 decimals), BHD (3), large quantities, foreign rates, amounts beyond the fixed scale.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.receivables import reference_transform as ref
from tests.receivables.test_transform import (
    COMPANIES,
    compare,
    currency_of,
    frame,
    one_invoice,
)

from receivables.transform import fees_to_payloads, invoices_to_payloads, payments_to_payloads

D = Decimal


# Amounts inside the fixed scale (<= 4 decimals, < 10**14) and the ones that move a column off it.
fitting = st.one_of(
    st.decimals(min_value=D("0"), max_value=D("1000"), places=3),
    st.decimals(min_value=D("0"), max_value=D("100"), places=4),
    st.decimals(min_value=D("0"), max_value=D("100000"), places=1),
    st.sampled_from([D("0.005"), D("2.675"), D("1.0005"), D("0.00"), D("1E+2")]),
)
beyond = st.sampled_from([D("0.00005"), D("0.123456"), D("123456789012345"), D("1E-7"), D("2.6749999")])
large_quantities = st.one_of(
    st.decimals(min_value=D("1"), max_value=D("10000000"), places=4),
    st.sampled_from([D("1E+6"), D("9999999.9999"), D("12345678.5")]),
)


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(st.tuples(large_quantities, fitting, fitting, st.sampled_from(["VAT20", "CMPD", None]),
                             st.sampled_from(["Widget", 'say "hi"', None, "é\u2028"])),
                   min_size=1, max_size=4),
    off_scale=st.one_of(st.none(), st.tuples(st.sampled_from(["discount_amount", "unit_amount"]), beyond)),
    currency=st.sampled_from(list(currency_of)),
    rate=st.sampled_from([None, D("0.781234567"), D("1E-3"), D("157.25")]),
)
def test_invoice_bytes_equal_the_reference_on_the_fast_and_the_careful_path(
    refdata, lookup, lines, off_scale, currency, rate
):
    rows = [{"quantity": q, "unit_amount": u, "discount_amount": d if d <= q * u else D(0), "tax_code": t,
             "description": text} for q, u, d, t, text in lines]
    if off_scale is not None:  # one value beyond the fixed scale: that whole column by text
        column, value = off_scale
        rows.append({"quantity": D(1), "unit_amount": D(1), "discount_amount": D(0), column: value})
    inv, df, ids = one_invoice(rows, currency, currency_of[currency], rate=rate)
    taxes = refdata["tax_rates"]
    compare(
        invoices_to_payloads(inv, df, companies=COMPANIES, mappings=lookup, tax_rates=taxes,
                             platform_ids=ids),
        ref.sales_documents("invoice", inv, df, COMPANIES, lookup, taxes, ids),
    )


@settings(max_examples=40, deadline=None)
@given(
    payments=st.lists(st.tuples(fitting, st.one_of(st.none(), fitting), st.lists(fitting, max_size=2)),
                      min_size=1, max_size=3),
    off_scale=st.one_of(st.none(), beyond),
    currency=st.sampled_from(list(currency_of)),
)
def test_payment_and_fee_bytes_equal_the_reference_on_the_fast_and_the_careful_path(
    lookup, payments, off_scale, currency
):
    company = currency_of[currency]
    rate = None if currency in ("GBP", "JPY", "BHD") else D("1.25")
    if off_scale is not None:
        payments = [*payments, (off_scale, off_scale, [off_scale])]
    pays = frame(
        [{"company_id": company, "payment_id": f"p{n}", "customer_id": "cu", "paid_on": "2026-03-04",
          "currency": currency, "currency_rate": rate, "amount": amount, "fee_amount": fee, "method": "card",
          "reference": f"R{n}", "updated_at": "2026-03-04"} for n, (amount, fee, _) in enumerate(payments)],
        numeric=("currency_rate", "amount", "fee_amount"),
        dates=("paid_on", "updated_at"),
    )
    alloc = frame(
        [{"company_id": company, "payment_id": f"p{n}", "target_type": "invoice", "target_id": f"d{n}-{k}",
          "amount": a} for n, (_, _, allocs) in enumerate(payments) for k, a in enumerate(allocs)]
        or [{"company_id": company, "payment_id": "none", "target_type": "invoice", "target_id": "x",
             "amount": D(0)}],
        numeric=("amount",),
    )
    ids = frame(
        [{"company_id": company, "document_type": "customer", "source_id": "cu", "platform_id": "P-C"}]
        + [{"company_id": company, "document_type": "invoice", "source_id": t, "platform_id": f"P-{t}"}
           for t in alloc["target_id"]]
    )
    compare(payments_to_payloads(pays, alloc, companies=COMPANIES, mappings=lookup, platform_ids=ids),
            ref.payments(pays, alloc, COMPANIES, lookup, ids))
    compare(fees_to_payloads(pays, companies=COMPANIES, mappings=lookup), ref.fees(pays, COMPANIES, lookup))
