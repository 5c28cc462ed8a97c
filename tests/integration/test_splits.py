"""Split modes on real data: group-aware, stratified, keep-the-source's, order independence."""

from __future__ import annotations

import csv
import json
import random

import datasets
import pytest

from ftdata.build.orchestrate import Build, compile_recipe
from ftdata.config.recipe import load_recipe
from ftdata.plan.split import assign_splits, split_unit
from ftdata.write.manifest import accounting_ok

from tests.conftest import (
    SMS_CSV,
    reviews_three_tasks,
    shared,
    write_jsonl,
    write_native_templates,
    write_recipe,
)

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def sms_template(tmp_path):
    return write_native_templates(tmp_path / "sms.yaml", [
        {"name": "is_spam", "prompt": "Is this text message spam or ham?\n\n{{text}}\n\nAnswer:",
         "completion": "{{label}}"}])


def sms_source(tmp_path, path=None, **extra):
    return {"name": "sms", "path": str(path or shared("sms_spam", "SMSSpamCollection")), "format": "tsv",
            "csv": SMS_CSV, "templates": [{"file": str(sms_template(tmp_path))}], **extra}


@pytest.mark.slow
def test_amazon_fine_food_grouped_by_product(tmp_path):
    tpl = write_native_templates(tmp_path / "food.yaml", [
        {"name": "headline", "prompt": "Write a short headline for this review:\n\n{{Text}}", "completion": "{{Summary}}"},
        {"name": "rating", "prompt": "Review: {{Text}}\nHow many stars (1-5)?", "completion": "{{Score}}"}])
    path = shared("amazon_fine_food", "Reviews.csv")
    recipe = write_recipe(tmp_path, {
        "name": "food", "output": "out", "seed": 11,
        "sources": [{"name": "food", "path": str(path), "key": "Id",
                     "columns": {"Score": {"type": "int", "min": 1, "max": 5}, "Summary": {"type": "str", "required": False}},
                     "templates": [{"file": str(tpl)}]}],
        "split": {"ratios": RATIOS, "group_by": "ProductId"},
    })
    res = compile_recipe(recipe)
    with open(path, encoding="utf-8", newline="") as fh:
        product = {r["Id"]: r["ProductId"] for r in csv.DictReader(fh)}
    dd = datasets.load_from_disk(str(res.output))
    where: dict[str, set] = {}
    for split in dd:
        for key in dd[split]["row_key"]:
            where.setdefault(product[key], set()).add(split)
    per_product = {}
    for pid in product.values():
        per_product[pid] = per_product.get(pid, 0) + 1
    assert len(where) > 700 and sum(n > 1 for n in per_product.values()) > 300
    assert all(len(s) == 1 for s in where.values()), "a product appears in two splits"
    assert {len(dd[s]) > 0 for s in dd} == {True}
    assert accounting_ok(res.manifest) == []


@pytest.mark.slow
def test_group_split_holds_across_sources_and_exemplar_pools(tmp_path):
    """Three tasks over one file, grouped by product: a product is in one split in the whole
    recipe, whichever source rendered it, and no few-shot pool holds a held-out product."""
    recipe = reviews_three_tasks(tmp_path, split={"ratios": RATIOS, "group_by": "ProductId"})
    res = compile_recipe(recipe)
    path = shared("amazon_fine_food", "Reviews.csv")
    with open(path, encoding="utf-8", newline="") as fh:
        product = {r["Id"]: r["ProductId"] for r in csv.DictReader(fh)}
    dd = datasets.load_from_disk(str(res.output))
    where: dict[str, set] = {}
    for split in dd:
        for key, task in zip(dd[split]["row_key"], dd[split]["task"]):
            where.setdefault(product[key], set()).add((split, task))
    # the check bites: most products are written by all three tasks
    assert sum(len({t for _, t in s}) == 3 for s in where.values()) > len(where) / 2
    leaks = sorted(p for p, s in where.items() if len({sp for sp, _ in s}) > 1)
    assert not leaks, (f"{len(leaks)} of {len(where)} products in more than one split, "
                       f"e.g. {sorted(where[leaks[0]])}")
    # every row is where the one split function puts it
    r, base = load_recipe(recipe)
    for split in dd:
        u = [split_unit(r.seed, s, k, "ProductId", product[k])
             for s, k in zip(dd[split]["source"], dd[split]["row_key"])]
        assert set(assign_splits([None] * len(u), u, RATIOS)) == {split}
    held_out = {p for p, s in where.items() if {sp for sp, _ in s} != {"train"}}
    b = Build(r, base, None)
    for src in r.sources:
        pool = {row["ProductId"] for _, row in b.exemplar_pool(src).rows()}
        leaked = pool & held_out
        assert pool and not leaked, f"{src.name}: {len(leaked)} held-out products in its pool"
    assert accounting_ok(res.manifest) == []


