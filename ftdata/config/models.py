"""The recipe's schema: the pydantic models of a recipe and each of its sections.

Each field with its type, default, bounds and description; a section's own rules are its
validators, the rules between sections are :func:`~ftdata.config.rules.cross_field`, run by
:class:`Recipe`'s validator. Loading and the checks against the file system and the tokenizer
are in :mod:`~ftdata.config.recipe`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from ..constants import SPLIT_PRIORITY
from ..errors import did_you_mean
from ..templating.limits import RenderLimits
from .rules import DEFER, cross_field, raise_all, rule

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "arrow", "txt", "hf")


def check_license_id(v: str | None) -> str | None:
    """A license is one identifier (SPDX or the Hub's, e.g. apache-2.0, cc-by-4.0, other): no spaces."""
    if v is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+_-]*", v):
        raise ValueError(f"license {v!r} is not a license identifier; give one id such as apache-2.0, "
                         "cc-by-4.0, mit or other (letters, digits, '.', '+', '-', '_'; no spaces)")
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnSpec(_Model):
    """Type and constraints of one column; a row that fails goes to rejects."""

    type: Literal["str", "int", "float", "bool", "list", "any"] = Field("str", description="Value type; strings from CSV are converted.")
    required: bool = Field(True, description="A missing or empty value is a reject.")
    min: float | None = Field(None, description="Smallest allowed number.")
    max: float | None = Field(None, description="Largest allowed number.")
    min_length: int | None = Field(None, description="Shortest allowed string (after stripping).")
    max_length: int | None = Field(None, description="Longest allowed string, in characters.")
    choices: list[Any] | None = Field(None, description="Allowed values.")


class CsvOptions(_Model):
    """How to parse CSV/TSV sources."""

    delimiter: str | None = Field(None, description="Field separator; default ',' for csv and TAB for tsv.")
    quoting: Literal["minimal", "none"] = Field("minimal", description="'none' for files with stray quotes (e.g. SMS spam).")
    header: bool = Field(True, description="First line holds column names.")
    columns: list[str] | None = Field(None, description="Column names when there is no header.")

    @model_validator(mode="after")
    def _named(self):
        errors, cols = [], self.columns
        if not self.header and not cols:
            errors.append(rule(("columns",), "header: false needs columns: [name, ...] to name "
                                "the columns, found none; set csv.columns (or header: true)", cols))
        dups = sorted({c for c in cols or [] if cols.count(c) > 1})
        if dups:
            names = ", ".join(repr(d) for d in dups)
            errors.append(rule(("columns",), f"names column(s) {names} more than once; give each "
                                "column its own name", cols))
        raise_all("CsvOptions", errors)
        return self


def _hf_needs_hub(fmt: str | None, path: str | None) -> list[InitErrorDetails]:
    """format 'hf' is read with datasets.load_dataset from the Hub; a local path has another one."""
    if fmt == "hf" and path is not None:
        return [rule(("format",), f"format 'hf' reads a Hub dataset and needs 'hub', found path "
                      f"{path!r}; remove format (it is guessed from the extension) or name the "
                      "file's format", fmt)]
    return []


class HubSource(_Model):
    """A Hugging Face Hub dataset, read with datasets.load_dataset (needs network)."""

    path: str = Field(description="Dataset name on the Hub, e.g. 'knkarthick/dialogsum'.")
    name: str | None = Field(None, description="Configuration (subset) name.")
    split: str = Field("train", description="Split to read.")
    revision: str | None = Field(None, description="Git revision to pin.")


class TemplateRef(_Model):
    """Which templates of a file apply to a source."""

    file: str = Field(description="Template YAML file (promptsource or native form), relative to the recipe.")
    names: list[str] | None = Field(None, description="Template names or ids to use; default all in the file.")
    ids: list[str] | None = Field(None, description="Template ids to use (matched against ids only).")
    original_task: bool | None = Field(
        None, description="true: only templates performing the dataset's original task; false: only the others.")
    metrics: list[str] | None = Field(None, description="Only templates naming at least one of these metrics (e.g. [ROUGE]).")
    mode: Literal["all", "round_robin", "random"] = Field(
        "all", description="How rows meet these templates: all (every template renders every row), round_robin "
                           "(one per row, in turn) or random (one per row, seeded by seed and row key).")
    truncate: str | None = Field(
        None, description="Field to shorten by tokens so the example fits max_length (overrides the template's "
                          "own 'truncate'); the completion is never shortened.")


