"""Rules on allocations, and the open-amount simulation they are checked against.

Every invoice and credit note anyone may allocate to is a *target* (:func:`allocation_targets`): today's
with their computed totals, and earlier days' with what is still open on them in the platform. A
receipt (amount > 0) may settle invoices only and a refund (amount < 0) credit notes only. An allocation
to another customer's document is ``allocation_customer_mismatch`` (CONTRACT §11.10 forbids it, and the
platform would refuse the whole payment).

Allocations draw on a target's open amount in date order (then payment before credit-note allocation,
then id); every document whose allocation overdraws is rejected.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from receivables.documents import LABEL
from receivables.money import as_decimal, is_finite_amount
from receivables.open_amounts import settle_in_order
from receivables.validate.frames import fail_rows, no_failures, objects, row_keys
from receivables.validate.normalise import label


def allocation_targets(live, totals, known, rejected_docs, accepted_docs, pushed, open_amounts) -> dict:
    """(company, type, id) -> dict(customer, currency, label, open, state) for every allocatable document."""
    out: dict = {}
    for r in known.itertuples(index=False):
        key = (r.company_id, r.document_type, r.source_id)
        total = r.total_amount if is_finite_amount(r.total_amount) else Decimal(0)
        out[key] = {"customer": r.customer_id, "currency": r.currency, "open": as_decimal(total),
                    "total": as_decimal(total),
                    "label": label(r.document_type, r.number if r.number is not None else r.source_id,
                                   r.source_id),
                    "rejected": bool(r.rejected) or r.status == "void", "pushed": key in pushed,
                    "draft": r.status == "draft"}
    for r, key in zip(live.itertuples(index=False), row_keys(live, "document_type", "source_id"),
                      strict=True):
        total = totals.get(key)
        out[key] = {"customer": r.customer_id, "currency": r.currency, "label": r.label,
                    "open": total if total is not None else Decimal(0),
                    "total": total if total is not None else Decimal(0),
                    "rejected": key in rejected_docs or r.status == "void", "draft": r.status == "draft",
                    "pushed": key in pushed or key in accepted_docs}
    if open_amounts is not None and not open_amounts.empty:
        col = "open_amount" if "open_amount" in open_amounts else "amount"
        drawn = objects(open_amounts["drawn"]) if "drawn" in open_amounts else [None] * len(open_amounts)
        for key, amt, used in zip(row_keys(open_amounts, "document_type", "source_id"),
                                  objects(open_amounts[col]),
                                  drawn, strict=True):
            if key not in out:
                continue
            if totals.get(key) is not None and is_finite_amount(used):
                # Edited today: today's total, less what the platform already applied to it.
                out[key]["open"] = totals[key] - as_decimal(used)
            elif is_finite_amount(amt):
                out[key]["open"] = as_decimal(amt)
    return out


def attach_targets(frame, targets, *, owner, target_types, target_ids) -> pd.DataFrame:
    """Add target facts (_target_* columns) and the owner's customer/currency/label to allocation rows."""
    keys = list(zip(frame["company_id"], target_types, target_ids, strict=True))
    facts = [targets.get(k) for k in keys]
    out = frame.copy()
    out["_target"] = keys
    out["_target_missing"] = pd.Series([f is None or t not in ("invoice", "credit_note") for f, t in
                                        zip(facts, target_types, strict=True)], index=frame.index, dtype=bool)
    out["_target_customer"] = [f["customer"] if f else None for f in facts]
    out["_target_currency"] = [f["currency"] if f else None for f in facts]
    out["_target_label"] = [f["label"] if f else f"{LABEL.get(t, t)} (id {i})"
                            for f, t, i in zip(facts, target_types, target_ids, strict=True)]
    out["_open"] = [f["open"] if f else Decimal(0) for f in facts]
    out["_total"] = [f["total"] if f else Decimal(0) for f in facts]
    out["_target_rejected"] = pd.Series([bool(f and f["rejected"]) for f in facts], index=frame.index,
                                        dtype=bool)
    out["_target_pushed"] = pd.Series([bool(f and f["pushed"]) for f in facts], index=frame.index, dtype=bool)
    out["_target_draft"] = pd.Series([bool(f and f["draft"]) for f in facts], index=frame.index, dtype=bool)
    out["_customer"] = [o[0] for o in owner]
    out["_currency"] = [o[1] for o in owner]
    out["_label"] = [o[2] for o in owner] if "label" not in frame else frame["label"].tolist()
    return out


def allocation_target_unknown(allocs: pd.DataFrame) -> pd.DataFrame:
    """An allocation targets a document that is neither in today's batch nor known from earlier days."""
    return fail_rows(allocs, allocs["_target_missing"], "allocation_target_unknown",
                     lambda r: f"{r._label}: allocates to {r._target_label}, which is not a known document")


def allocation_customer_mismatch(allocs: pd.DataFrame) -> pd.DataFrame:
    """The target belongs to another customer than the payment (or credit note)."""
    mask = ~allocs["_target_missing"] & allocs["_target_customer"].ne(allocs["_customer"])
    return fail_rows(allocs, mask, "allocation_customer_mismatch",
                     lambda r: f"{r._label}: {r._target_label} belongs to customer {r._target_customer}, "
                               f"not {r._customer}")


