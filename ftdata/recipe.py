"""The recipe: one YAML file that says what to compile, validated once by pydantic.

``load_recipe`` gathers every problem at once (pydantic's errors plus checks that need the
file system: missing sources, unknown templates, unknown template variables) and raises a
single :class:`~ftdata.errors.ConfigError` whose lines name the YAML path, what was expected
and what was found.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError, TemplateError, did_you_mean
from .limits import RenderLimits
from .yamlio import load_yaml

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "arrow", "hf")


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
    format: Literal["jsonl", "json", "csv", "tsv", "parquet", "arrow", "hf"] | None = Field(
        None, description="Input format; guessed from the extension when absent.")
    csv: CsvOptions = Field(default_factory=CsvOptions, description="CSV/TSV parsing options.")
    key: str | None = Field(None, description="Column with a stable row id; '@line' for the line number; default a hash of the row's content.")
    rename: dict[str, str] = Field(default_factory=dict, description="Column renames, old: new.")
    columns: dict[str, ColumnSpec] = Field(default_factory=dict, description="Row schema: column -> type and constraints.")
    templates: list[TemplateRef] = Field(description="Templates that apply to this source.")
    split: str | None = Field(None, description="Put every row of this source in this split (keep the source's own split).")
    task: str | None = Field(None, description="Task name; default the source name.")
    license: str | None = Field(None, description="License of this source's rows (SPDX id such as cc-by-4.0), for the dataset card.")

    @model_validator(mode="after")
    def _one_origin(self):
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of 'path' or 'hub'")
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
        if self.mode == "group" and not self.group_by:
            raise ValueError("mode 'group' needs group_by (the column that keeps rows together)")
        if self.mode == "stratify" and not self.stratify_by:
            raise ValueError("mode 'stratify' needs stratify_by (the label column)")
        if self.group_by and self.mode not in ("group",):
            raise ValueError(f"group_by is only used with mode 'group', found mode '{self.mode}'")
        if self.stratify_by and self.mode != "stratify":
            raise ValueError(f"stratify_by is only used with mode 'stratify', found mode '{self.mode}'")
        return self

    @field_validator("ratios")
    @classmethod
    def _sum_to_one(cls, v: dict[str, float]):
        if not v:
            raise ValueError("at least one split is needed")
        if any(r < 0 for r in v.values()):
            raise ValueError(f"ratios must be >= 0, found {v}")
        if abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError(f"ratios must sum to 1, found sum {sum(v.values()):g}")
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
        if self.method == "weights" and not self.weights:
            raise ValueError("method 'weights' needs weights: {task: weight, ...}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError(f"weights must be >= 0, found {self.weights}")
        if self.weights and self.method != "weights":
            raise ValueError(f"weights are only used with method 'weights', found method '{self.method}'")
        return self


class EvalSetSpec(_Model):
    """An external evaluation set checked for overlap with the compiled train split."""

    name: str = Field(description="Name shown in the report.")
    path: str = Field(description="File with the evaluation rows (jsonl, json, csv, tsv, parquet), relative to the recipe.")
    format: Literal["jsonl", "json", "csv", "tsv", "parquet", "arrow", "hf"] | None = Field(None, description="Input format; guessed from the extension.")
    csv: CsvOptions = Field(default_factory=CsvOptions, description="CSV/TSV parsing options.")
    columns: list[str] = Field(min_length=1, description="Text columns to check (each counts as one text).")


class ContaminationSpec(_Model):
    """n-gram overlap of evaluation data with the training data."""

    ngram: int = Field(8, ge=1, le=50, description="Words per n-gram.")
    min_overlap: float = Field(0.5, gt=0, le=1, description="An example is contaminated when at least this share of its n-grams occurs in train.")
    eval_sets: list[EvalSetSpec] = Field(default_factory=list, description="External evaluation sets to check against train.")
    fail_above: float | None = Field(None, ge=0, le=1, description="Fail the build when any checked set has a larger contaminated share.")


class ChatSpec(_Model):
    """Chat layout: examples rendered as conversations with the tokenizer's chat template."""

    enabled: bool = Field(True, description="Render examples as chat messages (system / user / assistant).")
    system: str | None = Field(None, description="System message put before each conversation that has none.")
    messages_column: str | None = Field(
        None, description="Column holding a whole conversation [{role, content}, ...]; templates are then not used.")
    train_on: Literal["last", "all"] = Field("last", description="Train the last assistant turn or all of them.")
    template: str | None = Field(None, description="Jinja chat template to use instead of the tokenizer's own.")