class SourceSpec(_Model):
    """One input dataset."""

    name: str = Field(description="Short name used as the task name in the output.")
    path: str | None = Field(None, description="Local file or folder, relative to the recipe.")
    hub: HubSource | None = Field(None, description="Hub dataset instead of a local path.")
    format: Literal["jsonl", "json", "csv", "tsv", "parquet", "arrow", "txt", "hf"] | None = Field(
        None, description="Input format; guessed from the extension when absent (txt: one row per non-blank line, "
                          "column 'text').")
    csv: CsvOptions = Field(default_factory=CsvOptions, description="CSV/TSV parsing options.")
    key: str | None = Field(None, description="Column with a stable row id; '@line' for the line number; default a hash of the row's content.")
    rename: dict[str, str] = Field(default_factory=dict, description="Column renames, old: new.")
    columns: dict[str, ColumnSpec] = Field(default_factory=dict, description="Row schema: column -> type and constraints.")
    templates: list[TemplateRef] = Field(
        default_factory=list, description="Templates that apply to this source (at least one, except with layout: "
                                          "text, where a source without templates contributes its column 'text').")
    split: str | None = Field(None, description="Put every row of this source in this split (keep the source's own split).")
    task: str | None = Field(None, description="Task name; default the source name.")
    license: str | None = Field(None, description="License of this source's rows (SPDX id such as cc-by-4.0), for the dataset card.")
    citation: str | None = Field(None, description="How to cite this source (BibTeX or one sentence), for the dataset card.")

    @field_validator("license")
    @classmethod
    def _license_id(cls, v: str | None):
        return check_license_id(v)

    @field_validator("citation")
    @classmethod
    def _citation_text(cls, v: str | None):
        if v is not None and not v.strip():
            raise ValueError("citation is empty; give a BibTeX entry or a sentence, or leave citation out")
        return v

    @model_validator(mode="after")
    def _one_origin(self):
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of 'path' or 'hub'")
        raise_all("SourceSpec", _hf_needs_hub(self.format, self.path))
        return self

    @property
    def task_name(self) -> str:
        return self.task or self.name


class SplitSpec(_Model):
    """How rows are assigned to splits: by a hash of a stable key, seeded."""

    ratios: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1},
        description="Split name -> fraction; must sum to 1.")
    group_by: str | None = Field(None, description="Column whose value keeps rows together in one split (e.g. ProductId).")
    mode: Literal["ratio", "group", "stratify", "source"] | None = Field(
        None, description="ratio: hash of the row key; group: hash of group_by; stratify: exact ratios within each "
                          "value of stratify_by; source: keep the source's own split names (default: group when "
                          "group_by is set, else ratio).")
    stratify_by: str | None = Field(None, description="Label column whose values each get the ratios exactly (mode stratify).")

    @model_validator(mode="after")
    def _mode(self):
        if self.mode is None:
            self.mode = "stratify" if self.stratify_by else "group" if self.group_by else "ratio"
        errors, mode = [], self.mode
        if mode == "group" and not self.group_by:
            errors.append(rule(("group_by",), "mode 'group' needs group_by (the column that keeps "
                                "rows together); set group_by or another mode", None))
        if mode == "stratify" and not self.stratify_by:
            errors.append(rule(("stratify_by",), "mode 'stratify' needs stratify_by (the label "
                                "column); set stratify_by or another mode", None))
        if self.group_by and mode not in ("group",):
            errors.append(rule(("group_by",), "group_by is only used with mode 'group', found "
                                f"mode '{mode}'; remove group_by or set mode: group",
                                self.group_by))
        if self.stratify_by and mode != "stratify":
            errors.append(rule(("stratify_by",), "stratify_by is only used with mode 'stratify', "
                                f"found mode '{mode}'; remove stratify_by or set mode: stratify",
                                self.stratify_by))
        raise_all("SplitSpec", errors)
        return self

    @field_validator("ratios")
    @classmethod
    def _sum_to_one(cls, v: dict[str, float]):
        if not v:
            raise ValueError("at least one split is needed")
        known = SPLIT_PRIORITY  # the split names a build gives a meaning to
        errors = [rule((name,), f"unknown split name '{name}'{did_you_mean(name, known)}; "
                        f"expected one of {', '.join(known)}", r)
                  for name, r in v.items() if name not in known]
        if any(r < 0 for r in v.values()):
            errors.append(rule((), f"ratios must be >= 0, found {v}", v))
        if abs(sum(v.values()) - 1.0) > 1e-6:
            errors.append(rule((), f"ratios must sum to 1, found sum {sum(v.values()):g} in {v}",
                                v))
        raise_all("SplitSpec", errors)
        return v