def allocation_currency_mismatch(allocs: pd.DataFrame) -> pd.DataFrame:
    """The target's currency differs from the payment's (or credit note's)."""
    mask = ~allocs["_target_missing"] & allocs["_target_currency"].ne(allocs["_currency"])
    return fail_rows(allocs, mask, "allocation_currency_mismatch",
                     lambda r: f"{r._label}: {r._target_label} is in {r._target_currency}, not {r._currency}")


def attach_payment_targets(payments: pd.DataFrame, allocs: pd.DataFrame, targets: dict) -> pd.DataFrame:
    """Payment allocations with their target's facts; the payment is the owner (customer, currency)."""
    owners = {k: (cust, cur, lbl) for k, cust, cur, lbl in zip(
        row_keys(payments, "source_id"), payments["customer_id"], payments["currency"], payments["label"],
        strict=True)}
    return attach_targets(allocs, targets, owner=[owners.get(k, (None, None, None))
                                                  for k in row_keys(allocs, "source_id")],
                          target_types=allocs["target_type"], target_ids=allocs["target_id"])


def attach_cn_targets(cn_allocs: pd.DataFrame, targets: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Credit-note allocations with the facts of their invoice (first) and of their credit note (second).

    The credit note is the owner: the invoice must share its customer and currency.
    """
    def side(target_type: str, ids: pd.Series) -> pd.DataFrame:
        return attach_targets(cn_allocs, targets, owner=[(None, None, None)] * len(cn_allocs),
                              target_types=pd.Series(target_type, index=cn_allocs.index, dtype=object),
                              target_ids=ids)

    invoice = side("invoice", cn_allocs["invoice_id"])
    credit_note = side("credit_note", cn_allocs["credit_note_id"])
    invoice["_customer"] = credit_note["_target_customer"].to_numpy()
    invoice["_currency"] = credit_note["_target_currency"].to_numpy()
    either_missing = invoice["_target_missing"].to_numpy() | credit_note["_target_missing"].to_numpy()
    invoice["_target_missing"] = either_missing
    invoice["_target_label"] = [
        f"{inv} and {cn}" if m else inv for inv, cn, m in zip(
            invoice["_target_label"], credit_note["_target_label"], credit_note["_target_missing"],
            strict=True)]
    return invoice, credit_note


def open_amount_events(payments, allocs, cn_allocs, cn_targets, cn_side, excluded) -> pd.DataFrame:
    """Every draw on a target's open amount by a document still going ahead."""
    paid_on = dict(zip(row_keys(payments, "source_id"), payments["paid_on"], strict=True))
    rows = []
    for c, s, t, amt, op, tot, tl, lbl in zip(allocs["company_id"], allocs["source_id"], allocs["_target"],
                                              allocs["amount"], allocs["_open"], allocs["_total"],
                                              allocs["_target_label"], allocs["_label"], strict=True):
        if (c, "payment", s) in excluded or not is_finite_amount(amt):
            continue
        rows.append({"company_id": c, "document_type": "payment", "source_id": s, "_target": t,
                     "_amount": as_decimal(amt), "_open": op, "_total": tot, "_target_label": tl,
                     "_label": lbl,
                     "_date": paid_on.get((c, s)), "_order": 0})
    for frame in (cn_targets, cn_side):
        for c, s, t, amt, op, tot, tl, lbl, day in zip(
                frame["company_id"], frame["source_id"], frame["_target"], frame["amount"], frame["_open"],
                frame["_total"], frame["_target_label"], frame["label"], frame["allocated_on"], strict=True):
            if (c, "credit_note_allocation", s) in excluded or not is_finite_amount(amt):
                continue
            rows.append({"company_id": c, "document_type": "credit_note_allocation", "source_id": s,
                         "_target": t, "_amount": as_decimal(amt), "_open": op, "_total": tot,
                         "_target_label": tl,
                         "_label": lbl, "_date": day, "_order": 1})
    cols = ["company_id", "document_type", "source_id", "_target", "_amount", "_open", "_total",
            "_target_label",
            "_label", "_date", "_order"]
    ev = pd.DataFrame(rows, columns=cols)
    ev["_date"] = pd.to_datetime(ev["_date"])
    return ev


def allocation_exceeds_open_amount(events: pd.DataFrame) -> pd.DataFrame:
    """Allocations (payments and credit-note allocations, in date order) overdraw a target's open amount.

    First come first served (:func:`receivables.open_amounts.settle_in_order`): a rejected document
    consumes nothing, so it never makes a later valid allocation look like an overdraw.
    """
    if events.empty:
        return no_failures()
    ev = events.sort_values(["_date", "_order", "source_id"], kind="mergesort")
    opening = dict(zip(ev["_target"], ev["_open"], strict=True))
    settled = settle_in_order(ev.assign(document=row_keys(ev, "document_type", "source_id"),
                                        target=ev["_target"],
                                        amount=ev["_amount"]), opening)
    # Name the draw that does not fit (a payment may also allocate to targets that have room).
    over = ~settled["accepted"] & (settled["asked"] > settled["available"]).astype(bool)
    out = fail_rows(settled, over, "allocation_exceeds_open_amount",
                    lambda r: f"{r._label}: allocates {r._amount} to {r._target_label}, but only "
                              f"{max(r.available, Decimal(0))} of {getattr(r, '_total', r._open)} "
                              "is still open")
    return out.drop_duplicates(["company_id", "document_type", "source_id"])
