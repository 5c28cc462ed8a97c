"""Template lint: static and dynamic checks, and the shipped templates pass on real rows."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from ftdata.authoring.lint import lint_paths, sample_rows

from tests.conftest import ROOT, shared

TEMPLATES = ROOT / "templates"


def codes(report, severity=None):
    return sorted(f.code for f in report.findings if severity is None or f.severity == severity)


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- static ---------------------------------------------------------------------------------------

def test_unknown_variable_with_did_you_mean(tmp_path):
    p = write(tmp_path, "templates:\n- name: s\n  prompt: 'Summarize: {{dialog}}'\n  completion: '{{summary}}'\n")
    r = lint_paths([p], columns=["dialogue", "summary"])
    (f,) = r.errors
    assert f.code == "unknown_variable" and "did you mean 'dialogue'" in f.message
    assert f.file == str(p) and f.template == "s" and f.line == 2


def test_promptsource_without_separator_duplicates_and_metric(tmp_path):
    p = write(tmp_path, """dataset: x
templates:
  a: !Template
    id: a
    name: first
    jinja: 'No separator here {{text}}'
    metadata: !TemplateMetadata {metrics: [Rouge]}
  b: !Template
    id: b
    name: first
    jinja: '{{text}} ||| {{label}}'
    answer_choices: only_one
    metadata: !TemplateMetadata {metrics: [Accuracy]}
""")
    r = lint_paths([p])
    assert codes(r, "error") == ["duplicate_name", "no_separator"]
    assert codes(r, "warning") == ["single_choice", "unknown_metric"]
    metric = next(f for f in r.findings if f.code == "unknown_metric")
    assert "did you mean 'ROUGE'" in metric.message


def test_syntax_error_names_file_template_and_line_and_others_still_checked(tmp_path):
    p = write(tmp_path, "templates:\n- name: broken\n  prompt: '{{ text '\n  completion: x\n"
                        "- name: fine\n  prompt: '{{ txt }}'\n  completion: x\n")
    r = lint_paths([p], columns=["text"])
    assert codes(r, "error") == ["syntax", "unknown_variable"]
    syntax = next(f for f in r.findings if f.code == "syntax")
    assert syntax.template == "broken" and syntax.line == 2 and "line 1" in syntax.message


def test_boundary_newline_warning(tmp_path):
    p = write(tmp_path, "templates:\n- name: s\n  prompt: \"Q: {{q}}\\nA:\\n\"\n  completion: '{{a}}'\n")
    assert codes(lint_paths([p])) == ["boundary_newline"]


# -- dynamic ----------------------------------------------------------------------------------------

ROWS = [(str(i), {"text": f"message number {i} is here", "label": "ham" if i % 2 else "spam",
                  "summary": f"the summary of row {i} is long enough"}) for i in range(6)]


def test_dynamic_checks(tmp_path):
    p = write(tmp_path, """templates:
- name: outside_choices
  prompt: '{{text}}'
  completion: '{{label}}!'
  answer_choices: ham ||| spam
- name: leaks
  prompt: '{{text}} {{summary}}'
  completion: '{{summary}}'
- name: fails_always
  prompt: '{{ text.nope() }}'
  completion: '{{label}}'
- name: rarely_applies
  prompt: '{{text}}'
  completion: '{% if text.endswith("0 is here") %}{{label}}{% endif %}'
- name: glued
  prompt: 'The label is'
  completion: '{{label}}'
""")
    r = lint_paths([p], rows=ROWS, separator="")
    by = {(f.template, f.code): f.severity for f in r.findings}
    assert by[("outside_choices", "not_in_choices")] == "error"
    assert by[("leaks", "leak")] == "error"
    assert by[("fails_always", "render_error")] == "error"
    assert by[("rarely_applies", "does_not_apply")] == "warning"
    assert by[("glued", "boundary_glue")] == "warning"


def test_boundary_straddle_with_a_tokenizer(tmp_path):
    # tiny-bpe has one token for " review": cutting it after "rev" makes a straddling token
    p = write(tmp_path, "templates:\n- name: cut\n  prompt: 'the rev'\n  completion: 'iew {{label}}'\n")
    r = lint_paths([p], rows=ROWS, separator="", tokenizer="ftdata:tiny-bpe")
    assert codes(r) == ["boundary_straddle"]
    assert lint_paths([p], rows=ROWS, separator=" ", tokenizer="ftdata:tiny-bpe").findings == []


def test_clean_template_has_no_findings(tmp_path):
    p = write(tmp_path, "templates:\n- name: ok\n  prompt: 'Is this spam? {{text}}'\n"
                        "  completion: '{{label}}'\n  answer_choices: ham ||| spam\n  metrics: [Accuracy]\n")
    r = lint_paths([p], rows=ROWS, tokenizer="ftdata:tiny-bpe")
    assert r.findings == [] and r.templates == 1 and r.rows == 6


# -- shipped templates -------------------------------------------------------------------------------

def _multi30k_rows(n: int):
    d = shared("multi30k_en_de")
    with open(d / "val.en", encoding="utf-8") as en, open(d / "val.de", encoding="utf-8") as de:
        return [(str(i), {"en": a.rstrip("\n"), "de": b.rstrip("\n")}) for i, (a, b) in enumerate(islice(zip(en, de), n))]


def _shipped_rows(name: str):
    if name == "dialogsum":
        return sample_rows(shared("dialogsum", "dialogsum.dev.jsonl"), 60, key="fname")[1]
    if name == "sms_spam":
        return sample_rows(shared("sms_spam", "SMSSpamCollection"), 200, fmt="tsv", columns=["label", "text"],
                           quoting="none")[1]
    if name == "amazon_fine_food":
        return sample_rows(shared("amazon_fine_food", "Reviews.csv"), 200, key="Id")[1]
    if name == "multi30k_en_de":
        return _multi30k_rows(60)
    if name == "reviews":
        return sample_rows(ROOT / "examples" / "reviews" / "reviews.jsonl", 60, key="review_id")[1]
    raise AssertionError(name)


SHIPPED = ["amazon_fine_food", "dialogsum", "multi30k_en_de", "reviews", "sms_spam"]


def test_every_shipped_template_file_is_tested():
    assert sorted(p.parent.name for p in TEMPLATES.glob("*/templates.yaml")) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_templates_lint_clean_on_real_rows(name):
    rows = _shipped_rows(name)
    r = lint_paths([TEMPLATES / name / "templates.yaml"], rows=rows, tokenizer="ftdata:tiny-bpe")
    assert r.templates >= 3
    assert r.errors == [], "\n".join(map(str, r.errors))
    assert all(f.code in {"leak", "does_not_apply"} for f in r.warnings), "\n".join(map(str, r.warnings))
    from ftdata.templating.templates import load_templates

    for t in load_templates(TEMPLATES / name / "templates.yaml"):
        assert t.metrics, f"{t.name} names no metric"


def test_shipped_templates_lint_clean_static():
    r = lint_paths([TEMPLATES])
    assert r.findings == [] and len(r.files) == len(SHIPPED)
