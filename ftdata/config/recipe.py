"""The recipe: one YAML file that says what to compile, validated once by pydantic.

``load_recipe`` gathers every problem at once (pydantic's errors, the rules between fields,
which live in the models' validators, and checks that need the file system or the tokenizer:
missing sources, unknown templates, unknown template variables, a missing EOS or chat template)
and raises a single :class:`~ftdata.errors.ConfigError` whose lines name the YAML path, what was
expected and what was found. ``ftdata validate`` and ``ftdata build`` both go through it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..constants import SPLIT_PRIORITY
from ..errors import BuildError, ConfigError, TemplateError, did_you_mean
from ..templating.limits import RenderLimits
from .paths import resolve_path
from .yamlio import load_yaml

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "arrow", "hf")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: pydantic error type of a rule's problem; its text already says what was expected and found.
RULE = "recipe_rule"
#: Validation context key: a list that collects the Recipe's cross-field problems instead of
#: raising them, so that checks needing the file system and the tokenizer still run.
_DEFER = "defer_rules"


def _rule(loc: tuple, text: str, found: Any, fields: tuple[str, ...] = ()) -> InitErrorDetails:
    """A rule's problem at ``loc`` (relative to the model); ``fields``: Recipe fields it reads."""
    ctx = {"problem": text, "fields": list(fields)}
    return InitErrorDetails(type=PydanticCustomError(RULE, "{problem}", ctx), loc=loc, input=found)


def _raise(model: str, errors: list[InitErrorDetails]) -> None:
    """Raise every problem of a validator at once (pydantic adds the field's path to each loc)."""
    if errors:
        raise ValidationError.from_exception_data(model, errors)


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
            errors.append(_rule(("columns",), "header: false needs columns: [name, ...] to name "
                                "the columns, found none; set csv.columns (or header: true)", cols))
        dups = sorted({c for c in cols or [] if cols.count(c) > 1})
        if dups:
            names = ", ".join(repr(d) for d in dups)
            errors.append(_rule(("columns",), f"names column(s) {names} more than once; give each "
                                "column its own name", cols))
        _raise("CsvOptions", errors)
        return self


