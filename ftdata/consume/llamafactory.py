"""The LLaMA-Factory training config written beside the ``llamafactory`` export.

``llamafactory-cli train DEST/llamafactory_sft.yaml`` trains on the export as written. What
LLaMA-Factory 0.9.x's parser needs (``hparams/parser.py``, ``hparams/data_args.py``,
``data/loader.py``): ``tokenized_path`` makes the loader read the ``save_to_disk`` folder and
ignore every other data argument (``train`` becomes the train set, ``validation`` the eval
set), but the parser still refuses ``do_train`` without a ``dataset`` name and evaluation
without an ``eval_dataset`` (or ``val_size``, which would split the train set again). So both
names are written; they label the run and are never looked up. ``template: empty`` keeps the
tokenizer's chat template from being applied or parsed: the ids are final.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..constants import BUILTIN_TOKENIZER

#: The config's file name inside the export.
CONFIG_NAME = "llamafactory_sft.yaml"


def config(manifest: dict, dest: Path, splits: list[str]) -> dict:
    """The SFT config for an export at ``dest`` holding ``splits`` (train, and validation when present)."""
    name = manifest.get("name") or "ftdata"
    cfg = {
        "model_name_or_path": (manifest.get("tokenizer") or {}).get("name"),
        "stage": "sft", "do_train": True, "finetuning_type": "lora", "lora_target": "all",
        "dataset": f"ftdata_{name}", "tokenized_path": str(dest), "template": "empty",
        "cutoff_len": manifest.get("max_length"),
        "output_dir": f"saves/{name}-sft", "report_to": "none",
        "logging_steps": 10, "save_steps": 500,
        "per_device_train_batch_size": 1, "gradient_accumulation_steps": 8, "learning_rate": 1.0e-4,
        "num_train_epochs": 3.0, "lr_scheduler_type": "cosine", "warmup_ratio": 0.1,
    }
    if "validation" in splits:
        cfg.update({"eval_dataset": f"ftdata_{name}_validation", "do_eval": True, "eval_strategy": "steps",
                    "eval_steps": 500, "per_device_eval_batch_size": 1})
    return cfg


def model_note(manifest: dict) -> str | None:
    """What to change before training, when the recipe's tokenizer is not a model's name."""
    if (manifest.get("tokenizer") or {}).get("name") == BUILTIN_TOKENIZER:
        return (f"{CONFIG_NAME}: the recipe's tokenizer {BUILTIN_TOKENIZER} has no model; set "
                "model_name_or_path to a model with its vocabulary (e.g. one `ftdata tiny-model llama DIR` writes)")
    return None


def config_text(manifest: dict, dest: Path, splits: list[str]) -> str:
    """:func:`config` as YAML with a header saying what to change and what each name is for."""
    note = model_note(manifest)
    head = ([f"# NOTE {note}"] if note else []) + [
        "# LLaMA-Factory SFT config written by ftdata: llamafactory-cli train THIS_FILE",
        "# model_name_or_path is the recipe's tokenizer: the model must use that vocabulary.",
        "# `dataset` / `eval_dataset` only satisfy LLaMA-Factory's parser: with tokenized_path the data",
        "# comes from this folder (train -> train set, validation -> eval set), already tokenized and masked.",
    ]
    return "\n".join(head) + "\n" + yaml.safe_dump(config(manifest, dest, splits), sort_keys=False, allow_unicode=True)


def write_config(folder: Path, manifest: dict, dest: Path, splits: list[str]) -> str:
    """Write :data:`CONFIG_NAME` into ``folder`` (the export being written, later renamed to ``dest``)."""
    (Path(folder) / CONFIG_NAME).write_text(config_text(manifest, dest, splits), encoding="utf-8")
    return CONFIG_NAME
