"""The scoring file an lm-eval export ships (ftdata/consume/lmeval_utils.py, standalone by design)
scores as ``ftdata eval`` (trainers/metrics) does, on the same predictions."""

from __future__ import annotations

import pytest

pytest.importorskip("rouge_score")
pytest.importorskip("sacrebleu")

from ftdata.consume import lmeval_utils as U  # noqa: E402
from ftdata.consume.lmeval import _families  # noqa: E402
from trainers import metrics as M  # noqa: E402

REFS = ["The cat sat on the mat. It was happy.", "Great kettle, boils fast!", "an apple a day", "Two stars."]
PREDS = ["A cat was sitting on a mat. Happy.", "great kettle", "The apple, a day.", "three stars"]


def test_normalized_exact_match_is_ftdata_evals():
    for text in ["The  Apple, a day!", "an Answer.", "THE end", "théâtre — the play", " spaced\tout "]:
        assert U.normalize_answer(text) == M.normalize_answer(text)
    scores = [U.__getattr__("scores_exact")({"completion": r}, [p])["exact_match"] for p, r in zip(PREDS, REFS)]
    assert U.mean(scores) == pytest.approx(M.exact_match(PREDS, [[r] for r in REFS]))


def test_rouge_is_ftdata_evals_per_example_and_on_average():
    process = U.__getattr__("scores_rouge_bleu")
    items = [process({"completion": r}, [" " + p + "\n"]) for p, r in zip(PREDS, REFS)]  # answers are stripped
    for k in U.ROUGE_KEYS:
        per_row = [M.rouge([p], [[r]])[k] for p, r in zip(PREDS, REFS)]
        assert [round(i[k], 4) for i in items] == per_row
        # ftdata eval's corpus figure is rouge-score's bootstrap median of the mean: close, not equal
        assert U.mean([i[k] for i in items]) == pytest.approx(M.rouge(PREDS, [[r] for r in REFS])[k], abs=2.0)
    assert U.corpus_bleu([i["bleu"] for i in items]) == pytest.approx(M.bleu(PREDS, [[r] for r in REFS])["bleu"],
                                                                      abs=1e-4)


def test_choice_accuracy_and_macro_f1_are_ftdata_evals():
    choices = ("ham", "spam", "unsure")
    golds = [0, 0, 1, 1, 0]
    lls = [[-1.0, -2.0, -3.0], [-2.0, -1.0, -3.0], [-1.5, -1.5, -3.0], [-3.0, -0.5, -1.0], [-2.0, -2.0, -2.0]]
    out = [U.process_choices({"gold": g, "answer_choices": list(choices)}, [(x, False) for x in ll])
           for g, ll in zip(golds, lls)]
    preds = [choices[max(range(3), key=ll.__getitem__)] for ll in lls]  # ftdata eval: first of the best
    assert [choices[o["macro_f1"][1]] for o in out] == preds == ["ham", "spam", "ham", "spam", "ham"]
    gold_text = [choices[g] for g in golds]
    assert 100 * U.mean([o["acc"] for o in out]) == M.accuracy(preds, gold_text)
    # every answer choice is a class, predicted or not (unsure scores F1 0)
    assert U.macro_f1([o["macro_f1"] for o in out]) == pytest.approx(
        M.macro_f1(preds, gold_text, sorted(choices)), abs=1e-4)


@pytest.mark.parametrize("metrics", [None, [], ["ROUGE"], ["BLEU", "ROUGE"], ["Accuracy"], ["Other", "bleu"]])
def test_generation_families_are_ftdata_evals(metrics):
    fams = M.families(metrics, has_choices=False)
    assert _families(metrics) == tuple("exact" if f == "accuracy" else f for f in fams)
