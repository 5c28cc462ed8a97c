"""Scaffolds: a first template file and a first recipe, guessed from a source's columns.

The guesses are a starting point the user edits, so they favour being obviously right over
being clever: the completion is the column whose name says it is the answer (``summary``,
``label``, ``headline``, ...), else the last one; the prompt shows the longest text column;
a column with few distinct short values gets ``answer_choices`` and the Accuracy metric,
free text gets ROUGE, and the long prompt column is named for token-aware truncation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: Column names that usually hold the answer, best first.
COMPLETION_NAMES = ("summary", "summary1", "headline", "review_headline", "label", "target", "answer", "output",
                    "response", "completion", "translation", "tgt", "score", "rating", "stars", "title")

MAX_CHOICES = 10


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as ``|`` blocks, the way people write templates by hand."""


_Dumper.add_representer(str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


@dataclass
class Guess:
    """What the scaffold decided about a source."""

    columns: list[str]
    completion: str
    prompt_field: str
    choices: list[str] | None
    key: str | None
    types: dict[str, str]


def _is_id(name: str) -> bool:
    low = name.lower()
    return low in {"id", "fname", "key", "uuid"} or low.endswith("_id") or (low.endswith("id") and len(low) > 2)


def _type(values: list[Any]) -> str:
    vals = [v for v in values if v not in (None, "")]
    if vals and all(isinstance(v, bool) for v in vals):
        return "bool"
    if vals and all(isinstance(v, int) or (isinstance(v, str) and v.strip().lstrip("-").isdigit()) for v in vals):
        return "int"
    if vals and all(isinstance(v, (list, dict)) for v in vals):
        return "any"
    return "str"


def guess(columns: Sequence[str], rows: Sequence[dict]) -> Guess:
    """Guess completion, prompt field, choices, key and column types from sample rows."""
    cols = list(columns)
    if not cols:
        raise ValueError("the source has no columns")
    by_low = {c.lower(): c for c in cols}
    completion = next((by_low[n] for n in COMPLETION_NAMES if n in by_low), cols[-1])
    types = {c: _type([r.get(c) for r in rows]) for c in cols}

    def avg_len(c: str) -> float:
        vals = [str(r.get(c, "")) for r in rows] or [""]
        return sum(map(len, vals)) / len(vals)

    text_cols = [c for c in cols if c != completion and not _is_id(c) and types[c] == "str"]
    prompt_field = max(text_cols or [c for c in cols if c != completion] or [completion], key=avg_len)
    distinct = sorted({str(r.get(completion)) for r in rows if r.get(completion) not in (None, "")},
                      key=lambda v: (len(v), v) if types[completion] == "int" else (0, v))
    choices = distinct if rows and len(distinct) <= MAX_CHOICES and avg_len(completion) < 20 else None
    key = next((c for c in cols if _is_id(c) and len({str(r.get(c)) for r in rows}) == len(rows)), None)
    return Guess(cols, completion, prompt_field, choices, key, types)


def _title(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def template_yaml(g: Guess, name: str) -> str:
    """A native-form template file for the guess, with a comment listing the columns."""
    field_title, completion_title = _title(g.prompt_field), _title(g.completion)
    if g.choices:
        prompt = (f"Read the following {field_title.lower()}.\n\n{{{{{g.prompt_field}}}}}\n\n"
                  f"{completion_title}? Answer with one of: {{{{ answer_choices | join(', ') }}}}.")
        metrics = ["Accuracy"]
    else:
        prompt = (f"Write the {completion_title.lower()} of the following {field_title.lower()}.\n\n"
                  f"{{{{{g.prompt_field}}}}}\n\n{completion_title}:")
        metrics = ["ROUGE"]
    tpl: dict[str, Any] = {"name": f"{name}_{g.completion.lower()}", "prompt": prompt,
                           "completion": f"{{{{{g.completion}}}}}"}
    if g.choices:
        tpl["answer_choices"] = " ||| ".join(g.choices)
    tpl["metrics"] = metrics
    tpl["truncate"] = g.prompt_field
    head = (f"# Templates for {name}, scaffolded by `ftdata templates new`. Edit freely, then run\n"
            f"#   ftdata templates lint THIS_FILE --source YOUR_DATA\n"
            f"# Columns of the source: {', '.join(g.columns)}\n"
            f"# 'truncate' names the field shortened (by tokens) when an example exceeds max_length.\n")
    return head + _dump({"templates": [tpl]})


def recipe_yaml(g: Guess, *, name: str, source: str, template_file: str, fmt: str | None = None,
                csv: dict | None = None) -> str:
    """A recipe for one source and one template file (paths relative to the recipe)."""
    src: dict[str, Any] = {"name": name, "path": source}
    if fmt:
        src["format"] = fmt
    if csv:
        src["csv"] = csv
    if g.key:
        src["key"] = g.key
    columns: dict[str, Any] = {g.prompt_field: {"type": "str", "min_length": 1}}
    comp_type = g.types.get(g.completion, "str")
    columns[g.completion] = {"type": comp_type} if comp_type != "str" else {"type": "str", "min_length": 1}
    src["columns"] = columns
    src["templates"] = [{"file": template_file}]
    recipe = {"name": name, "seed": 0, "sources": [src],
              "split": {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}},
              "tokenizer": "ftdata:tiny-bpe", "layout": "causal", "max_length": 1024, "overflow": "drop"}
    head = ("# Scaffolded by `ftdata init`. Check it with `ftdata validate`, look at a few examples with\n"
            "# `ftdata preview`, then `ftdata build`.\n")
    return head + _dump(recipe)


def write_new(path: Path, text: str, force: bool) -> None:
    """Write a scaffold file, refusing to replace an existing one unless ``force``."""
    from ..errors import FtdataError

    if path.exists() and not force:
        raise FtdataError(f"{path} already exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
