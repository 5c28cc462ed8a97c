"""``ftdata.render`` and ``ftdata.preview`` called from Python on literal rows."""

from __future__ import annotations

import ftdata

from tests.conftest import ROOT


def test_render_a_jinja_string_and_rows():
    prompt, completion, choices = ftdata.render("Q: {{q}} ||| {{a}}", {"q": "2+2?", "a": "4"})
    assert (prompt, completion, choices) == ("Q: 2+2?", "4", None)


def test_preview_twice_still_a_function():
    # ftdata/preview.py shares the name; importing it must not replace the API function
    for _ in range(2):
        tok, items, recipe = ftdata.preview(str(ROOT / "examples" / "reviews" / "recipe.yaml"), n=1)
        assert items and all(it.problem is None for it in items)
        assert callable(ftdata.preview)
    it = items[0]
    trained = [i for i, lab in zip(it.input_ids, it.labels) if lab != -100]
    assert tok.decode(trained) == recipe.separator + it.completion + tok.eos_token
