"""``references:`` in a template file (templating/templates.py): the columns holding a row's
reference answers. Each malformed form is refused with the template's file, line and index and
what was found; every problem of the file is reported at once."""

from __future__ import annotations

import pytest

from ftdata.errors import ConfigError
from ftdata.templating.templates import load_templates_text

HEAD = "templates:\n  - name: ok\n    prompt: '{{dialogue}}'\n    completion: '{{summary}}'\n"


def _file(refs: str) -> str:
    """A file of two templates: a valid one (line 2) and one naming ``references: <refs>`` (line 5)."""
    return HEAD + f"  - name: summarize\n    prompt: '{{{{dialogue}}}}'\n    completion: '{{{{summary}}}}'\n    references: {refs}\n"


@pytest.mark.parametrize("refs, found", [
    ("3", "3"),                                  # not a list
    ("{summary: 1}", "{'summary': 1}"),          # a mapping
    ("[]", "[]"),                                # an empty list
    ("[summary, 3]", "['summary', 3]"),          # an entry that is not a column name
    ("[summary, '  ']", "['summary', '  ']"),    # a blank entry
    ("''", "['']"),                              # a blank string
    ("[summary, null]", "['summary', None]"),    # a null entry
])
def test_each_malformed_references_says_where_and_what(refs, found):
    with pytest.raises(ConfigError) as err:
        load_templates_text(_file(refs), "dialogsum.yaml")
    assert err.value.problems == [
        f"dialogsum.yaml:5 templates[1]: references must be a list of column names (the columns holding the "
        f"row's reference answers), found {found}"]
    assert err.value.source == "dialogsum.yaml"


def test_every_bad_references_is_reported_at_once():
    text = _file("[]") + "  - name: third\n    prompt: x\n    completion: y\n    references: [a, 1]\n"
    with pytest.raises(ConfigError) as err:
        load_templates_text(text, "t.yaml")
    assert [p.split(":", 2)[:2] for p in err.value.problems] == [["t.yaml", "5 templates[1]"],
                                                                 ["t.yaml", "9 templates[2]"]]


@pytest.mark.parametrize("refs, columns, values", [
    ("summary3", ["summary3"], ["C."]),  # one column as a string
    ("[summary, ' summary2 ', summary3, topic]", ["summary", "summary2", "summary3", "topic"], ["A.", "C."]),
])
def test_valid_references_are_column_names(refs, columns, values):
    """Names are stripped; a row's blank values and columns it lacks are skipped."""
    ok, t = load_templates_text(_file(refs), "t.yaml")
    assert ok.references == [] and t.references == columns
    assert t.reference_values({"summary": "A.", "summary2": " ", "summary3": " C. "}) == values
