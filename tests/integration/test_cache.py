"""Incremental and resumable builds: the content-addressed chunk cache (ftdata/cache.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftdata.build.cache import context_fingerprint, default_cache_dir
from ftdata.build.orchestrate import compile_recipe as _compile

from tests.conftest import ROOT, shared, write_jsonl, write_native_templates, write_recipe
from tests.unit.build.test_cache import _ctx

#: Files that hold the build's timings, so differ between any two builds by design.
TIMED = ("build_info.json", "report.html")


def compile_recipe(recipe, **kw):
    """Builds with the cache on (the CLI's default; the Python API's is off)."""
    return _compile(recipe, **{"cache": True, **kw})


def output_bytes(out: Path) -> dict[str, bytes]:
    """Every file of a compiled directory except those that hold timings."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in TIMED}


def two_source_recipe(folder: Path, n: int = 120, batch_size: int = 25, **extra) -> Path:
    rows = [json.loads(x) for x in shared("dialogsum", "dialogsum.dev.jsonl").read_text().splitlines()][:n]
    write_jsonl(folder / "a.jsonl", rows)
    write_jsonl(folder / "b.jsonl", [dict(r, fname=r["fname"] + "b", dialogue=r["dialogue"][::-1]) for r in rows])
    write_native_templates(folder / "ta.yaml", [{"name": "sum", "prompt": "Summarize:\n{{dialogue}}", "completion": "{{summary}}"}])
    write_native_templates(folder / "tb.yaml", [
        {"name": "sum", "prompt": "Summary of\n{{dialogue}}", "completion": "{{summary}}"},
        {"name": "topic", "prompt": "Topic of\n{{dialogue}}", "completion": "{{summary.split()[0]}}"}])
    recipe = {"name": "c", "output": "out", "seed": 5, "batch_size": batch_size, "max_length": 2048,
              "sources": [{"name": "a", "path": "a.jsonl", "key": "fname", "templates": [{"file": "ta.yaml"}]},
                          {"name": "b", "path": "b.jsonl", "key": "fname", "templates": [{"file": "tb.yaml"}]}]}
    recipe.update(extra)
    return write_recipe(folder, recipe)


def test_rebuild_reuses_every_chunk_and_is_byte_identical(tmp_path):
    recipe = two_source_recipe(tmp_path)
    cold = compile_recipe(recipe, cache=False, output=tmp_path / "cold")
    first = compile_recipe(recipe)
    assert first.build_info["cache"]["chunks_reused"] == 0
    n_chunks = first.build_info["cache"]["chunks_computed"]
    assert n_chunks == 10  # two sources of 120 rows in chunks of 25
    again = compile_recipe(recipe, overwrite=True)
    assert again.build_info["cache"] == first.build_info["cache"] | {"chunks_reused": n_chunks, "chunks_computed": 0}
    assert output_bytes(again.output) == output_bytes(cold.output) == output_bytes(first.output)
    assert (tmp_path / ".out.cache").is_dir() and default_cache_dir(tmp_path / "out") == tmp_path / ".out.cache"


def test_unchanged_output_is_kept_and_force_recomputes(tmp_path):
    recipe = two_source_recipe(tmp_path)
    first = compile_recipe(recipe)
    stamp = (first.output / "manifest.json").stat().st_mtime_ns
    kept = compile_recipe(recipe, overwrite=True, skip_unchanged=True)
    assert kept.build_info.get("up_to_date") and (first.output / "manifest.json").stat().st_mtime_ns == stamp
    assert kept.manifest == first.manifest
    forced = compile_recipe(recipe, overwrite=True, skip_unchanged=True, force=True)
    assert forced.build_info["cache"]["chunks_reused"] == 0 and forced.build_info["cache"]["forced"]
    assert output_bytes(forced.output) == output_bytes(first.output)


def test_changing_one_template_recomputes_only_the_chunks_it_touches(tmp_path):
    recipe = two_source_recipe(tmp_path)
    compile_recipe(recipe)
    write_native_templates(tmp_path / "tb.yaml", [
        {"name": "sum", "prompt": "Write a summary of\n{{dialogue}}", "completion": "{{summary}}"},
        {"name": "topic", "prompt": "Topic of\n{{dialogue}}", "completion": "{{summary.split()[0]}}"}])
    changed = compile_recipe(recipe, overwrite=True, skip_unchanged=True)
    assert changed.build_info["cache"]["chunks_reused"] == 5  # source a: untouched
    assert changed.build_info["cache"]["chunks_computed"] == 5  # source b: its template changed
    cold = compile_recipe(recipe, cache=False, output=tmp_path / "cold")
    assert output_bytes(changed.output) == output_bytes(cold.output)
    # entries of the old template were pruned: the cache holds one build's chunks
    assert len(list((tmp_path / ".out.cache").glob("*/*.arrow"))) == 10