def _hf_needs_hub(fmt: str | None, path: str | None) -> list[InitErrorDetails]:
    """format 'hf' is read with datasets.load_dataset from the Hub; a local path has another one."""
    if fmt == "hf" and path is not None:
        return [_rule(("format",), f"format 'hf' reads a Hub dataset and needs 'hub', found path "
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
        _raise("SourceSpec", _hf_needs_hub(self.format, self.path))
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
            errors.append(_rule(("group_by",), "mode 'group' needs group_by (the column that keeps "
                                "rows together); set group_by or another mode", None))
        if mode == "stratify" and not self.stratify_by:
            errors.append(_rule(("stratify_by",), "mode 'stratify' needs stratify_by (the label "
                                "column); set stratify_by or another mode", None))
        if self.group_by and mode not in ("group",):
            errors.append(_rule(("group_by",), "group_by is only used with mode 'group', found "
                                f"mode '{mode}'; remove group_by or set mode: group",
                                self.group_by))
        if self.stratify_by and mode != "stratify":
            errors.append(_rule(("stratify_by",), "stratify_by is only used with mode 'stratify', "
                                f"found mode '{mode}'; remove stratify_by or set mode: stratify",
                                self.stratify_by))
        _raise("SplitSpec", errors)
        return self

    @field_validator("ratios")
    @classmethod
    def _sum_to_one(cls, v: dict[str, float]):
        if not v:
            raise ValueError("at least one split is needed")
        known = SPLIT_PRIORITY  # the split names a build gives a meaning to
        errors = [_rule((name,), f"unknown split name '{name}'{did_you_mean(name, known)}; "
                        f"expected one of {', '.join(known)}", r)
                  for name, r in v.items() if name not in known]
        if any(r < 0 for r in v.values()):
            errors.append(_rule((), f"ratios must be >= 0, found {v}", v))
        if abs(sum(v.values()) - 1.0) > 1e-6:
            errors.append(_rule((), f"ratios must sum to 1, found sum {sum(v.values()):g} in {v}",
                                v))
        _raise("SplitSpec", errors)
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
            errors.append(_rule(("weights",), "method 'weights' needs weights: {task: weight, ...}",
                                w))
        if any(x < 0 for x in w.values()):
            errors.append(_rule(("weights",), f"weights must be >= 0, found {w}", w))
        if w and self.method != "weights":
            errors.append(_rule(("weights",), "weights are only used with method 'weights', found "
                                f"method '{self.method}'; remove weights or set method: weights",
                                w))
        _raise("MixtureSpec", errors)
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
        _raise("EvalSetSpec", _hf_needs_hub(self.format, self.path))
        return self


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
    max_reject_share: float = Field(
        0.5, ge=0, le=1,
        description="Fail the build when a source loses more than this share of its examples to rejects (a row "
                    "rejected when read counts for every example it would have made; duplicates removed by dedup "
                    "and the mixture's sampling do not count). 1 allows any share; a source with no usable row, "
                    "an empty split or an empty output fails whatever this is.")

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo):
        """Rules between fields, all problems at once (into the context's list when it has one)."""
        errors = _cross_field(self)
        deferred = (info.context or {}).get(_DEFER)
        if deferred is not None:
            deferred.extend(errors)
        else:
            _raise("Recipe", errors)
        return self

    def output_dir(self, base: Path) -> Path:
        return (base / (self.output or f"out/{self.name}")).resolve()


def _cross_field(r: Recipe) -> list[InitErrorDetails]:
    """Problems between the fields of a recipe whose fields are each valid, in a fixed order."""
    errors = []
    if r.packing and r.layout != "causal":
        errors.append(_rule(("packing",), "packed rows concatenate input_ids and labels of one "
                            "sequence and need layout: causal, found layout: "
                            f"{r.layout}; set layout: causal or packing: false", r.packing,
                            ("packing", "layout")))
    if r.chat and r.chat.enabled and r.layout != "causal":
        errors.append(_rule(("chat",), "the chat layout renders one sequence and needs layout: "
                            f"causal, found layout: {r.layout}; set layout: causal or "
                            "chat.enabled: false", r.chat.model_dump(exclude_defaults=True),
                            ("chat", "layout")))
    if r.shots and r.split.mode == "stratify":
        errors.append(_rule(("shots",), "few-shot exemplars come from train rows known before "
                            "rendering; split mode 'stratify' decides splits over all rows at "
                            "once: use mode ratio or group, or shots: 0", r.shots,
                            ("shots", "split")))
    if r.shots and "train" not in r.split.ratios:
        errors.append(_rule(("shots",), "exemplars come from the split named 'train', found splits "
                            f"{', '.join(r.split.ratios)}; add train to split.ratios or set "
                            "shots: 0", r.shots, ("shots", "split")))
    first: dict[str, int] = {}
    for i, src in enumerate(r.sources):
        if src.name in first:
            errors.append(_rule(("sources", i, "name"), f"duplicate source name '{src.name}' "
                                f"(first at sources[{first[src.name]}]); give each source its own "
                                "name", src.name, ("sources",)))
        first.setdefault(src.name, i)
    mix = r.mixture
    if mix is not None and mix.method == "weights":
        tasks = sorted({s.task_name for s in r.sources})
        reads = ("mixture", "sources")
        for t, w in mix.weights.items():
            if t not in tasks:
                errors.append(_rule(("mixture", "weights", t), f"unknown task '{t}'"
                                    f"{did_you_mean(t, tasks)}; tasks: {', '.join(tasks)}", w,
                                    reads))
        for t in tasks:
            if t not in mix.weights:
                errors.append(_rule(("mixture", "weights"), f"no weight for task '{t}' (give 0 to "
                                    "leave it out of the mixture)", mix.weights, reads))
    return errors


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _pydantic_problems(errors: list[dict], file: str) -> list[str]:
    problems = []
    for err in errors:
        loc = _format_loc(err["loc"])
        if err["type"] == RULE:  # the rule's text says what was expected and found, and the fix
            problems.append(f"{file}: {loc}: {err['msg']}")
            continue
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


def _validate(data: Any, file: str) -> tuple[Recipe | None, list[str]]:
    """The Recipe (None when a field is invalid) and every problem of the schema and its rules.

    A field that fails hides no rule between other fields: those are judged on the recipe
    without the failed fields (which take their defaults), leaving out rules that read one.
    """
    if not isinstance(data, dict):
        return None, [f"{file}: expected a mapping at the top level, found {type(data).__name__}"]
    rules: list[InitErrorDetails] = []
    try:
        recipe = Recipe.model_validate(data, context={_DEFER: rules})
    except ValidationError as exc:
        errors = exc.errors()
        failed = {e["loc"][0] for e in errors if e["loc"]}
        rest = {k: v for k, v in data.items() if k not in failed}
        try:
            Recipe.model_validate(rest, context={_DEFER: rules})
        except ValidationError:
            pass  # a required field failed: no recipe to judge the rules on
        errors += [e for e in _rule_errors(rules) if not failed & set(e["ctx"]["fields"])]
        return None, _suggest_fields(data, _pydantic_problems(errors, file))
    return recipe, _pydantic_problems(_rule_errors(rules), file)


def _rule_errors(rules: list[InitErrorDetails]) -> list[dict]:
    return ValidationError.from_exception_data("Recipe", rules).errors() if rules else []


def parse_recipe(data: Any, file: str = "<recipe>") -> Recipe:
    """Validate parsed YAML into a Recipe, reporting every schema and cross-field problem."""
    recipe, problems = _validate(data, file)
    if problems:
        raise ConfigError(problems, file)
    return recipe


def load_recipe(path: str | Path, *, check_files: bool = True) -> tuple[Recipe, Path]:
    """Load, validate and cross-check a recipe file. Returns (recipe, base directory)."""
    path = Path(path)
    base = path.resolve().parent
    return validate_recipe(load_yaml(path), base, str(path), check_files=check_files), base


def validate_recipe(data: Any, base: Path, file: str = "<recipe>", *,
                    check_files: bool = True) -> Recipe:
    """Validate parsed YAML (or a Recipe) and check it against the file system and its tokenizer.

    The one gate of ``ftdata validate`` and ``ftdata build``: raises a single
    :class:`~ftdata.errors.ConfigError` listing every problem, in a stable order (schema
    and rules between fields, then :func:`check_recipe`), or returns the Recipe.
    """
    if isinstance(data, Recipe):
        recipe, problems = data, []  # its rules held when it was made
    else:
        recipe, problems = _validate(data, file)
    if recipe is not None and check_files:
        problems += check_recipe(recipe, base, file)
    if problems:
        raise ConfigError(problems, file)
    return recipe


def check_tokenizer(recipe: Recipe, tok, file: str) -> list[str]:
    """Rules between the recipe and its tokenizer: an EOS token to append, a chat template."""
    problems, chat = [], recipe.chat
    if recipe.add_eos and tok.eos_token_id is None:
        problems.append(f"{file}: add_eos: tokenizer '{recipe.tokenizer}' has no EOS token; set "
                        "add_eos: false or pick another tokenizer")
    if chat and chat.enabled and not chat.template and not getattr(tok, "chat_template", None):
        problems.append(f"{file}: chat.template: tokenizer '{recipe.tokenizer}' has no chat "
                        "template; set chat.template or pick a tokenizer that has one")
    return problems


def check_recipe(recipe: Recipe, base: Path, file: str) -> list[str]:
    """Problems that need the file system or the tokenizer: sources, templates and their
    variables, evaluation sets, the tokenizer (:func:`check_tokenizer`), and templates that
    fail on every sampled row (:func:`ftdata.lint.preflight`, for sources with no other problem)."""
    from ..read.sources import guess_format, peek_columns
    from ..templating.preflight import preflight
    from ..templating.selection import choose_ref
    from ..templating.templates import load_templates
    from ..tokenize.tokenizer import load_tokenizer

    problems: list[str] = []
    seen_columns: set[str] = set()
    all_known = True
    # one id, one template: ids seed the random draws and key per-template caches and settings
    # (exemplar renders, field truncation), so two templates sharing one would mix silently
    by_id: dict[str, tuple[Path, str, str]] = {}
    clean = []  # sources with no problem, whose templates are tried on sample rows
    for i, src in enumerate(recipe.sources):
        where = f"{file}: sources[{i}]"
        before = len(problems)
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
            from ..read.hub import hub_source_problem

            problem = hub_source_problem(src.hub, f"{where}.hub (source '{src.name}')")
            if problem:
                problems.append(problem)
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
            for t in chosen:
                at = f"sources[{i}].templates[{j}]"
                first, name, first_at = by_id.setdefault(t.id, (tp.resolve(), t.name, at))
                if first != tp.resolve():
                    problems.append(
                        f"{where}.templates[{j}]: template '{t.name}' in {tp} has the id '{t.id}' "
                        f"of template '{name}' in {first} ({first_at}); templates of one build "
                        "need distinct ids (one without `id:` gets it from its file's base name "
                        "and its name): give one of the two its own `id:`")
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
        if len(problems) == before:
            clean.append((i, src))
    strat = recipe.split.stratify_by
    # a source without the label column is one stratum of its own; no source having it is a mistake
    if strat and all_known and strat not in seen_columns:
        problems.append(f"{file}: split.stratify_by: column '{strat}' is in no source{did_you_mean(strat, sorted(seen_columns))}")
    problems += _check_mix_and_eval(recipe, base, file)
    try:
        problems += check_tokenizer(recipe, load_tokenizer(recipe.tokenizer, base), file)
    except BuildError as exc:
        problems.append(f"{file}: tokenizer: {exc}")
    for i, src in clean:  # a template failing on every sampled row (needs readable sources)
        try:
            problems += [f"{file}: sources[{i}].templates: {p}"
                         for p in preflight(recipe.model_copy(update={"sources": [src]}), base)]
        except BuildError as exc:  # rows past the column peek (e.g. a header naming a column twice)
            problems.append(f"{file}: sources[{i}].path: {exc}")
    return problems


def _check_mix_and_eval(recipe: Recipe, base: Path, file: str) -> list[str]:
    """Evaluation sets must exist and hold their columns (mixture weights: :func:`_cross_field`)."""
    from ..read.sources import guess_format, peek_columns

    problems = []
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
    # of the hash (builds with different batch sizes are byte-identical); nor does max_reject_share, which only
    # decides whether the build fails
    blob = json.dumps(recipe.model_dump(mode="json", exclude={"output", "batch_size", "cache_dir", "max_reject_share"}),
                      sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()
