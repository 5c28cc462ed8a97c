"""The cache key of a chunk its worker reads (ftdata.build.ranged.range_key): what it hashes."""

from __future__ import annotations

from ftdata.build.ranged import RangeTask, range_key
from ftdata.config.models import Recipe


def _task(first_line=1, path="a.jsonl", **src):
    recipe = Recipe.model_validate({"name": "t", "tokenizer": "t", "output": "o", "seed": src.pop("seed", 1),
                                    "sources": [{"name": "a", "path": path, "key": "id", **src}]})
    return RangeTask(recipe.sources[0], recipe, path, 0, 10, first_line)


def test_the_key_changes_with_everything_that_changes_the_chunk_and_nothing_else():
    data = b'{"id": 1}\n'
    base = range_key("fp", _task(), data)
    assert range_key("fp", _task(), data) == base
    assert range_key("fp", _task(path="elsewhere/a.jsonl"), data) == base  # where the file lies does not matter
    changed = [range_key("fp2", _task(), data), range_key("fp", _task(), b'{"id": 2}\n'),
               range_key("fp", _task(first_line=5), data), range_key("fp", _task(seed=2), data),
               range_key("fp", _task(columns={"id": {"type": "int"}}), data), range_key("fp", _task(split="test"), data)]
    assert len({base, *changed}) == 1 + len(changed)


def _slice(file_hash="h", part=(2, 16, 16, 40), path="a.parquet", fmt="parquet", **src):
    from ftdata.build.ranged import SliceTask
    from ftdata.read.columnar import RowSlice

    t = _task(path=path, **src)
    return SliceTask(t.src, t.recipe, path, fmt, RowSlice(*part), file_hash)


def test_a_slice_key_hashes_the_file_hash_and_the_slice_place_not_the_file_location():
    def key(t):
        return range_key("fp", t, t.data())

    base = key(_slice())
    assert key(_slice()) == base and key(_slice(path="elsewhere/a.parquet")) == base
    changed = [key(_slice(file_hash="h2")), key(_slice(part=(3, 16, 16, 40))), key(_slice(part=(2, 0, 16, 40))),
               key(_slice(part=(2, 16, 15, 40))), key(_slice(part=(2, 16, 16, 41))), key(_slice(fmt="arrow")),
               key(_slice(seed=2)), key(_slice(split="test")), range_key("fp2", _slice(), _slice().data())]
    assert base not in changed and len(set(changed)) == len(changed)
