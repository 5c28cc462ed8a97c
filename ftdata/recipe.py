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
    dedup: bool = Field(True, description="Reject exact duplicate (prompt, completion) pairs.")
    batch_size: int = Field(1000, gt=0, description="Rows per batch.")
    shard_size: int = Field(100_000, gt=0, description="Maximum examples per Arrow shard.")
    license: str | None = Field(None, description="License of the compiled data, for the dataset card.")

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
    from .sources import guess_format, peek_columns
    from .templates import load_templates, select

    problems: list[str] = []
    names = [s.name for s in recipe.sources]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.append(f"{file}: sources: duplicate source name '{dup}'")
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
        if src.split is not None and src.split not in recipe.split.ratios and recipe.split.ratios:
            pass  # a source-pinned split may name any split
        for j, ref in enumerate(src.templates):
            tp = resolve_path(base, ref.file)
            try:
                chosen = select(load_templates(tp), ref.names, str(tp))
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
        if src.key and src.key != "@line" and columns is not None:
            cols = [src.rename.get(c, c) for c in columns]
            if src.key not in cols:
                problems.append(f"{where}.key: column '{src.key}' not in source{did_you_mean(src.key, cols)}; available: {', '.join(cols)}")
        if recipe.split.group_by and columns is not None:
            cols = [src.rename.get(c, c) for c in columns]
            if recipe.split.group_by not in cols:
                problems.append(f"{file}: split.group_by: column '{recipe.split.group_by}' not in source '{src.name}'{did_you_mean(recipe.split.group_by, cols)}")
    return problems


def recipe_hash(recipe: Recipe) -> str:
    """Content hash of the validated recipe (normalised, so comments and order do not count)."""
    # the output location does not change the content, so it is not part of the hash
    blob = json.dumps(recipe.model_dump(mode="json", exclude={"output"}), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()
