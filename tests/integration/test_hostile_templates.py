"""Hostile templates through a build: rows over a limit are rejects, hopeless templates stop it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.cli import main
from ftdata.errors import ConfigError
from ftdata.templating.limits import RenderLimits
from ftdata.write.manifest import accounting_ok

from tests.conftest import write_jsonl, write_native_templates, write_recipe

FAST = RenderLimits(max_seconds=0.5)



def test_build_rejects_rows_where_a_template_hits_a_limit(tmp_path, word_tokenizer, canary):
    write_jsonl(tmp_path / "rows.jsonl", [{"id": i, "q": "what is two", "n": n}
                                          for i, n in enumerate([1, 2, 10**8, 3])])
    tpl = write_native_templates(tmp_path / "t.yaml", [
        {"name": "good", "prompt": "Q: {{ q }}", "completion": "A: five"},
        {"name": "greedy", "prompt": "Q: {{ q * n }}", "completion": "A: six"},
    ])
    recipe = write_recipe(tmp_path, {"name": "x", "output": "out", "tokenizer": str(word_tokenizer),
                                     "render_limits": {"max_output_chars": 1000},
                                     "split": {"ratios": {"train": 1.0}},
                                     "sources": [{"name": "s", "path": "rows.jsonl", "key": "id",
                                                  "templates": [{"file": str(tpl)}]}]})
    res = compile_recipe(recipe)
    rejects = [json.loads(x) for x in (res.output / "rejects.jsonl").read_text().splitlines()]
    limit_rejects = [r for r in rejects if r["code"] == "render_error"]
    assert len(limit_rejects) == 1
    r = limit_rejects[0]
    assert r["line"] == 3 and r["template"] == "greedy" and "template 'greedy'" in r["reason"]
    assert "max_output_chars" in r["reason"]
    assert not accounting_ok(res.manifest)


def test_build_stops_before_starting_on_a_statically_hostile_template(tmp_path, word_tokenizer, canary):
    write_jsonl(tmp_path / "rows.jsonl", [{"q": "what is two"}])
    tpl = write_native_templates(tmp_path / "t.yaml", [
        {"name": "escape", "prompt": "{{ cycler.__init__.__globals__.os.system('touch " + str(canary) + "') }}",
         "completion": "x"}])
    recipe = write_recipe(tmp_path, {"name": "x", "output": "out", "tokenizer": str(word_tokenizer),
                                     "sources": [{"name": "s", "path": "rows.jsonl", "templates": [{"file": str(tpl)}]}]})
    with pytest.raises(ConfigError, match="template 'escape'"):
        compile_recipe(recipe)
    res = CliRunner().invoke(main, ["build", str(recipe)])
    assert res.exit_code == 2 and "template 'escape'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_build_stops_when_a_template_goes_over_limits_on_every_row(tmp_path, word_tokenizer):
    write_jsonl(tmp_path / "rows.jsonl", [{"id": i, "q": f"what is {w}"} for i, w in enumerate(["two", "six", "five"])])
    tpl = write_native_templates(tmp_path / "t.yaml", [
        {"name": "good", "prompt": "Q: {{ q }}", "completion": "A: five"},
        {"name": "greedy", "prompt": "{{ q * 10**8 }}", "completion": "x"}])
    recipe = write_recipe(tmp_path, {"name": "x", "output": "out", "tokenizer": str(word_tokenizer),
                                     "sources": [{"name": "s", "path": "rows.jsonl", "key": "id",
                                                  "templates": [{"file": str(tpl)}]}]})
    res = CliRunner().invoke(main, ["build", str(recipe)])
    assert res.exit_code == 2, res.output
    assert "template 'greedy'" in res.output and "max_output_chars" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()
