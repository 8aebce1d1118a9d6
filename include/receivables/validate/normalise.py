"""The batch as the rules read it: one frame per kind of row, NULLs as None, a ``label`` per document.

Every frame carries company_id, document_type and source_id (the ledger key of the document the row
belongs to), so any rule's failures name the document the push and the report know.

    >>> rows = normalise(batch)
    >>> rows.docs[["document_type", "source_id", "label"]]      # invoices and credit notes as one frame
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from receivables.documents import KIND, LABEL, allocation_keys
from receivables.validate.frames import numbers, objects, or_empty

SALES_KINDS = (KIND["invoice"], KIND["credit_note"])
DOC_COLUMNS = ["company_id", "document_type", "source_id", "number", "customer_id", "issue_date", "due_date",
               "currency", "currency_rate", "status", "note", "_row", "label"]
LINE_COLUMNS = ["company_id", "document_type", "source_id", "line_no", "quantity", "unit_amount",
                "discount_amount", "tax_code", "revenue_code", "tracking_code", "description"]


@dataclass(frozen=True)
class Normalised:
    """A day's batch in the gate's shape (see the module docstring)."""

    customers: pd.DataFrame
    docs: pd.DataFrame           # invoices and credit notes
    lines: pd.DataFrame          # their lines
    payments: pd.DataFrame
    allocations: pd.DataFrame    # payment allocations, keyed by their payment
    cn_allocations: pd.DataFrame


def normalise(batch: Mapping[str, pd.DataFrame]) -> Normalised:
    """The eight batch tables (missing ones count as empty) in the gate's shape."""
    docs, lines = _sales_docs(batch)
    return Normalised(customers=_customers(batch), docs=docs, lines=lines, payments=_payments(batch),
                      allocations=_allocations(batch), cn_allocations=_cn_allocations(batch))


def label(kind: str, number: object, source_id: object) -> str:
    """How finance reads a document in a message: ``invoice INV-1 (id inv_1)``."""
    return f"{LABEL.get(kind, kind)} {number} (id {source_id})"


def _optional(frame: pd.DataFrame, column: str) -> pd.Series | None:
    return objects(frame[column]) if column in frame else None


def _customers(batch: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    c = or_empty(batch.get("ar_customers"),
                 ["company_id", "customer_id", "name", "email", "default_currency", "updated_at"])
    out = c.assign(document_type="customer", source_id=objects(c["customer_id"]))
    out["label"] = [label("customer", n, i) for n, i in zip(objects(c["name"]), out["source_id"],
                                                            strict=True)]
    return out


def _sales_header(kind, d: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "company_id": objects(d["company_id"]), "document_type": kind.name,
        "source_id": objects(d[kind.id_column]), "number": objects(d[kind.number_column]),
        "customer_id": objects(d["customer_id"]),
        # No scalar NaT for credit notes: it would upcast the dates to [ns] on concat, which
        # overflows for far-away dates (they must be rejected by invalid_date, not crash).
        "issue_date": d["issue_date"], "due_date": d["due_date"] if "due_date" in d else pd.Series(
            pd.NaT, index=d.index, dtype="datetime64[us]"),
        "currency": objects(d["currency"]), "currency_rate": numbers(d["currency_rate"]),
        "status": objects(d["status"]), "note": _optional(d, "note"), "_row": range(len(d)),
    })
    out["label"] = [label(kind.name, n, i) for n, i in zip(out["number"], out["source_id"], strict=True)]
    return out


def _sales_lines(kind, ln: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "company_id": objects(ln["company_id"]), "document_type": kind.name,
        "source_id": objects(ln[kind.id_column]), "line_no": ln["line_no"].astype(object),
        "quantity": numbers(ln["quantity"]), "unit_amount": numbers(ln["unit_amount"]),
        "discount_amount": numbers(ln["discount_amount"]), "tax_code": objects(ln["tax_code"]),
        "revenue_code": objects(ln["revenue_code"]), "tracking_code": objects(ln["tracking_code"]),
        "description": _optional(ln, "description"),
    })


