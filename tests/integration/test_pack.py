"""Packing: best-fit decreasing, per-document positions, exact accounting, load_from_disk."""

from __future__ import annotations

import datasets

from ftdata.build.orchestrate import compile_recipe
from ftdata.constants import IGNORE_INDEX as X
from ftdata.inspect.load import load_compiled
from ftdata.write.manifest import accounting_ok

from tests.conftest import write_jsonl, write_native_templates, write_recipe


def _recipe(tmp_path, word_tokenizer, rows, **kw):
    write_jsonl(tmp_path / "rows.jsonl", rows)
    write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": "Q: {{q}} A:", "completion": "{{a}}"}])
    r = {"name": "p", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id",
                                                     "templates": [{"file": "t.yaml"}]}],
         "split": {"ratios": {"train": 1.0}}, "tokenizer": str(word_tokenizer), "max_length": 12, "packing": True}
    r.update(kw)
    return write_recipe(tmp_path, r)


def test_packed_build(tmp_path, word_tokenizer):
    rows = [{"id": "1", "q": "what is two plus three", "a": "five"},   # 9 tokens
            {"id": "2", "q": "say hi", "a": "hello hi"},                # 7 tokens
            {"id": "3", "q": "hi", "a": "yes"},                         # 5 tokens
            {"id": "4", "q": "hi", "a": "no"}]                          # 5 tokens (not a duplicate)
    res = compile_recipe(_recipe(tmp_path, word_tokenizer, rows))
    m = res.manifest
    assert not accounting_ok(m)
    assert m["counts"]["sources"]["qa"]["examples_written"] == 4
    assert m["counts"]["splits"]["train"]["examples"] == 4
    pk = m["packing"]["splits"]["train"]
    assert pk == {"rows": 3, "documents": 4, "tokens": 26, "fill_ratio": round(26 / 36, 6)}
    assert "position_ids" in m["columns"] and "prompt" not in m["columns"]
    dd = datasets.load_from_disk(str(res.output))
    assert load_compiled(res.output)["train"].num_rows == 3
    train = dd["train"]
    assert sorted(k for ks in train["row_key"] for k in ks) == ["1", "2", "3", "4"]
    for row in train:
        n = len(row["input_ids"])
        assert n <= 12 and sum(row["seq_lengths"]) == n
        assert len(row["labels"]) == len(row["position_ids"]) == len(row["attention_mask"]) == n
        assert len(row["row_key"]) == len(row["seq_lengths"]) == len(row["task"]) == len(row["source"])
        start = 0
        for length in row["seq_lengths"]:
            assert row["position_ids"][start:start + length] == list(range(length))
            # each document ends with its own trained EOS (id 0) and starts untrained
            assert row["labels"][start + length - 1] == 0 and row["labels"][start] == X
            start += length
    by_key = {}
    for row in train:
        start = 0
        for key, length in zip(row["row_key"], row["seq_lengths"]):
            by_key[key] = row["input_ids"][start:start + length]
            start += length
    assert by_key["3"] == [2, 12, 3, 14, 0]  # Q: hi A: yes <eos>


def test_packing_is_deterministic(tmp_path, word_tokenizer):
    rows = [{"id": str(i), "q": " ".join(["hi"] * (i % 5 + 1)), "a": "yes " * (i % 3 + 1)} for i in range(30)]
    a = compile_recipe(_recipe(tmp_path, word_tokenizer, rows, output="a", dedup=False))
    b = compile_recipe(_recipe(tmp_path, word_tokenizer, list(reversed(rows)), output="b", dedup=False))
    ta = datasets.load_from_disk(str(a.output))["train"]
    tb = datasets.load_from_disk(str(b.output))["train"]
    assert ta["row_key"] == tb["row_key"] and ta["input_ids"] == tb["input_ids"]
    assert a.manifest["packing"] == b.manifest["packing"]
