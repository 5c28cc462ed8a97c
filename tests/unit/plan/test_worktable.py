"""work_batches: chunks one at a time, or consecutive chunks joined for passes over small columns."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ftdata.plan.worktable import work_batches


def _work(sizes: list[int]) -> pa.Table:
    """A work table of one record batch per chunk, rows numbered across them."""
    batches, at = [], 0
    schema = pa.schema([("row", pa.int64()), ("name", pa.string())])
    for n in sizes:
        batches.append(pa.record_batch({"row": list(range(at, at + n)), "name": [f"r{i}" for i in range(at, at + n)]},
                                       schema=schema))
        at += n
    return pa.Table.from_batches(batches, schema=schema)


@pytest.mark.parametrize("min_rows", [0, 1, 5, 7, 100])
def test_joined_batches_cover_every_row_in_order_and_release_what_they_read(min_rows):
    sizes = [3, 4, 0, 5, 2, 6]
    work = _work(sizes)
    released = []
    seen, starts = [], []
    for start, batch in work_batches(work, ["name", "row"], lambda a, b: released.append((a, b)), min_rows):
        assert isinstance(batch, pa.RecordBatch)
        assert batch.schema.names == ["name", "row"]
        assert batch.column("row").to_pylist()[:1] in ([], [start])  # a batch starts at its first row
        starts.append(start)
        seen += batch.column("row").to_pylist()
    assert seen == list(range(sum(sizes)))
    # the released ranges are the batches', back to back, and cover the table
    assert [a for a, _ in released] == starts
    assert released[-1][1] == sum(sizes)
    assert all(b == a2 for (_, b), (a2, _) in zip(released, released[1:]))
    if min_rows == 0:
        assert len(starts) == len(sizes)  # one per chunk, as before
    else:
        sizes_out = [b - a for a, b in released]
        assert all(n >= min_rows for n in sizes_out[:-1])


def test_a_table_with_no_rows_gives_what_it_gave_chunk_by_chunk():
    work = _work([0, 0])
    joined = [(s, b.num_rows) for s, b in work_batches(work, ["row"], None, 10)]
    assert joined == [(s, b.num_rows) for s, b in work_batches(work, ["row"])]


def test_chunks_are_joined_only_up_to_the_byte_cap_and_a_large_chunk_comes_alone(monkeypatch):
    """Long row keys make large chunks: they are not copied together past JOIN_BYTES, so Arrow
    never splits a joined column and a row's examples stay in one batch."""
    import ftdata.plan.worktable as wt

    work = _work([3, 4, 5, 2, 6])
    sizes = [b.nbytes for b in work.to_batches()]
    monkeypatch.setattr(wt, "JOIN_BYTES", sizes[0] + sizes[1])  # the first two fit together, no more
    got = [(s, b.num_rows) for s, b in work_batches(work, ["row", "name"], None, 100)]
    assert got[0] == (0, 7)  # chunks 1 and 2 joined
    assert [n for _, n in got] and sum(n for _, n in got) == 20
    assert all(s2 == s1 + n1 for (s1, n1), (s2, _) in zip(got, got[1:]))
    monkeypatch.setattr(wt, "JOIN_BYTES", 1)  # every chunk larger than the cap: each alone, as before
    assert [(s, b.num_rows) for s, b in work_batches(work, ["row"], None, 100)] == [
        (s, b.num_rows) for s, b in work_batches(work, ["row"])]


def test_a_group_arrow_splits_in_several_batches_loses_no_row(monkeypatch):
    import ftdata.plan.worktable as wt

    real = wt._joined

    def split_in_two(batches):  # as Arrow does for a joined string column past 2 GiB
        (one,) = real(batches)
        half = one.num_rows // 2
        return [one.slice(0, half), one.slice(half)]

    monkeypatch.setattr(wt, "_joined", split_in_two)
    work = _work([3, 4, 5])
    released = []
    got = list(work_batches(work, ["row"], lambda a, b: released.append((a, b)), 100))
    assert [s for s, _ in got] == [0, 6]
    assert [r for _, b in got for r in b.column("row").to_pylist()] == list(range(12))
    assert released == [(0, 12)]
