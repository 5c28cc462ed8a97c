"""Reading in the workers (ftdata.build.ranged): the same bytes as reading in the build process.

A JSON Lines source is handed to the workers as byte ranges; they read, check and key their
rows, the build process checks the keys in input order. Every output file -- rejects.jsonl in
its order, the manifest's counts, the splits -- must equal what reading in the build process
gives, for 1 and 2 processes, with many chunks in flight, cold cache and warm.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from ftdata.build import phase_a, ranged
from ftdata.build.orchestrate import compile_recipe
from ftdata.read.ranges import line_ranges

from .test_cache import output_bytes
from tests.conftest import shared, write_native_templates, write_recipe


def _source(folder):
    """Real DialogSum rows (the test file's use ``summary1``, not ``summary``: schema rejects), with
    unreadable lines, blank lines and duplicate keys spread within and across chunks."""
    dev = shared("dialogsum", "dialogsum.dev.jsonl").read_bytes().splitlines()[:160]
    test = shared("dialogsum", "dialogsum.test.jsonl").read_bytes().splitlines()[:40]
    lines = []
    for i, line in enumerate(dev):
        lines.append(line)
        if i % 4 == 0:
            lines.append(test[i // 4])
        if i % 23 == 5:
            lines.append(b'{"fname": "broken", ')  # malformed JSON
        if i % 31 == 7:
            lines += [b"", b"  "]  # blank lines are no rows
        if i == 100:
            lines += [b""] * 40  # whole chunks of blank lines: no chunk at all
        if i % 37 == 11:
            lines.append(b'{"fname": "\xff\xfe"}')  # invalid UTF-8
        if i % 13 == 12:
            lines.append(dev[i - 2])  # the same key in the same chunk or the one before
        if i % 29 == 28:
            lines.append(dev[i - 25])  # the same key chunks earlier
    (folder / "d.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    write_native_templates(folder / "t.yaml", [{"name": "sum", "prompt": "Summarize:\n{{dialogue}}",
                                                "completion": "{{summary}}"}])
    return write_recipe(folder, {
        "name": "w", "output": "out", "seed": 3, "batch_size": 16, "max_length": 260,  # long dialogues: dropped in phase A
        "max_reject_share": 1.0,
        "sources": [{"name": "d", "path": "d.jsonl", "key": "fname", "templates": [{"file": "t.yaml"}],
                     "columns": {"summary": {"type": "str", "min_length": 1}}}]})



def read_in_build_process(m) -> None:
    """Read in the build process, as every source was before reading in the workers existed."""
    m.setattr(phase_a, "read_tasks", lambda *a: None)
    m.setattr(ranged, "read_range", lambda *a: pytest.fail("the build process path read a range"))


def built_both_ways(recipe, tmp_path, monkeypatch, num_proc, workers_read: bool = True):
    """Build ``recipe`` read in the workers (cache on) and read in the build process (cache off);
    assert every output file is byte-identical. Returns (the workers' build, its bytes, the
    build process's bytes). ``workers_read`` False: a source the workers cannot read (both
    builds read it in the build process)."""
    calls = []
    real = ranged.read_range
    monkeypatch.setattr(ranged, "read_range", lambda *a: calls.append(1) or real(*a))
    workers = compile_recipe(recipe, output=tmp_path / "workers", num_proc=num_proc, cache=True)
    if num_proc == 1:
        assert bool(calls) == workers_read  # the worker threads read
    with monkeypatch.context() as m:
        read_in_build_process(m)
        main = compile_recipe(recipe, output=tmp_path / "main", num_proc=num_proc, cache=False)
    got, want = output_bytes(workers.output), output_bytes(main.output)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], name
    return workers, got, want


@pytest.mark.parametrize("num_proc", [1, 2])
def test_workers_read_jsonl_with_the_bytes_of_reading_in_the_build_process(tmp_path, monkeypatch, num_proc):
    recipe = _source(tmp_path)
    workers, got, want = built_both_ways(recipe, tmp_path, monkeypatch, num_proc)

    rej = [json.loads(x) for x in want["rejects.jsonl"].decode().splitlines()]
    codes = [r["code"] for r in rej]
    assert {"unreadable", "schema", "duplicate_key"} <= set(codes) and len(set(codes)) >= 4, codes
    # read rejects and the tokenize rejects of the rows around them, in input order (once the order
    # of the engine's window, which changed with batch_size: tests/integration/test_reject_order.py)
    lines_in_order = [r["line"] for r in rej]
    assert lines_in_order == sorted(lines_in_order) and {r["stage"] for r in rej} >= {"read", "tokenize"}
    c = workers.manifest["counts"]["sources"]["d"]
    non_blank = [x for x in (tmp_path / "d.jsonl").read_bytes().split(b"\n") if x.strip()]
    assert c["rows_read"] == len(non_blank) == 229 and c["rows_rejected"] == sum(
        code in ("unreadable", "schema", "duplicate_key") for code in codes), c

    # the chunks the workers stored carry their rows' keys and read rejects; a warm rebuild reuses
    # every one and gives the same bytes
    # (and nothing else: a chunk with a duplicate key is its worker's entry less the duplicate rows)
    entries = list((tmp_path / ".workers.cache").rglob("*.arrow"))
    read_by_worker = sum(b"ftdata.read" in pa.ipc.open_file(str(p)).metadata for p in entries)
    assert read_by_worker == len(list(line_ranges(tmp_path / "d.jsonl", 16))) == len(entries)
    warm = compile_recipe(recipe, output=tmp_path / "workers", num_proc=num_proc, overwrite=True,
                          cache=True)
    assert warm.build_info["cache"]["chunks_computed"] == 0
    assert output_bytes(warm.output) == got


@pytest.mark.parametrize("num_proc", [1, 2])
def test_a_chunk_with_a_duplicate_key_is_not_recomputed_in_the_build_process(tmp_path, monkeypatch, num_proc):
    """Rows repeated through a file (content-hash keys: every exact repeat is a duplicate key) put a
    duplicate in nearly every chunk; the build process recomputed each such chunk on its own thread
    (6,000 DialogSum rows with 2% repeats: 7 of 7 chunks, 3.83 s against 2.45 s reading in the build
    process). The duplicate rows are now taken out of the worker's result; same bytes."""
    import threading

    from ftdata.build import chunk

    recipe = _source(tmp_path)
    on_build_thread = []
    real = chunk.process_chunk

    def counted(*a, **k):
        if threading.current_thread() is threading.main_thread():
            on_build_thread.append(1)
        return real(*a, **k)

    monkeypatch.setattr(chunk, "process_chunk", counted)
    _, got, want = built_both_ways(recipe, tmp_path, monkeypatch, num_proc)
    assert b"duplicate_key" in want["rejects.jsonl"]
    # the build-process path (cache off) runs its chunks on worker threads or processes too
    assert on_build_thread == []


def test_ray_stores_the_whole_range_of_a_chunk_with_a_duplicate_key(tmp_path, local_ray):
    """On Ray the build process stores a range's entry, as a local worker does, also for a chunk
    holding a duplicate key (this build keeps it less the duplicate rows): a warm rebuild, on Ray
    or on the local engine, computes no chunk and gives the same bytes. (rejects.jsonl on Ray
    orders rejects by Ray's window: compared Ray with Ray.)"""
    recipe = _source(tmp_path)
    cold = compile_recipe(recipe, output=tmp_path / "out", engine="ray", cache=True)
    warm = compile_recipe(recipe, output=tmp_path / "out", engine="ray", overwrite=True, cache=True)
    fresh = compile_recipe(recipe, output=tmp_path / "fresh", engine="ray", cache=False)
    want = output_bytes(fresh.output)
    assert b"duplicate_key" in want["rejects.jsonl"]
    assert output_bytes(cold.output) == want and output_bytes(warm.output) == want
    entries = list((tmp_path / ".out.cache").rglob("*.arrow"))
    assert len(entries) == len(list(line_ranges(tmp_path / "d.jsonl", 16)))
    assert all(b"ftdata.read" in pa.ipc.open_file(str(p)).metadata for p in entries)
    assert warm.build_info["cache"]["chunks_computed"] == 0
    local = compile_recipe(recipe, output=tmp_path / "out", overwrite=True, cache=True)
    assert local.build_info["cache"]["chunks_computed"] == 0
