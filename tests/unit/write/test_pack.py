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
