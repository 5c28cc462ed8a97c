"""Saving template files: unchanged entries keep their bytes, edits change only their entry."""

from __future__ import annotations

import dataclasses
import difflib

import pytest

from ftdata.authoring.yamlwrite import (
    Edit,
    _dump_entry,
    _layout,
    _promptsource_entry,
    fields,
    new_id,
    update_text,
    write_templates,
)
from ftdata.config.yamlio import load_yaml_text
from ftdata.errors import FtdataError
from ftdata.templating.templates import load_templates, load_templates_text

from tests.conftest import shared

REAL = ["ag_news", "samsum", "super_glue/rte", "xsum", "squad_v2"]


def _ps(name: str):
    path = shared("promptsource", "templates", *name.split("/"), "templates.yaml")
    return path, path.read_text(encoding="utf-8")


def _edits(templates):
    return [Edit(t, i) for i, t in enumerate(templates)]


@pytest.mark.parametrize("name", REAL)
def test_unchanged_promptsource_file_is_byte_identical(name):
    path, text = _ps(name)
    ts = load_templates_text(text, str(path))
    res = update_text(text, _edits(ts), str(path))
    assert res.text == text
    assert res.changed == [] and res.removed == 0


@pytest.mark.parametrize("name", ["ag_news", "samsum", "super_glue/rte", "xsum"])
def test_redumped_entries_match_promptsource_own_format(name):
    # dumping an entry again gives exactly promptsource's bytes: tags, key order, escapes and
    # the line folding of long double-quoted strings
    path, text = _ps(name)
    ts = load_templates_text(text, str(path))
    lay = _layout(text, str(path))
    raws = list(load_yaml_text(text, str(path))["templates"].values())
    for i, t in enumerate(ts):
        dumped = _dump_entry({t.id: _promptsource_entry(t, raws[i])}, "promptsource", lay.indent)
        assert dumped == text[lay.starts[i]:lay.ends[i]], t.name


@pytest.mark.parametrize("name", ["ag_news", "super_glue/rte"])
def test_one_edit_changes_only_that_entry(name, tmp_path):
    path, text = _ps(name)
    target = tmp_path / "templates.yaml"
    target.write_text(text, encoding="utf-8")
    ts = load_templates(target)
    k = len(ts) // 2
    edited = dataclasses.replace(ts[k], jinja=ts[k].jinja.replace("|||", "\n|||", 1) + " (edited)",
                                 metrics=["Accuracy", "BLEU"], _compiled={})
    res = write_templates(target, [Edit(edited if i == k else t, i) for i, t in enumerate(ts)], expected_text=text)
    assert res.changed == [ts[k].name]
    after = load_templates(target)
    assert [t.id for t in after] == [t.id for t in ts]          # order and ids kept
    for i, (a, b) in enumerate(zip(after, ts)):
        if i == k:
            assert a.jinja == edited.jinja and a.metrics == ["Accuracy", "BLEU"]
        else:
            assert fields(a) == fields(b)
    new_text = target.read_text(encoding="utf-8")
    lay = _layout(text, str(target))
    # every changed line lies inside the edited entry's span
    old_lines = text.splitlines(keepends=True)
    first_line = text[:lay.starts[k]].count("\n")
    last_line = text[:lay.ends[k]].count("\n")
    sm = difflib.SequenceMatcher(a=old_lines, b=new_text.splitlines(keepends=True), autojunk=False)
    for op, i1, i2, _, _ in sm.get_opcodes():
        if op != "equal":
            assert first_line <= i1 and i2 <= last_line, (op, i1, i2, first_line, last_line)
    assert "!Template" in new_text[lay.starts[k]:]  # promptsource tags kept


def test_anchored_metadata_is_dumped_with_its_aliases():
    # squad_v2 shares a metadata mapping between entries through a YAML anchor
    path, text = _ps("squad_v2")
    ts = load_templates_text(text, str(path))
    lay = _layout(text, str(path))
    anchored = next(i for i in range(len(ts)) if "&id001" in text[lay.starts[i]:lay.ends[i]])
    edits = _edits(ts)
    edits[anchored] = Edit(dataclasses.replace(ts[anchored], name=ts[anchored].name + "_v2", _compiled={}), anchored)
    res = update_text(text, edits, str(path))
    again = load_templates_text(res.text, str(path))
    assert [t.name for t in again] == [e.template.name for e in edits]
    assert "*id001" not in res.text


def test_new_and_removed_templates(tmp_path):
    path, text = _ps("ag_news")
    ts = load_templates_text(text, str(path))
    new = dataclasses.replace(ts[0], name="brand_new", id=new_id(), jinja="{{text}} ||| {{answer_choices[label]}}",
                              _compiled={})
    edits = [Edit(t, i) for i, t in enumerate(ts) if i != 1] + [Edit(new, None)]
    res = update_text(text, edits, str(path))
    again = load_templates_text(res.text, str(path))
    assert [t.name for t in again] == [t.name for i, t in enumerate(ts) if i != 1] + ["brand_new"]
    assert res.removed == 1 and res.changed == ["brand_new"]
    assert res.text.startswith("dataset: ag_news\ntemplates:\n")
    assert f"  {new.id}: !Template\n" in res.text


NATIVE = """\
# hand-written templates
templates:
  # the main one
  - name: summarize
    prompt: |
      Summarize:
      {{dialogue}}
    completion: "{{summary}}"
    metrics: [ROUGE]
    truncate: dialogue

  - name: topic   # short
    prompt: "Topic of: {{dialogue}}"
    completion: "{{topic}}"
"""


def test_native_file_keeps_comments_and_other_keys(tmp_path):
    target = tmp_path / "t.yaml"
    target.write_text(NATIVE, encoding="utf-8")
    ts = load_templates(target)
    assert write_templates(target, _edits(ts), expected_text=NATIVE).text == NATIVE
    edited = dataclasses.replace(ts[1], prompt="What is this about?\n{{dialogue}}", _compiled={})
    write_templates(target, [Edit(ts[0], 0), Edit(edited, 1)], expected_text=NATIVE)
    out = target.read_text(encoding="utf-8")
    assert out.startswith("# hand-written templates\ntemplates:\n  # the main one\n  - name: summarize\n")
    assert "truncate: dialogue" in out
    assert "    prompt: |-\n      What is this about?\n      {{dialogue}}\n" in out
    assert [fields(t) for t in load_templates(target)] == [fields(ts[0]), fields(edited)]


def test_new_file_and_changed_on_disk(tmp_path):
    target = tmp_path / "new.yaml"
    t = load_templates_text("templates:\n- name: a\n  prompt: 'Q: {{q}}'\n  completion: '{{a}}'\n", str(target))[0]
    write_templates(target, [Edit(t, None)])
    assert [x.name for x in load_templates(target)] == ["a"]
    text = target.read_text(encoding="utf-8")
    target.write_text(text + "# someone else\n", encoding="utf-8")
    with pytest.raises(FtdataError, match="changed on disk"):
        write_templates(target, [Edit(t, 0)], expected_text=text)
