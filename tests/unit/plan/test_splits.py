"""Stratified splits and the split mode's column, computed directly on literal rows."""

from __future__ import annotations

import numpy as np
import pytest

from ftdata.config.recipe import parse_recipe
from ftdata.errors import ConfigError
from ftdata.plan.split import stratified_splits

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def test_stratified_splits_are_exact_per_stratum_and_keep_units_together():
    rng = np.random.default_rng(3)
    u = rng.random(1000)
    strata = np.array(["a"] * 870 + ["b"] * 120 + [None] * 10, dtype=object)
    # ten rows repeat a unit (a second template on the same row): they must follow it
    u2, s2 = np.concatenate([u, u[:10]]), np.concatenate([strata, strata[:10]])
    got = stratified_splits(u2, s2, RATIOS)
    assert (got[1000:] == got[:10]).all()
    for label, n in (("a", 870), ("b", 120), (None, 10)):
        counts = np.bincount(got[:1000][[x == label for x in strata]], minlength=3)
        assert list(counts) == [round(0.8 * n), round(0.9 * n) - round(0.8 * n), n - round(0.9 * n)]
    # independent of row order
    perm = rng.permutation(1010)
    assert (stratified_splits(u2[perm], s2[perm], RATIOS) == got[perm]).all()


def test_split_mode_needs_its_column():
    base = {"name": "x", "sources": [{"name": "s", "path": "a.jsonl", "templates": [{"file": "t.yaml"}]}]}
    with pytest.raises(ConfigError, match="stratify_by"):
        parse_recipe({**base, "split": {"mode": "stratify"}})
    with pytest.raises(ConfigError, match="group_by"):
        parse_recipe({**base, "split": {"mode": "group"}})
    assert parse_recipe({**base, "split": {"group_by": "p"}}).split.mode == "group"
    assert parse_recipe({**base, "split": {"stratify_by": "label"}}).split.mode == "stratify"
