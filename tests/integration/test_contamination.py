"""Contamination report: n-gram overlap of held-out and external evaluation data with train."""

from __future__ import annotations

import random

import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.errors import BuildError, ConfigError
from ftdata.inspect.summary import summary_text
from ftdata.write.manifest import accounting_ok

from tests.conftest import shared, write_jsonl, write_native_templates, write_recipe

PROMPT = "You are a careful assistant. Please read the passage below and answer the question about it: {{text}} Answer:"


def _text(rng, n=20, prefix="w"):
    return " ".join(f"{prefix}{rng.randrange(100_000)}" for _ in range(n))


def _setup(tmp_path, contamination):
    rng = random.Random(5)
    train = [_text(rng) for _ in range(50)]
    test = train[:5]  # verbatim copies
    test += [" ".join(t.split()[:10]) + " " + _text(rng, 10, "z") for t in train[5:8]]  # share a few 8-grams
    test += [_text(rng, 20, "q") for _ in range(12)]  # unrelated
    write_jsonl(tmp_path / "train.jsonl", [{"id": f"tr{i}", "text": t, "label": "x"} for i, t in enumerate(train)])
    write_jsonl(tmp_path / "test.jsonl", [{"id": f"te{i}", "text": t, "label": "x"} for i, t in enumerate(test)])
    write_jsonl(tmp_path / "eval.jsonl", [{"question": train[10]}, {"question": train[11].upper()},
                                          {"question": _text(rng)}, {"question": _text(rng)}])
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "read", "prompt": PROMPT, "completion": "{{label}}"}])
    src = {"key": "id", "templates": [{"file": str(tpl)}]}
    return write_recipe(tmp_path, {
        "name": "c", "output": "out", "dedup": False,
        "sources": [{"name": "tr", "path": "train.jsonl", "split": "train", **src},
                    {"name": "te", "path": "test.jsonl", "split": "test", **src}],
        "contamination": contamination,
    })


def test_report_counts_copied_and_partly_shared_examples(tmp_path):
    recipe = _setup(tmp_path, {"ngram": 8, "min_overlap": 0.5,
                               "eval_sets": [{"name": "quiz", "path": "eval.jsonl", "columns": ["question"]}]})
    res = compile_recipe(recipe)
    con = res.manifest["contamination"]
    test = con["splits"]["test"]
    assert test["examples"] == 20
    # the template's own words are shared by every example and are not counted
    assert test["prompts"] == {"checked": 20, "any_overlap": 8, "contaminated": 5}
    # one-word label completions are too short to judge
    assert test["completions"] == {"checked": 0, "any_overlap": 0, "contaminated": 0}
    assert test["contaminated"] == 5 and test["share"] == 0.25
    assert con["splits"]["validation"]["examples"] == 0
    assert con["eval_sets"]["quiz"] == {"texts": 4, "checked": 4, "any_overlap": 2, "contaminated": 2, "share": 0.5}
    text = summary_text(res.manifest, res.output)
    assert "contamination (8-gram overlap with 'train' >= 50%)" in text
    assert "eval quiz" in text
    assert accounting_ok(res.manifest) == []


def test_threshold_fails_the_build_and_leaves_no_output(tmp_path):
    recipe = _setup(tmp_path, {"fail_above": 0.1})
    with pytest.raises(BuildError, match=r"contamination above fail_above=10.00%.*split 'test': 25.00%"):
        compile_recipe(recipe)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]


def test_eval_set_column_is_checked(tmp_path):
    recipe = _setup(tmp_path, {"eval_sets": [{"name": "quiz", "path": "eval.jsonl", "columns": ["questoin"]}]})
    with pytest.raises(ConfigError, match="column 'questoin' not in eval.jsonl"):
        compile_recipe(recipe)


@pytest.mark.slow
def test_dialogsum_dev_against_test_and_multi30k(tmp_path):
    """Real data: DialogSum dev (train) vs test, and the Multi30K English test set as an external set."""
    tpl = write_native_templates(tmp_path / "d.yaml", [
        {"name": "summarize", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
         "completion": "{{summary}}"}])
    import json

    test_rows = [json.loads(x) for x in shared("dialogsum", "dialogsum.test.jsonl").read_text().splitlines()]
    write_jsonl(tmp_path / "test.jsonl", [{"fname": r["fname"], "dialogue": r["dialogue"], "summary": r["summary1"]}
                                          for r in test_rows])
    en = shared("multi30k_en_de", "test_2016_flickr.en").read_text(encoding="utf-8").splitlines()
    write_jsonl(tmp_path / "m30k.jsonl", [{"en": s} for s in en])
    res = compile_recipe(write_recipe(tmp_path, {
        "name": "d", "output": "out", "max_length": 4096,
        "sources": [{"name": "dev", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                     "split": "train", "templates": [{"file": str(tpl)}]},
                    {"name": "test", "path": "test.jsonl", "key": "fname", "split": "test",
                     "templates": [{"file": str(tpl)}]}],
        "contamination": {"eval_sets": [{"name": "multi30k", "path": "m30k.jsonl", "columns": ["en"]}]},
    }))
    con = res.manifest["contamination"]
    assert con["splits"]["test"]["examples"] == 500 and con["splits"]["test"]["prompts"]["checked"] == 500
    assert con["splits"]["test"]["share"] < 0.05  # different dialogues
    assert con["eval_sets"]["multi30k"]["texts"] == 1000 and con["eval_sets"]["multi30k"]["contaminated"] == 0
