"""The build's accounting check (``accounting_ok``) on literal manifests."""

from __future__ import annotations

import copy

from ftdata.write.manifest import accounting_ok

from tests.conftest import ROOT

REVIEWS_TPL = ROOT / "templates" / "reviews" / "templates.yaml"
REVIEWS_DATA = ROOT / "examples" / "reviews" / "reviews.jsonl"


def test_accounting_ok_checks_fanout():
    m = {"counts": {"sources": {"s": {"rows_read": 10, "rows_rejected": 0, "rows_with_output": 10,
                                      "rows_without_output": 0, "rows_rendered": 10, "fanout": 2,
                                      "examples_candidates": 20, "examples_written": 18, "examples_rejected": 2}},
                    "splits": {"train": {"examples": 18}}}}
    assert accounting_ok(m) == []
    bad = copy.deepcopy(m)
    bad["counts"]["sources"]["s"]["fanout"] = 3
    assert any("fanout" in p for p in accounting_ok(bad))
