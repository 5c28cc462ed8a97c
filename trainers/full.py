"""Full fine-tuning of every weight on a compiled directory, with the transformers Trainer.

setup (open data, check tokenizer, load model) -> train -> save (model, tokenizer, manifest,
log, loss curve, summary, COMPLETED) -> cleanup. Runs unchanged under ``torchrun`` and
``accelerate launch``: the Trainer does the distribution, only rank 0 writes the run folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ._run import (
    load_model,
    make_trainer,
    prepare_run_dir,
    train_and_summarize,
    write_run,
)
from .config import TrainConfig, parse_config
from .data import Collator, open_for_training, pad_id, training_splits
from .progress import Reporter, no_hub_bars
from .tiny import count_parameters


def train_full(data: str | Path, model: str, output: str | Path, *, overwrite: bool = False,
               reporter: Reporter | None = None, callbacks=None, **options) -> dict:
    """Fine-tune all weights of ``model`` on the train split of compiled directory ``data``.

    Args:
        data: compiled directory (must hold ``COMPLETED``).
        model: model folder or hub name; its tokenizer must match the data's.
        output: run folder to write (see :mod:`trainers._run`).
        overwrite: replace an existing run folder.
        reporter: where progress goes (:mod:`trainers.progress`; default: nowhere).
        callbacks: transformers ``TrainerCallback`` objects added to the Trainer (e.g. a time budget).
        **options: :class:`trainers.config.TrainConfig` fields (max_steps, lr, batch_size, ...).

    Returns:
        The run summary (also written to ``output/summary.json``).
    """
    from transformers import set_seed

    cfg = parse_config(TrainConfig, options)
    # -- setup ----------------------------------------------------------------------------
    out = prepare_run_dir(output, overwrite)
    dd, manifest = open_for_training(data, cfg.split)
    layout = manifest["layout"]
    set_seed(cfg.seed)  # before loading: weights the checkpoint lacks are drawn from the run's seed
    net, tok = load_model(model, layout, manifest, str(data))
    net.config.use_cache = False  # a KV cache during training would also disable packed masks
    train, val = training_splits(dd, cfg, str(data))
    collator = Collator(pad_id=pad_id(tok), seq2seq=layout == "seq2seq")
    workdir = out.parent / f".{out.name}.trainer"
    trainer = make_trainer(net, tok, cfg, workdir, train, val, collator, reporter, "full", callbacks)
    trainable, total = count_parameters(net)
    # -- train ----------------------------------------------------------------------------
    summary = train_and_summarize(trainer, collator, val, {
        "method": "full", "base_model": str(model), "data": str(Path(data).resolve()), "data_name": manifest["name"],
        "layout": layout, "split": cfg.split, "rows": train.num_rows, "options": cfg.model_dump(),
        "trainable_params": trainable, "total_params": total})
    # -- save -----------------------------------------------------------------------------
    with no_hub_bars():
        trainer.save_model(str(out / "model"))  # rank 0 only; also saves the tokenizer
    write_run(out, trainer=trainer, manifest=manifest, summary=summary)
    # -- cleanup --------------------------------------------------------------------------
    if trainer.is_world_process_zero():
        shutil.rmtree(workdir, ignore_errors=True)
    return summary
