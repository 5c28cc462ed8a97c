"""The few-shot exemplar pool of a source: its train rows, found by a silent first read.

A row is a candidate exemplar when the build's own split rule
(:func:`~ftdata.plan.split.assign_splits`, which phase B calls on the same columns) puts it
in train and it holds no special-token string, so exemplars never carry one.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..plan.split import assign_splits
from ..templating.fewshot import ExemplarPool
from .chunk import CheckedRow


def exemplar_pool(batches: Iterable[list[CheckedRow]], ratios: dict[str, float], seed: int,
                  tok) -> ExemplarPool:
    """The pool of the train rows among ``batches`` (a source's checked rows, read silently)."""
    from ..tokenize.specials import specials_for

    sp = specials_for(tok.backend_tokenizer)
    pool = ExemplarPool(seed)
    for batch in batches:
        splits = assign_splits([row.split for row in batch], [row.u for row in batch], ratios)
        for row, split in zip(batch, splits):
            if split == "train" and not sp.escape(row.data)[1]:
                pool.offer(row.key, row.data)
    return pool
