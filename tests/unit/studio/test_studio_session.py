"""The studio session object (no server): errors, scaffolding, saving."""

from __future__ import annotations

import json

import pytest

from ftdata.errors import FtdataError
from ftdata.studio.session import Studio
from ftdata.templating.templates import load_templates

from tests.conftest import shared


def test_syntax_and_render_errors_have_part_and_line(tmp_path, dialogsum_rows):
    studio = Studio(tmp_path / "new.yaml", dialogsum_rows, key="fname")
    d = studio.new_draft()
    studio.update(d.key, {"prompt": "Line one\n{{ dialogue }\nthree", "completion": "{{summary}}"})
    [err] = studio.render(d.key, 0).errors
    assert (err.part, err.line) == ("prompt", 2)
    studio.update(d.key, {"prompt": "Line one\n\n{{ dialog }}"})
    [err] = studio.render(d.key, 0).errors
    assert (err.part, err.line) == ("prompt", 3) and "dialogue" in err.message  # did-you-mean
    lint = studio.lint(d.key)
    assert any(f.code == "unknown_variable" for f in lint)
    studio.update(d.key, {"prompt": "Summarize:\n{{ dialogue }}"})
    view = studio.render(d.key, 3)
    assert not view.errors and view.prompt.startswith("Summarize:") and view.n_trained > 0
    assert view.tokens[-1].trained and not view.tokens[0].trained


def test_new_template_is_scaffolded_from_columns_and_saved(tmp_path, dialogsum_rows):
    target = tmp_path / "t.yaml"
    studio = Studio(target, dialogsum_rows, key="fname")
    assert studio.drafts == [] and studio.columns == ["fname", "dialogue", "summary", "topic"]
    d = studio.new_draft()
    assert "{{dialogue}}" in d.template.prompt and d.template.completion == "{{summary}}"
    view = studio.render(d.key, studio.index_of("dev_5"))
    assert view.key == "dev_5" and view.completion == json.loads(
        dialogsum_rows.read_text(encoding="utf-8").splitlines()[5])["summary"]
    assert "saved t.yaml" in studio.save()
    assert [t.name for t in load_templates(target)] == [d.template.name]
    assert not d.dirty
    with pytest.raises(FtdataError, match="no row with key"):
        studio.index_of("nope")


def test_promptsource_file_new_template_uses_promptsource_form(tmp_path, dialogsum_rows):
    target = tmp_path / "ps.yaml"
    target.write_text(shared("promptsource", "templates", "samsum", "templates.yaml").read_text(encoding="utf-8"),
                      encoding="utf-8")
    studio = Studio(target, dialogsum_rows)
    before = target.read_text(encoding="utf-8")
    d = studio.new_draft()
    assert d.template.form == "promptsource" and "|||" in d.template.jinja
    studio.save()
    after = target.read_text(encoding="utf-8")
    assert after.startswith(before)              # every old entry kept byte for byte
    assert f"  {d.template.id}: !Template\n" in after[len(before):]
    assert load_templates(target)[-1].name == d.template.name


def test_save_refuses_a_broken_template(tmp_path, dialogsum_rows, dialogsum_template):
    studio = Studio(dialogsum_template, dialogsum_rows)
    before = dialogsum_template.read_text(encoding="utf-8")
    key = studio.drafts[0].key
    studio.update(key, {"prompt": "{% if %}"})
    with pytest.raises(FtdataError, match="syntax error in prompt line 1"):
        studio.save()
    assert dialogsum_template.read_text(encoding="utf-8") == before