class Recipe(_Model):
    """A compile recipe."""

    name: str = Field(description="Dataset name; the default output is out/<name>.")
    output: str | None = Field(None, description="Output directory, relative to the recipe.")
    seed: int = Field(0, description="Seed for splits and template randomness.")
    sources: list[SourceSpec] = Field(min_length=1, description="Input datasets.")
    split: SplitSpec = Field(default_factory=SplitSpec, description="Split assignment.")
    tokenizer: str = Field("ftdata:tiny-bpe", description="Tokenizer: local path, hub name, or 'ftdata:tiny-bpe'.")
    layout: Literal["causal", "seq2seq"] = Field("causal", description="causal: one sequence; seq2seq: input_ids=prompt, labels=completion.")
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
    batch_size: int = Field(1000, gt=0, description="Rows per batch.")
    shard_size: int = Field(100_000, gt=0, description="Maximum examples per Arrow shard.")
    cache_dir: str | None = Field(
        None, description="Folder for cached chunk results (incremental rebuilds); default $FTDATA_CACHE_DIR, "
                          "else .<output name>.cache beside the output.")
    license: str | None = Field(None, description="License of the compiled data, for the dataset card.")
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

    def output_dir(self, base: Path) -> Path:
        return (base / (self.output or f"out/{self.name}")).resolve()


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _pydantic_problems(exc: ValidationError, file: str) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = _format_loc(err["loc"])
        found = err.get("input")
        found_s = json.dumps(found, default=str)[:80] if err["type"] != "missing" else "nothing"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            field_name = str(err["loc"][-1])
            # suggest the closest known field of the model at this location
            msg = f"unknown field '{field_name}'"
        problems.append(f"{file}: {loc}: {msg}; found {found_s}")
    return problems


def _suggest_fields(data: Any, problems: list[str]) -> list[str]:
    """Add did-you-mean for unknown fields at the top level and in sources."""
    out = []
    known_top = set(Recipe.model_fields)
    known_src = set(SourceSpec.model_fields)
    for p in problems:
        if "unknown field '" in p:
            name = p.split("unknown field '")[1].split("'")[0]
            cands = known_src if ".sources[" in p or p.split(": ")[1].startswith("sources[") else known_top
            p = p.replace(f"unknown field '{name}'", f"unknown field '{name}'{did_you_mean(name, cands)}")
        out.append(p)
    return out


def parse_recipe(data: Any, file: str = "<recipe>") -> Recipe:
    """Validate parsed YAML into a Recipe, reporting every schema problem at once."""
    if not isinstance(data, dict):
        raise ConfigError([f"{file}: expected a mapping at the top level, found {type(data).__name__}"], file)
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_suggest_fields(data, _pydantic_problems(exc, file)), file) from None


def resolve_path(base: Path, p: str) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else (base / path)


def load_recipe(path: str | Path, *, check_files: bool = True) -> tuple[Recipe, Path]:
    """Load, validate and cross-check a recipe file. Returns (recipe, base directory)."""
    path = Path(path)
    recipe = parse_recipe(load_yaml(path), str(path))
    base = path.resolve().parent
    if check_files:
        problems = check_recipe(recipe, base, str(path))
        if problems:
            raise ConfigError(problems, str(path))
    return recipe, base


