"""The dataset card's mixture table rows and size categories, from literal values."""

from __future__ import annotations

from ftdata.write.card import mixture_rows, size_category

from tests.conftest import ROOT

REVIEWS = ROOT / "examples" / "reviews"
TEMPLATES = ROOT / "templates" / "reviews" / "templates.yaml"


def test_loose_mixture_entries_and_sizes():
    assert mixture_rows(None) == [] and mixture_rows({"method": "x"}) == []
    rows = mixture_rows({"tasks": {"a": {"requested_rate": 0.6, "realized_rate": {"rate": 0.5}}}})
    assert rows == [{"split": "train", "task": "a", "requested": 0.6, "realized": 0.5, "examples": None,
                     "available": None}]
    assert [size_category(n) for n in (5, 1_000, 99_999, 10**9)] == ["n<1K", "1K<n<10K", "10K<n<100K", "n>100M"]
