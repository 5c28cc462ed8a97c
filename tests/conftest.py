"""Shared fixtures: paths to ../shared/data, a hand-checkable word tokenizer, recipe writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def shared(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.fail(f"shared test data missing: {p} (CI has ../shared beside the checkout)")
    return p


WORDS = ["<eos>", "<pad>", "Q:", "A:", "what", "is", "two", "plus", "three", "five", "six",
         "say", "hi", "hello", "yes", "no", "[unk]"]


def make_word_tokenizer(folder: Path) -> Path:
    """A word-level tokenizer whose ids are predictable by hand: id = position in WORDS.

    Whitespace separates tokens and is not itself a token, so offsets never cover spaces.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(WORDS)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[unk]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<eos>", pad_token="<pad>", unk_token="[unk]")
    fast.save_pretrained(folder)
    return folder


@pytest.fixture
def word_tokenizer(tmp_path) -> Path:
    return make_word_tokenizer(tmp_path / "wordtok")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_recipe(folder: Path, recipe: dict, name: str = "recipe.yaml") -> Path:
    p = folder / name
    p.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return p


def write_native_templates(path: Path, templates: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"templates": templates}, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def dialogsum_template(tmp_path) -> Path:
    return write_native_templates(tmp_path / "dialogsum.yaml", [{
        "name": "summarize",
        "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
        "completion": "{{summary}}",
        "metrics": ["ROUGE"],
    }])


@pytest.fixture(scope="session")
def reviews_out(tmp_path_factory) -> Path:
    """The bundled reviews example compiled once per test session (read-only: copy before changing)."""
    from ftdata.build.orchestrate import compile_recipe

    out = tmp_path_factory.mktemp("reviews") / "out"
    compile_recipe(ROOT / "examples" / "reviews" / "recipe.yaml", output=out)
    return out


@pytest.fixture(scope="session")
def reviews_packed_out(tmp_path_factory) -> Path:
    """The reviews example compiled with ``packing: true`` (read-only)."""
    from ftdata.build.orchestrate import compile_recipe

    recipe = yaml.safe_load((ROOT / "examples" / "reviews" / "recipe.yaml").read_text())
    recipe["packing"] = True
    out = tmp_path_factory.mktemp("reviews-packed") / "out"
    compile_recipe(recipe, base=ROOT / "examples" / "reviews", output=out)
    return out


def reviews_three_tasks(folder: Path, **extra) -> Path:
    """Amazon Fine Food reviews as three sources over one file, one task each (rating, headline,
    review writing), keyed by ``Id``: the recipe of issue 15. ``extra`` adds recipe fields."""
    path = shared("amazon_fine_food", "Reviews.csv")
    tasks = {"rating": ("Review: {{Text}}\nHow many stars (1-5)?", "{{Score}}"),
             "headline": ("Write a short headline for this review:\n\n{{Text}}", "{{Summary}}"),
             "review": ('Write a product review titled "{{Summary}}".', "{{Text}}")}
    sources = []
    for task, (prompt, completion) in tasks.items():
        tpl = write_native_templates(folder / f"{task}.yaml",
                                     [{"name": task, "prompt": prompt, "completion": completion}])
        sources.append({"name": task, "task": task, "path": str(path), "key": "Id",
                        "columns": {"Score": {"type": "int", "min": 1, "max": 5},
                                    "Summary": {"type": "str", "required": False}},
                        "templates": [{"file": str(tpl)}]})
    return write_recipe(folder, {"name": "food3", "output": "out", "seed": 11, "sources": sources,
                                 "max_length": 1024, **extra})
