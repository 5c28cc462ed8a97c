"""Shared fixtures for tests/unit and tests/integration: paths to ../shared/data, builds.

Layout: ``tests/unit/<stage>/`` holds fast tests that call one stage's functions directly on
literal rows (no build); ``tests/integration/`` holds real builds on ../shared/data and is
marked ``slow``. ``pytest`` runs both; ``pytest tests/unit`` (or ``-m "not slow"``) the fast ones.

The word tokenizer and the recipe/template/rows writers live in ``ftdata.testing`` (public, so
users can test their own tasks with them); they are re-exported here for the tests.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest
import yaml

from ftdata.testing import (  # noqa: F401  (re-exported: tests import them from here)
    WORDS,
    make_word_tokenizer,
    word_ids,
    write_jsonl,
    write_native_templates,
    write_recipe,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: How the SMS Spam Collection reads: a headerless, unquoted TSV of label and text.
SMS_CSV = {"delimiter": "\t", "quoting": "none", "header": False, "columns": ["label", "text"]}


INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(items):
    """Mark every test under tests/integration ``slow`` (real builds), so ``-m "not slow"``
    selects the fast tests of every tree; the default run still runs them all."""
    for item in items:
        if INTEGRATION in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)


def shared(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.fail(f"shared test data missing: {p} (CI has ../shared beside the checkout)")
    return p


@pytest.fixture
def word_tokenizer(tmp_path) -> Path:
    return make_word_tokenizer(tmp_path / "wordtok")


#: the secret the ``canary`` fixture puts in the environment (hostile-template tests)
SECRET = "ftdata-test-secret-3141"


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """A path no attack may create, and a secret in the environment no attack may read."""
    monkeypatch.setenv("FTDATA_TEST_SECRET", SECRET)
    path = tmp_path / "CANARY"
    yield path
    assert not path.exists(), "a template executed a shell command"


@pytest.fixture
def dialogsum_rows(tmp_path):
    """The first 40 DialogSum dev rows (a temporary copy, read like any source)."""
    src = shared("dialogsum", "dialogsum.dev.jsonl")
    out = tmp_path / "dev40.jsonl"
    with open(src, encoding="utf-8") as fh:
        out.write_text("".join(islice(fh, 40)), encoding="utf-8")
    return out


def _laughs(levels: int = 9) -> str:
    """A "billion laughs" YAML document: ``levels`` anchors, each nine aliases of the last."""
    out = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for c in "bcdefghijk"[: levels - 1]:
        out.append(f"{c}: &{c} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = c
    return "\n".join(out) + "\n"


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