@pytest.mark.slow
def test_sms_spam_stratified_by_label_and_exact_duplicates(tmp_path):
    recipe = write_recipe(tmp_path, {
        "name": "sms", "output": "out", "seed": 5,
        "sources": [sms_source(tmp_path, key="@line")],
        "split": {"ratios": RATIOS, "stratify_by": "label"},
    })
    res = compile_recipe(recipe)
    m = res.manifest
    assert accounting_ok(m) == []
    # the collection's exact duplicates (same label, same text up to case and spacing)
    rows = [line.rstrip("\n").split("\t", 1) for line in shared("sms_spam", "SMSSpamCollection").open(encoding="utf-8")]
    distinct = {(lab, " ".join(text.casefold().split())) for lab, text in rows}
    dups = [json.loads(x) for x in (res.output / "rejects.jsonl").read_text().splitlines()]
    dups = [r for r in dups if r["code"] == "duplicate"]
    assert len(dups) == len(rows) - len(distinct) >= 400
    assert all("exact duplicate of sms/" in r["reason"] for r in dups)
    # spam share of every split within one percentage point of the whole (before and after dedup)
    dd = datasets.load_from_disk(str(res.output))
    out_labels = [c for s in dd for c in dd[s]["completion"]]
    whole_out = out_labels.count("spam") / len(out_labels)
    whole_raw = sum(lab == "spam" for lab, _ in rows) / len(rows)
    for split in dd:
        comp = dd[split]["completion"]
        share = comp.count("spam") / len(comp)
        assert abs(share - whole_out) < 0.01, (split, share, whole_out)
        assert abs(share - whole_raw) < 0.01, (split, share, whole_raw)
        assert abs(len(comp) / len(out_labels) - RATIOS[split]) < 0.002


@pytest.mark.slow
def test_reordered_input_and_other_batch_size_give_identical_shards(tmp_path):
    """Stratified SMS + DialogSum, near-dup on, a capped mixture: shards are byte-identical."""
    rows = shared("sms_spam", "SMSSpamCollection").read_text(encoding="utf-8").splitlines(keepends=True)
    dialog = [json.loads(x) for x in shared("dialogsum", "dialogsum.dev.jsonl").read_text().splitlines()]
    shuffled_rows, shuffled_dialog = rows[:], dialog[:]
    random.Random(1).shuffle(shuffled_rows)
    random.Random(2).shuffle(shuffled_dialog)
    (tmp_path / "sms_shuffled.tsv").write_text("".join(shuffled_rows), encoding="utf-8")
    write_jsonl(tmp_path / "dialog_shuffled.jsonl", shuffled_dialog)
    dtpl = write_native_templates(tmp_path / "d.yaml", [
        {"name": "summarize", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
         "completion": "{{summary}}"}])

    def build(name, sms_path, dialog_path, batch):
        return compile_recipe(write_recipe(tmp_path, {
            "name": name, "output": name, "seed": 3, "batch_size": batch,
            "sources": [sms_source(tmp_path, sms_path),
                        {"name": "dialogsum", "path": str(dialog_path), "key": "fname",
                         "templates": [{"file": str(dtpl)}]}],
            "split": {"ratios": RATIOS, "stratify_by": "label"},
            "dedup": {"near": True, "threshold": 0.7},
            "mixture": {"method": "proportional", "cap": 1000},
            "contamination": {}, "max_length": 2048,
        }, f"{name}.yaml"))

    a = build("a", None, shared("dialogsum", "dialogsum.dev.jsonl"), 1000)
    b = build("b", tmp_path / "sms_shuffled.tsv", tmp_path / "dialog_shuffled.jsonl", 97)
    shards = {s: [(x["file"], x["sha256"], x["rows"]) for x in v] for s, v in a.manifest["shards"].items()}
    assert shards == {s: [(x["file"], x["sha256"], x["rows"]) for x in v] for s, v in b.manifest["shards"].items()}
    for key in ("splits", "rejects_by_code"):
        assert a.manifest["counts"][key] == b.manifest["counts"][key]
    for key in ("mixture", "contamination"):
        assert a.manifest[key] == b.manifest[key]
    assert accounting_ok(a.manifest) == [] and accounting_ok(b.manifest) == []


@pytest.mark.slow
def test_keep_the_sources_own_splits_from_a_datasetdict(tmp_path):
    dialog = [json.loads(x) for x in shared("dialogsum", "dialogsum.dev.jsonl").read_text().splitlines()]
    test = [json.loads(x) for x in shared("dialogsum", "dialogsum.test.jsonl").read_text().splitlines()]
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_list([{"fname": r["fname"], "dialogue": r["dialogue"], "summary": r["summary"]} for r in dialog]),
        "test": datasets.Dataset.from_list([{"fname": r["fname"], "dialogue": r["dialogue"], "summary": r["summary1"]} for r in test]),
    })
    dd.save_to_disk(str(tmp_path / "hfds"))
    tpl = write_native_templates(tmp_path / "d.yaml", [
        {"name": "summarize", "prompt": "Summarize:\n{{dialogue}}\nSummary:", "completion": "{{summary}}"}])
    res = compile_recipe(write_recipe(tmp_path, {
        "name": "d", "output": "out", "split": {"mode": "source"}, "contamination": {},
        "sources": [{"name": "d", "path": str(tmp_path / "hfds"), "key": "fname", "templates": [{"file": str(tpl)}]}],
        "max_length": 4096,
    }))
    counts = {s: c["examples"] for s, c in res.manifest["counts"]["splits"].items()}
    assert counts == {"train": 500, "validation": 0, "test": 500}
    out = datasets.load_from_disk(str(res.output))
    assert set(out["test"]["row_key"]) == {r["fname"] for r in test}
    assert res.manifest["contamination"]["splits"]["test"]["examples"] == 500
