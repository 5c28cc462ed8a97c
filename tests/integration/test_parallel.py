"""Parallel phase A: threads, process pools, in-order results, compact duplicate-key checks, progress."""

from __future__ import annotations

import json

from ftdata.build.orchestrate import compile_recipe

from .test_cache import output_bytes, two_source_recipe
from tests.conftest import write_jsonl, write_native_templates, write_recipe


def test_one_thread_pool_and_process_pool_give_identical_output(tmp_path):
    recipe = two_source_recipe(tmp_path, n=150, batch_size=16)
    outs = [compile_recipe(recipe, output=tmp_path / f"o{n}", num_proc=n, cache=False).output for n in (1, 2, 3)]
    first = output_bytes(outs[0])
    assert all(output_bytes(o) == first for o in outs[1:])
    info = json.loads((outs[1] / "build_info.json").read_text())
    assert info["num_proc"] == 2 and info["engine"] == "local"


def test_cli_flags(tmp_path):
    from click.testing import CliRunner

    from ftdata.cli.app import main

    recipe = two_source_recipe(tmp_path, n=40, batch_size=10)
    r = CliRunner().invoke(main, ["build", str(recipe), "-q", "--num-proc", "2"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["build", str(recipe), "-q", "--overwrite"])
    assert r.exit_code == 0 and "up to date" in r.output
    r = CliRunner().invoke(main, ["build", str(recipe), "-q", "--overwrite", "--force", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["counts"]["sources"]["a"]["rows_read"] == 40
    r = CliRunner().invoke(main, ["build", str(recipe), "-q", "--overwrite", "--ray-address", "auto"])
    assert r.exit_code == 2 and "error: --ray-address needs --engine ray" in r.output


def test_duplicate_keys_across_chunks_are_rejected_in_row_order(tmp_path):
    rows = [{"id": i % 7, "q": f"q{i}", "a": f"a{i}"} for i in range(20)]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "t", "prompt": "{{q}}", "completion": "{{a}}"}])
    recipe = write_recipe(tmp_path, {"name": "k", "output": "out", "batch_size": 3, "split": {"ratios": {"train": 1.0}},
                                     "max_reject_share": 1.0,  # 13 of 20 keys repeat by design
                                     "sources": [{"name": "s", "path": "rows.jsonl", "key": "id",
                                                  "templates": [{"file": str(tpl)}]}]})
    res = compile_recipe(recipe)
    rej = [json.loads(x) for x in (res.output / "rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rej if r["code"] == "duplicate_key"] == list(range(8, 21))
    assert res.manifest["counts"]["sources"]["s"]["rows_rejected"] == 13


def test_progress_reports_stages_rates_and_a_true_total(tmp_path):
    recipe = two_source_recipe(tmp_path, n=100, batch_size=20)
    seen = []
    res = compile_recipe(recipe, progress=lambda p: seen.append((p.stage, p.rows, p.rows_total, p.examples, p.tokens,
                                                                 p.eta, p.cached_chunks)))
    stages = [s[0] for s in seen]
    assert stages[0] == "phase A" and stages[-1] == "done" and "finalize" in stages
    assert all(s[2] == 200 for s in seen)  # rows in both sources, counted before the build
    rows = [s[1] for s in seen]
    assert rows == sorted(rows) and rows[-1] == 200
    assert seen[-1][3] == res.manifest["counts"]["sources"]["a"]["examples_candidates"] + \
        res.manifest["counts"]["sources"]["b"]["examples_candidates"]
    assert seen[-1][4] > 0 and any(s[5] is not None for s in seen if s[0] == "phase A" and s[1])
    info = res.build_info
    assert {"read", "render+tokenize", "write", "finalize", "total"} <= set(info["seconds"])
    assert info["rates"]["phase A rows/s"] > 0 and info["tokens_candidates"] == seen[-1][4]
