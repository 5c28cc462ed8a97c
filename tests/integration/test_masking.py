"""Exact label masks, written out literally with a tokenizer whose ids are known."""

from __future__ import annotations

import datasets
import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.constants import IGNORE_INDEX as X

from tests.conftest import write_jsonl, write_native_templates, write_recipe


def _recipe(tmp_path, tok, rows, **kw):
    write_jsonl(tmp_path / "rows.jsonl", rows)
    write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": "Q: {{q}} A:", "completion": "{{a}}"}])
    r = {"name": "qa", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id",
                                                       "templates": [{"file": "t.yaml"}]}],
         "split": {"ratios": {"train": 1.0}}, "tokenizer": str(tok), "max_length": 16}
    r.update(kw)
    return write_recipe(tmp_path, r)


def test_exact_causal_mask(tmp_path, word_tokenizer):
    rows = [{"id": "1", "q": "what is two plus three", "a": "five"},
            {"id": "2", "q": "say hi", "a": "hello hi"}]
    res = compile_recipe(_recipe(tmp_path, word_tokenizer, rows))
    train = datasets.load_from_disk(str(res.output))["train"].sort("row_key")
    # Q:=2 what=4 is=5 two=6 plus=7 three=8 A:=3 five=9 <eos>=0
    assert train[0]["input_ids"] == [2, 4, 5, 6, 7, 8, 3, 9, 0]
    assert train[0]["labels"] == [X, X, X, X, X, X, X, 9, 0]
    assert train[0]["attention_mask"] == [1] * 9
    # Q: say hi A: hello hi <eos>
    assert train[1]["input_ids"] == [2, 11, 12, 3, 13, 12, 0]
    assert train[1]["labels"] == [X, X, X, X, 13, 12, 0]


def test_exact_seq2seq(tmp_path, word_tokenizer):
    rows = [{"id": "1", "q": "say hi", "a": "hello hi"}]
    res = compile_recipe(_recipe(tmp_path, word_tokenizer, rows, layout="seq2seq"))
    train = datasets.load_from_disk(str(res.output))["train"]
    assert train[0]["input_ids"] == [2, 11, 12, 3]
    assert train[0]["labels"] == [13, 12, 0]


def test_truncate_prompt_keeps_completion(tmp_path, word_tokenizer):
    rows = [{"id": "1", "q": "what is two plus three", "a": "five six"},
            {"id": "2", "q": "hi", "a": "yes no yes no yes no yes"}]
    res = compile_recipe(_recipe(tmp_path, word_tokenizer, rows, max_length=6, overflow="truncate_prompt"))
    train = datasets.load_from_disk(str(res.output))["train"]
    assert train.num_rows == 1
    ex = train[0]
    # 10 tokens -> 6: completion (five six <eos>) kept whole; prompt keeps head 2 + tail 1
    assert ex["input_ids"] == [2, 4, 3, 9, 10, 0]
    assert ex["labels"] == [X, X, X, 9, 10, 0]
    assert res.manifest["tokens"]["train"]["truncated"] == 1
    rejects = (res.output / "rejects.jsonl").read_text()
    assert "completion alone is 8 tokens" in rejects and "never cut" in rejects


def test_drop_goes_to_rejects(tmp_path, word_tokenizer):
    rows = [{"id": "1", "q": "what is two plus three", "a": "five"}, {"id": "2", "q": "hi", "a": "yes"}]
    res = compile_recipe(_recipe(tmp_path, word_tokenizer, rows, max_length=6))
    assert res.manifest["counts"]["splits"]["train"]["examples"] == 1
    assert res.manifest["counts"]["rejects_by_code"] == {"too_long": 1}
    assert "too long: 9 tokens > max_length 6" in (res.output / "rejects.jsonl").read_text()


def test_overflow_error_fails_build_and_leaves_nothing(tmp_path, word_tokenizer):
    from ftdata.errors import BuildError

    rows = [{"id": "1", "q": "what is two plus three", "a": "five"}]
    with pytest.raises(BuildError, match="line 1.*too long"):
        compile_recipe(_recipe(tmp_path, word_tokenizer, rows, max_length=6, overflow="error"))
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]


