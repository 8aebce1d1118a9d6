"""The transform builds its JSON a chunk of documents at a time; the bytes must not depend on where the
chunks fall. Every kind is compared with the per-row reference at chunk sizes that cut the batch into
single documents, documents in the middle of their lines, and a last short chunk — and the chunk ranges
and the escape check of a chunk (a slice that shares its column's buffers) are checked on their own.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.receivables.test_transform import test_every_payload_equals_the_per_row_reference

from receivables.transform import frame
from receivables.transform.text import TEXT, _may_need_escapes, join, sliced, strings


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 50])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_payload_equals_the_reference_whatever_the_chunk_size(monkeypatch, rows, seed, refdata, lookup):
    monkeypatch.setattr(frame, "ROWS_PER_CHUNK", rows)
    test_every_payload_equals_the_per_row_reference(seed, refdata, lookup)


@given(st.lists(st.integers(min_value=0, max_value=12), max_size=40), st.integers(min_value=1, max_value=30))
def test_chunks_cover_every_document_once_in_order(lines_per_document, rows):
    bounds = np.concatenate(([0], np.cumsum(lines_per_document, dtype=np.int64)))
    ranges = frame.chunks(bounds, rows)
    n = len(lines_per_document)
    if n == 0:
        assert ranges == []
        return
    assert [lo for lo, _ in ranges] == [0] + [hi for _, hi in ranges[:-1]]
    assert ranges[-1][1] == n
    assert all(lo < hi for lo, hi in ranges)
    # a chunk grows past ``rows`` (documents plus lines) by at most its last document
    assert all((bounds[hi - 1] - bounds[lo]) + (hi - 1 - lo) < rows for lo, hi in ranges)


@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=1, max_size=12), st.data())
def test_a_slices_strings_are_the_rows_strings_of_the_whole_column(values, data):
    column = pa.array(values, TEXT)
    lo = data.draw(st.integers(min_value=0, max_value=len(values)))
    hi = data.draw(st.integers(min_value=lo, max_value=len(values)))
    part = column.slice(lo, hi - lo)
    needs = any(v is not None and any(c in v for c in '"\\') or any(ord(c) < 0x20 for c in v or "")
                for v in values[lo:hi])
    assert _may_need_escapes(part) == needs
    whole = join("<", strings(column), ">")
    assert join("<", strings(part), ">").to_pylist() == whole.to_pylist()[lo:hi]
    assert join(*sliced(["<", strings(column), ">"], lo, hi)).to_pylist() == whole.to_pylist()[lo:hi]


def test_chunks_built_ahead_keep_their_order_and_a_failing_chunk_fails_the_transform():
    def texts(fail_at: int | None):
        for i in range(4):
            if i == fail_at:
                raise ValueError(f"chunk {i} cannot be built")
            yield pa.array([f'{{"n":{i}}}', f'{{"n":{i}.5}}'], TEXT)

    payloads, hashes = frame._payload_objects(texts(None), 8)
    assert [p.decode() for p in payloads] == [f'{{"n":{i // 2}{".5" if i % 2 else ""}}}' for i in range(8)]
    assert list(hashes) == frame.hashes(list(payloads))
    with pytest.raises(ValueError, match="chunk 2 cannot be built"):
        frame._payload_objects(texts(2), 8)
