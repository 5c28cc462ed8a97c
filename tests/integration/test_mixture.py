"""Task mixtures: rates, exact realized counts, accounting of what is left out, provenance."""

from __future__ import annotations

import json

import datasets
import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.errors import ConfigError
from ftdata.inspect.summary import summary_text
from ftdata.write.manifest import accounting_ok

from tests.conftest import (
    SMS_CSV,
    reviews_three_tasks,
    shared,
    write_jsonl,
    write_native_templates,
    write_recipe,
)


def test_weights_must_name_every_task(tmp_path):
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "t", "prompt": "{{q}}", "completion": "{{a}}"}])
    write_jsonl(tmp_path / "a.jsonl", [{"q": "x", "a": "y"}])
    recipe = write_recipe(tmp_path, {
        "name": "m", "sources": [{"name": "a", "path": "a.jsonl", "task": "qa", "templates": [{"file": str(tpl)}]}],
        "mixture": {"method": "weights", "weights": {"qaa": 1.0}}})
    with pytest.raises(ConfigError) as exc:
        compile_recipe(recipe)
    text = str(exc.value)
    assert "unknown task 'qaa'" in text and "did you mean 'qa'" in text.lower() and "no weight for task 'qa'" in text


def _two_task_recipe(tmp_path, mixture, name):
    sum_t = write_native_templates(tmp_path / "sum.yaml", [
        {"name": "summarize", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
         "completion": "{{summary}}"}])
    cls_t = write_native_templates(tmp_path / "cls.yaml", [
        {"name": "is_spam", "prompt": "Is this text message spam or ham?\n\n{{text}}\n\nAnswer:", "completion": "{{label}}"},
        {"name": "label_first", "prompt": "Label (spam/ham) the message: {{text}}", "completion": "{{label}}"}])
    return write_recipe(tmp_path, {
        "name": name, "output": name, "seed": 21,
        "sources": [
            {"name": "dialogsum", "task": "summarization", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")),
             "key": "fname", "templates": [{"file": str(sum_t)}]},
            {"name": "sms", "task": "spam_classification", "path": str(shared("sms_spam", "SMSSpamCollection")),
             "format": "tsv", "csv": SMS_CSV, "key": "@line", "templates": [{"file": str(cls_t)}]},
        ],
        "split": {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}},
        "mixture": mixture, "max_length": 2048,
    }, f"{name}.yaml")


@pytest.mark.slow
def test_two_task_mixture_with_cap_realizes_the_formula_exactly(tmp_path):
    cap = 1500
    plain = compile_recipe(_two_task_recipe(tmp_path, None, "plain"))
    mixed = compile_recipe(_two_task_recipe(tmp_path, {"method": "proportional", "cap": cap}, "mixed"))
    n = plain.manifest["counts"]["splits"]["train"]["tasks"]
    assert n["spam_classification"] > cap > n["summarization"]  # one task is capped, one is not
    got = mixed.manifest["counts"]["splits"]["train"]["tasks"]
    assert got == {t: min(v, cap) for t, v in n.items()}
    # held-out splits keep every task whole and unsampled
    for split in ("validation", "test"):
        assert mixed.manifest["counts"]["splits"][split] == plain.manifest["counts"]["splits"][split]
    # requested vs realized in the manifest and the summary
    rep = mixed.manifest["mixture"]["splits"]["train"]["tasks"]
    total = sum(min(v, cap) for v in n.values())
    for t, v in n.items():
        assert rep[t]["available"] == v and rep[t]["examples"] == min(v, cap)
        assert rep[t]["requested_share"] == pytest.approx(min(v, cap) / total, abs=1e-6)
        assert rep[t]["realized_share"] == rep[t]["requested_share"]
    text = summary_text(mixed.manifest, mixed.output)
    assert "mixture (proportional, cap 1500; sampled without replacement)" in text
    assert "spam_classification" in text.split("mixture (")[1]
    # every left-out example is a reject, so the accounting still holds
    rejects = [json.loads(x) for x in (mixed.output / "rejects.jsonl").read_text().splitlines()]
    left_out = [r for r in rejects if r["code"] == "not_sampled"]
    assert len(left_out) == n["spam_classification"] - cap
    assert {r["stage"] for r in left_out} == {"mixture"} and {r["split"] for r in left_out} == {"train"}
    assert accounting_ok(mixed.manifest) == []
    # the sample is a subset of the unsampled train split (no repeats, nothing invented)
    dd_plain, dd_mixed = datasets.load_from_disk(str(plain.output)), datasets.load_from_disk(str(mixed.output))
    ids = list(zip(dd_mixed["train"]["source"], dd_mixed["train"]["row_key"], dd_mixed["train"]["template"]))
    assert len(set(ids)) == len(ids)
    assert set(ids) <= set(zip(dd_plain["train"]["source"], dd_plain["train"]["row_key"], dd_plain["train"]["template"]))
    # provenance: every example names source, row key, task and template; shards list their tasks
    for split in dd_mixed:
        for col in ("source", "row_key", "task", "template"):
            assert all(v for v in dd_mixed[split][col])
    for split, shards in mixed.manifest["shards"].items():
        tasks = {t for s in shards for t in s["tasks"]}
        assert tasks == set(dd_mixed[split]["task"]) == {"summarization", "spam_classification"}


@pytest.mark.slow
def test_cap_holds_when_every_task_is_above_it(tmp_path):
    """Three tasks over the Amazon reviews, each with more train examples than the cap: each
    takes exactly the cap, the rest are rejects, held-out splits stay whole."""
    cap = 3000
    split = {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}, "group_by": "ProductId"}
    res = compile_recipe(reviews_three_tasks(tmp_path, split=split,
                                             mixture={"method": "proportional", "cap": cap}))
    rep = res.manifest["mixture"]["splits"]["train"]["tasks"]
    available = {t: v["available"] for t, v in rep.items()}
    assert len(available) == 3 and min(available.values()) > cap  # the cap binds for every task
    want = {t: min(n, cap) for t, n in available.items()}
    assert res.manifest["counts"]["splits"]["train"]["tasks"] == want
    assert {t: v["examples"] for t, v in rep.items()} == want
    dd = datasets.load_from_disk(str(res.output))
    assert sorted(set(dd["train"]["task"])) == sorted(available)
    assert all(dd["train"]["task"].count(t) == n for t, n in want.items())
    rejects = [json.loads(x) for x in (res.output / "rejects.jsonl").read_text().splitlines()]
    left_out = [r for r in rejects if r["code"] == "not_sampled"]
    assert len(left_out) == sum(n - min(n, cap) for n in available.values())
    assert accounting_ok(res.manifest) == []
