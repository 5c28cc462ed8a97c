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


def _dialogsum_test_rows(n: int) -> list[dict]:
    """The first ``n`` DialogSum test rows: three human summaries each (real data, ../shared/data)."""
    import json

    from tests.conftest import shared

    lines = shared("dialogsum", "dialogsum.test.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    return [json.loads(line) for line in lines]


def test_generation_is_scored_against_every_reference_as_ftdata_eval():
    """A template with ``references`` (DialogSum's three summaries): the export's docs carry them and
    the helper scores ROUGE, BLEU and exact match against all of them, as ``ftdata eval`` does
    (the helper used to score the ``completion``, the first summary, only)."""
    rows = _dialogsum_test_rows(6)
    docs = [{"completion": r["summary1"].strip(),
             "references": [r["summary1"].strip(), r["summary2"].strip(), r["summary3"].strip()]} for r in rows]
    # predictions: a row's third summary, its second, an unrelated row's summary, a few words
    preds = [docs[0]["references"][2], docs[1]["references"][1], docs[3]["references"][0],
             "They talk about work.", docs[4]["references"][2].upper(), docs[5]["references"][1]]
    refs = [d["references"] for d in docs]
    process = U.__getattr__("scores_rouge_bleu_exact")
    items = [process(d, [" " + p]) for d, p in zip(docs, preds)]
    for k in U.ROUGE_KEYS:
        assert [round(i[k], 4) for i in items] == [M.rouge([p], [r])[k] for p, r in zip(preds, refs)]
    assert items[0]["rouge1"] == pytest.approx(100.0)  # the third summary, word for word
    assert U.corpus_bleu([i["bleu"] for i in items]) == pytest.approx(M.bleu(preds, refs)["bleu"], abs=1e-4)
    assert U.mean([i["exact_match"] for i in items]) == pytest.approx(M.exact_match(preds, refs))
    assert [i["exact_match"] for i in items] == [100.0, 100.0, 0.0, 0.0, 100.0, 100.0]


def test_a_doc_without_references_is_scored_against_its_completion():
    process = U.__getattr__("scores_rouge_exact")
    for doc in ({"completion": "an apple a day"}, {"completion": "an apple a day", "references": None}):
        out = process(doc, ["The apple, a day."])
        assert out["exact_match"] == 100.0
        assert round(out["rouge1"], 4) == M.rouge(["The apple, a day."], [["an apple a day"]])["rouge1"] == 75.0
