"""Scoring for the lm-evaluation-harness tasks ``ftdata export --to lm-eval`` writes.

This file is copied as it is into every lm-eval export (``ftdata_lmeval.py`` beside the task
YAMLs, which name its functions with ``!function``), so it imports nothing from ftdata: the
exported folder works wherever lm-eval runs. It scores exactly as ``ftdata eval`` does
(``trainers/evaluate.py`` and ``trainers/metrics``; tests/unit/consume/test_lmeval_utils.py
checks the two agree on the same inputs):

* multiple choice: the prediction is the first choice of highest summed log-likelihood;
  ``acc`` (0..1) and ``macro_f1`` (0..100, over every answer choice of the task).
* generation: the stripped text (cut at the first shot separator when lm-eval is asked to stop
  there), scored against every reference the row has (the doc's ``references``: its template's
  reference columns, else its ``completion``): ROUGE-1/2/L/Lsum F-measure of the best reference
  (rouge-score ``score_multi``, Porter stemmer, sentences split at ". "; 0..100, averaged over
  examples), corpus BLEU over every reference (sacrebleu, 13a; 0..100) and normalized exact match
  with any reference (lower case, no punctuation, no English articles, single spaces; 0..100).

``process_results: !function ftdata_lmeval.scores_rouge_bleu`` names the metric families a
generation task reports (any of ``rouge``, ``bleu``, ``exact``, joined by ``_``), and
``custom_dataset: !function ftdata_lmeval.load_data`` reads the task's ``data_files``, which are
relative to this file's folder (the export holds no local path and can be moved).
"""

from __future__ import annotations

import re
import string
from collections import Counter

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
FAMILIES = ("rouge", "bleu", "exact")

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no English articles, single spaces (SQuAD-style)."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


_scorer = None


def references(doc: dict) -> list[str]:
    """Every reference of a doc: its ``references`` (the template's reference columns), else its completion."""
    return list(doc.get("references") or []) or [doc["completion"]]


def rouge_item(prediction: str, refs: str | list[str]) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F-measures (0..100) of one prediction against its best reference
    (each key's best, rouge-score's ``score_multi``); rougeLsum splits at ". "."""
    global _scorer
    if _scorer is None:
        from rouge_score import rouge_scorer

        _scorer = rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)
    refs = [refs] if isinstance(refs, str) else refs
    s = _scorer.score_multi([r.replace(". ", ".\n") for r in refs], prediction.replace(". ", ".\n"))
    return {k: 100 * s[k].fmeasure for k in ROUGE_KEYS}


def corpus_bleu(items) -> float:
    """Corpus BLEU (0..100, sacrebleu 13a) of ``(references, prediction)`` pairs.

    ``references`` is one string or a list; sacrebleu takes one stream per reference position,
    so shorter lists are padded with their last reference (which does not change the best match).
    """
    import sacrebleu

    if not items:
        return 0.0
    refs = [[r] if isinstance(r, str) else list(r) for r, _ in items]
    width = max(len(r) for r in refs)
    padded = [r + [r[-1]] * (width - len(r)) for r in refs]
    streams = [[r[i] for r in padded] for i in range(width)]
    return float(sacrebleu.corpus_bleu([p for _, p in items], streams, tokenize="13a").score)


def load_data(data_files: dict[str, str], **_metadata):
    """The task's splits: ``data_files`` (split -> JSON Lines path relative to this file's folder)
    read as ``dataset_path: json`` reads them. lm-eval passes the task's metadata too (ignored)."""
    from pathlib import Path

    import datasets

    here = Path(__file__).resolve().parent
    return datasets.load_dataset("json", data_files={s: str(here / p) for s, p in data_files.items()})


def mean(items) -> float:
    return sum(items) / len(items) if items else 0.0


def _process(families: tuple[str, ...]):
    def process_results(doc, results):
        pred, refs = results[0].strip(), references(doc)
        out: dict = {}
        if "rouge" in families:
            out |= rouge_item(pred, refs)
        if "bleu" in families:
            out["bleu"] = (refs, pred)
        if "exact" in families:
            out["exact_match"] = 100.0 * (normalize_answer(pred) in {normalize_answer(r) for r in refs})
        return out

    process_results.__name__ = "scores_" + "_".join(families)
    return process_results


def process_choices(doc, results):
    """``acc`` and the (gold, prediction, choices) triple ``macro_f1`` aggregates."""
    lls = [r[0] for r in results]
    pred = max(range(len(lls)), key=lls.__getitem__)  # the first of equal scores, as ftdata eval
    return {"acc": float(pred == doc["gold"]),
            "macro_f1": (doc["gold"], pred, tuple(doc["answer_choices"]))}


def macro_f1(items) -> float:
    """Unweighted mean per-class F1 (0..100) over every answer choice seen in the items."""
    classes = sorted({c for _, _, choices in items for c in choices})
    if not classes:
        return 0.0
    tp, fp, fn = Counter(), Counter(), Counter()
    for gold, pred, choices in items:
        g, p = choices[gold], choices[pred]
        if p == g:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    f1s = [2 * tp[c] / (2 * tp[c] + fp[c] + fn[c]) if (2 * tp[c] + fp[c] + fn[c]) else 0.0 for c in classes]
    return 100 * sum(f1s) / len(f1s)


def __getattr__(name: str):
    """``scores_<families>`` functions, made on use."""
    if name.startswith("scores_"):
        fams = tuple(name[len("scores_"):].split("_"))
        if fams and all(f in FAMILIES for f in fams):
            return _process(fams)
    raise AttributeError(name)
