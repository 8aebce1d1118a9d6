r"""JSON text, a column at a time: literals, strings escaped as orjson escapes them, refs, dates, lists.

Every function takes and returns Arrow ``large_string`` arrays (64-bit offsets: a night's JSON text can
pass 2 GiB) with one element per row; a null stands for a value that is missing, and becomes JSON's
``null`` in :func:`json_strings`.

    >>> ids = pa.array(["a", None, 'say "hi"'], TEXT)
    >>> join('{"id":', json_strings(ids), "}").to_pylist()
    ['{"id":"a"}', '{"id":null}', '{"id":"say \\"hi\\""}']
    >>> join("<", ids, ">").to_pylist()  # a null anywhere gives null
    ['<a>', None, '<say "hi">']
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from receivables.nulls import as_objects

TEXT = pa.large_string()
# What orjson escapes inside a string; anything else is copied as it is (non-ASCII included).
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def lit(text: str) -> pa.Scalar:
    """A text literal to join with columns."""
    return pa.scalar(text, TEXT)


Parts = list  # literals and columns, in order: what :func:`strings` gives, to be spliced into a join


def join(*parts: pa.Array | str | Parts) -> pa.Array:
    """Element-wise concatenation of text columns and literals (a null anywhere gives null).

    Lists of parts are spliced in and adjacent literals merged first: Arrow's join costs about the same
    per piece and row whatever the piece, so fewer pieces is what makes it faster."""
    pieces: list = []
    for part in (q for p in parts for q in (p if isinstance(p, list) else [p])):
        if isinstance(part, str) and pieces and isinstance(pieces[-1], str):
            pieces[-1] += part
        else:
            pieces.append(part)
    return pc.binary_join_element_wise(*(lit(p) if isinstance(p, str) else p for p in pieces), lit(""))


def sliced(parts: Parts, start: int, stop: int) -> Parts:
    """The rows ``start:stop`` of a template's parts (literals kept, columns sliced without a copy)."""
    flat = (q for p in parts for q in (p if isinstance(p, list) else [p]))
    return [p if isinstance(p, str) else p.slice(start, stop - start) for p in flat]


def strings(text: pa.Array) -> Parts:
    """:func:`json_strings` of a column as parts of a :func:`join`: the column between two quote literals
    when it has no null and nothing to escape (the usual case: no pass of its own), else the JSON text."""
    if text.null_count == 0 and not _may_need_escapes(text):
        return ['"', text, '"']
    return [json_strings(text)]


def text_array(values: pd.Series | np.ndarray | list) -> pa.Array:
    """A text column as one Arrow large_string array, nulls kept (zero-copy for Arrow-backed strings)."""
    if isinstance(values, pd.Series) and not isinstance(values.dtype, (pd.StringDtype, pd.ArrowDtype)):
        values = as_objects(values)
    arr = pa.array(values, type=TEXT, from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def objects(values: pa.Array | pd.Series | list) -> list:
    """A column as a plain list with every NULL flavour turned into None."""
    if isinstance(values, list):
        return values
    if isinstance(values, pa.Array):
        return values.to_pylist()
    out = values.astype(object)
    return out.where(out.notna(), None).tolist()


def json_strings(text: pa.Array) -> pa.Array:
    """JSON string literals of a text column (null -> ``null``), byte for byte as orjson writes them."""
    quoted = join('"', text, '"')
    if _may_need_escapes(text):
        special = pc.fill_null(pc.match_substring_regex(text, _NEEDS_ESCAPE), False)
        if pc.any(special).as_py():
            rows = np.flatnonzero(special.to_numpy(zero_copy_only=False))
            escaped = pa.array([orjson.dumps(text[int(i)].as_py()).decode() for i in rows], TEXT)
            quoted = pc.replace_with_mask(quoted, special, escaped)
    return quoted if text.null_count == 0 else pc.fill_null(quoted, lit("null"))


def _may_need_escapes(text: pa.Array) -> bool:
    """Whether any byte of the column's character data is one orjson escapes (``"``, ``\\``, controls).

    One pass over the array's own bytes (UTF-8 continuation bytes are never below 0x80), far cheaper
    than a regex per row; a slice (a chunk of a column) reads only its own rows' bytes."""
    if len(text) == 0:
        return False
    _, offsets, data = text.buffers()
    if data is None:
        return False
    large = pa.types.is_large_string(text.type) or pa.types.is_large_binary(text.type)
    width = np.int64 if large else np.int32
    ends = np.frombuffer(offsets, dtype=width)[[text.offset, text.offset + len(text)]]
    raw = np.frombuffer(data, dtype=np.uint8)[ends[0]:ends[1]]
    return bool(((raw < 0x20) | (raw == 0x22) | (raw == 0x5C)).any())


def ref_json(pids: pa.Array) -> Parts:
    """``{"id":...}`` per platform id (``{"id":null}`` where unknown), as parts of a :func:`join`."""
    return ['{"id":', *strings(pids), "}"]


def ref(pid: str | None) -> str:
    """:func:`ref_json` of one platform id."""
    return '{"id":' + orjson.dumps(pid).decode() + "}"


def date_json(series: pd.Series) -> pa.Array:
    """Dates as Codat's unqualified ``"YYYY-MM-DDT00:00:00"`` (a missing date is ``null``); a batch has
    few distinct dates, so each is formatted once."""
    codes, days = pd.factorize(pd.to_datetime(series))
    text = ['"' + t + '"' for t in pd.Index(days).strftime("%Y-%m-%dT00:00:00")]
    return pa.array([*text, "null"], TEXT).take(pa.array(codes))  # code -1 (missing) is the last


def lists(items: pa.Array, bounds: np.ndarray) -> pa.Array:
    """Each group's texts joined with commas (a group without items gives an empty text)."""
    return pc.binary_join(pa.LargeListArray.from_arrays(pa.array(bounds, pa.int64()), items), lit(","))


def choose(mask: np.ndarray, when: str, otherwise: str) -> pa.Array:
    """One of two literals per row."""
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), lit(when), lit(otherwise))