class DedupSpec(_Model):
    """Duplicate removal; removed examples go to rejects naming the copy that stays."""

    exact: bool = Field(True, description="Reject exact duplicates of normalised (prompt, completion).")
    near: bool = Field(False, description="Also reject near-duplicates (MinHash over word shingles + LSH).")
    threshold: float = Field(0.8, gt=0, le=1, description="Estimated Jaccard similarity at which two examples are near-duplicates.")
    shingle_size: int = Field(3, ge=1, le=32, description="Words per shingle for near-duplicate detection.")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations (signature length).")


class MixtureSpec(_Model):
    """How tasks are mixed in the sampled splits (FLAN / seqio style rates)."""

    method: Literal["weights", "proportional", "temperature"] = Field(
        "proportional", description="weights: the given weights; proportional: rate = min(examples, cap); "
                                    "temperature: proportional rates raised to 1/temperature.")
    weights: dict[str, float] = Field(default_factory=dict, description="Task -> weight (method weights).")
    cap: int | None = Field(None, gt=0, description="Largest number of examples a task counts with (proportional, temperature).")
    temperature: float = Field(1.0, gt=0, description="Temperature T (method temperature): rate**(1/T); larger T flattens the mixture.")
    size: int | None = Field(None, gt=0, description="Examples wanted in a sampled split; default the largest size that keeps "
                                                      "the rates exactly without repeating an example.")
    splits: list[str] = Field(default_factory=lambda: ["train"], description="Splits that are sampled; the others keep every task whole.")

    @model_validator(mode="after")
    def _check(self):
        errors, w = [], self.weights
        if self.method == "weights" and not w:
            errors.append(rule(("weights",), "method 'weights' needs weights: {task: weight, ...}",
                                w))
        if any(x < 0 for x in w.values()):
            errors.append(rule(("weights",), f"weights must be >= 0, found {w}", w))
        if w and self.method != "weights":
            errors.append(rule(("weights",), "weights are only used with method 'weights', found "
                                f"method '{self.method}'; remove weights or set method: weights",
                                w))
        raise_all("MixtureSpec", errors)
        return self


class EvalSetSpec(_Model):
    """An external evaluation set checked for overlap with the compiled train split."""

    name: str = Field(description="Name shown in the report.")
    path: str = Field(description="File with the evaluation rows (jsonl, json, csv, tsv, parquet), relative to the recipe.")
    format: Literal["jsonl", "json", "csv", "tsv", "parquet", "arrow", "hf"] | None = Field(None, description="Input format; guessed from the extension.")
    csv: CsvOptions = Field(default_factory=CsvOptions, description="CSV/TSV parsing options.")
    columns: list[str] = Field(min_length=1, description="Text columns to check (each counts as one text).")

    @model_validator(mode="after")
    def _local(self):
        raise_all("EvalSetSpec", _hf_needs_hub(self.format, self.path))
        return self


class ContaminationSpec(_Model):
    """n-gram overlap of evaluation data with the training data."""

    ngram: int = Field(8, ge=1, le=50, description="Words per n-gram.")
    min_overlap: float = Field(0.5, gt=0, le=1, description="An example is contaminated when at least this share of its n-grams occurs in train.")
    eval_sets: list[EvalSetSpec] = Field(default_factory=list, description="External evaluation sets to check against train.")
    fail_above: float | None = Field(None, ge=0, le=1, description="Fail the build when any checked set has a larger contaminated share.")


#: The conversation column each chat input format reads by default (``auto`` reads the OpenAI name).
CONVERSATION_COLUMN = {"openai": "messages", "sharegpt": "conversations", "auto": "messages"}


