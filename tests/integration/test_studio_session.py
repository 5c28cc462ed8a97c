"""The studio's engine: renders equal a build's output; errors carry part and line; new, lint, save."""

from __future__ import annotations

import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.inspect.load import load_compiled
from ftdata.studio.session import Studio

from tests.conftest import write_recipe


@pytest.mark.parametrize("extra", [{}, {"max_length": 160, "truncate": "dialogue"}, {"shots": 1}],
                         ids=["plain", "truncate", "fewshot"])
def test_studio_render_equals_build_output(tmp_path, dialogsum_rows, dialogsum_template, extra):
    extra = dict(extra)
    truncating = "truncate" in extra
    ref = {"file": str(dialogsum_template)}
    if "truncate" in extra:
        ref["truncate"] = extra.pop("truncate")
    recipe = write_recipe(tmp_path, {
        "name": "ds", "seed": 7, "max_length": 512, "separator": "\n",
        "sources": [{"name": "dialogsum", "path": str(dialogsum_rows), "key": "fname", "templates": [ref]}],
        "split": {"ratios": {"train": 1.0}}, **extra,
    })
    out = tmp_path / "out"
    compile_recipe(recipe, output=out)
    built = {r["row_key"]: r for r in load_compiled(out)["train"]}
    studio = Studio(None, recipe=recipe)
    assert studio.path == dialogsum_template.resolve()
    key = studio.drafts[0].key
    checked = shortened = with_shots = 0
    for i, row in enumerate(studio.rows):
        view = studio.render(key, i)
        if view.prompt is not None:
            shortened += row.data["dialogue"].strip() not in view.prompt
            with_shots += view.prompt.count("Summarize the following conversation.") > 1
        if row.key not in built:   # a build dropped it (too long, dedup): the studio must say why
            assert view.notice or view.errors
            continue
        b = built[row.key]
        assert (view.prompt, view.completion) == (b["prompt"], b["completion"])
        ids = [i for t in view.tokens for i in t.ids]
        trained = [t.trained for t in view.tokens for _ in t.ids]
        assert ids == b["input_ids"]
        assert trained == [x != -100 for x in b["labels"]]
        checked += 1
    assert checked >= 20
    assert (shortened > 0) == truncating   # the dialogue was cut to fit max_length
    assert (with_shots > 0) == bool(extra.get("shots"))


