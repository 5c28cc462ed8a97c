"""The CLI's surface without a build: the command list, did-you-mean, and clean user errors."""

from __future__ import annotations

from click.testing import CliRunner

from ftdata.cli import main

COMMANDS = ["build", "compare", "eval", "export", "init", "inspect", "pretrain", "preview", "push", "report",
            "studio", "templates", "tiny-model", "train", "validate", "verify"]


def test_help_lists_every_command_with_a_line_of_help():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    listed = res.output.split("Commands:")[1].splitlines()
    named = {line.split()[0]: line.split(maxsplit=1)[1:] for line in listed if line.strip()}
    assert sorted(named) == COMMANDS
    assert all(named[c] for c in COMMANDS), named


def test_a_mistyped_command_gets_a_did_you_mean_and_exit_2():
    res = CliRunner().invoke(main, ["biuld"])
    assert res.exit_code == 2
    assert "Did you mean 'build'?" in res.output


def test_a_missing_recipe_is_a_user_error_not_a_traceback(tmp_path):
    missing = tmp_path / "nope.yaml"
    res = CliRunner().invoke(main, ["validate", str(missing)])
    assert res.exit_code == 2
    assert "file not found" in res.output and str(missing) in res.output
    assert "Traceback" not in res.output
