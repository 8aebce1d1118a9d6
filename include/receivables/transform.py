"""Accepted batch DataFrames -> Codat payload bytes, column-wise (CONTRACT.md §2, §9, §11.3-4).

Every function is pure and returns one row per document with the columns of :data:`PAYLOAD_COLUMNS`:
company_id, document_type, source_id, document_number, currency, total_amount (rounded Decimal),
payload (orjson bytes) and content_hash (sha256 hex of the payload). Rows come sorted by company_id,
source_id, so the same input always gives the same bytes.

    >>> out = invoices_to_payloads(invoices, lines, companies=companies, mappings=lookup,
    ...                            tax_rates=ar_ref_tax_rates, platform_ids=ledger_ids)
    >>> orjson.loads(out.loc[0, "payload"])["totalAmount"]

Numbers are written by us, never through a float: each amount is emitted as the Decimal's own text
(plain notation, ``-0`` written as ``0``), via an ``orjson.Fragment`` in dict payloads or straight into the
JSON text of invoices and credit notes, whose lines are rendered from one template each because that is
several times faster than dicts of Fragments on big batches. Either way the bytes are what orjson would
write (the tests compare them with a dict + orjson reference), the value is exact for any Decimal, and the
currency's decimals survive (``12.50`` GBP, ``1500`` JPY, ``1.235`` BHD). A float would have needed a
range check and a round-trip assertion per value and still prints ``12.5`` for ``12.50``.

Inputs must already have passed :mod:`receivables.validate`. What transform cannot do without (a
customer or linked document without a platform id, an unmapped account) raises
:class:`UnresolvedReferenceError` naming every affected document, rather than sending a broken payload.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, localcontext

import numpy as np
import orjson
import pandas as pd

from receivables.mappings import MappingLookup
from receivables.money import (
    MONEY_CONTEXT,
    line_amounts,
    round_half_up,
    round_many,
    sum_amounts,
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
_NO_TRACKING = ("Unknown", "Unknown")


class UnresolvedReferenceError(ValueError):
    """A document needs a platform id (customer, linked document, mapped account) that is not known."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{len(problems)} document(s) cannot be transformed: {shown}{more}")


def money_json(value: Decimal) -> orjson.Fragment:
    """The exact JSON number for a finite Decimal, with its decimals as written (``-0`` becomes ``0``)."""
    if not value.is_finite():
        raise ValueError(f"cannot send a non-finite amount: {value}")
    if value.is_zero():
        value = value.copy_abs()
    return orjson.Fragment(format(value, "f").encode())


def _n(value: Decimal) -> str:
    """JSON text of a finite Decimal, as :func:`money_json` writes it (fast path: ``str`` when it is plain)."""
    text = str(value)
    if "E" in text or "N" in text or "I" in text or "n" in text:  # exponent form, NaN, sNaN, Infinity
        if not value.is_finite():
            raise ValueError(f"cannot send a non-finite amount: {value}")
        text = format(value, "f")
    if text[0] == "-" and not value:
        return text[1:]  # no "-0.00" in a payload
    return text


def _json_text(value: str | None) -> str:
    """JSON text of a string (or null), escaped exactly as orjson escapes it."""
    return "null" if value is None else orjson.dumps(value).decode()


def _date_json(value: str | None) -> str:
    """JSON text of a ``YYYY-MM-DDT00:00:00`` date from :func:`_date_text` (digits only: nothing to escape)."""
    return "null" if value is None else f'"{value}"'


def _ref_text_cache():
    """``{"id":...}`` text per platform id, memoised: a batch uses few distinct accounts and rates."""
    cache: dict = {}

    def ref_text(pid: str | None) -> str:
        text = cache.get(pid)
        if text is None:
            text = cache[pid] = f'{{"id":{_json_text(pid)}}}'
        return text

    return ref_text


def _date_text(series: pd.Series) -> list[str | None]:
    """Dates as Codat's unqualified ``YYYY-MM-DDT00:00:00`` (None stays None)."""
    text = pd.to_datetime(series).dt.strftime("%Y-%m-%dT00:00:00").astype(object).tolist()
    return [t if isinstance(t, str) else None for t in text]


