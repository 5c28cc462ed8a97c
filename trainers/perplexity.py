"""Perplexity of a causal model on a compiled split (raw text or any causal build).

The score of pretraining and the first measure of forgetting: the mean negative
log-likelihood of every trained token (``labels`` not ``IGNORE_INDEX``) of a held-out split,
and its exponential. Packed rows are read as training reads them (:class:`trainers.data.Collator`:
positions restart per document, no document attends to another, and a document's first token
is not a target, since nothing of it precedes it), so the figure is per document, independent
of which documents share a row.
"""

from __future__ import annotations

import math
from pathlib import Path

from ftdata.constants import IGNORE_INDEX
from ftdata.errors import FtdataError

from .data import Collator, open_for_training, pad_id


def perplexity(data: str | Path, model: str, *, split: str = "test", adapter: str | None = None,
               max_rows: int | None = None, batch_size: int = 8) -> dict:
    """Mean token NLL and perplexity of ``model`` (a model folder or run folder, optionally with
    a LoRA ``adapter``) on ``split`` of compiled directory ``data``.

    Returns:
        ``{"split", "rows", "tokens", "loss", "perplexity"}`` (loss in nats per token).
    """
    import torch

    from .evaluate import load_for_eval, resolve_model

    dd, manifest = open_for_training(data, split)
    if manifest["layout"] == "seq2seq":
        raise FtdataError(f"{data}: perplexity is measured on a causal or text build, found layout seq2seq")
    base, adapter, _ = resolve_model(model, adapter)
    net, tok = load_for_eval(base, adapter, manifest, str(data))
    net.config.use_cache = False  # packed rows: the mask comes from the position ids
    rows = dd[split]
    if max_rows:
        rows = rows.select(range(min(max_rows, rows.num_rows)))
    cols = [c for c in ("input_ids", "labels", "position_ids", "seq_lengths") if c in rows.column_names]
    collate = Collator(pad_id=pad_id(tok))
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, rows.num_rows, batch_size):
            batch = collate(rows.select(range(start, min(start + batch_size, rows.num_rows))).select_columns(cols)
                            .to_list())
            labels = batch.pop("labels")
            logits = net(**batch).logits[:, :-1].float()
            target = labels[:, 1:]
            keep = target != IGNORE_INDEX
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                    target.clamp(min=0).reshape(-1), reduction="none")
            total += float((nll * keep.reshape(-1)).sum())
            count += int(keep.sum())
    if count == 0:
        raise FtdataError(f"{data}: split '{split}' has no trained token to score")
    loss = total / count
    return {"split": split, "rows": rows.num_rows, "tokens": count, "loss": round(loss, 6),
            "perplexity": round(math.exp(loss), 4)}
