"""Offline metrics, chosen by the names a template lists in ``metrics``.

``evaluate.load('rouge')`` and ``evaluate.load('sacrebleu')`` fetch their scripts from the
Hugging Face Hub, which fails offline. The two modules beside this file (``rouge/rouge.py``
over rouge-score, ``sacrebleu/sacrebleu.py`` over sacrebleu) are ``evaluate`` metric modules
loaded by *path*, so they work without a network and keep the ``evaluate`` interface.
Accuracy, macro-F1 and normalized exact match are a few lines of Python (below) and need no
package at all.

Template metric names (promptsource spelling) map to families:

* ``ROUGE`` -> rouge1, rouge2, rougeL, rougeLsum (F-measure x 100)
* ``BLEU`` -> bleu (corpus sacreBLEU)
* ``Accuracy`` and anything else -> accuracy (+ macro_f1 when the template has answer choices;
  with answer choices the prediction is the choice the model finds most likely)
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache
from pathlib import Path

__all__ = ["families", "load_metric", "rouge", "bleu", "accuracy", "macro_f1", "exact_match",
           "normalize_answer"]

_HERE = Path(__file__).parent


@lru_cache(maxsize=4)
def load_metric(name: str):
    """Load a local ``evaluate`` module by name (``rouge`` or ``sacrebleu``); never touches the Hub."""
    import evaluate

    return evaluate.load(str(_HERE / name))


def families(template_metrics: list[str] | None, has_choices: bool) -> list[str]:
    """Metric families for a template: subset of ``rouge``, ``bleu``, ``accuracy``, in that order."""
    names = {m.lower() for m in (template_metrics or [])}
    out = []
    if any("rouge" in n for n in names):
        out.append("rouge")
    if any("bleu" in n for n in names):
        out.append("bleu")
    if has_choices or not out:
        out.append("accuracy")
    return out


def rouge(predictions: list[str], references: list[list[str]]) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F-measures (0..100)."""
    res = load_metric("rouge").compute(predictions=predictions, references=references)
    return {k: float(v) for k, v in res.items()}


def bleu(predictions: list[str], references: list[list[str]]) -> dict[str, float]:
    """Corpus BLEU (0..100)."""
    res = load_metric("sacrebleu").compute(predictions=predictions, references=references)
    return {k: float(v) for k, v in res.items()}


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no English articles, single spaces (SQuAD-style)."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def exact_match(predictions: list[str], references: list[list[str]]) -> float:
    """Share (0..100) of predictions equal to some reference after :func:`normalize_answer`."""
    if not predictions:
        return 0.0
    hits = sum(normalize_answer(p) in {normalize_answer(r) for r in refs} for p, refs in zip(predictions, references))
    return round(100 * hits / len(predictions), 4)


def accuracy(predictions: list[str], golds: list[str]) -> float:
    """Share (0..100) of predictions equal to the gold label (labels compared exactly)."""
    if not predictions:
        return 0.0
    return round(100 * sum(p == g for p, g in zip(predictions, golds)) / len(predictions), 4)


def macro_f1(predictions: list[str], golds: list[str], labels: list[str] | None = None) -> float:
    """Unweighted mean of per-class F1 (0..100) over ``labels`` (default: every gold class).

    A class never predicted has F1 0, so a model that always answers the majority class
    scores about half, however skewed the data.
    """
    classes = list(labels) if labels else sorted(set(golds))
    if not classes:
        return 0.0
    tp, fp, fn = Counter(), Counter(), Counter()
    for p, g in zip(predictions, golds):
        if p == g:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    f1s = []
    for c in classes:
        denom = 2 * tp[c] + fp[c] + fn[c]
        f1s.append(2 * tp[c] / denom if denom else 0.0)
    return round(100 * sum(f1s) / len(f1s), 4)
