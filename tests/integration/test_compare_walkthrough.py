"""The compare walkthrough's machinery (bench/compare_walkthrough.py --small): recipes, builds,
pretraining, the table's rows and columns, and no test row in the pretraining text. Figures
are not checked here (a few rows and a tiny model); the README gives the full run's."""

from __future__ import annotations

import importlib.util
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from ftdata.inspect.load import load_compiled  # noqa: E402

from tests.conftest import ROOT  # noqa: E402


def _bench():
    spec = importlib.util.spec_from_file_location("compare_walkthrough", ROOT / "bench" / "compare_walkthrough.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _keys(folder, split: str, source: str) -> set[str]:
    ds = load_compiled(folder)[split]
    if "seq_lengths" in ds.column_names:  # packed: provenance per document
        return {k for srcs, keys in zip(ds["source"], ds["row_key"]) for s, k in zip(srcs, keys) if s == source}
    return {k for s, k in zip(ds["source"], ds["row_key"]) if s == source}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    work = tmp_path_factory.mktemp("walk")
    return work, _bench().walkthrough(work, small=True)


METRICS = {"dialogsum": {"rouge1", "rouge2", "rougeL"}, "sms_spam": {"accuracy", "macro_f1"}}


def test_the_tables_have_every_setting_task_and_measure(small):
    work, res = small
    assert list(res["compare"]) == ["sms", "dialogsum"]
    for tuned, other, held in (("sms", "sms_spam", "dialogsum"), ("dialogsum", "dialogsum", "sms_spam")):
        rows = res["compare"][tuned]["rows"]
        assert [r["setting"] for r in rows] == ["base 0-shot", "base 1-shot", "base 3-shot", "full fine-tune",
                                                "lora fine-tune"]
        for r in rows:
            assert METRICS[other] <= set(r["tasks"][other]["metrics"])
            assert r["peak_memory"]["peak_mb"] > 0 and r["eval_seconds"] > 0
        base0, full, lora = rows[0], rows[3], rows[4]
        for r in (base0, full, lora):  # forgetting, both ways: the other task, and held-out text
            assert METRICS[held] <= set(r["heldout"][held]["metrics"])
            assert r["heldout_perplexity"]["tokens"] > 0
        assert full["trainable_params"] == full["total_params"] > lora["trainable_params"] > 0
        assert full["train_seconds"] > 0 and lora["train_seconds"] > 0
        md = (work / "reports" / tuned / "compare.md").read_text(encoding="utf-8")
        assert "held-out text ppl" in md and "trainable params" in md
    pre = res["pretrain"]
    assert pre["perplexity_before"]["tokens"] == pre["perplexity_after"]["tokens"] > 0
    assert sorted(s["step"] for s in res["steps"]) == ["build dialogsum", "build pretrain", "build sms",
                                                       "compare dialogsum", "compare sms", "pretrain"]


def test_no_scored_test_row_is_pretrained_on(small):
    work, _ = small
    out = work / "out"
    sms_test = _keys(out / "sms", "test", "sms")
    assert sms_test
    pre_train = load_compiled(out / "pretrain")["train"]
    trained = {(s, k) for srcs, keys in zip(pre_train["source"], pre_train["row_key"]) for s, k in zip(srcs, keys)}
    assert not {("sms", k) for k in sms_test} & trained
    assert sms_test <= _keys(out / "pretrain", "test", "sms")  # ... they are held-out text instead
    dialog_test = {json.loads(x)["fname"] for x in (work / "data" / "test.jsonl").read_text().splitlines()}
    assert dialog_test == _keys(out / "dialogsum", "test", "dialogsum_test")
    assert not {k for s, k in trained if s.startswith(("dialogue", "summary"))} & dialog_test
