"""ROUGE-1/2/L(sum) as a local ``evaluate`` module over Google's ``rouge-score`` package.

``evaluate.load('rouge')`` downloads its script from the Hugging Face Hub; this file is
loaded by path instead (see :func:`trainers.metrics.load_metric`), so scoring works offline.
Scores are F-measures averaged over examples (a plain mean, so the same predictions always
give the same score: rouge-score's ``BootstrapAggregator`` reports the median of an unseeded
bootstrap, which moves from call to call), scaled to 0..100. With several references per
prediction, each prediction takes its best-scoring reference (rouge-score's ``score_multi``).
"""

import datasets
import evaluate
from rouge_score import rouge_scorer

_KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")


class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="ROUGE F-measure (rouge-score), offline.",
            citation="Lin, 2004. ROUGE: A Package for Automatic Evaluation of Summaries.",
            inputs_description="predictions: list of str; references: list of list of str",
            features=datasets.Features({
                "predictions": datasets.Value("string"),
                "references": datasets.Sequence(datasets.Value("string")),
            }),
        )

    def _compute(self, predictions, references, use_stemmer=True):
        scorer = rouge_scorer.RougeScorer(list(_KEYS), use_stemmer=use_stemmer)
        totals = dict.fromkeys(_KEYS, 0.0)
        for pred, refs in zip(predictions, references):
            # rougeLsum splits summaries into sentences on newlines
            scores = scorer.score_multi([r.replace(". ", ".\n") for r in refs], pred.replace(". ", ".\n"))
            for k in _KEYS:
                totals[k] += scores[k].fmeasure
        n = len(predictions)
        return {k: round(100 * totals[k] / n, 4) if n else 0.0 for k in _KEYS}
