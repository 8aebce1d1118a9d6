"""What every payload function returns: one row per document with :data:`PAYLOAD_COLUMNS`.

Also the pieces every kind needs on its way there: rows in a stable order, exact group sums of
minor units, and the invariant check of what readiness guaranteed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from receivables.money import plain_text

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


class UnresolvedReferenceError(ValueError):
    """A document reached transform without something readiness should have guaranteed: a platform id
    for its customer or linked document, a usable mapped account, a pushable status.

    Readiness holds such documents back (waiting) and validation rejects the unmappable ones, so this is
    an internal invariant error — a bug upstream, never a state to wait out. It names every affected
    document rather than letting a broken payload be sent.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{len(problems)} document(s) cannot be transformed: {shown}{more}")


class Problems:
    """Collects what a batch lacks, per row, and raises them all at once."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def where(self, mask: np.ndarray, message: Callable[[int], str]) -> None:
        """``message(i)`` for every row ``i`` where ``mask`` is set (Python runs only for those rows)."""
        self.found.extend(message(int(i)) for i in np.flatnonzero(mask))

    def raise_any(self) -> None:
        if self.found:
            raise UnresolvedReferenceError(self.found)


def money_json(value: Decimal) -> orjson.Fragment:
    """The exact JSON number for a finite Decimal, with its decimals as written (``-0`` becomes ``0``)."""
    return orjson.Fragment(plain_text(value).encode())


def missing(values: pa.Array) -> np.ndarray:
    """Where a column is null, as a numpy mask."""
    return ~values.is_valid().to_numpy(zero_copy_only=False)


# Documents are assembled this many at a time (fewer when they have many lines: see chunks). A chunk's
# JSON text is turned into the documents' bytes and hashes and released before the chunk after the next is
# built (the next is built meanwhile: :func:`_built_ahead`), so the allocator hands the same few MiB back:
# a night's 464 MiB of JSON is never held as Arrow text (nor its line texts, nor each document's join of
# them) next to the bytes, and the pages the kernel must fault in and zero in a fresh process are the
# bytes' and two chunks' (measured at 200,000 invoices: the first run in a process was dominated by
# faulting in ~3 GiB of fresh pages).
ROWS_PER_CHUNK = 16_384


def chunks(bounds: np.ndarray, rows: int | None = None) -> list[tuple[int, int]]:
    """Consecutive document ranges ``[lo, hi)`` of about ``rows`` documents-plus-lines each; document i
    has lines ``bounds[i]:bounds[i + 1]`` (pass ``np.arange(n + 1)`` for documents without lines).

    >>> chunks(np.array([0, 5, 10, 10, 30]), rows=8)  # 2 documents with their lines, then 2 more
    [(0, 2), (2, 4)]
    """
    rows = ROWS_PER_CHUNK if rows is None else rows
    n = len(bounds) - 1
    weight = np.asarray(bounds, dtype=np.int64) + np.arange(n + 1)  # lines and documents before each
    cuts = np.searchsorted(weight, np.arange(rows, weight[-1], rows), side="left")
    edges = np.unique(np.concatenate(([0], np.clip(cuts, 1, n), [n]))) if n else np.zeros(1, np.int64)
    return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def finish(document_type: str, *, company_id: pa.Array, source_id: pa.Array, document_number: pa.Array,
           currency: pa.Array, total_amount: list, payload: pa.Array | Iterable[pa.Array]) -> pd.DataFrame:
    """The payload frame: JSON text as bytes, with their hashes (Python objects made by Arrow, in C).

    ``payload`` is the documents' JSON text, whole or as chunks in row order (an iterator that builds
    each chunk when asked: each is turned into bytes and hashes and let go before the next is built)."""
    payloads, content_hashes = _payload_objects(payload, len(source_id))
    return pd.DataFrame(
        {
            "company_id": _object_column(company_id, repeats=True),
            "document_type": document_type,
            "source_id": _object_column(source_id),
            "document_number": _object_column(document_number),
            "currency": _object_column(currency, repeats=True),
            "total_amount": pd.Series(total_amount, dtype=object),
            "payload": pd.Series(payloads, dtype=object),
            "content_hash": pd.Series(content_hashes, dtype=object),
        },
        columns=PAYLOAD_COLUMNS,
    )


def _payload_objects(payload: pa.Array | Iterable[pa.Array], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each document's JSON text as ``bytes`` and its sha256 hex, chunk by chunk."""
    payloads, content_hashes = np.empty(n, dtype=object), np.empty(n, dtype=object)
    at = 0
    for chunk in [payload] if isinstance(payload, pa.Array) else _built_ahead(iter(payload)):
        objects = chunk.cast(pa.large_binary()).to_numpy(zero_copy_only=False)
        del chunk  # the chunk's Arrow text goes back to the allocator before the one after the next is built
        payloads[at:at + len(objects)] = objects
        content_hashes[at:at + len(objects)] = hashes(objects.tolist())
        at += len(objects)
    if at != n:
        raise AssertionError(f"{at} payloads for {n} documents")
    return payloads, content_hashes


def _built_ahead(chunks: Iterator[pa.Array]) -> Iterator[pa.Array]:
    """The chunks in order, each next one built in a worker thread while the caller turns the current one
    into bytes and hashes: building is Arrow's kernels, which release the GIL, so the two overlap on a
    second core (the bytes objects and hashes need the GIL). At most two chunks are alive at a time."""
    with ThreadPoolExecutor(1, thread_name_prefix="payload-text") as builder:
        pending = builder.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = builder.submit(next, chunks, None)
            yield chunk
            del chunk


def _object_column(values: pa.Array, *, repeats: bool = False) -> pd.Series:
    """A column of Python ``str`` (or ``bytes``) objects with None for null; a column of few distinct
    values (``repeats``) gets one object per distinct value."""
    if not repeats:
        return pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
    encoded = pc.dictionary_encode(values)
    distinct = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return pd.Series(distinct[codes], dtype=object)


def hashes(payloads: list[bytes]) -> list[str]:
    """sha256 hex of each payload: the ledger's ``content_hash`` (and part of the idempotency key)."""
    sha = hashlib.sha256
    return [sha(p).hexdigest() for p in payloads]


def empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PAYLOAD_COLUMNS})


def sorted_by(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows in a stable order, so the same input always gives the same bytes."""
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def group_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Exact sum of ``values[bounds[i]:bounds[i + 1]]`` per group (int64, or Python ints past int64)."""
    # Below 2**62 in all no partial sum can overflow int64.
    if values.dtype != object and np.abs(values).astype(np.float64).sum() < 2.0**62:
        running = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
        return running[bounds[1:]] - running[bounds[:-1]]
    # Python ints: exact whatever the size (lines beyond int64 come as objects from money).
    sums = np.empty(len(bounds) - 1, dtype=object)
    sums[:] = [sum(values[lo:hi].tolist()) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return sums


def decimals(text: pa.Array) -> list[Decimal]:
    """The ``total_amount`` column: each document's total as the Decimal its JSON text states."""
    return list(map(Decimal, text.to_pylist()))
