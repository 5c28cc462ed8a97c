"""The reference trainers' collator and metrics, on literal batches (no model, no build)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")


from ftdata.constants import IGNORE_INDEX  # noqa: E402
from trainers import metrics as M  # noqa: E402
from trainers.data import Collator  # noqa: E402


def test_collator_pads_dynamically_with_ignore_index():
    col = Collator(pad_id=1)
    b = col([{"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7]},
             {"input_ids": [8], "labels": [8]}])
    assert b["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert b["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
    assert (col.tokens, col.slots) == (4, 6)
    assert col.padding_efficiency == pytest.approx(4 / 6)


def test_collator_seq2seq_pads_labels_separately():
    b = Collator(pad_id=0, seq2seq=True)([{"input_ids": [5, 6], "labels": [9]},
                                          {"input_ids": [7], "labels": [9, 9, 9]}])
    assert b["input_ids"].tolist() == [[5, 6], [7, 0]]
    assert b["labels"].tolist() == [[9, IGNORE_INDEX, IGNORE_INDEX], [9, 9, 9]]


def test_metrics_work_offline():
    r = M.rouge(["the cat sat on the mat"], [["the cat sat on the mat"]])
    assert r["rouge1"] == pytest.approx(100) and r["rougeL"] == pytest.approx(100)
    assert M.rouge(["dog"], [["the cat"]])["rouge1"] == 0
    assert M.bleu(["the cat sat on the mat"], [["the cat sat on the mat"]])["bleu"] == pytest.approx(100)
    assert M.exact_match(["The  Answer!"], [["answer"]]) == 100
    assert M.macro_f1(["ham"] * 4, ["ham", "ham", "ham", "spam"], ["ham", "spam"]) == pytest.approx(100 * (6 / 7) / 2, abs=1e-3)
    assert M.families(["ROUGE"], False) == ["rouge"]
    assert M.families(["Accuracy"], True) == ["accuracy"]
    assert M.families(["BLEU"], False) == ["bleu"]


def test_rouge_is_the_plain_mean_and_the_same_every_time():
    """ROUGE is the mean of per-example F-measures: no unseeded bootstrap, so a rerun agrees."""
    from rouge_score import rouge_scorer

    preds = [f"the cat number {i} sat on {'the mat' if i % 3 else 'a chair'} today" for i in range(30)]
    refs = [[f"a cat {i} sat on the mat"] if i % 2 else [f"the dog {i} slept", f"cat {i} on the mat today"]
            for i in range(30)]
    runs = [M.rouge(preds, refs) for _ in range(4)]
    assert all(r == runs[0] for r in runs)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    for key in ("rouge1", "rougeL"):
        mean = sum(scorer.score_multi(r, p)[key].fmeasure for p, r in zip(preds, refs)) / len(preds)
        assert runs[0][key] == pytest.approx(100 * mean, abs=1e-3)


def test_every_reference_counts():
    """With several references a prediction is scored against its best one (ROUGE, BLEU, exact match)."""
    pred = ["the meeting moved to friday"]
    one, three = [["they talk about lunch"]], [["they talk about lunch", "the meeting moved to friday", "x"]]
    assert M.rouge(pred, one)["rouge1"] < 50 and M.rouge(pred, three)["rouge1"] == pytest.approx(100)
    assert M.bleu(pred, one)["bleu"] < 50 and M.bleu(pred, three)["bleu"] == pytest.approx(100)
    assert M.exact_match(pred, one) == 0 and M.exact_match(pred, three) == 100


@pytest.mark.parametrize("arch", ["llama", "gpt2", "t5"])
def test_default_lora_targets_are_the_attention_projections(arch):
    """What the README says: LoRA adapts attention only (GPT-2's ``c_proj`` is also the MLP's name)."""
    from peft import LoraConfig, get_peft_model

    from trainers._run import peft_compat
    from trainers.lora import default_targets
    from trainers.tiny import build_tiny_model

    net, _ = build_tiny_model(arch, seed=0)
    peft_compat()
    adapted = get_peft_model(net, LoraConfig(r=2, target_modules=default_targets(net.config.model_type)))
    names = [n for n, m in adapted.named_modules() if hasattr(m, "lora_A")]
    assert names
    attention = ("attn", "self_attn", "SelfAttention", "EncDecAttention")
    assert all(any(f".{a}." in n for a in attention) for n in names), names


def test_batches_are_random_by_default():
    """Length grouping is opt-in: on SMS spam it made batches nearly one class each (bench/train.py
    --classification), a silent trap for classification."""
    from pathlib import Path

    from trainers._run import training_arguments
    from trainers.config import TrainConfig, parse_config

    cfg = parse_config(TrainConfig, {})
    assert cfg.group_by_length is False
    assert training_arguments(Path("/nonexistent"), cfg).train_sampling_strategy == "random"
    on = parse_config(TrainConfig, {"group_by_length": True})
    assert training_arguments(Path("/nonexistent"), on).train_sampling_strategy == "group_by_length"


def test_every_method_summarizes_a_run_the_same_way():
    """trainers/_run.train_and_summarize: the block full.py and lora.py both wrote out (train, time
    it, then steps, loss, tokens/s, padding, validation), with the method's own fields around it."""
    from types import SimpleNamespace

    from trainers._run import train_and_summarize

    col = Collator(pad_id=0)
    col([{"input_ids": [5, 6, 7], "labels": [5, 6, 7]}, {"input_ids": [8], "labels": [8]}])  # 4 tokens, 6 slots
    log = [{"loss": 2.0, "step": 1}, {"eval_loss": 1.5, "step": 1, "eval_runtime": 0.0},
           {"eval_loss": 1.25, "step": 2, "eval_runtime": 0.0}]
    trainer = SimpleNamespace(
        train=lambda: SimpleNamespace(global_step=2, training_loss=1.23456789),
        args=SimpleNamespace(world_size=2, parallel_mode=SimpleNamespace(value="distributed"),
                             load_best_model_at_end=True),
        state=SimpleNamespace(log_history=log))
    s = train_and_summarize(trainer, col, SimpleNamespace(num_rows=7), {"method": "lora", "trainable_params": 3},
                            after_training=lambda: {"base_weights_unchanged": True})
    assert list(s) == ["method", "trainable_params", "steps", "train_loss", "wall_seconds", "world_size",
                       "parallel_mode", "peak_memory", "base_weights_unchanged", "tokens", "tokens_per_second",
                       "padding_efficiency", "validation"]
    assert (s["steps"], s["train_loss"], s["world_size"], s["parallel_mode"]) == (2, 1.234568, 2, "distributed")
    assert (s["tokens"], s["padding_efficiency"]) == (8, round(4 / 6, 4))  # this rank's tokens x world size
    assert s["validation"] == {"rows": 7, "evaluations": 2, "last_loss": 1.25, "best_loss": 1.25, "best_step": 2,
                               "kept": "best"}
    no_check = train_and_summarize(trainer, col, None, {"method": "full"})
    assert "base_weights_unchanged" not in no_check and no_check["validation"] is None


def test_padding_uses_the_pad_token_else_eos():
    from types import SimpleNamespace

    from trainers.data import pad_id

    assert pad_id(SimpleNamespace(pad_token_id=3, eos_token_id=0)) == 3
    assert pad_id(SimpleNamespace(pad_token_id=0, eos_token_id=2)) == 0  # id 0 is a pad id, not "none"
    assert pad_id(SimpleNamespace(pad_token_id=None, eos_token_id=2)) == 2
