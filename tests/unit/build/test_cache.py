"""The chunk cache key: what it covers, computed directly (no build)."""

from __future__ import annotations

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
    assert key == chunk_key(context_fingerprint(_ctx(), "tok1"), [CheckedRow(**r.__dict__) for r in rows])
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
