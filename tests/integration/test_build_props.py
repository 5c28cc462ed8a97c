"""Determinism, atomicity, accounting and bad input for the build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.cli.app import main
from ftdata.errors import BuildError, ConfigError

from tests.conftest import ROOT, shared, write_jsonl, write_native_templates, write_recipe


def _dialogsum_recipe(tmp_path, tpl, seed=1, out="out", **kw):
    r = {"name": "ds", "output": out, "seed": seed,
         "sources": [{"name": "dialogsum", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                      "templates": [{"file": str(tpl)}]}], "max_length": 2048}
    r.update(kw)
    return write_recipe(tmp_path, r, name=f"recipe-{out}.yaml")


def _shard_bytes(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.arrow"))}


def test_determinism_and_seed(tmp_path, dialogsum_template):
    recipe = _dialogsum_recipe(tmp_path, dialogsum_template)
    a = compile_recipe(recipe, output=tmp_path / "a")
    b = compile_recipe(recipe, output=tmp_path / "b")
    c = compile_recipe(_dialogsum_recipe(tmp_path, dialogsum_template, seed=2, out="c"))
    assert (a.output / "manifest.json").read_bytes() == (b.output / "manifest.json").read_bytes()
    assert _shard_bytes(a.output) == _shard_bytes(b.output)
    assert a.manifest["hashes"] == b.manifest["hashes"]
    assert a.manifest["counts"]["splits"] != c.manifest["counts"]["splits"]


def test_row_order_and_batch_size_do_not_change_split(tmp_path, dialogsum_template):
    rows = [json.loads(x) for x in shared("dialogsum", "dialogsum.dev.jsonl").read_text().splitlines()]
    write_jsonl(tmp_path / "rev.jsonl", rows[::-1])
    import datasets

    a = compile_recipe(_dialogsum_recipe(tmp_path, dialogsum_template, out="a"))
    r = {"name": "ds", "output": "b", "seed": 1, "batch_size": 7,
         "sources": [{"name": "dialogsum", "path": "rev.jsonl", "key": "fname", "templates": [{"file": str(dialogsum_template)}]}],
         "max_length": 2048}
    b = compile_recipe(write_recipe(tmp_path, r, "r2.yaml"))
    for split in ("train", "validation", "test"):
        ka = set(datasets.load_from_disk(str(a.output))[split]["row_key"])
        kb = set(datasets.load_from_disk(str(b.output))[split]["row_key"])
        assert ka == kb


def test_refuses_overwrite_without_flag(tmp_path, dialogsum_template):
    recipe = _dialogsum_recipe(tmp_path, dialogsum_template)
    compile_recipe(recipe)
    with pytest.raises(BuildError, match="--overwrite"):
        compile_recipe(recipe)
    compile_recipe(recipe, overwrite=True)
    assert (tmp_path / "out" / "COMPLETED").exists()


def test_killed_build_leaves_nothing_complete(tmp_path, dialogsum_template):
    rows = [json.loads(x) for x in shared("dialogsum", "dialogsum.dev.jsonl").read_text().splitlines()]
    big = [dict(r, fname=f"{r['fname']}-{i}") for i in range(40) for r in rows]
    write_jsonl(tmp_path / "big.jsonl", big)
    r = {"name": "ds", "output": "out", "sources": [{"name": "d", "path": "big.jsonl", "key": "fname",
                                                       "templates": [{"file": str(dialogsum_template)}]}],
         "max_length": 2048, "shard_size": 500, "batch_size": 200}
    recipe = write_recipe(tmp_path, r)
    for delay in (1.5, 3.0):
        proc = subprocess.Popen([sys.executable, "-m", "ftdata", "build", str(recipe), "-q", "--overwrite"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        out = tmp_path / "out"
        assert not (out / "COMPLETED").exists()
        leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]
        assert all(not (p / "COMPLETED").exists() for p in leftovers)
        assert leftovers or not out.exists()  # it was killed mid-way, not finished


def test_wrong_types_go_to_rejects(tmp_path):
    write_jsonl(tmp_path / "rows.jsonl", [{"id": 1, "n": 3, "t": "a"}, {"id": 2, "n": "x", "t": "b"},
                                          {"id": 3, "n": 9, "t": "c"}])
    (tmp_path / "rows.jsonl").write_text((tmp_path / "rows.jsonl").read_text() + "{not json\n")
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "t", "prompt": "{{t}}", "completion": "{{n}}"}])
    recipe = write_recipe(tmp_path, {"name": "x", "output": "out", "sources": [{
        "name": "s", "path": "rows.jsonl", "key": "id", "columns": {"n": {"type": "int", "min": 1, "max": 5}},
        "templates": [{"file": str(tpl)}]}], "split": {"ratios": {"train": 1.0}},
        "max_reject_share": 1.0})  # 3 of 4 rows are bad by design
    res = compile_recipe(recipe)
    rej = [json.loads(line) for line in (res.output / "rejects.jsonl").read_text().splitlines()]
    reasons = {r["line"]: r["reason"] for r in rej}
    assert reasons[2] == "n: expected an integer, found 'x'"
    assert reasons[3] == "n: expected <= 5, found 9"
    assert reasons[4].startswith("malformed JSON")
    assert res.manifest["counts"]["sources"]["s"]["rows_read"] == 4


def test_unknown_variable_error(tmp_path):
    write_jsonl(tmp_path / "rows.jsonl", [{"dialogue": "hi", "summary": "s"}])
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "sum", "prompt": "Summarize:\n{{dialog}}",
                                                         "completion": "{{summary}}"}])
    recipe = write_recipe(tmp_path, {"name": "x", "output": "out", "sources": [{
        "name": "s", "path": "rows.jsonl", "templates": [{"file": str(tpl)}]}]})
    with pytest.raises(ConfigError) as ei:
        compile_recipe(recipe)
    msg = str(ei.value)
    assert "template 'sum'" in msg and "line 2" in msg and "did you mean 'dialogue'" in msg
    assert "available columns: dialogue, summary" in msg
    assert not (tmp_path / "out").exists()


def test_bad_recipe_reports_every_problem(tmp_path):
    (tmp_path / "r.yaml").write_text(
        "name: x\nseed: abc\nmax_lenght: 5\nsources:\n  - name: s\n    path: nope.jsonl\n    templates: []\n"
        "split:\n  ratios: {train: 0.5}\nlayout: decoder\n")
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "r.yaml")])
    assert res.exit_code == 2
    out = res.output
    for needle in ("seed", "max_lenght", "did you mean 'max_length'", "ratios", "sum to 1", "layout", "decoder"):
        assert needle in out, needle
    assert "Traceback" not in out


def test_malformed_yaml_and_missing_source(tmp_path):
    (tmp_path / "r.yaml").write_text("name: x\nsources: [\n")
    res = CliRunner().invoke(main, ["build", str(tmp_path / "r.yaml")])
    assert res.exit_code == 2 and "invalid YAML" in res.output and "r.yaml:" in res.output
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "t", "prompt": "a", "completion": "b"}])
    write_recipe(tmp_path, {"name": "x", "output": "out", "sources": [{"name": "s", "path": "missing.csv",
                                                                      "templates": [{"file": str(tpl)}]}]}, "r2.yaml")
    res = CliRunner().invoke(main, ["build", str(tmp_path / "r2.yaml")])
    assert res.exit_code == 2 and "file not found" in res.output and "sources[0].path" in res.output
    assert not (tmp_path / "out").exists()


def test_preview_piped_shows_markers():
    res = CliRunner().invoke(main, ["preview", str(ROOT / "examples/reviews/recipe.yaml"), "-n", "1"])
    assert res.exit_code == 0, res.output
    assert "«" in res.output and "<|endoftext|>»" in res.output and "\x1b[" not in res.output
    assert "first trained token" in res.output
