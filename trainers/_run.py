"""Helpers the training scripts share: model loading, Trainer arguments, run artifacts.

A *run directory* (what ``ftdata train`` writes)::

    runs/NAME/
      model/ or adapter/   the fine-tuned weights (full) or the LoRA adapter, with the tokenizer
      manifest.json        the manifest of the compiled directory it trained on
      train_log.jsonl      the Trainer's log history (loss, learning rate, validation loss, ...)
      loss.png, loss.csv   the training and validation loss curves (plot; step, train_loss, val_loss)
      summary.json         method, base model, data, parameters, wall time, peak memory, tokens/s
      .ftdata.json         written first: marks the folder as a run (only such a folder is replaced)
      COMPLETED            written last; readers refuse a run without it
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

from ftdata.constants import OWNER_FILE
from ftdata.errors import FtdataError
from ftdata.write.writer import mark_output, not_replaceable

from .data import check_tokenizer
from .progress import no_hub_bars

COMPLETED = "COMPLETED"
SUMMARY = "summary.json"


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def check_run_dir(out: Path) -> None:
    """Raise unless ``out`` is absent, an empty folder or a run folder ftdata made."""
    what = not_replaceable(out, "run")
    if what:
        raise FtdataError(f"{out} is {what}: a training run replaces only a run folder "
                          "ftdata made, so that nothing else is ever deleted; choose another "
                          "output folder (-o) or move it away yourself")


def prepare_run_dir(output: str | Path, overwrite: bool) -> Path:
    """Make the run folder and mark it (main process only); ``overwrite`` clears an earlier run.

    Only a folder an earlier run made (its :data:`OWNER_FILE`, see ``ftdata.write.writer.is_output``)
    or an empty one is used: anything else is the user's and is refused, ``overwrite`` or not.
    The marker is written first, so a run killed before it saved anything is known as ours too.
    """
    out = Path(output)
    if not is_main_process():
        return out
    check_run_dir(out)
    if out.exists() and any(p.name != OWNER_FILE for p in out.iterdir()):
        if not overwrite:
            raise FtdataError(f"{out}: output folder exists and is not empty (pass --overwrite to replace it)")
        out.unlink() if out.is_symlink() else shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, "run")
    return out


def load_model(name: str, layout: str, manifest: dict, where: str):
    """Load ``name`` (path or hub name) and its tokenizer; check layout and tokenizer hash.

    Returns:
        (model, tokenizer)
    """
    import transformers as tf

    try:
        config = tf.AutoConfig.from_pretrained(name)
    except Exception as exc:  # noqa: BLE001 - shown to the user
        raise FtdataError(f"--model {name}: cannot load a model config: {exc}") from None
    if layout == "seq2seq" and not config.is_encoder_decoder:
        raise FtdataError(f"{where}: layout is seq2seq but model '{name}' ({config.model_type}) is decoder-only; "
                          "rebuild the data with layout: causal or pick an encoder-decoder model")
    if layout != "seq2seq" and config.is_encoder_decoder:
        raise FtdataError(f"{where}: layout is {layout} but model '{name}' ({config.model_type}) is encoder-decoder; "
                          "rebuild the data with layout: seq2seq or pick a decoder-only model")
    try:
        tok = tf.AutoTokenizer.from_pretrained(name)
    except Exception as exc:  # noqa: BLE001
        raise FtdataError(f"--model {name}: no tokenizer saved with the model ({exc}); "
                          "ftdata checks it against the data's tokenizer") from None
    check_tokenizer(manifest, tok, where, name)
    auto = tf.AutoModelForSeq2SeqLM if config.is_encoder_decoder else tf.AutoModelForCausalLM
    with no_hub_bars():
        model = auto.from_pretrained(name)
    if model.get_input_embeddings().num_embeddings < len(tok):
        raise FtdataError(f"--model {name}: embedding table has {model.get_input_embeddings().num_embeddings} rows, "
                          f"fewer than the tokenizer's {len(tok)} tokens")
    return model, tok


def training_arguments(workdir: Path, cfg, *, lr: float | None = None, validation: bool = False):
    """TrainingArguments from a :class:`trainers.config.TrainConfig` (no trackers).

    With ``validation``, the evaluation loss on it is measured every ``cfg.val_every`` steps;
    with ``cfg.keep_best`` also a checkpoint is saved then (into ``workdir``, removed after the
    run) and the one with the lowest validation loss is loaded at the end. Otherwise nothing is
    saved before the end.
    """
    import torch
    from transformers import TrainingArguments

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    checks: dict = {"save_strategy": "no"}
    if validation:
        checks = {"eval_strategy": "steps", "eval_steps": cfg.val_every, "per_device_eval_batch_size": cfg.batch_size,
                  "save_strategy": "no"}
        if cfg.keep_best:
            checks |= {"save_strategy": "steps", "save_steps": cfg.val_every, "save_total_limit": 1,
                       "save_only_model": True, "load_best_model_at_end": True,
                       "metric_for_best_model": "eval_loss", "greater_is_better": False}
    return TrainingArguments(
        output_dir=str(workdir),
        max_steps=cfg.max_steps,
        num_train_epochs=cfg.epochs,
        learning_rate=lr if lr is not None else cfg.lr,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        length_column_name="length",
        # the collator picks its own columns; provenance columns stay in the rows
        remove_unused_columns=False,
        report_to="none",
        bf16=cfg.bf16,
        disable_tqdm=True,
        # each rank averages its own tokens and DDP averages the ranks: the logged loss stays a
        # per-token mean (with True, transformers logs it multiplied by the world size)
        average_tokens_across_devices=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        # CPU runs under torchrun talk over gloo; GPUs use the default (nccl)
        ddp_backend="gloo" if distributed and not torch.cuda.is_available() else None,
        # without use_cpu, accelerate sees no accelerator and leaves each CPU rank training alone
        use_cpu=distributed and not torch.cuda.is_available(),
        **checks,
    )


class PeakMemory:
    """Peak memory while the block runs: CUDA allocator peak, else sampled process RSS.

    On CPU the process's resident set is sampled every 20 ms in a thread; ``peak_bytes`` is
    the highest sample and ``delta_bytes`` its rise over the value at entry (what training
    itself added, which is comparable between methods run in one process).
    """

    def __enter__(self):
        import torch

        self.cuda = torch.cuda.is_available()
        self.peak_bytes = self.start_bytes = 0
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            self.start_bytes = torch.cuda.memory_allocated()
            return self
        self.start_bytes = self.peak_bytes = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak_bytes = max(self.peak_bytes, _rss())

    def __exit__(self, *exc):
        import torch

        if self.cuda:
            self.peak_bytes = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, _rss())
        self.delta_bytes = self.peak_bytes - self.start_bytes
        return False

    def as_dict(self) -> dict:
        return {"kind": "cuda_allocated" if self.cuda else "cpu_rss", "peak_mb": round(self.peak_bytes / 2**20, 1),
                "delta_mb": round(self.delta_bytes / 2**20, 1)}


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the high-water mark
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def loss_points(history: list[dict]) -> list[dict]:
    """One row per logged step: ``step``, ``train_loss`` and ``val_loss`` (None where not logged)."""
    by_step: dict[int, dict] = {}
    for h in history:
        if "step" not in h:
            continue
        row = by_step.setdefault(h["step"], {"step": h["step"], "train_loss": None, "val_loss": None})
        if "loss" in h:
            row["train_loss"] = h["loss"]
        if "eval_loss" in h:
            row["val_loss"] = h["eval_loss"]
    return [r for _, r in sorted(by_step.items()) if r["train_loss"] is not None or r["val_loss"] is not None]


def write_loss_curve(history: list[dict], out: Path, title: str) -> None:
    """``loss.png`` (training and validation loss against step) and ``loss.csv`` (the same points)."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = loss_points(history)
    with open(out / "loss.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "train_loss", "val_loss"], lineterminator="\n")
        w.writeheader()
        w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in pts)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        xy = [(r["step"], r[key]) for r in pts if r[key] is not None]
        if xy:
            ax.plot([p[0] for p in xy], [p[1] for p in xy], marker="o", markersize=2, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean per trained token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if pts:
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss.png")
    plt.close(fig)


def make_trainer(net, tok, cfg, workdir: Path, train, val, collator, reporter, label: str, callbacks=None):
    """The transformers Trainer for a run: ``collator`` batches the training rows and a copy of it
    the validation rows (so tokens/s and padding efficiency count training batches only);
    transformers' dict printer is replaced by ftdata's compact lines (:mod:`trainers.progress`)."""
    import dataclasses

    from transformers import Trainer

    from .progress import use_compact_log

    class _Trainer(Trainer):
        def get_eval_dataloader(self, eval_dataset=None):
            train_collator, self.data_collator = self.data_collator, dataclasses.replace(collator, tokens=0, slots=0)
            try:
                return super().get_eval_dataloader(eval_dataset)
            finally:
                self.data_collator = train_collator

    trainer = _Trainer(model=net, args=training_arguments(workdir, cfg, validation=val is not None),
                       train_dataset=train, eval_dataset=val, data_collator=collator, processing_class=tok,
                       callbacks=callbacks)
    use_compact_log(trainer, reporter, label)
    return trainer


def train_and_summarize(trainer, collator, val, head: dict, after_training=None) -> dict:
    """Run ``trainer.train()`` and return the run summary: ``head`` (method, model, data, options,
    parameter counts), then what every method measures (steps, losses, time, peak memory, tokens
    per second, padding efficiency, validation). ``after_training()`` adds checks made once
    training is over (LoRA: the frozen weights did not move), after ``peak_memory``."""
    t0 = time.perf_counter()
    with PeakMemory() as mem, no_hub_bars():  # no bar per checkpoint saved
        result = trainer.train()
    seconds = time.perf_counter() - t0
    world = trainer.args.world_size
    return head | {
        "steps": result.global_step, "train_loss": round(result.training_loss, 6), "wall_seconds": round(seconds, 3),
        "world_size": world,
        "parallel_mode": str(getattr(trainer.args.parallel_mode, "value", trainer.args.parallel_mode)),
        "peak_memory": mem.as_dict(),
        **(after_training() if after_training else {}),
        # tokens counted on this rank's batches; other ranks see the same number of batches
        "tokens": collator.tokens * world,
        "tokens_per_second": round(collator.tokens * world / training_seconds(trainer, seconds), 1),
        "padding_efficiency": round(collator.padding_efficiency, 4),
        **validation_summary(trainer, val),
    }


def training_seconds(trainer, seconds: float) -> float:
    """Wall seconds of ``trainer.train()`` less the time its validation passes took."""
    spent = sum(h.get("eval_runtime", 0.0) for h in trainer.state.log_history)
    return max(seconds - spent, 1e-9)


def validation_summary(trainer, val) -> dict:
    """What the summary says about validation: split rows, last and best loss, the step kept."""
    if val is None:
        return {"validation": None}
    losses = [(h["step"], h["eval_loss"]) for h in trainer.state.log_history if "eval_loss" in h]
    best = min(losses, key=lambda x: x[1]) if losses else None
    return {"validation": {"rows": val.num_rows, "evaluations": len(losses),
                           "last_loss": round(losses[-1][1], 6) if losses else None,
                           "best_loss": round(best[1], 6) if best else None, "best_step": best[0] if best else None,
                           "kept": "best" if trainer.args.load_best_model_at_end else "last"}}


def write_run(out: Path, *, trainer, manifest: dict, summary: dict) -> None:
    """Write the run's manifest, log, loss curve and summary, then COMPLETED (main process only)."""
    if not trainer.is_world_process_zero():
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    history = trainer.state.log_history
    with open(out / "train_log.jsonl", "w", encoding="utf-8") as f:
        for h in history:
            f.write(json.dumps(h) + "\n")
    write_loss_curve(history, out, f"{summary['method']} · {summary['data_name']}")
    (out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / COMPLETED).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n", encoding="utf-8")


def read_run(path: str | Path) -> dict | None:
    """The summary of a finished run directory, or None if ``path`` is not a run directory."""
    p = Path(path)
    if not (p / SUMMARY).is_file():
        return None
    if not (p / COMPLETED).exists():
        raise FtdataError(f"{p}: no {COMPLETED} marker; the training run did not finish")
    return json.loads((p / SUMMARY).read_text(encoding="utf-8"))


def peft_compat() -> None:
    """Let peft build LoRA layers when an older torchao is installed next to it.

    peft raises ImportError from *every* LoRA layer it creates when torchao is installed but
    older than it supports (another tool in the environment may pin one). torchao matters only
    for torchao-quantized base weights, which these scripts never load, so it is reported as
    absent instead of failing.
    """
    import importlib

    import peft.import_utils as iu

    try:
        iu.is_torchao_available()
        return
    except ImportError:
        pass
    for name in ("peft.import_utils", "peft.tuners.lora.torchao", "peft.utils.quantization_utils"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(mod, "is_torchao_available"):
            mod.is_torchao_available = lambda: False
