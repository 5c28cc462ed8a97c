"""Best-fit-decreasing packing by hand and by property (no build)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.write.pack import best_fit_decreasing


def test_best_fit_decreasing_by_hand():
    # sorted: 6(0) 5(3) 4(1) 3(4) 2(2) 2(5); capacity 8
    bins = best_fit_decreasing(np.array([6, 4, 2, 5, 3, 2]), 8)
    # 6 -> A(2 left); 5 -> B(3); 4 -> C(4); 3 -> B (best fit: 3 left) ; 2 -> A ; 2 -> C
    assert bins == [[0, 2], [1, 5], [3, 4]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 50), max_size=80), st.integers(50, 120))
def test_best_fit_decreasing_properties(lengths, cap):
    arr = np.array(lengths, dtype=np.int64)
    bins = best_fit_decreasing(arr, cap)
    flat = sorted(p for b in bins for p in b)
    assert flat == list(range(len(lengths)))  # every item exactly once
    assert all(arr[b].sum() <= cap for b in bins)
    # no two bins could be merged: best fit never leaves two bins each at most half full
    assert sum(1 for b in bins if arr[b].sum() <= cap // 2) <= 1
    assert bins == best_fit_decreasing(arr, cap)  # deterministic


# -- raw text (layout: text): documents longer than max_length are cut into pieces ----------


def test_cut_pieces_by_hand():
    from ftdata.write.pack import cut_pieces

    doc, start, length = cut_pieces(np.array([3, 10, 8, 1]), 4)
    assert doc.tolist() == [0, 1, 1, 1, 2, 2, 3]
    assert start.tolist() == [0, 0, 4, 8, 0, 4, 0]
    assert length.tolist() == [3, 4, 4, 2, 4, 4, 1]


def test_packed_pieces_keep_every_token_in_order_and_restart_positions():
    import pyarrow as pa

    from ftdata.write.pack import cut_pieces, packed_table

    ids = [list(range(100, 110)), [7, 8, 9]]  # a 10-token document and a 3-token one
    docs = pa.table({"input_ids": ids, "labels": ids, "source": ["s", "s"], "task": ["t", "t"],
                     "template": ["text", "text"], "row_key": ["a", "b"]},
                    schema=pa.schema([("input_ids", pa.list_(pa.int32())), ("labels", pa.list_(pa.int32())),
                                      ("source", pa.string()), ("task", pa.string()), ("template", pa.string()),
                                      ("row_key", pa.string())]))
    doc, start, length = cut_pieces(np.array([10, 3]), 4)  # pieces 4, 4, 2 | 3
    # rows: [piece 0], [piece 1], [piece 2 + doc b]
    t = packed_table(docs, np.array([1, 1, 2]), (doc, start, length)).to_pylist()
    assert [r["input_ids"] for r in t] == [[100, 101, 102, 103], [104, 105, 106, 107], [108, 109, 7, 8, 9]]
    assert [r["position_ids"] for r in t] == [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 0, 1, 2]]
    assert [r["seq_lengths"] for r in t] == [[4], [4], [2, 3]]
    assert [r["row_key"] for r in t] == [["a"], ["a"], ["a", "b"]]
    assert all(r["labels"] == r["input_ids"] for r in t)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=40), st.integers(4, 16))
def test_components_hold_every_piece_of_a_document(lengths, cap):
    from ftdata.write.pack import _components, cut_pieces

    doc, _, length = cut_pieces(np.array(lengths), cap)
    bins = best_fit_decreasing(length, cap)
    groups = _components(bins, doc)
    assert sorted(b for g in groups for b in g) == list(range(len(bins)))  # every bin once
    owner = {}
    for k, g in enumerate(groups):
        for b in g:
            for p in bins[b]:
                assert owner.setdefault(int(doc[p]), k) == k  # a document's pieces: one group
