"""Corpus BLEU as a local ``evaluate`` module over the ``sacrebleu`` package.

Loaded by path (see :func:`trainers.metrics.load_metric`) because ``evaluate.load('sacrebleu')``
fetches its script from the Hugging Face Hub. Predictions may have several references; sacrebleu
wants one stream per reference position, so shorter reference lists are padded with their last
reference (which does not change the best match).
"""

import datasets
import evaluate
import sacrebleu


class SacreBleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Corpus BLEU (sacrebleu, 13a tokenisation), offline.",
            citation="Post, 2018. A Call for Clarity in Reporting BLEU Scores.",
            inputs_description="predictions: list of str; references: list of list of str",
            features=datasets.Features({
                "predictions": datasets.Value("string"),
                "references": datasets.Sequence(datasets.Value("string")),
            }),
        )

    def _compute(self, predictions, references, tokenize="13a"):
        if not predictions:
            return {"bleu": 0.0}
        width = max(len(r) for r in references)
        padded = [list(r) + [r[-1]] * (width - len(r)) for r in references]
        streams = [[refs[i] for refs in padded] for i in range(width)]
        result = sacrebleu.corpus_bleu(predictions, streams, tokenize=tokenize)
        return {"bleu": round(result.score, 4)}
