"""Training and evaluation settings: validated once where they enter the program.

The fields' descriptions are the ``--help`` text of ``ftdata train`` / ``ftdata eval`` and
document the YAML a ``--config`` file may hold. Library functions receive plain values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ftdata.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainConfig(_Model):
    """How to fine-tune (both methods)."""

    max_steps: int = Field(-1, description="Optimizer steps; -1 = run `epochs` epochs.")
    epochs: float = Field(1.0, gt=0, description="Passes over the train split (when max_steps is -1).")
    lr: float = Field(5e-5, gt=0, description="Peak learning rate (linear decay after warmup).")
    batch_size: int = Field(8, gt=0, description="Rows per device per step.")
    grad_accum: int = Field(1, gt=0, description="Gradient accumulation steps.")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Share of steps spent warming up the learning rate.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    seed: int = Field(0, description="Seed for shuffling, dropout and initialisation (LoRA's adapter weights): "
                                     "the same seed gives the same weights.")
    logging_steps: int = Field(10, gt=0, description="Log the loss every N steps.")
    group_by_length: bool = Field(
        False, description="Batch rows of similar length together (less padding, more tokens/s). Off by default: "
                           "where length predicts the label (spam is long) length-sorted batches are nearly one class "
                           "each and the model learns only the prior (SMS spam, bench/train.py --classification). "
                           "Turn it on for generation tasks whose lengths vary widely.")
    split: str = Field("train", description="Split to train on.")
    max_rows: int | None = Field(None, gt=0, description="Use only the first N rows of the split (smoke runs).")
    val_split: str = Field("validation", description="Split whose loss is measured during training ('none': no "
                                                     "validation). The default is skipped when the data has no such split.")
    val_every: float = Field(0.2, gt=0, description="Measure the validation loss every N optimizer steps; below 1, a "
                                                    "share of the run's steps (0.2: five times per run).")
    val_max_rows: int | None = Field(512, gt=0, description="Validation loss on the first N rows of the split only.")
    keep_best: bool = Field(False, description="Keep the weights of the validation step with the lowest loss, not "
                                               "the last step's (a checkpoint is saved at each validation).")
    bf16: bool = Field(False, description="bfloat16 mixed precision (GPUs that support it).")
    lora_r: int = Field(8, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(16, gt=0, description="LoRA scaling numerator (scale = alpha / r).")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: list[str] | None = Field(
        None, description="Module names LoRA adapts; default per architecture (see trainers.lora.DEFAULT_TARGETS).")

    @field_validator("val_every")
    @classmethod
    def _steps_or_share(cls, v: float) -> float:
        if v >= 1 and v != int(v):
            raise ValueError("a number of steps (a whole number) or a share of the run below 1")
        return int(v) if v >= 1 else v

    @property
    def validates(self) -> bool:
        return self.val_split.lower() != "none"


class EvalConfig(_Model):
    """How to evaluate: generation settings and few-shot prompts."""

    split: str = Field("test", description="Split to evaluate.")
    shots: int = Field(0, ge=0, description="Solved train examples prepended to each prompt (in-context learning).")
    shot_separator: str = Field("\n\n", description="Text between few-shot exemplars and the prompt.")
    max_new_tokens: int = Field(64, gt=0, description="Longest generated completion.")
    num_beams: int = Field(1, gt=0, description="Beam search width (1 = greedy).")
    do_sample: bool = Field(False, description="Sample instead of greedy/beam search.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature (with do_sample).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass (with do_sample).")
    repetition_penalty: float = Field(1.0, gt=0, description="Penalty on repeated tokens (1 = none).")
    batch_size: int = Field(16, gt=0, description="Prompts per generation / scoring batch.")
    max_rows: int | None = Field(None, gt=0, description="Evaluate only the first N rows per task.")
    length_normalize: bool = Field(False, description="Rank answer choices by mean, not summed, token log-likelihood.")
    seed: int = Field(0, description="Seed for few-shot exemplar choice and sampling.")

    def generation_kwargs(self) -> dict:
        kw = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams, "do_sample": self.do_sample,
              "repetition_penalty": self.repetition_penalty}
        if self.do_sample:
            kw |= {"temperature": self.temperature, "top_p": self.top_p}
        return kw


Method = Literal["full", "lora"]


def parse_config(cls, values: dict, file: str = "<options>"):
    """Validate ``values`` into ``cls``; every problem at once as a ConfigError."""
    try:
        return cls(**values)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e["loc"])
            problems.append(f"{file}: {loc}: {e['msg']}; found {e.get('input')!r}")
        raise ConfigError(problems, file) from None


def load_config_file(path: str | Path | None) -> dict:
    """Read a YAML settings file (a mapping) or return ``{}``."""
    if path is None:
        return {}
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of settings, found {type(data).__name__}"], str(path))
    return data