def _objects(series: pd.Series) -> list:
    """A column as a plain list with every NULL flavour turned into None."""
    values = series.astype(object)
    return values.where(values.notna(), None).tolist()


def _finish(rows: dict[str, list], document_type: str, serialised: bool = False) -> pd.DataFrame:
    """Serialise payload dicts (unless already bytes) and attach hashes; ``rows`` holds output columns."""
    payloads = rows.pop("payload") if serialised else [orjson.dumps(p) for p in rows.pop("payload")]
    sha = hashlib.sha256
    frame = pd.DataFrame(
        {
            "company_id": pd.Series(rows["company_id"], dtype=object),
            "document_type": document_type,
            "source_id": pd.Series(rows["source_id"], dtype=object),
            "document_number": pd.Series(rows["document_number"], dtype=object),
            "currency": pd.Series(rows["currency"], dtype=object),
            "total_amount": pd.Series(rows["total_amount"], dtype=object),
            "payload": pd.Series(payloads, dtype=object),
            "content_hash": pd.Series([sha(p).hexdigest() for p in payloads], dtype=object),
        },
        columns=PAYLOAD_COLUMNS,
    )
    return frame


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PAYLOAD_COLUMNS})


def _platform_id_index(platform_ids: pd.DataFrame | None) -> dict[tuple[str, str, str], str]:
    """(company_id, document_type, source_id) -> platform_id of records already in the platform."""
    if platform_ids is None or platform_ids.empty:
        return {}
    cols = platform_ids[["company_id", "document_type", "source_id", "platform_id"]].astype(object)
    cols = cols[cols["platform_id"].notna()]
    return dict(zip(zip(cols["company_id"], cols["document_type"], cols["source_id"], strict=True),
                    cols["platform_id"], strict=True))


def _base_currencies(companies: pd.DataFrame) -> dict[str, str]:
    return dict(zip(companies["company_id"].astype(object), companies["base_currency"].astype(object),
                    strict=True))


