"""Pretraining on a text build: continued pretraining with `ftdata train`, packed documents kept
apart, perplexity, `ftdata pretrain` and its time budget (CPU, tiny models)."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from click.testing import CliRunner  # noqa: E402

from ftdata.build.orchestrate import compile_recipe  # noqa: E402
from ftdata.cli.app import main  # noqa: E402
from ftdata.constants import IGNORE_INDEX  # noqa: E402
from ftdata.inspect.load import load_compiled  # noqa: E402
from trainers.data import Collator  # noqa: E402
from trainers.perplexity import perplexity  # noqa: E402
from trainers.tiny import save_tiny_model  # noqa: E402

from tests.conftest import write_recipe  # noqa: E402


@pytest.fixture(scope="module")
def text_build(tmp_path_factory):
    from itertools import islice

    from tests.conftest import shared

    folder = tmp_path_factory.mktemp("text")
    dev = folder / "dev.jsonl"
    with open(shared("dialogsum", "dialogsum.dev.jsonl"), encoding="utf-8") as fh:
        dev.write_text("".join(islice(fh, 30)), encoding="utf-8")
    recipe = write_recipe(folder, {
        "name": "pre", "output": "out", "seed": 1, "layout": "text", "max_length": 96, "tokenizer": "ftdata:tiny-bpe",
        "split": {"ratios": {"train": 0.7, "test": 0.3}},
        "sources": [{"name": "d", "path": str(dev), "key": "fname", "rename": {"dialogue": "text"}},
                    {"name": "s", "path": str(dev), "key": "fname", "rename": {"summary": "text"}}],
    })
    return compile_recipe(recipe).output


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_model("llama", tmp_path_factory.mktemp("m") / "llama", seed=0)


def test_collator_never_targets_a_document_start():
    row = {"input_ids": [5, 6, 7, 8, 9], "labels": [5, 6, 7, 8, 9], "position_ids": [0, 1, 2, 0, 1],
           "seq_lengths": [3, 2]}
    batch = Collator(pad_id=1)([row])
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7, IGNORE_INDEX, 9]]


def test_packed_perplexity_is_the_documents_own(text_build, tiny):
    """Perplexity over packed rows equals the sum over each piece scored alone: no piece sees another."""
    import transformers as tf

    got = perplexity(text_build, str(tiny), split="test")
    net = tf.AutoModelForCausalLM.from_pretrained(tiny).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for r in load_compiled(text_build)["test"].to_list():
            at = 0
            rows_docs = 0
            for n in r["seq_lengths"]:
                ids = torch.tensor([r["input_ids"][at:at + n]])
                at += n
                rows_docs += 1
                if n < 2:
                    continue
                logp = torch.log_softmax(net(input_ids=ids).logits[0, :-1].float(), -1)
                total -= float(logp.gather(-1, ids[0, 1:, None]).sum())
                count += n - 1
            assert rows_docs >= 1
    assert got["tokens"] == count
    assert got["loss"] == pytest.approx(total / count, rel=1e-4)
    assert got["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-3)
    assert any(len(r) > 1 for r in load_compiled(text_build)["test"]["seq_lengths"])  # rows hold several pieces


def test_ftdata_train_continues_pretraining_on_text(text_build, tiny, tmp_path):
    res = CliRunner().invoke(main, ["train", str(text_build), "--model", str(tiny), "--max-steps", "3",
                                    "--batch-size", "4", "--lr", "1e-3", "-o", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["layout"] == "text" and s["steps"] == 3 and s["padding_efficiency"] > 0.8


def test_pretrain_builds_trains_and_reports_perplexity(text_build, tmp_path):
    res = CliRunner().invoke(main, ["pretrain", str(text_build), "-o", str(tmp_path / "base"), "--hidden", "32",
                                    "--layers", "1", "--heads", "2", "--max-steps", "8", "--batch-size", "4",
                                    "--lr", "3e-3"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "base" / "pretrain.json").read_text())
    assert rep["steps"] == 8 and rep["total_params"] > 0
    before, after = rep["perplexity_before"], rep["perplexity_after"]
    assert before["tokens"] == after["tokens"] > 0 and before["split"] == "test"
    assert after["perplexity"] < before["perplexity"]  # 8 steps at 3e-3 move a random model off uniform
    assert "held-out perplexity" in res.output
    assert (tmp_path / "base" / "model" / "config.json").is_file()
    # the base is a model folder the other commands take
    assert perplexity(text_build, str(tmp_path / "base" / "model"))["perplexity"] == after["perplexity"]


def test_time_budget_ends_training_early_with_a_decayed_learning_rate(text_build, tmp_path, monkeypatch):
    import trainers.pretrain as pt

    clock = iter(range(0, 10_000, 10))  # every call: 10 s later
    monkeypatch.setattr(pt.time, "perf_counter", lambda: float(next(clock)))
    rep = pt.pretrain(text_build, tmp_path / "base", hidden=32, layers=1, heads=2, max_steps=200, batch_size=2,
                      lr=1e-3, max_seconds=100, logging_steps=1)
    assert 5 < rep["steps"] < 200
    log = [json.loads(x) for x in (tmp_path / "base" / "train_log.jsonl").read_text().splitlines()]
    lrs = [h["learning_rate"] for h in log if "learning_rate" in h]
    assert lrs[-1] < 0.2 * max(lrs)  # the decay was re-aimed at the early end
