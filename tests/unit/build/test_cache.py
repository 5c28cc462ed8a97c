"""The chunk cache key: what it covers, computed directly (no build)."""

from __future__ import annotations

import dataclasses

from ftdata.build.cache import chunk_key, context_fingerprint
from ftdata.build.chunk import CheckedRow, ChunkContext

#: Files that hold the build's timings, so differ between any two builds by design.
TIMED = ("build_info.json", "report.html")



def _ctx(**kw) -> ChunkContext:
    from ftdata.templating.templates import from_strings

    base = dict(source="s", task="s", templates=[from_strings("Q: {{q}}", "{{a}}", name="t")], tokenizer="ftdata:tiny-bpe",
                tokenizer_base=None, layout="causal", separator=" ", max_length=64, overflow="drop", add_eos=True, seed=0)
    base.update(kw)
    return ChunkContext(**base)



def test_chunk_key_covers_rows_settings_templates_and_tokenizer():
    rows = [CheckedRow("k1", 1, {"q": "a", "a": "b"}, u=0.25), CheckedRow("k2", 2, {"q": "c", "a": "d"}, u=0.5)]
    fp = context_fingerprint(_ctx(), "tok1")
    key = chunk_key(fp, rows)
    assert key == chunk_key(context_fingerprint(_ctx(), "tok1"), [dataclasses.replace(r) for r in rows])
    from ftdata.templating.templates import from_strings

    variants = [
        chunk_key(fp, [rows[0], CheckedRow("k2", 2, {"q": "c", "a": "D"}, u=0.5)]),  # a value
        chunk_key(fp, [rows[0], CheckedRow("k2", 3, {"q": "c", "a": "d"}, u=0.5)]),  # a line number
        chunk_key(fp, rows[:1]),
        chunk_key(context_fingerprint(_ctx(max_length=65), "tok1"), rows),
        chunk_key(context_fingerprint(_ctx(separator="\n"), "tok1"), rows),
        chunk_key(context_fingerprint(_ctx(templates=[from_strings("Q: {{q}}?", "{{a}}", name="t")]), "tok1"), rows),
        chunk_key(context_fingerprint(_ctx(), "tok2"), rows),
    ]
    assert len({key, *variants}) == len(variants) + 1


def test_through_cache_computes_on_a_miss_stores_and_finds_it_again(tmp_path):
    """The one look-up + compute + store of the chunk cache (cached_process and run_range call it)."""
    import pyarrow as pa

    from ftdata.build.cache import ChunkCache, through_cache
    from ftdata.build.chunk import ChunkResult
    from ftdata.build.rows import RangeRead

    calls = []

    def compute(read=None):
        calls.append(1)
        return ChunkResult(pa.table({"_line": pa.array([1, 2], pa.int64()), "_len": pa.array([3, 4], pa.int32())}), [], 2, read=read)

    store = (str(tmp_path), True, "fp")
    first = through_cache(store, lambda fp: fp + "-k1", compute)
    again = through_cache(store, lambda fp: fp + "-k1", compute)
    assert len(calls) == 1 and not first.hit and again.hit and again.rows == first.rows == 2
    assert through_cache(None, lambda fp: fp + "-k1", compute).table.num_rows == 2 and len(calls) == 2
    # a chunk its worker reads needs the entry's RangeRead: an entry without one is a miss, recomputed
    cache = ChunkCache(tmp_path)
    assert cache.get("fp-k1").hit and cache.get("fp-k1", ranged=True) is None and (cache.hits, cache.misses) == (1, 1)
    info = RangeRead(keys=["a", "b"], lines=[1, 2], unsplit=[False, False], rejects=[], n_read=2)
    ranged = through_cache(store, lambda fp: fp + "-k1", lambda: compute(info), ranged=True)
    assert len(calls) == 3 and not ranged.hit
    hit = through_cache(store, lambda fp: fp + "-k1", lambda: compute(info), ranged=True)
    assert hit.hit and hit.read.keys == ["a", "b"] and len(calls) == 3