def _rates_json(currencies: list, rates: list, company_ids: list, base: dict[str, str]) -> list:
    """``currencyRate`` per document: 1 in the base currency, else the warehouse rate (null if none)."""
    return [
        _ONE if cur == base.get(comp) else (None if rate is None else money_json(rate))
        for cur, rate, comp in zip(currencies, rates, company_ids, strict=True)
    ]


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


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def _group_bounds(docs: pd.DataFrame, id_col: str, lines: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Lines ordered by their document's row in ``docs`` then line_no, and slice bounds per document."""
    doc_index = pd.MultiIndex.from_arrays([docs["company_id"].astype(object), docs[id_col].astype(object)])
    pos = doc_index.get_indexer(
        pd.MultiIndex.from_arrays([lines["company_id"].astype(object), lines[id_col].astype(object)])
    )
    lines = lines.assign(_doc=pos)
    lines = lines[lines["_doc"] >= 0]
    lines = lines.sort_values(["_doc", "line_no"], kind="mergesort").reset_index(drop=True)
    bounds = np.searchsorted(lines["_doc"].to_numpy(), np.arange(len(docs) + 1))
    return lines, bounds


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
    lines, bounds = _group_bounds(docs, id_col, lines)
    problems: list[str] = []

    doc_comp = _objects(docs["company_id"])
    doc_ids = _objects(docs[id_col])
    numbers = _objects(docs[number_col])
    doc_cur = _objects(docs["currency"])

    # Line lookups, resolved once per distinct code.
    line_comp = lines["company_id"].astype(object)
    income = mappings.resolve(line_comp, "income_account", lines["revenue_code"])
    has_tax = lines["tax_code"].notna()
    tax = mappings.resolve(line_comp, "tax_rate", lines["tax_code"])
    has_tracking = lines["tracking_code"].notna()
    tracking = mappings.resolve(line_comp, "tracking_category", lines["tracking_code"])
    rates_by_id = _effective_rates(tax_rates)

    line_doc = lines["_doc"].tolist()
    line_cur = [doc_cur[d] for d in line_doc]
    acc_ids = _objects(income.platform_id)
    tax_ids = [pid if flag else None for pid, flag in zip(_objects(tax.platform_id), has_tax, strict=True)]
    track_ids = [
        pid if flag else None for pid, flag in zip(_objects(tracking.platform_id), has_tracking, strict=True)
    ]
    comp_list = line_comp.tolist()
    rates: list[Decimal | None] = []
    for i, (comp, tid, flag) in enumerate(zip(comp_list, tax_ids, has_tax, strict=True)):
        if flag and (tid is None or (comp, tid) not in rates_by_id):
            problems.append(f"{kind} {numbers[line_doc[i]]} (id {doc_ids[line_doc[i]]}) line "
                            f"{lines['line_no'].iat[i]}: tax code has no usable tax rate")
        rates.append(rates_by_id.get((comp, tid)) if flag else None)
    for i, acc in enumerate(acc_ids):
        if acc is None:
            problems.append(f"{kind} {numbers[line_doc[i]]} (id {doc_ids[line_doc[i]]}) line "
                            f"{lines['line_no'].iat[i]}: no usable income account")

    qty = _objects(lines["quantity"])
    unit = _objects(lines["unit_amount"])
    disc = [d if d is not None else Decimal(0) for d in _objects(lines["discount_amount"])]
    disc_r = round_many(disc, line_cur)
    subs, taxes, totals = line_amounts(qty, unit, disc_r, rates, line_cur)
    descriptions = _objects(lines["description"])

    # line_amounts' figures are quantized (plain notation, never -0), so str() is their exact JSON text.
    # Lines are written straight to JSON text: one template per line instead of a dict of Fragments
    # per field, which is what makes large batches fast. The text is what orjson would write.
    js = _json_text
    ref_text = _ref_text_cache()
    items = [
        f'{{"description":{js(desc)},"unitAmount":{_n(u)},"quantity":{_n(q)},"discountAmount":{_n(d)},'
        f'"subTotal":{s},"taxAmount":{t},"totalAmount":{tot},"accountRef":{ref_text(acc)}'
        + ("" if tid is None else f',"taxRateRef":{ref_text(tid)}')
        + ("" if trk is None else f',"tracking":{{"categoryRefs":[{ref_text(trk)}],'
                                  '"isBilledTo":"Unknown","isRebilledTo":"Unknown"}')
        + "}"
        for desc, q, u, d, s, t, tot, acc, tid, trk in zip(
            descriptions, qty, unit, disc_r, subs, taxes, totals, acc_ids, tax_ids, track_ids, strict=True
        )
    ]

    pids = _platform_id_index(platform_ids)
    cust_ids = _objects(docs["customer_id"])
    cust_pids = [pids.get((comp, "customer", cid)) for comp, cid in zip(doc_comp, cust_ids, strict=True)]
    for num, did, cid, pid in zip(numbers, doc_ids, cust_ids, cust_pids, strict=True):
        if pid is None:
            problems.append(f"{kind} {num} (id {did}): customer {cid} has no platform id yet")
    statuses = [_STATUS.get(s) for s in _objects(docs["status"])]
    for num, did, s, raw in zip(numbers, doc_ids, statuses, _objects(docs["status"]), strict=True):
        if s is None:
            problems.append(f"{kind} {num} (id {did}): status '{raw}' cannot be pushed")
    if problems:
        raise UnresolvedReferenceError(problems)

    base = _base_currencies(companies)
    rates_text = [
        "1" if cur == base.get(comp) else ("null" if rate is None else _n(rate))
        for cur, rate, comp in zip(doc_cur, _objects(docs["currency_rate"]), doc_comp, strict=True)
    ]
    issue = _date_text(docs["issue_date"])
    due = _date_text(docs["due_date"]) if kind == "invoice" else None
    notes = _objects(docs["note"]) if "note" in docs else [None] * len(docs)
    number_key = "invoiceNumber" if kind == "invoice" else "creditNoteNumber"
    due_key = "amountDue" if kind == "invoice" else "remainingCredit"
    zero = Decimal(0)
    zeros = {c: round_half_up(zero, c) for c in set(doc_cur)}  # the currency's decimals, even with no lines
    currency_text = {c: js(c) for c in zeros}

    payloads = []
    doc_totals = []
    with localcontext(MONEY_CONTEXT):
        for i in range(len(docs)):
            lo, hi = bounds[i], bounds[i + 1]
            cur = doc_cur[i]
            sub = tax_sum = discount = zeros[cur]
            for j in range(lo, hi):
                sub += subs[j]
                tax_sum += taxes[j]
                discount += disc_r[j]
            total = sub + tax_sum
            total_text = _n(total)
            dates = f'"issueDate":{_date_json(issue[i])},' + ("" if due is None else f'"dueDate":{_date_json(due[i])},')
            extra = '"discountPercentage":0,' if kind == "credit_note" else ""
            payloads.append((
                f'{{"{number_key}":{js(numbers[i])},"customerRef":{ref_text(cust_pids[i])},{dates}'
                f'"currency":{currency_text[cur]},"currencyRate":{rates_text[i]},"status":"{statuses[i]}",'
                f'"note":{js(notes[i])},"lineItems":[{",".join(items[lo:hi])}],"subTotal":{_n(sub)},'
                f'"totalDiscount":{_n(discount)},{extra}"totalTaxAmount":{_n(tax_sum)},'
                f'"totalAmount":{total_text},"{due_key}":{total_text}}}'
            ).encode())
            doc_totals.append(total)

    return _finish(
        {
            "company_id": doc_comp,
            "source_id": doc_ids,
            "document_number": numbers,
            "currency": doc_cur,
            "total_amount": doc_totals,
            "payload": payloads,
        },
        kind,
        serialised=True,
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
    comp = _objects(p["company_id"])
    ids = _objects(p["payment_id"])
    cur = _objects(p["currency"])
    amounts = round_many(_objects(p["amount"]), cur)
    pids = _platform_id_index(platform_ids)
    problems: list[str] = []
    refs = [r if r is not None else pid for r, pid in zip(_objects(p["reference"]), ids, strict=True)]

    cust = [pids.get((c, "customer", cid)) for c, cid in zip(comp, _objects(p["customer_id"]), strict=True)]
    account = _objects(mappings.resolve(p["company_id"], "payment_account", p["method"]).platform_id)
    for r, pid, cp, acc in zip(refs, ids, cust, account, strict=True):
        if cp is None:
            problems.append(f"payment {r} (id {pid}): customer has no platform id yet")
        if acc is None:
            problems.append(f"payment {r} (id {pid}): no usable payment account mapping")

    allocs = allocations.assign(_order=np.arange(len(allocations)))
    doc_index = pd.MultiIndex.from_arrays([p["company_id"].astype(object), p["payment_id"].astype(object)])
    allocs = allocs.assign(_doc=doc_index.get_indexer(pd.MultiIndex.from_arrays(
        [allocs["company_id"].astype(object), allocs["payment_id"].astype(object)])))
    allocs = allocs[allocs["_doc"] >= 0]
    allocs = allocs.sort_values(["_doc", "target_type", "target_id", "_order"], kind="mergesort")
    bounds = np.searchsorted(allocs["_doc"].to_numpy(), np.arange(len(p) + 1))
    a_doc = allocs["_doc"].tolist()
    a_type = _objects(allocs["target_type"])
    a_target = _objects(allocs["target_id"])
    a_amount = round_many(_objects(allocs["amount"]), [cur[d] for d in a_doc])
    lines = []
    for d, ttype, tid, amt in zip(a_doc, a_type, a_target, a_amount, strict=True):
        target = pids.get((comp[d], ttype, tid))
        if target is None:
            problems.append(f"payment {refs[d]} (id {ids[d]}): {ttype} {tid} has no platform id yet")
        if ttype == "invoice":
            lines.append(({"amount": money_json(amt), "links": [
                {"type": "Invoice", "id": target, "amount": money_json(-amt)}]}, amt))
        else:
            lines.append(({"amount": money_json(-amt), "links": [
                {"type": "CreditNote", "id": target, "amount": money_json(amt)}]}, -amt))
    if problems:
        raise UnresolvedReferenceError(problems)

    rates = _rates_json(cur, _objects(p["currency_rate"]), comp, _base_currencies(companies))
    dates = _date_text(p["paid_on"])
    payloads = []
    with_ctx = MONEY_CONTEXT
    for i in range(len(p)):
        chunk = lines[bounds[i]:bounds[i + 1]]
        body_lines = [line for line, _ in chunk]
        remainder = with_ctx.subtract(amounts[i], sum_amounts(a for _, a in chunk))
        if not remainder.is_zero() or not chunk:
            body_lines.append({"amount": money_json(remainder), "links": [
                {"type": "PaymentOnAccount", "id": cust[i], "amount": money_json(-remainder)}]})
        payloads.append({
            "customerRef": {"id": cust[i]},
            "accountRef": {"id": account[i]},
            "date": dates[i],
            "currency": cur[i],
            "currencyRate": rates[i],
            "totalAmount": money_json(amounts[i]),
            "reference": refs[i],
            "lines": body_lines,
        })
    return _finish(
        {"company_id": comp, "source_id": ids, "document_number": refs, "currency": cur,
         "total_amount": amounts, "payload": payloads},
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
    docs = documents[documents["document_type"] == "credit_note"]
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
    fees = payments.assign(_fee=_objects(payments["fee_amount"]))
    fees = fees[[f is not None and f > 0 for f in fees["_fee"]]]
    if fees.empty:
        return _empty()
    p = _sorted(fees, ["company_id", "payment_id"])
    comp = _objects(p["company_id"])
    ids = _objects(p["payment_id"])
    cur = _objects(p["currency"])
    refs = [r if r is not None else pid for r, pid in zip(_objects(p["reference"]), ids, strict=True)]
    amounts = round_many(p["_fee"].tolist(), cur)
    account = _objects(mappings.resolve(p["company_id"], "payment_account", p["method"]).platform_id)
    fee_acc = _objects(mappings.resolve(p["company_id"], "fee_account",
                                        pd.Series([None] * len(p), index=p.index, dtype=object)).platform_id)
    problems = [
        f"fee of payment {r} (id {i}): no usable {'payment' if a is None else 'fee'} account mapping"
        for r, i, a, f in zip(refs, ids, account, fee_acc, strict=True) if a is None or f is None
    ]
    if problems:
        raise UnresolvedReferenceError(problems)
    rates = _rates_json(cur, _objects(p["currency_rate"]), comp, _base_currencies(companies))
    dates = _date_text(p["paid_on"])
    payloads = []
    for i in range(len(p)):
        fee = money_json(amounts[i])
        tax = money_json(round_half_up(Decimal(0), cur[i]))
        payloads.append({
            "reference": refs[i],
            "note": f"Payment fee withheld from payment {refs[i]}",
            "issueDate": dates[i],
            "currency": cur[i],
            "currencyRate": rates[i],
            "lineItems": [{
                "description": f"Payment fee for {refs[i]}",
                "unitAmount": fee,
                "quantity": _ONE,
                "subTotal": fee,
                "taxAmount": tax,
                "totalAmount": fee,
                "accountRef": {"id": fee_acc[i]},
            }],
            "paymentAllocations": [{
                "payment": {"accountRef": {"id": account[i]}, "currency": cur[i], "currencyRate": rates[i],
                            "paidOnDate": dates[i], "totalAmount": fee},
                "allocation": {"currency": cur[i], "currencyRate": rates[i], "allocatedOnDate": dates[i],
                               "totalAmount": fee},
            }],
            "subTotal": fee,
            "taxAmount": tax,
            "totalAmount": fee,
        })
    return _finish(
        {"company_id": comp, "source_id": ids, "document_number": refs, "currency": cur,
         "total_amount": amounts, "payload": payloads},
        "fee",
    )