def test_a_failed_build_resumes_from_its_finished_chunks(tmp_path, monkeypatch):
    import ftdata.build.chunk as chunk

    recipe = two_source_recipe(tmp_path, batch_size=10)
    real, calls = chunk.process_chunk, [0]

    def dies_on_the_eighth(ctx, rows):
        calls[0] += 1
        if calls[0] == 8:
            raise RuntimeError("simulated crash")
        return real(ctx, rows)

    monkeypatch.setattr(chunk, "process_chunk", dies_on_the_eighth)
    with pytest.raises(RuntimeError, match="simulated crash"):
        compile_recipe(recipe)
    monkeypatch.setattr(chunk, "process_chunk", real)
    assert not (tmp_path / "out").exists()
    resumed = compile_recipe(recipe)
    assert resumed.build_info["cache"]["chunks_reused"] >= 5
    cold = compile_recipe(recipe, cache=False, output=tmp_path / "cold")
    assert output_bytes(resumed.output) == output_bytes(cold.output)


@pytest.mark.slow
def test_sigkilled_cli_build_resumes(tmp_path):
    recipe = two_source_recipe(tmp_path, n=500, batch_size=20)
    proc = subprocess.Popen([sys.executable, "-m", "ftdata", "build", str(recipe), "-q"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = tmp_path / ".out.cache"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(cache.glob("*/*.arrow"))) < 3 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(cache.glob("*/*.arrow")))
    assert done_before >= 3
    if (tmp_path / "out" / "COMPLETED").exists():
        pytest.skip("the build finished before it could be killed")
    resumed = compile_recipe(recipe, overwrite=True)
    assert resumed.build_info["cache"]["chunks_reused"] >= done_before - 1  # maybe one more after the glob
    cold = compile_recipe(recipe, cache=False, output=tmp_path / "cold")
    assert output_bytes(resumed.output) == output_bytes(cold.output)


def test_a_damaged_entry_is_recomputed(tmp_path):
    recipe = two_source_recipe(tmp_path)
    first = compile_recipe(recipe)
    entry = sorted((tmp_path / ".out.cache").glob("*/*.arrow"))[0]
    entry.write_bytes(entry.read_bytes()[:100])
    again = compile_recipe(recipe, overwrite=True)
    assert again.build_info["cache"]["chunks_computed"] == 1
    assert output_bytes(again.output) == output_bytes(first.output)


def test_cache_dir_from_recipe_and_environment(tmp_path, monkeypatch):
    recipe = two_source_recipe(tmp_path, cache_dir="cc")
    res = compile_recipe(recipe)
    assert Path(res.build_info["cache"]["dir"]) == tmp_path / "cc" and list((tmp_path / "cc").glob("*/*.arrow"))
    assert res.manifest["hashes"]["recipe"] == compile_recipe(two_source_recipe(tmp_path), output=tmp_path / "o2").manifest["hashes"]["recipe"]
    monkeypatch.setenv("FTDATA_CACHE_DIR", str(tmp_path / "envcache"))
    res = compile_recipe(two_source_recipe(tmp_path), output=tmp_path / "o3")
    assert Path(res.build_info["cache"]["dir"]) == tmp_path / "envcache"


def test_context_fingerprint_does_not_depend_on_set_order():
    a = context_fingerprint(_ctx(chat={"names": {"x", "y", "z", "w"}}), "t")
    b = context_fingerprint(_ctx(chat={"names": {"w", "z", "y", "x"}}), "t")
    assert a == b
    code = ("from ftdata.build.cache import context_fingerprint; from tests.unit.build.test_cache import _ctx; "
            "print(context_fingerprint(_ctx(chat={'names': {'x', 'y', 'z', 'w'}}), 't'))")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONHASHSEED="123"), check=True).stdout.strip()
    assert other == a


def test_worker_processes_look_up_and_store_chunks_themselves(tmp_path, monkeypatch):
    # num_proc 2: the workers hash, look up and store; the build process only reads rows
    recipe = two_source_recipe(tmp_path)
    cold = compile_recipe(recipe, cache=False, output=tmp_path / "cold")
    first = compile_recipe(recipe, num_proc=2)
    assert (first.build_info["cache"]["chunks_computed"], first.build_info["cache"]["chunks_reused"]) == (10, 0)
    assert len(list((tmp_path / ".out.cache").glob("*/*.arrow"))) == 10
    for procs in (2, 1):  # stored by processes, found by processes and by threads alike
        again = compile_recipe(recipe, num_proc=procs, overwrite=True, skip_unchanged=False)
        assert (again.build_info["cache"]["chunks_computed"], again.build_info["cache"]["chunks_reused"]) == (0, 10)
        assert output_bytes(again.output) == output_bytes(cold.output)
    # a chunk whose rejects cannot be stored is still built, just not kept
    import ftdata.build.cache

    monkeypatch.setattr(ftdata.build.cache.ChunkCache, "put", lambda self, key, res, schema: None)
    forced = compile_recipe(recipe, overwrite=True, force=True)
    assert forced.build_info["cache"]["chunks_computed"] == 10
    assert output_bytes(forced.output) == output_bytes(cold.output)