class ChatSpec(_Model):
    """Chat layout: examples rendered as conversations with the tokenizer's chat template."""

    enabled: bool = Field(True, description="Render examples as chat messages (system / user / assistant).")
    system: str | None = Field(None, description="System message put before each conversation that has none.")
    messages_column: str | None = Field(
        None, description="Column holding a whole conversation [{role, content}, ...]; templates are then not used.")
    format: Literal["openai", "sharegpt", "auto"] | None = Field(
        None, description="Conversation input format: openai (messages: role/content/tool_calls), sharegpt "
                          "(conversations: from/value), auto (by the keys); setting it reads conversations "
                          "(default column messages, or conversations for sharegpt) instead of templates.")
    tools_column: str | None = Field(
        None, description="Column holding the conversation's tool schemas (a list or its JSON text); default: "
                          "a 'tools' column when the row has one.")
    train_on: Literal["last", "all"] = Field("last", description="Train the last assistant turn or all of them.")
    template: str | None = Field(None, description="Jinja chat template to use instead of the tokenizer's own.")
    # policy fields: what to train in a conversation (README "Chat policies")
    train_roles: list[Literal["system", "user", "assistant", "tool"]] = Field(
        default_factory=lambda: ["assistant"], min_length=1,
        description="Roles whose turns are trained (train_on picks the last or all of them); an assistant "
                    "turn's tool calls are trained with it.")
    reasoning: Literal["train", "mask"] | None = Field(
        None, description="Train the reasoning (reasoning_content / thinking) the template prints, with its "
                          "tags (train, the default), or mask it (mask).")
    empty_think: Literal["train", "mask"] = Field(
        "mask", description="An empty <think></think> block the template prints before a trained turn's "
                            "content: train it with the turn, or mask it (default).")
    end_of_turn: Literal["eot", "eos", "none"] = Field(
        "eot", description="eot: train the template's end-of-turn token (and, with add_eos, an EOS after a last "
                           "turn that has none); eos: train the tokenizer's EOS instead (appended after the last "
                           "turn); none: train neither (counted as eos_untrained).")
    template_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra variables passed to the chat template (enable_thinking, "
                                          "reasoning_effort, ...).")
    channels: list[Literal["analysis", "commentary", "final"]] | None = Field(
        None, description="Harmony-style templates: the channels to train, e.g. [final] or [analysis, final] "
                          "(analysis is the reasoning; commentary, the tool calls, is trained with the turn).")
    parity: Literal["last", "all", "off"] = Field(
        "last", description="Train/serve parity check: the serving prompt of the last trained turn (last), of "
                            "every trained turn (all; one render per turn), or none (off).")

    @model_validator(mode="after")
    def _policy(self):
        errors = []
        if self.channels is not None:
            if "final" not in self.channels:
                errors.append(rule(("channels",), "channels must include 'final' (the answer), found "
                                   f"{self.channels}; e.g. [final] or [analysis, final]", self.channels))
            implied = "train" if "analysis" in self.channels else "mask"
            if self.reasoning is not None and self.reasoning != implied:
                errors.append(rule(("reasoning",), f"reasoning: {self.reasoning} contradicts channels "
                                   f"{self.channels} (analysis is the reasoning channel); set one of them",
                                   self.reasoning))
        reserved = sorted({"messages", "tools", "documents", "add_generation_prompt"} & set(self.template_kwargs))
        if reserved:
            errors.append(rule(("template_kwargs",), f"template_kwargs may not set {', '.join(reserved)} "
                               "(ftdata passes them); remove them", reserved))
        raise_all("ChatSpec", errors)
        return self

    @model_validator(mode="after")
    def _format_reads_a_column(self):
        if self.format is not None and self.messages_column is None:
            self.messages_column = CONVERSATION_COLUMN[self.format]
        return self


