"""End-to-end builds on real data from ../shared/data."""

from __future__ import annotations

import json

import datasets

from ftdata.build.orchestrate import compile_recipe
from ftdata.constants import IGNORE_INDEX
from ftdata.tokenize.tokenizer import load_tokenizer
from ftdata.write.manifest import accounting_ok

from tests.conftest import shared, write_native_templates, write_recipe


def _trained_text(tok, ids, labels):
    return tok.decode([i for i, lab in zip(ids, labels) if lab != IGNORE_INDEX])


def test_dialogsum_trained_tokens_are_completion_plus_eos(tmp_path, dialogsum_template):
    recipe = write_recipe(tmp_path, {
        "name": "dialogsum", "output": "out", "seed": 7,
        "sources": [{"name": "dialogsum", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                     "templates": [{"file": str(dialogsum_template)}]}],
        "tokenizer": "ftdata:tiny-bpe", "max_length": 2048,
    })
    res = compile_recipe(recipe)
    tok = load_tokenizer("ftdata:tiny-bpe")
    dd = datasets.load_from_disk(str(res.output))
    n = 0
    for split in dd:
        for ex in dd[split]:
            assert _trained_text(tok, ex["input_ids"], ex["labels"]) == " " + ex["completion"] + tok.eos_token
            assert ex["prompt"].startswith("Summarize the following conversation.")
            n += 1
    assert n == 500
    assert accounting_ok(res.manifest) == []
    src = res.manifest["counts"]["sources"]["dialogsum"]
    assert src["rows_read"] == 500 and src["examples_written"] == 500


def test_amazon_fine_food_csv(tmp_path):
    tpl = write_native_templates(tmp_path / "food.yaml", [
        {"name": "headline", "prompt": "Write a short headline for this review:\n\n{{Text}}", "completion": "{{Summary}}"},
        {"name": "rating", "prompt": "Review: {{Text}}\nHow many stars (1-5)?", "completion": "{{Score}}"},
    ])
    recipe = write_recipe(tmp_path, {
        "name": "food", "output": "out",
        "sources": [{"name": "food", "path": str(shared("amazon_fine_food", "Reviews.csv")), "key": "Id",
                     "columns": {"Score": {"type": "int", "min": 1, "max": 5}, "Text": {"type": "str"},
                                 "Summary": {"type": "str", "required": False}},
                     "templates": [{"file": str(tpl)}]}],
        "split": {"ratios": {"train": 0.9, "test": 0.1}, "group_by": "ProductId"},
        "max_length": 1024,
    })
    res = compile_recipe(recipe)
    rejects = [json.loads(line) for line in (res.output / "rejects.jsonl").read_text().splitlines()]
    blank = [r for r in rejects if r["stage"] == "schema"]
    assert len(blank) == 2
    assert all("Score: required int value, found empty value" in r["reason"] for r in blank)
    assert all(r["line"] > 1 and r["row_key"] for r in blank)
    empty_summary = [r for r in rejects if r["code"] == "does_not_apply"]
    assert len(empty_summary) == 1 and "empty completion" in empty_summary[0]["reason"]
    tok = load_tokenizer("ftdata:tiny-bpe")
    dd = datasets.load_from_disk(str(res.output))
    for split in dd:
        for ex in dd[split].select(range(min(400, dd[split].num_rows))):
            assert _trained_text(tok, ex["input_ids"], ex["labels"]) == " " + ex["completion"] + tok.eos_token
            assert "\r" not in ex["completion"]
    assert accounting_ok(res.manifest) == []
    c = res.manifest["counts"]["sources"]["food"]
    assert c["rows_read"] == 5003 and c["rows_rejected"] == 2
    assert c["examples_written"] + c["examples_rejected"] == 2 * 5001
    # group-aware: no product in two splits
    products = {}
    for split in dd:
        for key in dd[split]["row_key"]:
            products.setdefault(key, set()).add(split)
    assert all(len(s) == 1 for s in products.values())
