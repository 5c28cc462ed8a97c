"""Preview: render and tokenize the first rows of a recipe, without writing anything."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from .masking import encode_causal, encode_seq2seq
from .recipe import load_recipe, resolve_path
from .schema import check_row
from .sources import read_source
from .templates import DoesNotApply, TemplateError, load_templates, select
from .tokenizer import load_tokenizer


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
    """Return ``(tokenizer, [PreviewItem])`` for the first ``n`` rows of every source."""
    recipe, base = load_recipe(recipe_path)
    tok = load_tokenizer(recipe.tokenizer, base)
    eos = tok.eos_token_id if recipe.add_eos else None
    items: list[PreviewItem] = []
    for src in recipe.sources:
        templates = []
        for ref in src.templates:
            tp = resolve_path(base, ref.file)
            templates += select(load_templates(tp), ref.names, str(tp))
        for row in islice(read_source(src, base), n):
            for t in templates:
                item = PreviewItem(src.name, row.line, t.name)
                items.append(item)
                if row.error:
                    item.problem = f"unreadable: {row.error}"
                    continue
                data = {src.rename.get(k, k): v for k, v in row.data.items()}
                data, err = check_row(data, src.columns)
                if err:
                    item.problem = f"schema: {err}"
                    continue
                key = str(data.get(src.key)) if src.key and src.key != "@line" else str(row.line)
                try:
                    item.prompt, item.completion, _ = t.render(data, seed=recipe.seed, row_key=key)
                except (DoesNotApply, TemplateError) as exc:
                    item.problem = str(exc)
                    continue
                if recipe.layout == "causal":
                    enc = encode_causal(tok.backend_tokenizer, [item.prompt], [item.completion], separator=recipe.separator,
                                        eos_id=eos, max_length=recipe.max_length, overflow=recipe.overflow)[0]
                else:
                    enc = encode_seq2seq(tok.backend_tokenizer, [item.prompt], [item.completion], eos_id=eos,
                                         max_length=recipe.max_length, overflow=recipe.overflow)[0]
                if enc.reject:
                    item.problem = enc.reject.removeprefix("ERROR:")
                    continue
                item.input_ids, item.labels = enc.input_ids, enc.labels
    return tok, items, recipe
