"""Rules on amounts: line inputs, document totals, payments, fees and what allocations add up to.

Line inputs (quantity, unit amount, discount) may carry up to :data:`LINE_INPUT_PLACES` decimals;
amounts actually paid (payment amount, fee, allocations) at most the currency's minor units.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import pandas as pd

from receivables.mappings import MappingLookup
from receivables.money import (
    MONEY_CONTEXT,
    as_decimal,
    is_finite_amount,
    line_amounts,
    minor_units,
    round_many,
    sum_amounts,
)
from receivables.validate.frames import REJECT_COLUMNS, amount_problem, fail_rows, objects, row_keys

LINE_INPUT_PLACES = 6


def find_line_problems(lines: pd.DataFrame) -> list[str | None]:
    """Per line, what is wrong with its quantity, unit amount or discount (None when all are usable)."""
    out: list[str | None] = []
    for line_no, qty, unit, disc in zip(lines["line_no"], lines["quantity"], lines["unit_amount"],
                                        lines["discount_amount"], strict=True):
        problem = None
        for col, value in (("quantity", qty), ("unit_amount", unit), ("discount_amount", disc)):
            if col == "discount_amount" and value is None:
                continue  # NOT NULL DEFAULT 0: a missing discount is no discount
            p = amount_problem(value, LINE_INPUT_PLACES)
            if p is None and col == "quantity" and value < 0:
                p = f"{value} is negative (issue a credit note instead)"
            if p is not None:
                problem = f"line {line_no}: {col} {p}"
                break
        out.append(problem)
    return out


def invalid_amount(docs: pd.DataFrame, lines: pd.DataFrame, totals: dict,
                   line_problems: list[str | None]) -> pd.DataFrame:
    """Bad line amounts (missing, NaN, inf, huge, too many decimals, negative quantity) or a total <= 0."""
    labels = dict(zip(row_keys(docs, "document_type", "source_id"), docs["label"], strict=True))
    found: dict[tuple, str] = {}
    for key, problem in zip(row_keys(lines, "document_type", "source_id"), line_problems, strict=True):
        if problem is not None and key not in found:
            found[key] = problem
    for key, total in totals.items():
        if key not in found and total is not None and total <= 0:
            found[key] = f"document total {total} is not above zero"
    rows = [{"company_id": k[0], "document_type": k[1], "source_id": k[2], "rule": "invalid_amount",
             "message": f"{labels.get(k, k[2])}: {msg}"} for k, msg in found.items() if k in labels]
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def document_totals(docs: pd.DataFrame, lines: pd.DataFrame, mappings: MappingLookup,
                     tax_rates: pd.DataFrame | None, line_problems: list[str | None]) -> dict:
    """Rounded document totals keyed (company, type, id); None where a line amount or rate is unusable."""
    if lines.empty:
        return {}
    cur = dict(zip(row_keys(docs, "document_type", "source_id"), docs["currency"], strict=True))
    keys = row_keys(lines, "document_type", "source_id")
    currency = keys.map(cur)
    rates: dict = {}
    if tax_rates is not None and not tax_rates.empty:
        for c, p, e, t in zip(objects(tax_rates["company_id"]), objects(tax_rates["platform_id"]),
                              objects(tax_rates["effective_tax_rate"]),
                              objects(tax_rates["total_tax_rate"]) if "total_tax_rate" in tax_rates
                              else [None] * len(tax_rates), strict=True):
            r = e if e is not None else t
            if r is not None:
                rates[(c, p)] = as_decimal(r)
    tax_ids = mappings.resolve(lines["company_id"], "tax_rate", lines["tax_code"]).platform_id
    usable, q, u, d, r, cu = [], [], [], [], [], []
    zero = Decimal(0)
    for comp, cc, tc, tid, qty, unit, disc, problem in zip(
            lines["company_id"], currency, lines["tax_code"], tax_ids, lines["quantity"],
            lines["unit_amount"],
            lines["discount_amount"], line_problems, strict=True):
        rate = None if tc is None else rates.get((comp, tid))
        ok = problem is None and isinstance(cc, str) and (tc is None or rate is not None)
        usable.append(ok)
        if ok:
            q.append(qty)
            u.append(unit)
            d.append(zero if disc is None else disc)
            r.append(rate)
            cu.append(cc)
    _, _, totals = line_amounts(q, u, round_many(d, cu), r, cu)
    it = iter(totals)
    out: dict = {}
    with localcontext(MONEY_CONTEXT):
        for key, ok in zip(keys, usable, strict=True):
            if not ok:
                out[key] = None  # one unusable line makes the whole document's total unknown
                continue
            line_total = next(it)
            if key not in out:
                out[key] = line_total
            elif out[key] is not None:
                out[key] += line_total
    return out


def payment_amount_problems(payments: pd.DataFrame, allocs: pd.DataFrame) -> pd.DataFrame:
    """``invalid_amount`` for payments: amount, fee and allocation amounts, and allocation direction."""
    found: dict = {}
    for key, cur, amt, fee in zip(row_keys(payments, "source_id"), payments["currency"], payments["amount"],
                                  payments["fee_amount"], strict=True):
        places = minor_units(cur) if isinstance(cur, str) else 2
        problem = amount_problem(amt, places)
        if problem is None and as_decimal(amt) == 0:
            problem = "0 is not a payment"
        if problem:
            found[key] = f"amount {problem}"
            continue
        fee_problem = amount_problem(Decimal(0) if fee is None else fee, places)
        if fee_problem is None and as_decimal(fee or 0) < 0:
            fee_problem = f"{fee} is negative"
        if fee_problem:
            found[key] = f"fee_amount {fee_problem}"
    sign = {k: (as_decimal(a) > 0)
            for k, a in zip(row_keys(payments, "source_id"), payments["amount"], strict=True)
            if is_finite_amount(a)}
    for key, ttype, tid, amt, cur in zip(row_keys(allocs, "source_id"), allocs["target_type"],
                                         allocs["target_id"],
                                         allocs["amount"], allocs["_currency"], strict=True):
        if key in found:
            continue
        places = minor_units(cur) if isinstance(cur, str) else 2
        problem = amount_problem(amt, places)
        if problem is None and as_decimal(amt) <= 0:
            problem = f"{amt} is not above zero"
        if problem:
            found[key] = f"allocation to {ttype} {tid}: amount {problem}"
        elif key in sign and ttype in ("invoice", "credit_note") and sign[key] != (ttype == "invoice"):
            found[key] = (f"allocation to {ttype} {tid}: a receipt can only settle invoices and a refund "
                          "(negative amount) only credit notes")
    labels = dict(zip(row_keys(payments, "source_id"), payments["label"], strict=True))
    rows = [{"company_id": k[0], "document_type": "payment", "source_id": k[1], "rule": "invalid_amount",
             "message": f"{labels[k]}: {m}"} for k, m in found.items() if k in labels]
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def cn_allocation_amount_problems(cn: pd.DataFrame) -> pd.DataFrame:
    problems = []
    for amt, cur in zip(cn["amount"], cn["_currency"], strict=True):
        p = amount_problem(amt, minor_units(cur) if isinstance(cur, str) else 4)
        if p is None and as_decimal(amt) <= 0:
            p = f"{amt} is not above zero"
        problems.append(p)
    sub = cn.assign(_p=problems)
    return fail_rows(sub, sub["_p"].notna(), "invalid_amount", lambda r: f"{r._label}: amount {r._p}")


def sum_by(allocs: pd.DataFrame, cols: list[str]) -> dict:
    out: dict = {}
    for key, amt in zip(zip(*(allocs[c] for c in cols), strict=True), allocs["amount"], strict=True):
        if is_finite_amount(amt):
            out[key] = sum_amounts([out.get(key, Decimal(0)), as_decimal(amt)])
    return out


def allocation_exceeds_payment(payments: pd.DataFrame, allocated: dict) -> pd.DataFrame:
    """A payment's allocations add up to more than its (absolute) amount."""
    over = [
        is_finite_amount(amt) and allocated.get(k, Decimal(0)) > abs(as_decimal(amt))
        for k, amt in zip(row_keys(payments, "source_id"), payments["amount"], strict=True)
    ]
    sub = payments.assign(_alloc=[allocated.get(k, Decimal(0)) for k in row_keys(payments, "source_id")])
    return fail_rows(sub, pd.Series(over, index=payments.index), "allocation_exceeds_payment",
                     lambda r: f"{r.label}: allocations total {r._alloc} but the payment amount is "
                               f"{r.amount}")
