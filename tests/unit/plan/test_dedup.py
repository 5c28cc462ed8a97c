"""Exact and near-duplicate removal: survivor rule, rejects naming the kept copy."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ftdata.plan.neardup import (
    WordHasher,
    lsh_params,
    near_duplicates,
    shingle_batch,
    shingle_hashes,
    signatures,
    strip_literals,
    template_literals,
    text_shingles,
    words,
)


def _sig(text: str, k: int = 3, num_perm: int = 128) -> np.ndarray:
    h = text_shingles([text], k, WordHasher())
    return np.frombuffer(signatures(h, np.zeros(h.size, np.int64), 1, num_perm)[0], dtype="<u4")


def test_minhash_estimates_jaccard():
    rng = random.Random(0)
    base = [f"w{rng.randrange(10_000)}" for _ in range(200)]
    other = base[:150] + [f"x{i}" for i in range(50)]
    h = WordHasher()
    a, b = text_shingles([" ".join(base)], 3, h), text_shingles([" ".join(other)], 3, h)
    true = np.intersect1d(a, b).size / np.union1d(a, b).size
    est = (_sig(" ".join(base), num_perm=512) == _sig(" ".join(other), num_perm=512)).mean()
    assert abs(est - true) < 0.06
    assert signatures(np.zeros(0, dtype=np.uint64), np.zeros(0, np.int64), 1, 16) == [None]


def test_batched_shingles_match_one_text_at_a_time():
    h = WordHasher()
    texts = ["a b c d e", "", "x y", "one two three four five six", "solo"]
    flat, doc = shingle_batch(texts, 3, h)
    for i, t in enumerate(texts):
        assert sorted(flat[doc == i].tolist()) == sorted(shingle_hashes(h(words(t)), 3).tolist())
    flat, doc = shingle_batch(texts, 3, h, short_whole=False)
    assert sorted(set(doc.tolist())) == [0, 3]
    # a document's signature does not depend on the other documents in its batch
    sig_all = signatures(flat, doc, 5, 32)
    one = flat[doc == 3]
    assert sig_all[3] == signatures(one, np.zeros(one.size, np.int64), 1, 32)[0]
    assert sig_all[1] is None


def test_lsh_params_fit_the_signature():
    for t in (0.5, 0.7, 0.8, 0.9):
        b, r = lsh_params(t, 128)
        assert b * r <= 128
        assert 1 - (1 - t**r) ** b >= 0.95  # a pair at the threshold is a candidate
        assert 1 - (1 - t ** (r + 1)) ** (128 // (r + 1)) < 0.95  # and no more selective banding would do


def test_greedy_survivor_is_kept_and_chains_do_not_cascade():
    a = np.arange(64, dtype=np.uint32)
    b = a.copy()
    b[:8] += 1000  # 56/64 = 0.875 similar to a
    c = b.copy()
    c[8:16] += 1000  # 0.875 similar to b, 0.75 to a
    sigs = np.stack([c, a, b])
    removed, kept, sim = near_duplicates(sigs, np.ones(3, bool), np.zeros(3, np.int64), np.array([2, 0, 1]), 0.8)
    # a (rank 0) stays; b duplicates a and goes; c only resembles b, which is gone: c stays
    assert removed.tolist() == [2] and kept.tolist() == [1] and sim.tolist() == [0.875]
    # another scope is never compared
    removed, _, _ = near_duplicates(sigs, np.ones(3, bool), np.array([0, 1, 2]), np.array([2, 0, 1]), 0.8)
    assert removed.size == 0


def test_template_literal_text_does_not_make_messages_alike():
    lp, lc = template_literals({"prompt": "Read this message carefully and say what it means in your words: {{m}} Answer:",
                                "completion": "It means {{x}}"})
    assert lp == ["Read this message carefully and say what it means in your words:", "Answer:"]
    assert lc == ["It means"]
    p1 = "Read this message carefully and say what it means in your words: ok see you soon Answer:"
    p2 = "Read this message carefully and say what it means in your words: call me right now Answer:"
    assert strip_literals(p1, lp).split() == ["ok", "see", "you", "soon"]
    s1, s2 = _sig(strip_literals(p1, lp)), _sig(strip_literals(p2, lp))
    assert (s1 == s2).mean() < 0.2
    assert (_sig(p1) == _sig(p2)).mean() > 0.4  # what would happen without cutting the literals


@pytest.mark.parametrize("value", [True, False])
def test_dedup_accepts_a_bool(tmp_path, value):
    from ftdata.config.recipe import parse_recipe

    r = parse_recipe({"name": "x", "dedup": value, "sources": [{"name": "s", "path": "p", "templates": []}]})
    assert r.dedup.exact is value and r.dedup.near is False


def test_split_priority_is_the_constant_rule():
    """The vectorised priority gives each row what SPLIT_PRIORITY says (5 for other names and None)."""
    from ftdata.constants import SPLIT_PRIORITY
    from ftdata.plan.finalize import split_priority

    names = [*SPLIT_PRIORITY, "holdout", "", None, "Train", "test "]
    splits = np.array([names[i % len(names)] for i in range(50)], dtype=object)
    assert split_priority(splits).tolist() == [SPLIT_PRIORITY.get(s, 5) for s in splits]
    assert split_priority(list(splits)).tolist() == [SPLIT_PRIORITY.get(s, 5) for s in splits]
    assert split_priority(np.array([], dtype=object)).tolist() == []


def _dedup_work(digests: list[bytes]):
    import pyarrow as pa

    return pa.table({"_dedup": pa.array(digests, pa.binary(16))})


def test_exact_dedup_tells_rows_that_share_half_a_digest_from_copies():
    """The shortcut that sorts the first half alone (no two rows share it: nothing to remove)
    must still hand rows that share only that half to the full comparison, which keeps both."""
    from ftdata.plan.finalize import dedup_rows

    a, b, c = (1).to_bytes(8, "little"), (2).to_bytes(8, "little"), (3).to_bytes(8, "little")
    splits = np.array(["train", "test", "train", "validation"], dtype=object)
    sort = np.array([4, 3, 2, 1], dtype=np.uint64)
    keep, removed = dedup_rows(_dedup_work([a + b, a + c, c + c, b + b]), splits, sort)
    assert keep.all() and removed == []  # rows 0 and 1 share the first half only
    keep, removed = dedup_rows(_dedup_work([a + b, c + c, a + b, a + c]), splits, sort)
    assert keep.tolist() == [False, True, True, True]  # rows 0 and 2 are copies, both in train
    assert [(d, s) for d, s, _, _ in removed] == [(0, 2)]  # the lower sort key (row 2's) wins


def test_exact_dedup_without_copies_keeps_every_row():
    from ftdata.plan.finalize import dedup_rows

    rng = np.random.default_rng(3)
    digests = [bytes(rng.integers(0, 256, 16, dtype=np.uint8)) for _ in range(500)]
    keep, removed = dedup_rows(_dedup_work(digests), np.array(["train"] * 500, dtype=object),
                               np.arange(500, dtype=np.uint64))
    assert keep.all() and removed == []
