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
