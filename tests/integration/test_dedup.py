"""Exact and near deduplication through whole builds (pinned splits; which copy is kept)."""

from __future__ import annotations

import json
import random

from ftdata.build.orchestrate import compile_recipe
from ftdata.write.manifest import accounting_ok

from tests.conftest import write_jsonl, write_native_templates, write_recipe


def _rows(rng, n, words=20):
    return [" ".join(f"w{rng.randrange(50_000)}" for _ in range(words)) for _ in range(n)]


def test_near_and_exact_duplicates_across_pinned_splits(tmp_path):
    rng = random.Random(7)
    originals = _rows(rng, 40)
    short = [" ".join(f"s{rng.randrange(50_000)}" for _ in range(4)) for _ in range(40)]
    # train holds: 10 near copies (last word changed), 5 exact copies, 40 unrelated short messages
    near = [t.rsplit(" ", 1)[0] + " changed" for t in originals[:10]]
    train = [{"id": f"n{i}", "text": t, "label": "x"} for i, t in enumerate(near)]
    train += [{"id": f"e{i}", "text": t.upper(), "label": "x"} for i, t in enumerate(originals[10:15])]
    train += [{"id": f"s{i}", "text": t, "label": "x"} for i, t in enumerate(short)]
    test = [{"id": f"o{i}", "text": t, "label": "x"} for i, t in enumerate(originals)]
    write_jsonl(tmp_path / "train.jsonl", train)
    write_jsonl(tmp_path / "test.jsonl", test)
    tpl = write_native_templates(tmp_path / "t.yaml", [{
        "name": "echo", "prompt": "Read this message carefully and say what it means in your words: {{text}} Answer:",
        "completion": "It means {{label}}"}])
    src = {"key": "id", "task": "echo", "templates": [{"file": str(tpl)}]}
    res = compile_recipe(write_recipe(tmp_path, {
        "name": "d", "output": "out", "dedup": {"near": True, "threshold": 0.8},
        "sources": [{"name": "tr", "path": "train.jsonl", "split": "train", **src},
                    {"name": "te", "path": "test.jsonl", "split": "test", **src}],
        "contamination": None,
    }))
    rejects = [json.loads(x) for x in (res.output / "rejects.jsonl").read_text().splitlines()]
    dups = {r["row_key"]: r for r in rejects if r["stage"] == "dedup"}
    assert set(dups) == {f"n{i}" for i in range(10)} | {f"e{i}" for i in range(5)}
    for key, r in dups.items():
        assert r["split"] == "train"
        assert r["code"] == ("near_duplicate" if key[0] == "n" else "duplicate")
        assert r["duplicate_of"] == {"source": "te", "row_key": f"o{int(key[1:]) + (10 if key[0] == 'e' else 0)}",
                                     "template": "echo", "split": "test"}
    assert "near duplicate (estimated Jaccard" in dups["n0"]["reason"]
    assert res.manifest["counts"]["splits"]["test"]["examples"] == 40
    assert res.manifest["counts"]["splits"]["train"]["examples"] == 40  # the short messages all stay
    assert accounting_ok(res.manifest) == []


def test_exact_duplicate_keeps_the_test_copy(tmp_path):
    # a2 keeps the train split from coming out empty (a build fails on an empty split)
    write_jsonl(tmp_path / "a.jsonl", [{"id": "a1", "q": "What is  two plus two", "a": "four"},
                                       {"id": "a2", "q": "say hi", "a": "hello"}])
    write_jsonl(tmp_path / "b.jsonl", [{"id": "b1", "q": "what is two plus two", "a": "Four"}])
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": "{{q}}", "completion": "{{a}}"}])
    res = compile_recipe(write_recipe(tmp_path, {
        "name": "x", "output": "out",
        "sources": [{"name": "a", "path": "a.jsonl", "key": "id", "split": "train", "templates": [{"file": str(tpl)}]},
                    {"name": "b", "path": "b.jsonl", "key": "id", "split": "test", "templates": [{"file": str(tpl)}]}],
    }))
    (rej,) = [json.loads(x) for x in (res.output / "rejects.jsonl").read_text().splitlines()]
    assert rej["code"] == "duplicate" and rej["row_key"] == "a1"
    assert rej["duplicate_of"] == {"source": "b", "row_key": "b1", "template": "qa", "split": "test"}
