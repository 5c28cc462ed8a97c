"""The marker render's reading (chat._markers): its in-order shortcut reads as the general path."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.templating.chat import _MARK_BASE, _Fallback, _markers


def _general(marked: str, n: int):
    """The general reading, written out: every marker's place in the stripped text (None: absent)."""
    pos, out, codes = [None] * (2 * n), [], []
    for c in marked:
        j = ord(c) - _MARK_BASE
        if 0 <= j <= 0x10FFFC - _MARK_BASE:
            codes.append(j)
            if j >= 2 * n or j in codes[:-1] or (len(codes) > 1 and j < codes[-2]):
                raise _Fallback
            pos[j] = sum(map(len, out))
        else:
            out.append(c)
    return pos, "".join(out)


def _read(marked: str, n: int):
    try:
        return _markers(marked, n)
    except _Fallback:
        return "fallback"


def _spec(marked: str, n: int):
    try:
        return _general(marked, n)
    except _Fallback:
        return "fallback"


_PIECE = st.one_of(st.text(alphabet="ab<|>\n é\ue000", max_size=4),  # ASCII or not: both readings
                   st.integers(0, 7).map(lambda j: chr(_MARK_BASE + j)))


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(_PIECE, max_size=10), n=st.integers(0, 4))
def test_markers_read_as_the_general_path(pieces, n):
    marked = "".join(pieces)
    assert _read(marked, n) == _spec(marked, n)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_every_marker_in_order(n):
    texts = [f"t{j}" for j in range(2 * n + 1)]
    marked = "".join(itertools.chain.from_iterable(zip(texts, [chr(_MARK_BASE + j) for j in range(2 * n)] + [""])))
    pos, stripped = _markers(marked, n)
    assert stripped == "".join(texts)
    assert pos == list(itertools.accumulate(len(t) for t in texts[:-1]))


def test_a_marker_pair_past_the_plane_falls_back():
    from ftdata.templating.chat import _MARK_TOP, _wrap

    last = (_MARK_TOP - _MARK_BASE - 1) // 2  # the last pair whose closing marker is in the plane
    assert _wrap("x", last) == chr(_MARK_BASE + 2 * last) + "x" + chr(_MARK_BASE + 2 * last + 1)
    assert ord(_wrap("x", last)[-1]) <= _MARK_TOP
    with pytest.raises(_Fallback):
        _wrap("x", last + 1)
