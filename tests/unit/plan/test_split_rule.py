"""The split rule by direct calls: a seeded hash of the split key, cut at the cumulative ratios."""

from __future__ import annotations

import numpy as np

from ftdata.plan.split import assign_splits, split_unit, unit_hash

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def test_unit_hash_is_a_fixed_function_of_seed_and_key():
    # literal values: a change here moves rows between splits in every existing dataset
    assert unit_hash(0, "a") == 0.08533998760926992
    assert split_unit(1, "s1", "5") == 0.19223197572774456
    assert all(0 <= unit_hash(s, k) < 1 for s in range(3) for k in ("", "a", "é", "x" * 1000))


def test_a_row_key_names_a_row_of_its_own_source_only():
    assert split_unit(1, "s1", "5") != split_unit(1, "s2", "5")
    assert split_unit(1, "s1", "5") != split_unit(2, "s1", "5")


def test_group_by_hashes_the_group_alone_whatever_the_source_and_key():
    a = split_unit(1, "s1", "x", group_by="product", group="P1")
    assert a == split_unit(1, "s2", "y", group_by="product", group="P1") == unit_hash(1, "P1")
    # a missing group value and an empty one are the same group
    assert split_unit(1, "s1", "x", "product", None) == split_unit(1, "s2", "y", "product", "")


def test_hashes_fall_into_splits_at_the_cumulative_ratios():
    u = np.array([0.0, 0.1, 0.79, 0.8, 0.85, 0.9, 0.95, 0.999999])
    got = assign_splits(np.full(len(u), None), u, RATIOS)
    assert got.tolist() == ["train", "train", "train", "validation", "validation", "test", "test",
                            "test"]


def test_a_fixed_split_wins_and_zero_ratio_splits_get_no_hashed_rows():
    u = np.array([0.05, 0.5, 0.95])
    fixed = np.array([None, "test", None], dtype=object)
    got = assign_splits(fixed, u, {"train": 0.5, "validation": 0.0, "test": 0.5})
    assert got.tolist() == ["train", "test", "test"]


def test_the_rounding_sliver_past_the_last_bound_goes_to_the_last_split():
    # 0.7 + 0.2 + 0.1 sums to just under 1 in floating point; the largest hash below 1 is past it
    ratios = {"a": 0.7, "b": 0.2, "c": 0.1}
    top = np.nextafter(1.0, 0.0)
    assert np.cumsum(list(ratios.values()))[-1] <= top < 1
    assert assign_splits(np.array([None]), np.array([top]), ratios).tolist() == ["c"]
