"""Flat memory: streaming readers (JSON arrays included) and bounded work in flight."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.write import gather
from ftdata.write.gather import gather_slices, take_rows


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=6), min_size=1, max_size=6),
       st.data())
def test_take_rows_equals_table_take(chunks, data):
    table = pa.concat_tables([pa.table({"s": pa.array(c, pa.string()),
                                        "ids": pa.array([[len(x or "")] * 2 for x in c], pa.list_(pa.int32()))})
                              for c in chunks])
    n = table.num_rows
    idx = data.draw(st.lists(st.integers(0, n - 1), max_size=20)) if n else []
    assert take_rows(table, idx).equals(table.take(pa.array(idx, pa.int64())))


def test_take_rows_does_not_concatenate_the_table():
    chunks = [pa.table({"ids": pa.array([list(range(300))] * 1000, pa.list_(pa.int32()))}) for _ in range(40)]
    table = pa.concat_tables(chunks)  # 48 MB in 40 chunks
    pool = pa.default_memory_pool()
    before = pool.max_memory()
    part = take_rows(table, np.random.default_rng(0).permutation(table.num_rows)[:500])
    assert part.num_rows == 500
    assert pool.max_memory() - before < table.nbytes / 4  # Table.take would allocate about all of it


def test_take_rows_hands_back_each_chunk_it_copied_from():
    table = pa.concat_tables([pa.table({"x": pa.array(range(i * 10, i * 10 + 10))}) for i in range(5)])
    released = []
    part = take_rows(table, [41, 3, 44, 12], lambda start, stop: released.append((start, stop)))
    assert part.column("x").to_pylist() == [41, 3, 44, 12]
    assert sorted(released) == [(0, 10), (10, 20), (40, 50)]  # chunks 2 and 3 were never read


@pytest.mark.parametrize("in_memory", [False, True], ids=["spilled", "in-memory"])
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=6), st.data())
def test_gather_slices_equals_table_take_per_slice(tmp_path_factory, in_memory, sizes, data):
    # both ways of gathering: through spill files, and (a table within IN_MEMORY_BYTES) in memory
    budget = gather.IN_MEMORY_BYTES
    gather.IN_MEMORY_BYTES = 1 << 40 if in_memory else -1
    try:
        _check_gather_slices(tmp_path_factory, sizes, data)
    finally:
        gather.IN_MEMORY_BYTES = budget


def _check_gather_slices(tmp_path_factory, sizes, data):
    table = pa.concat_tables([pa.table({"x": pa.array(np.arange(n, dtype=np.int64) + 100 * i),
                                        "ids": pa.array([[i, j] for j in range(n)], pa.list_(pa.int32()))})
                              for i, n in enumerate(sizes)])
    perm = data.draw(st.permutations(range(table.num_rows)))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(perm)), max_size=5)))
    slices = [np.asarray(perm[a:b], dtype=np.int64) for a, b in zip([0, *cuts], [*cuts, len(perm)])]
    released = []
    got = list(gather_slices(table, slices, tmp_path_factory.mktemp("spill"),
                             lambda a, b: released.append((a, b))))
    assert [g.to_pydict() for g in got] == [table.take(pa.array(s)).to_pydict() for s in slices]
    assert len(released) == len(table.to_batches())  # every chunk read once, in one pass


def test_gather_slices_beyond_the_open_files_budget_takes_more_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(gather, "_open_files_budget", lambda: 2)
    monkeypatch.setattr(gather, "IN_MEMORY_BYTES", -1)  # the spilling way, whatever the table's size
    table = pa.concat_tables([pa.table({"x": pa.array(range(i * 10, i * 10 + 10))}) for i in range(4)])
    order = np.random.default_rng(1).permutation(40)
    slices = [order[i:i + 7] for i in range(0, 40, 7)]  # 6 slices: 3 passes
    released = []
    got = list(gather_slices(table, slices, tmp_path, lambda a, b: released.append((a, b))))
    assert [g.column("x").to_pylist() for g in got] == [s.tolist() for s in slices]
    assert len(released) == 3 * 4
    assert not list(tmp_path.iterdir())  # the spill folders are gone


def _varied_table(n_chunks: int, rows: int) -> pa.Table:
    """Chunks holding every kind of column a work table has, nulls included."""
    rng = np.random.default_rng(3)
    chunks = []
    for c in range(n_chunks):
        chunks.append(pa.table({
            "input_ids": pa.array([rng.integers(0, 50_000, rng.integers(0, 60)).tolist() for _ in range(rows)],
                                  pa.list_(pa.int32())),
            "task": pa.array([f"t{c % 3}"] * rows),
            "prompt": pa.array([None if i % 7 == 0 else "p" * int(rng.integers(0, 90)) + "é" for i in range(rows)]),
            "answer_choices": pa.array([None if i % 2 else ["a", None, "b"] for i in range(rows)],
                                       pa.list_(pa.string())),
            "_dedup": pa.array([bytes(rng.integers(0, 256, 16, dtype=np.uint8)) for _ in range(rows)], pa.binary(16)),
            "_u": pa.array(rng.random(rows)),
        }))
    return pa.concat_tables(chunks)


def test_gathering_in_memory_writes_the_same_shard_bytes_as_spilling(tmp_path, monkeypatch):
    # the shards must not depend on which way the rows were gathered (outputs stay byte-identical)
    from ftdata.write.writer import SplitWriter

    table = _varied_table(9, 250)
    order = np.random.default_rng(4).permutation(table.num_rows)
    slices = [order[a:a + 400] for a in range(0, len(order), 400)]
    written = {}
    for name, budget in (("spilled", -1), ("in_memory", 1 << 40)):
        monkeypatch.setattr(gather, "IN_MEMORY_BYTES", budget)
        spill = tmp_path / f"spill-{name}"
        spill.mkdir()
        released = []
        w = SplitWriter(tmp_path / name, table.schema, shard_size=900)
        for part in gather_slices(table, slices, spill, lambda a, b, got=released: got.append((a, b))):
            w.write(part)
        shards = w.close("train")
        written[name] = [(s["rows"], s["sha256"], (tmp_path / name / s["file"].split("/")[-1]).read_bytes()) for s in shards]
        assert sorted(released) == [(i * 250, (i + 1) * 250) for i in range(9)]  # every chunk handed back once
        assert not list(spill.iterdir())
    assert [r for r, _, _ in written["in_memory"]] == [900, 900, 450]
    assert written["in_memory"] == written["spilled"]


def test_gather_slices_spills_only_a_table_over_the_in_memory_budget(tmp_path, monkeypatch):
    table = _varied_table(3, 100)
    made = []
    real = gather.tempfile.TemporaryDirectory

    def spy(*a, **k):
        made.append(k.get("prefix"))
        return real(*a, **k)

    monkeypatch.setattr(gather.tempfile, "TemporaryDirectory", spy)
    slices = [np.arange(300)[::-1]]
    monkeypatch.setattr(gather, "IN_MEMORY_BYTES", table.nbytes)  # fits: gathered in memory
    inside = list(gather_slices(table, slices, tmp_path))
    assert made == []
    monkeypatch.setattr(gather, "IN_MEMORY_BYTES", table.nbytes - 1)  # one byte over: spilled
    spilled = list(gather_slices(table, slices, tmp_path))
    assert made == ["gather-"]
    assert inside[0].equals(spilled[0]) and inside[0].equals(table.take(pa.array(slices[0])))


def _chunk_files(folder, sizes):
    files = []
    for i, n in enumerate(sizes):
        t = pa.table({"x": pa.array(np.arange(n, dtype=np.int64) + 1000 * i),
                      "ids": pa.array([list(range(64))] * n, pa.list_(pa.int32()))})
        files.append(folder / f"{i}.arrow")
        with pa.OSFile(str(files[-1]), "wb") as sink, pa.ipc.new_file(sink, t.schema) as w:
            w.write_table(t)
    return files


def test_phase_b_releases_the_files_of_the_rows_it_read(tmp_path, monkeypatch):
    from ftdata.plan import worktable
    from ftdata.read import mapped

    maps = mapped.MappedFiles()
    work = worktable.open_work(_chunk_files(tmp_path, [3, 0, 3, 3]), maps)
    try:
        dropped = []
        monkeypatch.setattr(mapped, "drop_pages", lambda mm: dropped.append(maps.maps.index(mm)))
        maps.release(3, 6)  # rows 3-5: the third file (the second holds none)
        assert dropped == [2]
        dropped.clear()
        assert worktable.column_numpy(work, "x", maps.release).tolist() == [0, 1, 2, 2000, 2001, 2002, 3000, 3001, 3002]
        assert sorted(set(dropped)) == [0, 2, 3]
    finally:
        maps.close()


def test_two_readers_own_their_maps(tmp_path, monkeypatch):
    # the maps belong to one build: another build opening, releasing or closing its own files
    # leaves them alone (they were one module-level list, which the second build cleared)
    from ftdata.plan import worktable
    from ftdata.read import mapped

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = mapped.MappedFiles(), mapped.MappedFiles()
    work_a = worktable.open_work(_chunk_files(tmp_path / "a", [3, 3]), a)
    work_b = worktable.open_work(_chunk_files(tmp_path / "b", [2, 2, 2]), b)
    try:
        assert len(a.maps) == 2 and len(b.maps) == 3 and a.first_rows == [0, 3] and b.first_rows == [0, 2, 4]
        dropped = []
        monkeypatch.setattr(mapped, "drop_pages", dropped.append)
        b.release()
        assert dropped == b.maps
        b.close()
        assert len(a.maps) == 2 and a.first_rows == [0, 3]
        dropped.clear()
        assert worktable.column_numpy(work_a, "x", a.release).tolist() == [0, 1, 2, 1000, 1001, 1002]
        assert dropped and all(any(m is d for m in a.maps) for d in dropped)
        del work_b
    finally:
        a.close()
        b.close()


def _rss_file_kb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssFile:"))


@pytest.mark.skipif(not hasattr(mmap, "MADV_DONTNEED") or not os.path.exists("/proc/self/status"),
                    reason="needs madvise(MADV_DONTNEED) and /proc")
def test_gathering_rows_across_all_chunk_files_keeps_few_pages_resident(tmp_path):
    # rows in a hashed order touch every chunk file in every slice; each file's pages must be
    # handed back once copied from, or resident memory grows with the number of files
    from ftdata.plan import worktable
    from ftdata.read.mapped import MappedFiles

    maps = MappedFiles()
    work = worktable.open_work(_chunk_files(tmp_path, [2000] * 40), maps)  # 40 files of about 0.5 MB
    try:
        order = np.random.default_rng(0).permutation(work.num_rows)
        before = _rss_file_kb()
        for start in range(0, work.num_rows, 4096):
            take_rows(work, order[start:start + 4096], maps.release)
        assert _rss_file_kb() - before < 4096  # all 40 files would be about 20 MB
    finally:
        maps.close()


def test_shard_hash_taken_while_writing_equals_the_files_hash(tmp_path, monkeypatch):
    from ftdata.write import writer
    from ftdata.write.writer import SplitWriter, sha256_file

    monkeypatch.setattr(writer._TrailingHash, "BLOCK", 4096)  # many reads per write, and partial ones
    schema = pa.schema([("task", pa.string()), ("x", pa.list_(pa.int32()))])
    w = SplitWriter(tmp_path / "train", schema, shard_size=700)
    rng = np.random.default_rng(0)
    for size in (5, 300, 1, 900, 250):  # slices that straddle shard boundaries
        w.write(pa.table({"task": ["t"] * size, "x": [rng.integers(0, 1000, rng.integers(0, 40)).tolist()
                                                    for _ in range(size)]}, schema=schema))
    shards = w.close("train")
    assert [s["rows"] for s in shards] == [700, 700, 56]
    for s in shards:
        assert s["sha256"] == sha256_file(tmp_path / s["file"])


def test_a_shard_hash_whose_read_back_failed_is_taken_again_from_the_file(tmp_path, monkeypatch):
    from ftdata.write import writer
    from ftdata.write.writer import SplitWriter, sha256_file

    real_open = open
    failed = []

    class Flaky:  # the first read-back handle fails on its second read, after hashing some bytes
        def __init__(self, fh):
            self.fh, self.reads = fh, 0

        def read(self, n=-1):
            self.reads += 1
            if self.reads == 2 and not failed:  # the bytes are consumed, then the read fails
                failed.append(self.fh.read(n))
                raise OSError("read back failed")
            return self.fh.read(n)

        def close(self):
            self.fh.close()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    def flaky_open(path, mode="r", *a, **k):
        fh = real_open(path, mode, *a, **k)
        return Flaky(fh) if mode == "rb" and str(path).endswith(".arrow") else fh

    monkeypatch.setattr(writer, "open", flaky_open, raising=False)
    monkeypatch.setattr(writer._TrailingHash, "BLOCK", 64)
    schema = pa.schema([("task", pa.string()), ("x", pa.int32())])
    w = SplitWriter(tmp_path / "train", schema, shard_size=100)
    for start in range(0, 60, 6):
        w.write(pa.table({"task": ["t"] * 6, "x": list(range(start, start + 6))}, schema=schema))
    [shard] = w.close("train")
    assert failed and shard["sha256"] == sha256_file(tmp_path / shard["file"])
