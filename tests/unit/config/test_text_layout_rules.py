"""layout: text: what a raw-text recipe may and may not say (no build)."""

from __future__ import annotations

import pytest

from ftdata.config.recipe import parse_recipe
from ftdata.errors import ConfigError


def _recipe(**extra) -> dict:
    return {"name": "pre", "output": "out", "tokenizer": "ftdata:tiny-bpe", "max_length": 64,
            "sources": [{"name": "a", "path": "a.jsonl"}], **extra}


def test_a_source_without_templates_is_allowed_only_in_the_text_layout():
    assert parse_recipe(_recipe(layout="text"), "r.yaml").layout == "text"
    # parsing accepts it (the studio opens a recipe before its templates exist); the build gate refuses
    from pathlib import Path

    from ftdata.config.recipe import check_recipe

    problems = check_recipe(parse_recipe(_recipe(), "r.yaml"), Path("."), "r.yaml")
    assert any("sources[0].templates" in p and "has no templates" in p for p in problems)


@pytest.mark.parametrize("extra, where", [
    ({"chat": {"enabled": True}}, "chat"),
    ({"shots": 2}, "shots"),
    ({"overflow": "truncate_prompt"}, "overflow"),
    ({"overflow": "error"}, "overflow"),
])
def test_what_needs_a_prompt_is_refused_in_the_text_layout(extra, where):
    with pytest.raises(ConfigError) as exc:
        parse_recipe(_recipe(layout="text", **extra), "r.yaml")
    assert where in str(exc.value) and "layout: text" in str(exc.value)


def test_packing_is_allowed_with_text():
    assert parse_recipe(_recipe(layout="text", packing=True), "r.yaml").packing
