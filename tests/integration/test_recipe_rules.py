"""Rules between recipe fields: `validate` and `build` report the same full list of problems."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ftdata.build.orchestrate import Build, compile_recipe
from ftdata.cli.app import main
from ftdata.config.recipe import load_recipe
from ftdata.errors import ConfigError

from tests.conftest import shared, write_native_templates, write_recipe
from tests.unit.config.test_recipe_rules import _dialogsum_recipe, _where


def _problems(output: str) -> list[str]:
    return [line[4:] for line in output.splitlines() if line.startswith("  - ")]


def _both(recipe_path) -> tuple[list[str], list[str]]:
    """Problems printed by `ftdata validate` and `ftdata build` (both exit 2, no output made)."""
    runner = CliRunner()
    val = runner.invoke(main, ["validate", str(recipe_path)])
    bld = runner.invoke(main, ["build", "--quiet", str(recipe_path)])
    assert val.exit_code == 2, val.output
    assert bld.exit_code == 2, bld.output
    assert "Traceback" not in val.output + bld.output
    assert not (recipe_path.parent / "out").exists()
    return _problems(val.output), _problems(bld.output)


def test_validate_and_build_report_every_cross_field_problem(tmp_path, dialogsum_template):
    # seq2seq + packing + chat: two layout conflicts, and tiny-bpe has no chat template
    path = write_recipe(tmp_path, _dialogsum_recipe(dialogsum_template, layout="seq2seq",
                                                    packing=True, chat={"enabled": True}))
    val, bld = _both(path)
    assert val == bld
    assert _where(val) == ["packing", "chat", "chat.template"], val
    packing, chat_layout, chat_template = val
    assert "layout: causal" in packing and "found layout: seq2seq" in packing
    assert "layout: causal" in chat_layout and "found layout: seq2seq" in chat_layout
    assert "no chat template" in chat_template


def test_unknown_split_name_in_ratios_suggests_the_known_one(tmp_path, dialogsum_template):
    path = write_recipe(tmp_path, _dialogsum_recipe(dialogsum_template,
                                                    split={"ratios": {"train": 0.8, "tets": 0.2}}))
    val, bld = _both(path)
    assert val == bld
    assert _where(val) == ["split.ratios.tets"] and "did you mean 'test'?" in val[0], val


def test_library_build_and_the_build_object_apply_the_same_rules(tmp_path, dialogsum_template):
    data = _dialogsum_recipe(dialogsum_template, chat={"system": "s"})
    path = write_recipe(tmp_path, data)
    with pytest.raises(ConfigError) as by_path:
        compile_recipe(path)
    with pytest.raises(ConfigError) as by_dict:
        compile_recipe(data, base=tmp_path)
    assert [p.split(": ", 1)[1] for p in by_path.value.problems] == \
        [p.split(": ", 1)[1] for p in by_dict.value.problems]
    assert len(by_dict.value.problems) == 1 and "no chat template" in by_dict.value.problems[0]
    # a Build made without load_recipe (as the studio does) refuses the same recipe
    recipe, base = load_recipe(path, check_files=False)
    with pytest.raises(ConfigError, match="no chat template"):
        Build(recipe, base, None)


def test_source_option_conflicts_are_named_where_they_are(tmp_path, dialogsum_template):
    # SMS spam is a headerless TSV: header: false without csv.columns leaves its columns
    # unnamed, and format: hf reads a Hub dataset, not a path; both were reported as unknown
    # template variables and "cannot read ... unknown format hf"
    sms_tpl = write_native_templates(tmp_path / "sms.yaml", [
        {"name": "cls", "prompt": "Spam? {{text}}", "completion": "{{label}}"}])
    data = _dialogsum_recipe(dialogsum_template)
    data["sources"][0]["format"] = "hf"
    data["sources"].append({"name": "sms", "path": str(shared("sms_spam", "SMSSpamCollection")),
                            "format": "tsv", "csv": {"header": False, "quoting": "none"},
                            "templates": [{"file": str(sms_tpl)}]})
    val, bld = _both(write_recipe(tmp_path, data))
    assert val == bld
    assert _where(val) == ["sources[0].format", "sources[1].csv.columns"], val
    assert "needs 'hub'" in val[0] and "header: false needs columns" in val[1]


def test_a_source_only_the_build_could_not_read_is_a_listed_problem(tmp_path, dialogsum_template):
    # a CSV header naming a column twice passes the column peek; reading rows refuses it
    (tmp_path / "dup.csv").write_text("text,text,label\nhello,there,ham\n", encoding="utf-8")
    tpl = write_native_templates(tmp_path / "c.yaml", [
        {"name": "c", "prompt": "{{text}}", "completion": "{{label}}"}])
    data = _dialogsum_recipe(dialogsum_template)
    data["sources"].append({"name": "dup", "path": "dup.csv", "templates": [{"file": str(tpl)}]})
    val, bld = _both(write_recipe(tmp_path, data))
    assert val == bld
    assert _where(val) == ["sources[1].path"] and "'text' more than once" in val[0], val
