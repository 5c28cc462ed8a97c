"""Preview: the first rows of a recipe, rendered and tokenized exactly as a build would.

It uses the build's own objects -- :class:`ftdata.build.orchestrate.Build` for reading, the schema check
and row keys, and :func:`ftdata.build.chunk.process_chunk` for template choice, few-shot, field
truncation, the chat layout, rendering and masking -- and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from ..build.chunk import process_chunk
from ..build.orchestrate import Build
from ..config.recipe import load_recipe


@dataclass
class PreviewItem:
    source: str
    line: int
    template: str
    prompt: str | None = None
    completion: str | None = None
    input_ids: list[int] | None = None
    labels: list[int] | None = None
    problem: str | None = None


def preview_recipe(recipe_path: str | Path, n: int = 3):
    """Return ``(tokenizer, [PreviewItem], recipe)`` for the first ``n`` usable rows of every source.

    Rows the build would reject (unreadable, schema, template does not apply, too long) come
    back as items with ``problem`` set, so a user sees why.
    """
    recipe, base = load_recipe(recipe_path)
    b = Build(recipe, base, None)
    items: list[PreviewItem] = []
    for src in recipe.sources:
        rows = []
        for batch in b.checked_rows(src, record=False):
            rows += batch
            if len(rows) >= n:
                break
        rows = list(islice(rows, n))
        if not rows:
            continue
        res = process_chunk(b.context(src), rows)
        by_row: dict[tuple, list[PreviewItem]] = {}
        for out in res.table.select(["row_key", "template", "prompt", "completion", "input_ids", "labels"]).to_pylist():
            line = next(r.line for r in rows if r.key == out["row_key"])
            it = PreviewItem(src.name, line, out["template"], out["prompt"], out["completion"],
                             out["input_ids"], out["labels"])
            by_row.setdefault((line, out["template"]), []).append(it)
        for rej in res.rejects:
            by_row.setdefault((rej.line, rej.template or ""), []).append(
                PreviewItem(src.name, rej.line, rej.template or "", problem=rej.reason))
        for key in sorted(by_row, key=lambda k: (k[0], k[1])):
            items += by_row[key]
    return b.tok, items, recipe