def _sales_docs(batch: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invoices and credit notes as one frame, and their lines as another, with shared column names."""
    docs, lines = [], []
    for kind in SALES_KINDS:
        d = batch.get(kind.table)
        if d is not None and not d.empty:
            docs.append(_sales_header(kind, d))
        ln = batch.get(kind.lines_table)
        if ln is not None and not ln.empty:
            lines.append(_sales_lines(kind, ln))
    docs_f = pd.concat(docs, ignore_index=True) if docs else pd.DataFrame(columns=DOC_COLUMNS)
    lines_f = pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(columns=LINE_COLUMNS)
    return docs_f, lines_f


def _payments(batch: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    p = or_empty(batch.get("ar_payments"),
                 ["company_id", "payment_id", "customer_id", "paid_on", "currency", "currency_rate", "amount",
                  "fee_amount", "method", "reference", "updated_at"])
    out = pd.DataFrame({
        "company_id": objects(p["company_id"]), "document_type": "payment",
        "source_id": objects(p["payment_id"]), "customer_id": objects(p["customer_id"]),
        "paid_on": p["paid_on"], "currency": objects(p["currency"]),
        "currency_rate": numbers(p["currency_rate"]), "amount": numbers(p["amount"]),
        "fee_amount": numbers(p["fee_amount"]), "method": objects(p["method"]),
        "reference": objects(p["reference"]),
    })
    out["label"] = [label("payment", r if r is not None else i, i)
                    for r, i in zip(out["reference"], out["source_id"], strict=True)]
    return out


def _allocations(batch: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    a = or_empty(batch.get("ar_payment_allocations"),
                 ["company_id", "payment_id", "target_type", "target_id", "amount"])
    return pd.DataFrame({
        "company_id": objects(a["company_id"]), "document_type": "payment",
        "source_id": objects(a["payment_id"]), "target_type": objects(a["target_type"]),
        "target_id": objects(a["target_id"]), "amount": numbers(a["amount"]),
    })


def _cn_allocations(batch: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    a = or_empty(batch.get("ar_credit_note_allocations"),
                 ["company_id", "credit_note_id", "invoice_id", "amount", "allocated_on", "updated_at"])
    out = pd.DataFrame({
        "company_id": objects(a["company_id"]), "document_type": "credit_note_allocation",
        "credit_note_id": objects(a["credit_note_id"]), "invoice_id": objects(a["invoice_id"]),
        "amount": numbers(a["amount"]), "allocated_on": a["allocated_on"],
    })
    out["source_id"] = allocation_keys(out["credit_note_id"], out["invoice_id"])
    out["label"] = [f"{LABEL['credit_note_allocation']} {s}" for s in out["source_id"]]
    return out


def normalise_known(known: pd.DataFrame | None) -> pd.DataFrame:
    """Invoices and credit notes of earlier days (``known_documents`` of :func:`validate_batch`)."""
    cols = ["company_id", "document_type", "source_id", "customer_id", "currency", "total_amount", "status",
            "rejected", "number"]
    if known is None or known.empty:
        return pd.DataFrame(columns=cols)
    k = pd.DataFrame({c: objects(known[c]) for c in cols[:-1] if c in known})
    k["rejected"] = known["rejected"].astype("boolean").fillna(False).astype(bool).to_numpy() \
        if "rejected" in known else False
    k["number"] = objects(known["document_number"]) if "document_number" in known else None
    return k.reindex(columns=cols)


def known_customer_names(known_customers: pd.DataFrame | None) -> pd.DataFrame:
    """Customers of earlier days as (company, "customer", id, name): their names are taken."""
    cols = ["company_id", "document_type", "source_id", "number"]
    if known_customers is None or known_customers.empty or "name" not in known_customers:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame({"company_id": objects(known_customers["company_id"]), "document_type": "customer",
                         "source_id": objects(known_customers["customer_id"]),
                         "number": objects(known_customers["name"])})
