"""What is open on a document: the one home of that rule, for validation, sync and reconciliation.

An invoice or credit note is drawn down by *allocations*: a payment's allocation rows and credit-note
allocations (which draw on both the invoice and the credit note). An allocation counts against a
document only once the platform applied it (its payment or credit-note allocation is ``success`` in the
push ledger) or when it is accepted in the batch being validated. A rejected, waiting or failed
allocation never consumes an open amount: the platform never saw it.

    >>> draws = allocation_draws(payment_allocations, payments, credit_note_allocations)
    >>> applied = in_platform(draws, ledger)                     # what the platform has applied
    >>> open_amounts(documents, applied)["open_amount"]          # total minus what was applied
    >>> settle_in_order(requests, opening)                       # today's draws, first come first served

Pure functions over DataFrames; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import pandas as pd

from receivables.documents import KINDS, allocation_keys
from receivables.money import as_decimal, is_finite_amount, sum_amounts

# One row per draw of an allocation on a target document.
DRAW_COLUMNS = ["document_type", "source_id", "target_type", "target_id", "amount", "updated_at"]
# The kinds allocations draw on: those with an open balance in the platform.
DOCUMENT_TYPES = tuple(k.name for k in KINDS if k.amount_due_field is not None)


def allocation_draws(payment_allocations: pd.DataFrame, payments: pd.DataFrame,
                     credit_note_allocations: pd.DataFrame) -> pd.DataFrame:
    """Every draw of a company's allocations, keyed by the ledger row of the document that makes it.

    ``updated_at`` is the batch the draw belongs to: its payment's for a payment allocation, its own for
    a credit-note allocation. A credit-note allocation draws twice: on the invoice and on the credit note.
    """
    paid_at = dict(zip(payments["payment_id"].astype(str), payments["updated_at"], strict=True))
    pay_ids = payment_allocations["payment_id"].astype(str)
    cna = credit_note_allocations
    keys = pd.Series(allocation_keys(cna["credit_note_id"], cna["invoice_id"]), index=cna.index, dtype=object)
    parts = [
        pd.DataFrame({"document_type": "payment", "source_id": pay_ids,
                      "target_type": payment_allocations["target_type"].astype(str),
                      "target_id": payment_allocations["target_id"].astype(str),
                      "amount": payment_allocations["amount"], "updated_at": pay_ids.map(paid_at)}),
        pd.DataFrame({"document_type": "credit_note_allocation", "source_id": keys, "target_type": "invoice",
                      "target_id": cna["invoice_id"].astype(str), "amount": cna["amount"],
                      "updated_at": cna["updated_at"]}),
        pd.DataFrame({"document_type": "credit_note_allocation", "source_id": keys,
                      "target_type": "credit_note",
                      "target_id": cna["credit_note_id"].astype(str), "amount": cna["amount"],
                      "updated_at": cna["updated_at"]}),
    ]
    # Empty parts are left out so an all-empty company still gives typed, named columns.
    present = [p for p in parts if len(p)]
    if not present:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DRAW_COLUMNS})
    return pd.concat(present, ignore_index=True)[DRAW_COLUMNS]


def in_platform(draws: pd.DataFrame, ledger: pd.DataFrame,
                leaving_out: Iterable[tuple[str, str]] = ()) -> pd.DataFrame:
    """The draws the platform has applied: their document is ``success`` in the ledger.

    ``leaving_out``: (document_type, source_id) keys not to count, e.g. the batch being validated (on a
    rerun those are already applied, and counting them would make them overdraw their own targets).
    """
    success = ledger[ledger["status"] == "success"]
    applied = set(zip(success["document_type"].astype(str), success["source_id"].astype(str), strict=True))
    applied -= set(leaving_out)
    keys = pd.Series(list(zip(draws["document_type"].astype(str), draws["source_id"].astype(str),
                              strict=True)), index=draws.index, dtype=object)
    # A boolean Series, never a list: on an empty frame a list would select columns, not rows.
    return draws[keys.isin(applied).astype(bool)]


def drawn(draws: pd.DataFrame) -> dict[tuple[str, str], Decimal]:
    """Sum of the draws per target (target_type, target_id), exact Decimals."""
    out: dict[tuple[str, str], list[Decimal]] = {}
    for ttype, tid, amount in zip(draws["target_type"], draws["target_id"], draws["amount"], strict=True):
        if is_finite_amount(amount):
            out.setdefault((str(ttype), str(tid)), []).append(as_decimal(amount))
    return {key: sum_amounts(amounts) for key, amounts in out.items()}


def open_amounts(documents: pd.DataFrame, draws: pd.DataFrame) -> pd.DataFrame:
    """Per document (document_type, source_id, total_amount): ``drawn`` and ``open_amount`` = total - drawn.

    Other columns of ``documents`` are kept. A document without a total (never pushed) has no open amount.
    """
    used = drawn(draws)
    out = documents.copy()
    keys = list(zip(out["document_type"].astype(str), out["source_id"].astype(str), strict=True))
    out["drawn"] = pd.Series([used.get(k, Decimal(0)) for k in keys], index=out.index, dtype=object)
    out["open_amount"] = pd.Series(
        [as_decimal(total) - d if is_finite_amount(total) else None
         for total, d in zip(out["total_amount"], out["drawn"], strict=True)], index=out.index, dtype=object)
    return out


def settle_in_order(requests: pd.DataFrame, opening: Mapping[object, Decimal]) -> pd.DataFrame:
    """Decide, first come first served, which documents' draws fit in what is open on their targets.

    ``requests``: one row per draw, in the order documents are served, with ``document`` (a hashable key
    of the drawing document), ``target`` (a key into ``opening``) and ``amount`` (Decimal). A document
    is accepted when every one of its draws fits; then, and only then, its draws consume the open
    amounts — a refused document leaves them as they were for the documents after it.

    Returns ``requests`` with ``accepted`` (bool, per document), ``asked`` (what the row's document
    asks of the row's target in all) and ``available`` (what was still open on the row's target when
    its document was served).
    """
    consumed: dict[object, Decimal] = {}
    verdict: dict[object, bool] = {}
    rows = list(zip(requests["document"], requests["target"], requests["amount"], strict=True))
    by_document: dict[object, list[int]] = {}
    for position, (document, _, _) in enumerate(rows):
        by_document.setdefault(document, []).append(position)
    left = [Decimal(0)] * len(rows)
    wanted = [Decimal(0)] * len(rows)
    for document, positions in by_document.items():
        asked: dict[object, Decimal] = {}
        for p in positions:
            target, amount = rows[p][1], rows[p][2]
            asked[target] = asked.get(target, Decimal(0)) + amount
        room = {t: opening.get(t, Decimal(0)) - consumed.get(t, Decimal(0)) for t in asked}
        fits = all(asked[t] <= room[t] for t in asked)
        verdict[document] = fits
        for p in positions:
            left[p] = room[rows[p][1]]
            wanted[p] = asked[rows[p][1]]
        if fits:
            for t, amount in asked.items():
                consumed[t] = consumed.get(t, Decimal(0)) + amount
    out = requests.copy()
    out["accepted"] = pd.Series([verdict[d] for d, _, _ in rows], index=requests.index, dtype=bool)
    out["asked"] = pd.Series(wanted, index=requests.index, dtype=object)
    out["available"] = pd.Series(left, index=requests.index, dtype=object)
    return out