class Recipe(_Model):
    """A compile recipe."""

    name: str = Field(description="Dataset name; the default output is out/<name>.")
    output: str | None = Field(None, description="Output directory, relative to the recipe.")
    seed: int = Field(0, description="Seed for splits and template randomness.")
    sources: list[SourceSpec] = Field(min_length=1, description="Input datasets.")
    split: SplitSpec = Field(default_factory=SplitSpec, description="Split assignment.")
    tokenizer: str = Field("ftdata:tiny-bpe", description="Tokenizer: local path, hub name, or 'ftdata:tiny-bpe'.")
    layout: Literal["causal", "seq2seq", "text"] = Field(
        "causal", description="causal: one sequence; seq2seq: input_ids=prompt, labels=completion; text: raw text "
                              "(pretraining), every token trained, packed into max_length rows.")
    separator: str = Field(" ", description="Text joining prompt and completion in the causal layout; it is trained with the completion.")
    max_length: int = Field(1024, gt=1, description="Longest example in tokens (including EOS).")
    overflow: Literal["drop", "truncate_prompt", "error"] = Field(
        "drop", description="Too long: drop (to rejects), truncate_prompt (cut the prompt's middle; never the completion), or error.")
    add_eos: bool = Field(True, description="Append the tokenizer's EOS token after the completion and train it.")
    dedup: DedupSpec = Field(default_factory=DedupSpec, description="Duplicate removal; true/false switches exact dedup.")
    mixture: MixtureSpec | None = Field(None, description="Mixing rates of tasks in the train split; default every example.")
    contamination: ContaminationSpec | None = Field(
        None, description="n-gram overlap report (held-out splits and external eval sets vs train); {} for the defaults.")

    @field_validator("dedup", mode="before")
    @classmethod
    def _dedup_bool(cls, v):
        return {"exact": v, "near": False} if isinstance(v, bool) else v
    batch_size: int = Field(1000, gt=0, description="Rows per chunk at most (a JSON Lines chunk is also cut "
                            "after 1 MiB of row text, finer in the file's last 4 MiB: "
                            "ftdata.read.ranges.line_ranges).")
    shard_size: int = Field(100_000, gt=0, description="Maximum examples per Arrow shard.")
    cache_dir: str | None = Field(
        None, description="Folder for cached chunk results (incremental rebuilds); default $FTDATA_CACHE_DIR, "
                          "else .<output name>.cache beside the output.")
    license: str | None = Field(None, description="License of the compiled data, for the dataset card.")

    @field_validator("license")
    @classmethod
    def _license_id(cls, v: str | None):
        return check_license_id(v)
    shots: int = Field(0, ge=0, description="Few-shot: prepend this many solved exemplars drawn (seeded) from the "
                                            "same source's train split, dropped when they would pass max_length.")
    shot_separator: str = Field("\n\n", description="Text between few-shot exemplars and before the row's prompt.")
    render_limits: RenderLimits = Field(
        default_factory=RenderLimits,
        description="Per-example bounds on rendering templates (time, output size, calls); over a limit is a reject.")
    chat: ChatSpec | None = Field(None, description="Chat layout (causal models): render through the tokenizer's chat template.")
    special_tokens_in_data: Literal["text", "control"] = Field(
        "text", description="Special-token strings (e.g. '<|im_end|>') inside raw data: encode as plain text, or as control tokens.")
    packing: bool = Field(False, description="Pack examples into max_length rows (best-fit decreasing) with "
                                             "position_ids restarting per document and seq_lengths.")
    max_reject_share: float = Field(
        0.5, ge=0, le=1,
        description="Fail the build when a source loses more than this share of its examples to rejects (a row "
                    "rejected when read counts for every example it would have made; duplicates removed by dedup "
                    "and the mixture's sampling do not count). 1 allows any share; a source with no usable row, "
                    "an empty split or an empty output fails whatever this is.")

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo):
        """Rules between fields, all problems at once (into the context's list when it has one)."""
        errors = cross_field(self)
        deferred = (info.context or {}).get(DEFER)
        if deferred is not None:
            deferred.extend(errors)
        else:
            raise_all("Recipe", errors)
        return self

    def output_dir(self, base: Path) -> Path:
        return (base / (self.output or f"out/{self.name}")).resolve()

    @property
    def chat_on(self) -> bool:
        """A chat build: ``chat`` is given and enabled (examples are rendered as messages)."""
        return self.chat is not None and self.chat.enabled

    @property
    def conversations(self) -> bool:
        """A chat build reading whole conversations from ``chat.messages_column``: one example per row."""
        return self.chat_on and bool(self.chat.messages_column)


def recipe_hash(recipe: Recipe) -> str:
    """Content hash of the validated recipe (normalised, so comments and order do not count)."""
    # the output location, the batch size and the cache folder do not change the content, so they are not part
    # of the hash (builds with different batch sizes are byte-identical); nor does max_reject_share, which only
    # decides whether the build fails
    dump = recipe.model_dump(mode="json", exclude={"output", "batch_size", "cache_dir", "max_reject_share"})
    for src in dump["sources"]:  # a source without a citation hashes as before the field existed
        if src.get("citation") is None:
            src.pop("citation", None)
    blob = json.dumps(dump, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()
