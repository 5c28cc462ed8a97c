"""A build that produced garbage fails: no usable rows, an empty split or output, or too many
rejects (``max_reject_share``); and a completion outside its answer choices is a reject.

Real data from ../shared/data: the SMS Spam Collection (a headerless TSV) read as CSV, and
DialogSum with a ``max_length`` too small for it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.cli.app import main
from ftdata.constants import COMPLETED, MANIFEST
from ftdata.errors import BuildError

from tests.conftest import ROOT, shared, write_recipe

SMS_TEMPLATES = str(ROOT / "templates" / "sms_spam" / "templates.yaml")
DS_TEMPLATES = str(ROOT / "templates" / "dialogsum" / "templates.yaml")
SMS_ROWS = 400


def _head(src: Path, dest: Path, n: int) -> Path:
    """The first ``n`` lines of a shared data file (a test-local copy in tmp_path)."""
    with open(src, "rb") as fh:
        dest.write_bytes(b"".join(line for _, line in zip(range(n), fh)))
    return dest


def _sms_recipe(tmp_path: Path, fmt: str, **extra) -> Path:
    data = _head(shared("sms_spam", "SMSSpamCollection"), tmp_path / "sms.txt", SMS_ROWS)
    return write_recipe(tmp_path, {
        "name": "sms", "output": "out", "tokenizer": "ftdata:tiny-bpe", "max_length": 256,
        "sources": [{"name": "sms", "path": str(data), "format": fmt,
                     "csv": {"header": False, "quoting": "none", "columns": ["label", "text"]},
                     "templates": [{"file": SMS_TEMPLATES, "names": ["spam_or_ham"]}]}],
        **extra}, name=f"{fmt}.yaml")


def _rejects(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _csv_fields(path: Path) -> list[list[str]]:
    """How the csv module splits each line of ``path`` with ',' (what a CSV reader sees)."""
    text = path.read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text), quoting=csv.QUOTE_NONE))


def test_tsv_read_as_csv_fails_and_keeps_the_previous_output(tmp_path):
    good = compile_recipe(_sms_recipe(tmp_path, "tsv"))
    before = (good.output / MANIFEST).read_bytes()
    with pytest.raises(BuildError) as err:
        compile_recipe(_sms_recipe(tmp_path, "csv"), overwrite=True)
    msg = str(err.value)
    # the previous good output is untouched and still complete
    assert (good.output / COMPLETED).exists() and (good.output / MANIFEST).read_bytes() == before
    # what the user needs to see why is kept beside it, with no COMPLETED
    failed = good.output.parent / "out.failed"
    assert not (failed / COMPLETED).exists()
    recs = _rejects(failed / "rejects.jsonl")
    unreadable = sum(r["code"] == "unreadable" for r in recs)
    assert unreadable == sum(len(f) != 2 for f in _csv_fields(tmp_path / "sms.txt"))
    assert unreadable > SMS_ROWS / 2  # the dominant reason
    assert "source 'sms'" in msg and str(tmp_path / "sms.txt") in msg
    assert f"unreadable: {unreadable} rows ({unreadable / SMS_ROWS:.1%})" in msg
    assert "max_reject_share" in msg
    assert "tab-separated" in msg and "format: tsv" in msg
    assert str(failed) in msg


def test_cli_exits_non_zero_on_a_garbage_build(tmp_path):
    res = CliRunner().invoke(main, ["build", str(_sms_recipe(tmp_path, "csv")), "-q", "--no-cache"])
    assert res.exit_code != 0
    assert "source 'sms'" in res.output and "format: tsv" in res.output
    assert not (tmp_path / "out" / COMPLETED).exists()


def test_completion_outside_answer_choices_is_a_reject(tmp_path):
    # allowed any share of rejects, the misread file still yields no usable row: every row the
    # CSV reader split in two renders a completion like 'ham\tGo until jurong point'
    with pytest.raises(BuildError) as err:
        compile_recipe(_sms_recipe(tmp_path, "csv", max_reject_share=1.0))
    assert "no usable rows" in str(err.value)
    recs = _rejects(tmp_path / "out.failed" / "rejects.jsonl")
    two_fields = [f for f in _csv_fields(tmp_path / "sms.txt") if len(f) == 2]
    assert two_fields and all(f[0] not in ("ham", "spam") for f in two_fields)
    wrong = [r for r in recs if r["code"] == "not_an_answer_choice"]
    assert len(wrong) == len({tuple(f) for f in two_fields})  # a repeated row is a duplicate_key reject
    assert all(r["stage"] == "render" and "'ham', 'spam'" in r["reason"] and "\t" in r["value"] for r in wrong)
    # read correctly, every completion is one of its answer choices and nothing is rejected for it
    res = compile_recipe(_sms_recipe(tmp_path, "tsv"), output=tmp_path / "ok")
    assert "not_an_answer_choice" not in res.manifest["counts"]["rejects_by_code"]


def _dialogsum_recipe(tmp_path: Path, template: Path, max_length: int, **extra) -> Path:
    """DialogSum dev with a template that names no field to shorten: a long example is a reject."""
    return write_recipe(tmp_path, {
        "name": "ds", "output": "out", "tokenizer": "ftdata:tiny-bpe", "max_length": max_length,
        "sources": [{"name": "dialogsum", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                     "templates": [{"file": str(template)}]}], **extra})


def test_every_example_too_long_fails_even_when_rejects_are_allowed(tmp_path, dialogsum_template):
    n = len(shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines())
    for share in (0.5, 1.0):
        with pytest.raises(BuildError) as err:
            compile_recipe(_dialogsum_recipe(tmp_path, dialogsum_template, 16, max_reject_share=share), overwrite=True)
        msg = str(err.value)
        assert "source 'dialogsum'" in msg and f"too_long: {n} examples (100.0%)" in msg
        assert "raise max_length" in msg and "output is empty" in msg
        assert not (tmp_path / "out").exists()
        assert len(_rejects(tmp_path / "out.failed" / "rejects.jsonl")) == n


def test_max_reject_share_is_the_line(tmp_path, dialogsum_template):
    measured = compile_recipe(_dialogsum_recipe(tmp_path, dialogsum_template, 320, max_reject_share=1.0), output=tmp_path / "m")
    c = measured.manifest["counts"]["sources"]["dialogsum"]
    share = c["examples_rejected"] / c["examples_candidates"]
    assert 0 < share < 1
    ok = compile_recipe(_dialogsum_recipe(tmp_path, dialogsum_template, 320, max_reject_share=round(share + 0.01, 2)))
    assert (ok.output / COMPLETED).exists()
    with pytest.raises(BuildError) as err:
        compile_recipe(_dialogsum_recipe(tmp_path, dialogsum_template, 320, max_reject_share=round(share - 0.01, 2)), overwrite=True)
    assert f"{share:.1%} rejected" in str(err.value) and "too_long" in str(err.value)
    assert (ok.output / COMPLETED).exists()  # the previous output stays


def test_empty_split_fails(tmp_path):
    rows = [json.loads(x) for x in shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines()]
    topic = rows[0]["topic"]
    one = tmp_path / "one_topic.jsonl"
    one.write_text("".join(json.dumps(r) + "\n" for r in rows if r["topic"] == topic), encoding="utf-8")
    recipe = write_recipe(tmp_path, {
        "name": "ds", "output": "out", "tokenizer": "ftdata:tiny-bpe", "max_length": 2048,
        "split": {"ratios": {"train": 0.5, "test": 0.5}, "group_by": "topic"},
        "sources": [{"name": "dialogsum", "path": str(one), "key": "fname",
                     "templates": [{"file": DS_TEMPLATES, "names": ["summarize"]}]}]})
    with pytest.raises(BuildError) as err:
        compile_recipe(recipe)
    msg = str(err.value)
    assert "split 'train' is empty" in msg or "split 'test' is empty" in msg
    assert "group_by" in msg
    assert not (tmp_path / "out").exists()


def test_a_users_folder_named_like_the_failed_folder_is_never_touched(tmp_path):
    """``<output>.failed`` is replaced or removed only when ftdata made it (a user's files stay)."""
    mine = tmp_path / "out.failed"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BuildError) as err:  # a failed build does not put its rejects there ...
        compile_recipe(_sms_recipe(tmp_path, "csv"))
    assert "not a folder ftdata made" in str(err.value)
    compile_recipe(_sms_recipe(tmp_path, "tsv"))  # ... and a good one does not clean it away
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine"
    mine_gone = tmp_path / "other"  # ftdata's own failed folder is replaced, then removed
    (tmp_path / "out.failed").rename(mine_gone)
    with pytest.raises(BuildError):
        compile_recipe(_sms_recipe(tmp_path, "csv"), overwrite=True)
    assert (tmp_path / "out.failed" / "rejects.jsonl").exists()
    compile_recipe(_sms_recipe(tmp_path, "tsv"), overwrite=True)
    assert not (tmp_path / "out.failed").exists()
