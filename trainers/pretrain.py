"""Pretrain a small causal LM from scratch on a raw-text build: a base worth comparing against.

``ftdata pretrain DATA -o runs/base`` builds a randomly initialised model sized to the data's
tokenizer (:mod:`trainers.tiny`, llama by default: a few million parameters), trains every
weight on the train split of a ``layout: text`` build (every token trained, packed; the
ordinary full fine-tuning script, :func:`trainers.full.train_full`), and measures perplexity on
the held-out split before and after (:mod:`trainers.perplexity`). The run folder is a full
fine-tuning run (``model/`` is the base for ``ftdata compare --model runs/base/model``) plus
``pretrain.json``. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

from ftdata.errors import FtdataError

from .full import train_full
from .perplexity import perplexity
from .tiny import save_tiny_model

PRETRAIN = "pretrain.json"


class TimeBudget(TrainerCallback):
    """A Trainer callback that fits training into ``seconds`` of wall time.

    Every ``every`` steps it projects the steps that fit in the time left (from the mean step
    time so far, the first step excluded); when fewer than planned, the run ends there and the
    linear learning-rate decay is re-aimed at the new last step, so a slow machine trains fewer
    steps but still ends with a decayed learning rate. Planned steps are never added.
    """

    def __init__(self, seconds: float, every: int = 10):
        self.seconds, self.every = seconds, every
        self.t1: float | None = None
        self.s1 = 0
        self.last: int | None = None  # the step training ends at, once the budget is short

    def on_step_end(self, args, state, control, lr_scheduler=None, **kw):
        step = state.global_step
        if self.t1 is None:  # the first step pays for warm-up costs: time from its end
            self.t1, self.s1 = time.perf_counter(), step
            return control
        if self.last is not None and step >= self.last:
            control.should_training_stop = True
            return control
        if step % self.every:
            return control
        elapsed = time.perf_counter() - self.t1
        fit = step + int((self.seconds - elapsed) / (elapsed / (step - self.s1)))
        if fit < (self.last or state.max_steps):
            self.last = max(fit, step + 1)
            fns = getattr(lr_scheduler, "lr_lambdas", None)
            f = fns[0] if fns else None
            if isinstance(f, functools.partial) and "num_training_steps" in f.keywords:
                fns[0] = functools.partial(f.func, *f.args, **(f.keywords | {"num_training_steps": self.last}))
        return control


def pretrain(data: str | Path, output: str | Path, *, arch: str = "llama", hidden: int = 256, layers: int = 4,
             heads: int = 4, max_positions: int = 2048, tokenizer: str | None = None, seed: int = 0,
             heldout_split: str = "test", heldout_rows: int | None = None, max_seconds: float | None = None,
             overwrite: bool = False, **options) -> dict:
    """Build a small ``arch`` model for ``data``'s tokenizer and train it on ``data``'s train split.

    Args:
        data: a compiled ``layout: text`` directory (a causal build works too: only its
            completions are trained).
        output: the run folder (``model/`` holds the pretrained base).
        arch, hidden, layers, heads, max_positions: the model (:func:`trainers.tiny.tiny_config`);
            the context stays longer than the build's ``max_length``, for few-shot prompts later.
        tokenizer: the tokenizer the build used (default: the name its manifest records).
        seed: seed of the initial weights and of the data order.
        heldout_split: split whose perplexity is reported before and after.
        heldout_rows: score only the first N packed rows of it.
        max_seconds: fit training into this wall time (:class:`TimeBudget`): fewer steps, the
            learning-rate decay re-aimed at the last one.
        **options: :class:`trainers.config.TrainConfig` fields (max_steps, lr, batch_size, ...).

    Returns:
        The run summary with ``perplexity_before`` and ``perplexity_after`` added (also in
        ``output/pretrain.json``).
    """
    from ftdata.inspect.load import read_manifest

    manifest = read_manifest(data)
    if manifest.get("layout") == "seq2seq":
        raise FtdataError(f"{data}: pretraining needs a text (or causal) build, found layout seq2seq")
    init = Path(tempfile.mkdtemp(prefix="ftdata-pretrain-init-"))
    try:
        tok = tokenizer or manifest.get("tokenizer", {}).get("name") or "ftdata:tiny-bpe"
        save_tiny_model(arch, init / "model", tok, seed=seed, hidden=hidden, layers=layers, heads=heads,
                        max_positions=max(max_positions, int(manifest["max_length"])))
        before = perplexity(data, str(init / "model"), split=heldout_split, max_rows=heldout_rows)
        budget = [TimeBudget(max_seconds)] if max_seconds else None
        summary = train_full(data, str(init / "model"), output, overwrite=overwrite, seed=seed, callbacks=budget,
                             **options)
    finally:
        shutil.rmtree(init, ignore_errors=True)
    out = Path(output)
    after = perplexity(data, str(out / "model"), split=heldout_split, max_rows=heldout_rows)
    summary = summary | {"base_model": f"random {arch} (hidden {hidden}, layers {layers}, heads {heads}, seed {seed})",
                         "max_seconds": max_seconds,
                         "perplexity_before": before, "perplexity_after": after}
    (out / PRETRAIN).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary

