"""``ftdata templates list/show/render/new/lint`` and ``ftdata init``."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from ftdata.cli.app import main

from tests.conftest import ROOT, shared, write_jsonl

REVIEWS = ROOT / "templates" / "reviews" / "templates.yaml"


def run(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_list_shipped_and_json():
    r = run("templates", "list", ROOT / "templates")
    assert r.exit_code == 0, r.output
    assert "reviews/templates.yaml  (3)" in r.output and "predict_rating" in r.output
    data = json.loads(run("templates", "list", ROOT / "templates", "--json").output)
    assert sum(len(f["templates"]) for f in data) >= 18


def test_show_by_name_and_id_prefix():
    r = run("templates", "show", "predict_rating", "--dir", ROOT / "templates")
    assert r.exit_code == 0 and "answer_choices: 1 ||| 2 ||| 3 ||| 4 ||| 5" in r.output
    r = run("templates", "show", "3f0b6a52", "--dir", ROOT / "templates", "--json")
    assert json.loads(r.output)[0]["name"] == "predict_rating"
    r = run("templates", "show", "predict_ratin", "--dir", ROOT / "templates")
    assert r.exit_code == 2 and "did you mean 'predict_rating'" in r.output


def test_render_row_and_source(tmp_path):
    row = {"title": "Kettle", "body": "Boils fast.", "headline": "Fast", "star_rating": 5}
    r = run("templates", "render", f"{REVIEWS}:review_headline", "--row", json.dumps(row), "--json")
    rec = json.loads(r.output)
    assert rec["completion"] == "Fast" and rec["prompt"].endswith("Boils fast.")
    src = write_jsonl(tmp_path / "rows.jsonl", [row, dict(row, headline="")])
    r = run("templates", "render", f"{REVIEWS}:review_headline", "--source", src, "-n", "2")
    assert r.exit_code == 0 and "▶ Fast" in r.output and "does not apply" in r.output
    r = run("templates", "render", f"{REVIEWS}:nope", "--row", "{}")
    assert r.exit_code == 2 and "no template named 'nope'" in r.output
    assert run("templates", "render", REVIEWS).exit_code == 2  # neither --row nor --source


def test_lint_exit_status_and_json(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("templates:\n- name: s\n  prompt: '{{dialog}}'\n  completion: '{{summary}}'\n", encoding="utf-8")
    src = write_jsonl(tmp_path / "d.jsonl", [{"dialogue": "A: hi\nB: hello", "summary": "They greet."}])
    r = run("templates", "lint", bad, "--source", src)
    assert r.exit_code == 1 and "unknown variable 'dialog'" in r.output and "did you mean 'dialogue'" in r.output
    report = json.loads(run("templates", "lint", bad, "--source", src, "--json").output)
    assert report["ok"] is False
    assert {f["code"] for f in report["findings"]} == {"unknown_variable", "render_error"}
    assert run("templates", "lint", tmp_path / "missing.yaml").exit_code == 2


def test_lint_shipped_templates_passes():
    r = run("templates", "lint", ROOT / "templates")
    assert r.exit_code == 0, r.output
    assert "0 error(s), 0 warning(s)" in r.output


@pytest.mark.slow
def test_lint_whole_corpus_timed():
    t0 = time.perf_counter()
    r = run("templates", "lint", shared("promptsource", "templates"), "--json")
    seconds = time.perf_counter() - t0
    report = json.loads(r.output)
    assert report["templates"] == 2085 and len(report["files"]) == 279
    assert report["errors"] == 0 and r.exit_code == 0
    print(f"lint over the corpus: {report['templates']} templates, {report['warnings']} warnings, {seconds:.2f}s")


def test_new_and_init_scaffold_a_working_recipe(tmp_path):
    data = shared("dialogsum", "dialogsum.dev.jsonl")
    r = run("templates", "new", "--source", data, "-o", tmp_path / "t.yaml")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "t.yaml").read_text()
    assert "{{dialogue}}" in text and "{{summary}}" in text and "truncate: dialogue" in text
    assert run("templates", "new", "--source", data, "-o", tmp_path / "t.yaml").exit_code == 2  # no overwrite

    r = run("init", "--source", data, "--dir", tmp_path / "proj", "--name", "dialogsum")
    assert r.exit_code == 0, r.output
    recipe = tmp_path / "proj" / "recipe.yaml"
    tpl = tmp_path / "proj" / "templates" / "dialogsum.yaml"
    assert recipe.exists() and tpl.exists()
    assert run("validate", recipe).exit_code == 0
    assert run("templates", "lint", tpl, "--source", data).exit_code == 0
    assert run("init", "--source", data, "--dir", tmp_path / "proj").exit_code == 2  # exists


def test_init_headerless_tsv_gets_choices(tmp_path):
    data = shared("sms_spam", "SMSSpamCollection")
    r = run("init", "--source", data, "--dir", tmp_path, "--name", "sms", "--format", "tsv",
            "--columns", "label,text", "--quoting", "none")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "templates" / "sms.yaml").read_text()
    assert "answer_choices: ham ||| spam" in text and "Accuracy" in text
    assert run("validate", tmp_path / "recipe.yaml").exit_code == 0
