"""LoRA fine-tuning with peft: only the low-rank adapters train, the base weights stay frozen.

setup (open data, check tokenizer, load model, wrap with LoRA) -> train -> save (adapter,
tokenizer, manifest, log, loss curve, summary, COMPLETED) -> cleanup. Runs unchanged under
``torchrun`` and ``accelerate launch``.

Target modules default per architecture (:data:`DEFAULT_TARGETS`, by ``config.model_type``):
the attention projections, which is where LoRA was introduced. A name matches a module whose
dotted path ends with it, so GPT-2's ``attn.c_proj`` is the attention output and not the MLP's
``mlp.c_proj``. Unknown architectures fall back to peft's own table and then to
``all-linear``. ``target_modules`` overrides.

The adapter's initial weights (LoRA's A matrices are random) are drawn after the run's seed is
set, so the same seed gives the same adapter, whatever ran before in the process.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ftdata.errors import FtdataError

from ._run import (
    load_model,
    make_trainer,
    peft_compat,
    prepare_run_dir,
    train_and_summarize,
    write_run,
)
from .config import TrainConfig, parse_config
from .data import Collator, open_for_training, pad_id, training_splits
from .progress import Reporter, no_hub_bars
from .tiny import count_parameters

_LLAMA_LIKE = ["q_proj", "k_proj", "v_proj", "o_proj"]

#: LoRA target modules per ``config.model_type``.
DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": _LLAMA_LIKE, "mistral": _LLAMA_LIKE, "mixtral": _LLAMA_LIKE, "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE, "gemma": _LLAMA_LIKE, "gemma2": _LLAMA_LIKE, "phi3": ["qkv_proj", "o_proj"],
    "gpt2": ["attn.c_attn", "attn.c_proj"], "gpt_neox": ["query_key_value", "dense"], "opt": _LLAMA_LIKE[:3] + ["out_proj"],
    "t5": ["q", "k", "v", "o"], "mt5": ["q", "k", "v", "o"], "bart": _LLAMA_LIKE[:3] + ["out_proj"],
}


def default_targets(model_type: str) -> list[str] | str:
    """Target modules for an architecture: our table, then peft's, then ``all-linear``."""
    if model_type in DEFAULT_TARGETS:
        return DEFAULT_TARGETS[model_type]
    try:
        from peft.utils.constants import (
            TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft_table,
        )
    except ImportError:  # older / newer peft layouts
        peft_table = {}
    return list(peft_table.get(model_type, [])) or "all-linear"


def _fingerprint(net) -> dict[str, tuple[float, float]]:
    """Cheap per-tensor fingerprint (sum, sum of squares in float64) of the frozen weights."""
    import torch

    with torch.no_grad():
        return {n: (float(p.double().sum()), float(p.double().square().sum()))
                for n, p in net.named_parameters() if not p.requires_grad}


def train_lora(data: str | Path, model: str, output: str | Path, *, overwrite: bool = False,
               reporter: Reporter | None = None, **options) -> dict:
    """Train a LoRA adapter for ``model`` on the train split of compiled directory ``data``.

    Args:
        data: compiled directory (must hold ``COMPLETED``).
        model: base model folder or hub name; its tokenizer must match the data's.
        output: run folder to write; the adapter goes to ``output/adapter``.
        overwrite: replace an existing run folder.
        reporter: where progress goes (:mod:`trainers.progress`; default: nowhere).
        **options: :class:`trainers.config.TrainConfig` fields (lora_r, lora_alpha,
            target_modules, max_steps, lr, ...).

    Returns:
        The run summary (also written to ``output/summary.json``).
    """
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import set_seed

    cfg = parse_config(TrainConfig, options)
    # -- setup ----------------------------------------------------------------------------
    out = prepare_run_dir(output, overwrite)
    dd, manifest = open_for_training(data, cfg.split)
    layout = manifest["layout"]
    base, tok = load_model(model, layout, manifest, str(data))
    base.config.use_cache = False
    targets = cfg.target_modules or default_targets(base.config.model_type)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets,
                      task_type=TaskType.SEQ_2_SEQ_LM if layout == "seq2seq" else TaskType.CAUSAL_LM)
    peft_compat()
    set_seed(cfg.seed)  # LoRA's A matrices are random: draw them from the run's seed
    try:
        net = get_peft_model(base, lora)
    except ValueError as exc:  # e.g. target modules not found in the model
        raise FtdataError(f"--target-modules {targets}: {exc}") from None
    train, val = training_splits(dd, cfg, str(data))
    collator = Collator(pad_id=pad_id(tok), seq2seq=layout == "seq2seq")
    workdir = out.parent / f".{out.name}.trainer"
    trainer = make_trainer(net, tok, cfg, workdir, train, val, collator, reporter, "lora")
    trainable, total = count_parameters(net)
    frozen_before = _fingerprint(net)
    # -- train ----------------------------------------------------------------------------
    summary = train_and_summarize(trainer, collator, val, {
        "method": "lora", "base_model": str(Path(model).resolve()) if Path(model).exists() else model,
        "data": str(Path(data).resolve()), "data_name": manifest["name"], "layout": layout, "split": cfg.split,
        "rows": train.num_rows, "options": cfg.model_dump(), "target_modules": targets,
        "trainable_params": trainable, "total_params": total},
        # checked, not assumed: every frozen weight is bit-for-bit what it was before training
        after_training=lambda: {"base_weights_unchanged": _fingerprint(net) == frozen_before})
    # -- save -----------------------------------------------------------------------------
    if trainer.is_world_process_zero():
        # save_pretrained on a PeftModel writes only the adapter weights and its config
        with no_hub_bars():
            net.save_pretrained(str(out / "adapter"))
        tok.save_pretrained(str(out / "adapter"))
    write_run(out, trainer=trainer, manifest=manifest, summary=summary)
    # -- cleanup --------------------------------------------------------------------------
    if trainer.is_world_process_zero():
        shutil.rmtree(workdir, ignore_errors=True)
    return summary
