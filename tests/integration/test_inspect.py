"""``ftdata inspect``: statistics, audit and decoded examples; markers when piped."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.cli.app import main
from ftdata.inspect.display import GREEN

from tests.conftest import write_jsonl, write_native_templates, write_recipe


def _compile(tmp_path, word_tokenizer, **kw):
    rows = [{"id": "1", "q": "what is two plus three", "a": "five"}, {"id": "2", "q": "say hi", "a": "hello hi"}]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": "Q: {{q}} A:", "completion": "{{a}}"}])
    r = {"name": "qa", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id",
                                                      "templates": [{"file": "t.yaml"}]}],
         "split": {"ratios": {"train": 1.0}}, "tokenizer": str(word_tokenizer), "max_length": 16}
    r.update(kw)
    return compile_recipe(write_recipe(tmp_path, r)).output


def test_inspect_text_with_markers(tmp_path, word_tokenizer):
    out = _compile(tmp_path, word_tokenizer)
    res = CliRunner().invoke(main, ["inspect", str(out), "-n", "2"])
    assert res.exit_code == 0, res.output
    assert "straddling_boundary" in res.output and "prompt_not_prefix" in res.output
    assert "supervised" in res.output and GREEN not in res.output
    # the word tokenizer decodes with spaces between words
    assert "«five <eos>»" in res.output or "«hello hi <eos>»" in res.output
    assert "key 1" in res.output and "key 2" in res.output


def test_inspect_json_and_color(tmp_path, word_tokenizer):
    out = _compile(tmp_path, word_tokenizer)
    res = CliRunner().invoke(main, ["inspect", str(out), "--json", "-n", "1"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["split"] == "train" and d["manifest"]["audit"]["totals"]["straddling_boundary"] == 0
    doc = d["examples"][0][0]
    assert [t for t, _ in doc["segments"]] == [False, True]
    assert len(doc["ids"]) == len(doc["labels"])
    res = CliRunner().invoke(main, ["inspect", str(out), "--color", "-n", "1"], color=True)
    assert GREEN in res.output


def test_inspect_packed_and_errors(tmp_path, word_tokenizer):
    out = _compile(tmp_path, word_tokenizer, packing=True)
    res = CliRunner().invoke(main, ["inspect", str(out), "--json"])
    d = json.loads(res.output)
    docs = d["examples"][0]
    assert sorted(doc["row_key"] for doc in docs) == ["1", "2"]  # 9 + 7 tokens fit one 16-token row
    assert d["manifest"]["packing"]["splits"]["train"]["fill_ratio"] == 1.0
    res = CliRunner().invoke(main, ["inspect", str(out)])
    assert "fill ratio 1.000" in res.output
    res = CliRunner().invoke(main, ["inspect", str(out), "--split", "trian"])
    assert res.exit_code == 2 and "did you mean 'train'" in res.output
    res = CliRunner().invoke(main, ["inspect", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "error:" in res.output
