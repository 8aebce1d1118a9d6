"""A deliberately plain, per-row reference of :mod:`receivables.transform`, for byte-for-byte comparison.

Written with ``iterrows`` and dict look-ups, one document at a time, straight from WAREHOUSE.md's money
rules and CONTRACT.md's payload shapes. It shares only :mod:`receivables.money` (the one home of
rounding) and the scalar :meth:`MappingLookup.platform_id` with the code under test.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, localcontext

import orjson
import pandas as pd

from receivables.money import MONEY_CONTEXT, round_half_up


def num(value: Decimal | int) -> orjson.Fragment:
    value = Decimal(value)
    if value == 0:
        value = abs(value)
    return orjson.Fragment(format(value, "f").encode())


def _none(value):
    return None if value is None or value is pd.NA or (isinstance(value, float) and value != value) else value


def _date(value) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%dT00:00:00")


def _ids(platform_ids: pd.DataFrame) -> dict:
    return {
        (r["company_id"], r["document_type"], r["source_id"]): r["platform_id"]
        for _, r in platform_ids.iterrows()
    }


def _rate(row, base: dict):
    if row["currency"] == base[row["company_id"]]:
        return num(1)
    rate = _none(row["currency_rate"])
    return None if rate is None else num(rate)


def _row(company_id, document_type, source_id, number, currency, total, payload) -> dict:
    data = orjson.dumps(payload)
    return {
        "company_id": company_id,
        "document_type": document_type,
        "source_id": source_id,
        "document_number": number,
        "currency": currency,
        "total_amount": total,
        "payload": data,
        "content_hash": hashlib.sha256(data).hexdigest(),
    }


def customers(frame: pd.DataFrame) -> list[dict]:
    out = []
    for _, r in frame.sort_values(["company_id", "customer_id"]).iterrows():
        payload = {
            "customerName": r["name"],
            "emailAddress": _none(r["email"]),
            "defaultCurrency": _none(r["default_currency"]),
            "status": "Active",
        }
        out.append(
            _row(
                r["company_id"],
                "customer",
                r["customer_id"],
                r["name"],
                _none(r["default_currency"]),
                None,
                payload,
            )
        )
    return out


def sales_documents(kind, docs, lines, companies, lookup, tax_rates, platform_ids) -> list[dict]:
    id_col = "invoice_id" if kind == "invoice" else "credit_note_id"
    number_col = "invoice_number" if kind == "invoice" else "credit_note_number"
    base = dict(zip(companies["company_id"], companies["base_currency"], strict=True))
    rates = {}
    for _, t in tax_rates.iterrows():
        eff = _none(t["effective_tax_rate"])
        rates[(t["company_id"], t["platform_id"])] = eff if eff is not None else _none(t["total_tax_rate"])
    ids = _ids(platform_ids)
    out = []
    for _, doc in docs.sort_values(["company_id", id_col]).iterrows():
        cur = doc["currency"]
        mine = lines[(lines["company_id"] == doc["company_id"]) & (lines[id_col] == doc[id_col])]
        items = []
        sub_sum = tax_sum = disc_sum = round_half_up(Decimal(0), cur)
        for _, line in mine.sort_values("line_no").iterrows():
            q, u = line["quantity"], line["unit_amount"]
            d = round_half_up(_none(line["discount_amount"]) or Decimal(0), cur)
            with localcontext(MONEY_CONTEXT):
                sub = round_half_up(q * u - d, cur)
            tax_code = _none(line["tax_code"])
            tax_id = None
            if tax_code is None:
                tax = round_half_up(Decimal(0), cur)
            else:
                tax_id = lookup.platform_id(doc["company_id"], "tax_rate", tax_code)
                with localcontext(MONEY_CONTEXT):
                    tax = round_half_up(sub * rates[(doc["company_id"], tax_id)] / 100, cur)
            item = {
                "description": _none(line["description"]),
                "unitAmount": num(u),
                "quantity": num(q),
                "discountAmount": num(d),
                "subTotal": num(sub),
                "taxAmount": num(tax),
                "totalAmount": num(sub + tax),
                "accountRef": {
                    "id": lookup.platform_id(doc["company_id"], "income_account", _none(line["revenue_code"]))
                },
            }
            if tax_id is not None:
                item["taxRateRef"] = {"id": tax_id}
            track = _none(line["tracking_code"])
            if track is not None:
                tid = lookup.platform_id(doc["company_id"], "tracking_category", track)
                item["tracking"] = {
                    "categoryRefs": [{"id": tid}],
                    "isBilledTo": "Unknown",
                    "isRebilledTo": "Unknown",
                }
            items.append(item)
            sub_sum += sub
            tax_sum += tax
            disc_sum += d
        total = sub_sum + tax_sum
        payload = {
            "invoiceNumber" if kind == "invoice" else "creditNoteNumber": doc[number_col],
            "customerRef": {"id": ids[(doc["company_id"], "customer", doc["customer_id"])]},
            "issueDate": _date(doc["issue_date"]),
        }
        if kind == "invoice":
            payload["dueDate"] = _date(doc["due_date"])
        payload["currency"] = cur
        payload["currencyRate"] = _rate(doc, base)
        payload["status"] = {"draft": "Draft", "submitted": "Submitted"}[doc["status"]]
        payload["note"] = _none(doc["note"])
        payload["lineItems"] = items
        payload["subTotal"] = num(sub_sum)
        payload["totalDiscount"] = num(disc_sum)
        if kind == "credit_note":
            payload["discountPercentage"] = num(0)
        payload["totalTaxAmount"] = num(tax_sum)
        payload["totalAmount"] = num(total)
        if kind == "invoice":
            payload["amountDue"] = num(total)
        else:
            payload["remainingCredit"] = num(total)
        out.append(_row(doc["company_id"], kind, doc[id_col], doc[number_col], cur, total, payload))
    return out


def payments(frame, allocations, companies, lookup, platform_ids) -> list[dict]:
    base = dict(zip(companies["company_id"], companies["base_currency"], strict=True))
    ids = _ids(platform_ids)
    allocations = allocations.assign(_order=range(len(allocations)))
    out = []
    for _, p in frame.sort_values(["company_id", "payment_id"]).iterrows():
        cur = p["currency"]
        comp = p["company_id"]
        customer = ids[(comp, "customer", p["customer_id"])]
        amount = round_half_up(p["amount"], cur)
        reference = _none(p["reference"]) or p["payment_id"]
        mine = allocations[
            (allocations["company_id"] == comp) & (allocations["payment_id"] == p["payment_id"])
        ]
        lines = []
        allocated = Decimal(0)
        for _, a in mine.sort_values(["target_type", "target_id", "_order"]).iterrows():
            x = round_half_up(a["amount"], cur)
            target = ids[(comp, a["target_type"], a["target_id"])]
            if a["target_type"] == "invoice":
                lines.append(
                    {"amount": num(x), "links": [{"type": "Invoice", "id": target, "amount": num(-x)}]}
                )
                allocated += x
            else:
                lines.append(
                    {"amount": num(-x), "links": [{"type": "CreditNote", "id": target, "amount": num(x)}]}
                )
                allocated -= x
        rest = amount - allocated
        if rest != 0 or not lines:
            lines.append(
                {
                    "amount": num(rest),
                    "links": [{"type": "PaymentOnAccount", "id": customer, "amount": num(-rest)}],
                }
            )
        payload = {
            "customerRef": {"id": customer},
            "accountRef": {"id": lookup.platform_id(comp, "payment_account", _none(p["method"]))},
            "date": _date(p["paid_on"]),
            "currency": cur,
            "currencyRate": _rate(p, base),
            "totalAmount": num(amount),
            "reference": reference,
            "lines": lines,
        }
        out.append(_row(comp, "payment", p["payment_id"], reference, cur, amount, payload))
    return out


def credit_note_allocations(frame, documents, companies, platform_ids) -> list[dict]:
    base = dict(zip(companies["company_id"], companies["base_currency"], strict=True))
    ids = _ids(platform_ids)
    out = []
    frame = frame.assign(source_id=frame["credit_note_id"] + ":" + frame["invoice_id"])
    for _, a in frame.sort_values(["company_id", "source_id"]).iterrows():
        comp = a["company_id"]
        cn = documents[
            (documents["company_id"] == comp)
            & (documents["document_type"] == "credit_note")
            & (documents["source_id"] == a["credit_note_id"])
        ].iloc[0]
        cur = cn["currency"]
        zero = round_half_up(Decimal(0), cur)
        x = round_half_up(a["amount"], cur)
        payload = {
            "customerRef": {"id": ids[(comp, "customer", cn["customer_id"])]},
            "date": _date(a["allocated_on"]),
            "currency": cur,
            "currencyRate": _rate(cn, base),
            "totalAmount": num(zero),
            "reference": a["source_id"],
            "lines": [
                {
                    "amount": num(zero),
                    "links": [
                        {"type": "Invoice", "id": ids[(comp, "invoice", a["invoice_id"])], "amount": num(-x)},
                        {
                            "type": "CreditNote",
                            "id": ids[(comp, "credit_note", a["credit_note_id"])],
                            "amount": num(x),
                        },
                    ],
                }
            ],
        }
        out.append(_row(comp, "credit_note_allocation", a["source_id"], a["source_id"], cur, zero, payload))
    return out


def fees(frame, companies, lookup) -> list[dict]:
    base = dict(zip(companies["company_id"], companies["base_currency"], strict=True))
    out = []
    for _, p in frame.sort_values(["company_id", "payment_id"]).iterrows():
        fee_raw = _none(p["fee_amount"])
        if fee_raw is None or fee_raw <= 0:
            continue
        cur = p["currency"]
        comp = p["company_id"]
        fee = round_half_up(fee_raw, cur)
        zero = round_half_up(Decimal(0), cur)
        reference = _none(p["reference"]) or p["payment_id"]
        rate = _rate(p, base)
        day = _date(p["paid_on"])
        payload = {
            "reference": reference,
            "note": f"Payment fee withheld from payment {reference}",
            "issueDate": day,
            "currency": cur,
            "currencyRate": rate,
            "lineItems": [
                {
                    "description": f"Payment fee for {reference}",
                    "unitAmount": num(fee),
                    "quantity": num(1),
                    "subTotal": num(fee),
                    "taxAmount": num(zero),
                    "totalAmount": num(fee),
                    "accountRef": {"id": lookup.platform_id(comp, "fee_account", None)},
                }
            ],
            "paymentAllocations": [
                {
                    "payment": {
                        "accountRef": {"id": lookup.platform_id(comp, "payment_account", _none(p["method"]))},
                        "currency": cur,
                        "currencyRate": rate,
                        "paidOnDate": day,
                        "totalAmount": num(fee),
                    },
                    "allocation": {
                        "currency": cur,
                        "currencyRate": rate,
                        "allocatedOnDate": day,
                        "totalAmount": num(fee),
                    },
                }
            ],
            "subTotal": num(fee),
            "taxAmount": num(zero),
            "totalAmount": num(fee),
        }
        out.append(_row(comp, "fee", p["payment_id"], reference, cur, fee, payload))
    return out
