"""Reading in the workers, Parquet and Arrow IPC files (ftdata.build.ranged.SliceTask).

A Parquet file is cut at its row groups, an Arrow IPC file at its record batches, and at
``batch_size`` rows: the same slices whether the build process reads them or the workers do.
Every output file -- rejects.jsonl in its order, the manifest's counts, the splits -- must equal
what reading in the build process gives, for 1 and 2 processes, cold cache and warm; and on a
source without rejects, cutting at row groups must give the outputs of the old cut (every
``batch_size`` rows across row groups).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ftdata.build import rows as row_stream
from ftdata.build.orchestrate import compile_recipe
from ftdata.read.columnar import row_slices

from .test_cache import output_bytes
from .test_read_in_workers import built_both_ways, read_in_build_process
from tests.conftest import shared, write_native_templates, write_recipe

PARTS = [23, 5, 40, 1, 31, 0, 17, 50, 33]  # row group / record batch sizes (one empty), batch_size 16


def _rows(with_rejects: bool) -> list[dict]:
    """Real DialogSum rows; with rejects, test-file rows (``summary1``, no ``summary``: schema
    rejects) and rows repeating a key within a chunk and chunks earlier."""
    def load(name, n):
        return [json.loads(x) for x in shared("dialogsum", name).read_text(encoding="utf-8").splitlines()[:n]]

    dev, test = load("dialogsum.dev.jsonl", sum(PARTS)), load("dialogsum.test.jsonl", 40)
    if not with_rejects:
        return dev[:sum(PARTS)]
    rows = []
    for i, row in enumerate(dev):
        rows.append(row)
        if i % 4 == 0:
            rows.append(test[i // 4 % len(test)])
        if i % 13 == 12:
            rows.append(dev[i - 2])
        if i % 29 == 28:
            rows.append(dev[i - 25])
    return rows[:sum(PARTS)]


def _table(rows: list[dict]) -> pa.Table:
    cols = sorted({k for r in rows for k in r})
    return pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in cols})


def _write(folder, fmt: str, with_rejects: bool) -> str:
    table = _table(_rows(with_rejects))
    parts, at = [], 0
    for n in PARTS:
        parts.append(table.slice(at, n))
        at += n
    if fmt == "parquet":
        with pq.ParquetWriter(folder / "d.parquet", table.schema) as w:
            for p in parts:
                if len(p):  # one row group each
                    w.write_table(p, row_group_size=len(p))
        name = "d.parquet"
    else:
        name = "d.arrow"
        with pa.OSFile(str(folder / name), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            for p in parts:
                w.write_batch(p.combine_chunks().to_batches()[0] if len(p) else
                              pa.RecordBatch.from_pylist([], schema=table.schema))
    return name


def _recipe(folder, fmt: str, with_rejects: bool):
    name = _write(folder, fmt, with_rejects)
    write_native_templates(folder / "t.yaml", [{"name": "sum", "prompt": "Summarize:\n{{dialogue}}",
                                                "completion": "{{summary}}"}])
    return write_recipe(folder, {
        "name": "w", "output": "out", "seed": 3, "batch_size": 16, "max_length": 260,  # long dialogues: dropped in phase A
        "max_reject_share": 1.0,
        "sources": [{"name": "d", "path": name, "key": "fname", "templates": [{"file": "t.yaml"}],
                     "columns": {"summary": {"type": "str", "min_length": 1}}}]})


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
@pytest.mark.parametrize("num_proc", [1, 2])
def test_workers_read_columnar_files_with_the_bytes_of_reading_in_the_build_process(tmp_path, monkeypatch,
                                                                                   num_proc, fmt):
    recipe = _recipe(tmp_path, fmt, with_rejects=True)
    path = tmp_path / f"d.{fmt}"
    workers, got, want = built_both_ways(recipe, tmp_path, monkeypatch, num_proc)

    rej = [json.loads(x) for x in want["rejects.jsonl"].decode().splitlines()]
    codes = [r["code"] for r in rej]
    assert {"schema", "duplicate_key"} <= set(codes) and len(set(codes)) >= 3, codes
    lines_in_order = [r["line"] for r in rej]
    # read rejects and the rows' own rejects interleave, in input order (test_reject_order.py)
    assert lines_in_order == sorted(lines_in_order) and len({r["stage"] for r in rej}) >= 3
    c = workers.manifest["counts"]["sources"]["d"]
    assert c["rows_read"] == sum(PARTS) and c["rows_rejected"] == sum(
        code in ("schema", "duplicate_key") for code in codes), c

    # slices end at every part's end and every 16 rows; one chunk each, stored by its worker with
    # its rows' keys and read rejects; a warm rebuild reuses every one and gives the same bytes
    slices = list(row_slices(path, fmt, 16))
    assert [s.count for s in slices] == [16, 7, 5, 16, 16, 8, 1, 16, 15, 16, 1, 16, 16, 16, 2, 16, 16, 1]
    assert [s.first_line for s in slices] == [1 + sum(s.count for s in slices[:i]) for i in range(len(slices))]
    entries = list((tmp_path / ".workers.cache").rglob("*.arrow"))
    read_by_worker = sum(b"ftdata.read" in pa.ipc.open_file(str(p)).metadata for p in entries)
    assert read_by_worker == len(slices) == len(entries)  # one per slice, none recomputed
    warm = compile_recipe(recipe, output=tmp_path / "workers", num_proc=num_proc, overwrite=True, cache=True)
    assert warm.build_info["cache"]["chunks_computed"] == 0
    assert output_bytes(warm.output) == got


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_cutting_at_row_groups_gives_the_outputs_of_the_old_cut(tmp_path, monkeypatch, fmt):
    """Without rejects, chunks cut at row groups / record batches give the outputs of chunks of
    ``batch_size`` rows across them (the reader before slices), read here or in the workers."""
    recipe = _recipe(tmp_path, fmt, with_rejects=False)
    workers = compile_recipe(recipe, output=tmp_path / "workers", num_proc=2, cache=False)
    with monkeypatch.context() as m:
        read_in_build_process(m)
        here = compile_recipe(recipe, output=tmp_path / "here", num_proc=2, cache=False)
        m.setattr(row_stream, "local_file", lambda src, base: None)  # the old cut
        old = compile_recipe(recipe, output=tmp_path / "old", num_proc=2, cache=False)
    assert len(list(row_slices(tmp_path / f"d.{fmt}", fmt, 16))) != -(-sum(PARTS) // 16)  # the cuts differ
    want = output_bytes(old.output)
    codes = [json.loads(x)["code"] for x in want["rejects.jsonl"].splitlines()]
    assert codes and not {"unreadable", "schema", "duplicate_key"} & set(codes), codes  # phase-A rejects only
    assert output_bytes(here.output) == want
    assert output_bytes(workers.output) == want


def test_with_read_rejects_the_new_cut_changes_nothing(tmp_path, monkeypatch):
    """Cutting at row groups, for a source with read rejects: the same bytes as the old cut of
    ``batch_size`` rows. It once changed the order of the lines of rejects.jsonl (read rejects were
    written between chunks' phase-A rejects); they are now in input order, whatever the cut."""
    recipe = _recipe(tmp_path, "parquet", with_rejects=True)
    new = output_bytes(compile_recipe(recipe, output=tmp_path / "new", num_proc=1, cache=False).output)
    with monkeypatch.context() as m:
        read_in_build_process(m)
        m.setattr(row_stream, "local_file", lambda src, base: None)  # the old cut
        old = output_bytes(compile_recipe(recipe, output=tmp_path / "old", num_proc=1, cache=False).output)
    assert old.keys() == new.keys()
    assert [n for n in old if old[n] != new[n]] == []
    stages = {json.loads(x)["stage"] for x in new["rejects.jsonl"].splitlines()}
    # rejects of reading (schema, duplicate key) and of the rows (tokenize), in one order
    assert stages == {"schema", "key", "tokenize"}, stages
