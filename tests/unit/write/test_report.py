"""The report's trained-token counts per segment, on literal label arrays."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.constants import IGNORE_INDEX

from tests.conftest import ROOT

REVIEWS = ROOT / "examples" / "reviews"
TEMPLATES = ROOT / "templates" / "reviews" / "templates.yaml"


@settings(max_examples=200, deadline=None)
@given(segs=st.lists(st.lists(st.sampled_from([IGNORE_INDEX, 0, 5, 7]), max_size=6), max_size=8),
       trailing=st.lists(st.sampled_from([IGNORE_INDEX, 3]), max_size=3))
def test_trained_counts_per_segment(segs, trailing):
    from ftdata.write.reportstats import _segment_counts

    flat = np.array([x for s in segs for x in s] + trailing, dtype=np.int32)
    got = _segment_counts(flat, np.array([len(s) for s in segs], dtype=np.int64))
    assert got.tolist() == [sum(x != IGNORE_INDEX for x in s) for s in segs]