def check_recipe(recipe: Recipe, base: Path, file: str) -> list[str]:
    """Problems that need the file system: sources, templates and their variables."""
    from .selection import choose_ref
    from .sources import guess_format, peek_columns
    from .templates import load_templates

    problems: list[str] = []
    names = [s.name for s in recipe.sources]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.append(f"{file}: sources: duplicate source name '{dup}'")
    if recipe.shots and recipe.split.mode == "stratify":
        problems.append(f"{file}: shots: few-shot exemplars come from train rows known before rendering; "
                        "split mode 'stratify' decides splits over all rows at once: use mode ratio or group")
    if recipe.shots and "train" not in recipe.split.ratios:
        problems.append(f"{file}: shots: exemplars come from the split named 'train', found splits "
                        f"{', '.join(recipe.split.ratios)}")
    seen_columns: set[str] = set()
    all_known = True
    for i, src in enumerate(recipe.sources):
        where = f"{file}: sources[{i}]"
        columns: list[str] | None = None
        if src.path is not None:
            p = resolve_path(base, src.path)
            if not p.exists():
                problems.append(f"{where}.path: file not found: {p}")
            else:
                try:
                    fmt = src.format or guess_format(p)
                    columns = peek_columns(p, fmt, src)
                except Exception as exc:  # noqa: BLE001 - reported as a problem
                    problems.append(f"{where}.path: cannot read {p}: {exc}")
        else:
            from .hub import hub_source_problem

            problem = hub_source_problem(src.hub, f"{where}.hub (source '{src.name}')")
            if problem:
                problems.append(problem)
        if src.split is not None and src.split not in recipe.split.ratios and recipe.split.ratios:
            pass  # a source-pinned split may name any split
        for j, ref in enumerate(src.templates):
            tp = resolve_path(base, ref.file)
            try:
                chosen = choose_ref(load_templates(tp), ref, str(tp))
            except ConfigError as exc:
                problems.extend(f"{where}.templates[{j}]: {p}" for p in exc.problems)
                continue
            except TemplateError as exc:
                problems.append(f"{where}.templates[{j}]: {exc}")
                continue
            if columns is not None:
                cols = [src.rename.get(c, c) for c in columns]
                for t in chosen:
                    try:
                        problems.extend(f"{where}.templates[{j}]: {p}" for p in t.check_columns(cols))
                    except TemplateError as exc:
                        problems.append(f"{where}.templates[{j}]: {exc}")
                if ref.truncate and ref.truncate not in cols:
                    problems.append(f"{where}.templates[{j}].truncate: column '{ref.truncate}' not in source"
                                    f"{did_you_mean(ref.truncate, cols)}; available: {', '.join(cols)}")
        if src.key and src.key != "@line" and columns is not None:
            cols = [src.rename.get(c, c) for c in columns]
            if src.key not in cols:
                problems.append(f"{where}.key: column '{src.key}' not in source{did_you_mean(src.key, cols)}; available: {', '.join(cols)}")
        if recipe.split.group_by and columns is not None:
            cols = [src.rename.get(c, c) for c in columns]
            if recipe.split.group_by not in cols:
                problems.append(f"{file}: split.group_by: column '{recipe.split.group_by}' not in source '{src.name}'{did_you_mean(recipe.split.group_by, cols)}")
        if recipe.split.stratify_by and columns is not None:
            seen_columns.update(src.rename.get(c, c) for c in columns)
        elif recipe.split.stratify_by:
            all_known = False
    strat = recipe.split.stratify_by
    # a source without the label column is one stratum of its own; no source having it is a mistake
    if strat and all_known and strat not in seen_columns:
        problems.append(f"{file}: split.stratify_by: column '{strat}' is in no source{did_you_mean(strat, sorted(seen_columns))}")
    problems += _check_mix_and_eval(recipe, base, file)
    return problems


def _check_mix_and_eval(recipe: Recipe, base: Path, file: str) -> list[str]:
    """Mixture weights must name known tasks; evaluation sets must exist and hold their columns."""
    from .sources import guess_format, peek_columns

    problems = []
    tasks = sorted({s.task_name for s in recipe.sources})
    mix = recipe.mixture
    if mix is not None and mix.method == "weights":
        for t in mix.weights:
            if t not in tasks:
                problems.append(f"{file}: mixture.weights: unknown task '{t}'{did_you_mean(t, tasks)}; tasks: {', '.join(tasks)}")
        for t in tasks:
            if t not in mix.weights:
                problems.append(f"{file}: mixture.weights: no weight for task '{t}' (give 0 to leave it out of the mixture)")
    for i, ev in enumerate(recipe.contamination.eval_sets if recipe.contamination else []):
        p = resolve_path(base, ev.path)
        if not p.exists():
            problems.append(f"{file}: contamination.eval_sets[{i}].path: file not found: {p}")
            continue
        try:
            cols = peek_columns(p, ev.format or guess_format(p), ev)
        except Exception as exc:  # noqa: BLE001 - reported as a problem
            problems.append(f"{file}: contamination.eval_sets[{i}].path: cannot read {p}: {exc}")
            continue
        for c in ev.columns:
            if cols is not None and c not in cols:
                problems.append(f"{file}: contamination.eval_sets[{i}].columns: column '{c}' not in {p.name}{did_you_mean(c, cols)}; available: {', '.join(cols)}")
    return problems


def recipe_hash(recipe: Recipe) -> str:
    """Content hash of the validated recipe (normalised, so comments and order do not count)."""
    # the output location, the batch size and the cache folder do not change the content, so they are not part
    # of the hash (builds with different batch sizes are byte-identical)
    blob = json.dumps(recipe.model_dump(mode="json", exclude={"output", "batch_size", "cache_dir"}), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()
