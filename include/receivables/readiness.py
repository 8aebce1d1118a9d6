"""Can a document be pushed yet? The one rule: it waits until what it depends on is in the platform.

A document the gate accepted is *ready* when every document it needs (:func:`needs`, from the
registry: its customer; a payment's allocation targets; a credit-note allocation's invoice and credit
note) stands ready in the platform, and *waiting* otherwise, with a reason finance can read
(:func:`waiting`). Rejecting is the gate's business (:mod:`receivables.validate`), waiting this
module's; transform then assumes that every reference it writes has a platform id.

Who asks decides how a dependency stands (:class:`Standing`): the gate, before anything is pushed,
counts what it accepts today as going to be there (and knows rejected and draft targets); the company
sync, kind by kind, asks the platform ids it holds after pushing the kinds before.

    >>> rows = needs("payment", payments, allocations)       # one row per (document, dependency)
    >>> waiting(rows, standing=lambda company, kind, source_id: Standing.READY if ... else ...)
    ...                                                      # company_id, document_type, source_id, reason
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import pandas as pd

from receivables.documents import KIND, LABEL

WAITING_COLUMNS = ["company_id", "document_type", "source_id", "reason"]
NEED_COLUMNS = ["company_id", "document_type", "source_id", "label", "on_type", "on_id"]


class Standing(StrEnum):
    """How a document others depend on stands, as far as whoever asks can tell."""

    READY = "ready"                      # in the platform (or, for the gate, accepted today: pushed first)
    NOT_IN_PLATFORM = "not_in_platform"  # not there yet: never pushed, failed, or still pending
    REJECTED = "rejected"                # it cannot get there until finance fixes it
    DRAFT = "draft"                      # there, but a draft cannot be paid or credited (CONTRACT §11.10)


def reason(label: str, on_label: str, standing: Standing) -> str:
    """Why document ``label`` waits for ``on_label``, in words finance reads in the report."""
    if standing is Standing.REJECTED:
        return f"{label}: waits because {on_label} was rejected"
    if standing is Standing.DRAFT:
        return f"{label}: waits until {on_label} is submitted (it is a draft)"
    return f"{label}: waits for {on_label} to reach the platform"


def needs(kind: str, documents: pd.DataFrame, allocations: pd.DataFrame | None = None) -> pd.DataFrame:
    """What each document of ``kind`` needs in the platform first, in the order it is checked.

    The registry says what a kind refers to (:attr:`~receivables.documents.DocumentKind.references`:
    a customer; a credit-note allocation's invoice and credit note) and whether its lines carry targets
    of their own (:attr:`~receivables.documents.DocumentKind.allocates`: a payment's allocations).
    ``documents`` has company_id, source_id (the ledger key), label and the kind's reference columns;
    ``allocations`` (a kind that allocates): company_id, source_id (the document), target_type, target_id.
    """
    spec = KIND[kind]
    parts = [_rows(documents, kind, on_type, documents[column])
             for on_type, column in spec.references if len(documents)]
    if spec.allocates and allocations is not None and len(allocations):
        labels = dict(zip(zip(documents["company_id"], documents["source_id"], strict=True),
                          documents["label"], strict=True))
        alloc = allocations.assign(label=[labels.get(k) for k in zip(
            allocations["company_id"], allocations["source_id"], strict=True)])
        parts.append(_rows(alloc[alloc["label"].notna()], kind, alloc["target_type"], alloc["target_id"]))
    # In the order checked: a document's references before its targets (the first unready one is named).
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=NEED_COLUMNS)


def _rows(frame: pd.DataFrame, kind: str, on_type: str | pd.Series, on_ids: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({
        "company_id": frame["company_id"].to_numpy(), "document_type": kind,
        "source_id": frame["source_id"].to_numpy(), "label": frame["label"].to_numpy(),
        "on_type": on_type if isinstance(on_type, str) else on_type.loc[frame.index].to_numpy(),
        "on_id": on_ids.loc[frame.index].to_numpy(),
    }, columns=NEED_COLUMNS)


def default_label(on_type: str, on_id: object) -> str:
    """A dependency named by kind and id, when nothing better is known: ``customer cu1``."""
    return f"{LABEL.get(on_type, on_type)} {on_id}"


Asker = Callable[[object, str, object], object]   # (company_id, on_type, on_id) -> answer


def waiting(rows: pd.DataFrame, standing: Asker, on_label: Asker | None = None) -> pd.DataFrame:
    """Documents with a dependency not ready, each with the reason of its first such dependency.

    ``rows``: :func:`needs` rows; ``standing(company_id, on_type, on_id)`` says how a dependency
    stands, ``on_label(company_id, on_type, on_id)`` how finance knows it.
    """
    found: dict[tuple, str] = {}
    columns = ("company_id", "document_type", "source_id", "label", "on_type", "on_id")
    # Lists, not the columns: iterating an Arrow-backed column makes a pandas scalar per row.
    for c, t, s, lbl, on_type, on_id in zip(*(rows[name].tolist() for name in columns), strict=True):
        key = (c, t, s)
        if key in found:
            continue
        st = Standing(standing(c, on_type, on_id))
        if st is not Standing.READY:
            named = on_label(c, on_type, on_id) if on_label else default_label(on_type, on_id)
            found[key] = reason(lbl, named, st)
    return pd.DataFrame([(*k, v) for k, v in found.items()], columns=WAITING_COLUMNS)


def concat_waiting(*parts: pd.DataFrame) -> pd.DataFrame:
    """Several waiting frames as one (empty, with the columns, when nothing waits)."""
    present = [p for p in parts if p is not None and not p.empty]
    return pd.concat(present, ignore_index=True) if present else pd.DataFrame(columns=WAITING_COLUMNS)
