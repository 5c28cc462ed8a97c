"""Chunks of a JSON Lines source cut by lines or bytes (ftdata.read.ranges), read range by range."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ftdata.build import rows as row_stream
from ftdata.config.models import Recipe
from ftdata.read import ranges
from ftdata.read.jsonfmt import read_jsonl
from ftdata.read.ranges import line_ranges
from ftdata.write.manifest import SourceCounts


def _lines() -> bytes:
    rows = [json.dumps({"id": i, "text": "x" * (i * 7 % 50)}).encode() for i in range(60)]
    rows[3] = b"{not json"
    rows[10] = b""  # a blank line
    rows[11] = b"   \t"
    rows[20] = b'{"id": "\xff"}'  # invalid UTF-8
    return "\ufeff".encode() + b"\n".join(rows)  # a BOM, no newline after the last line


@pytest.mark.parametrize("block", [5, 64, 1 << 24])
@pytest.mark.parametrize("max_lines,max_bytes", [(1, 10**9), (7, 10**9), (1000, 1), (1000, 100), (5, 120)])
def test_ranges_cover_the_file_in_whole_lines_and_read_as_the_whole_file(tmp_path, monkeypatch, block,
                                                                          max_lines, max_bytes):
    monkeypatch.setattr(ranges, "_BLOCK", block)  # newlines found across block boundaries too
    data = _lines()
    p = tmp_path / "a.jsonl"
    p.write_bytes(data)
    rs = list(line_ranges(p, max_lines, max_bytes))
    assert rs[0].start == 0 and rs[-1].end == len(data)
    assert all(a.end == b.start for a, b in zip(rs, rs[1:]))
    for r in rs:
        chunk = data[r.start:r.end]
        assert r.first_line == data[:r.start].count(b"\n") + 1
        assert r.end == len(data) or chunk.endswith(b"\n")  # whole lines only
        n = chunk.count(b"\n")
        assert n <= max_lines
        # cut at the first line end at or past the byte budget, not later
        assert n <= 1 or len(chunk[:chunk[:-1].rindex(b"\n") + 1]) < max_bytes or n == max_lines
    whole = [(x.line, x.data, x.error, x.raw) for x in read_jsonl(p)]
    parts = [(x.line, x.data, x.error, x.raw) for r in rs for x in read_jsonl(p, r.start, r.end, r.first_line)]
    assert parts == whole
    assert [w[0] for w in whole if w[2]] == [4, 21]  # the bad lines keep their numbers


def test_long_rows_make_several_chunks_and_short_ones_keep_batch_size(tmp_path):
    long_rows = tmp_path / "long.jsonl"
    long_rows.write_text("".join(json.dumps({"id": i, "text": "w " * 2000}) + "\n" for i in range(1000)))
    short_rows = tmp_path / "short.jsonl"
    short_rows.write_text("".join(json.dumps({"id": i, "text": "w"}) + "\n" for i in range(2500)))
    recipe = Recipe.model_validate({"name": "t", "tokenizer": "t", "output": "o", "batch_size": 1000, "sources": [
        {"name": "a", "path": str(long_rows), "key": "id"}, {"name": "b", "path": str(short_rows), "key": "id"}]})

    def sizes(src):
        return [len(b) for b in row_stream.checked_rows(src, recipe, tmp_path, counts=SourceCounts(),
                                                         reject=lambda r: None, want_index=False,
                                                         timings=Counter())]

    long_sizes = sizes(recipe.sources[0])
    # 4 MB of 4 KB rows: more than the 4 chunks of 1 MiB, as the tail is cut finer (next test)
    assert sum(long_sizes) == 1000 and len(long_sizes) > -(-long_rows.stat().st_size // ranges.CHUNK_BYTES)
    # the build's chunks are the ranges
    assert long_sizes == [len(list(read_jsonl(long_rows, r.start, r.end, r.first_line)))
                          for r in line_ranges(long_rows, 1000)]
    assert sizes(recipe.sources[1]) == [1000, 1000, 500]  # under 128 KiB a chunk: lines decide


@pytest.mark.parametrize("block", [4096, 100_000, 1 << 24])
def test_the_tail_is_cut_finer_so_the_last_chunks_are_small(tmp_path, monkeypatch, block):
    """Each chunk ends at the first line end at or past its byte budget: 1 MiB, or a quarter of
    the bytes still to cut when that is less, but at least 128 KiB. On 6,000 rows of ~1 KB the
    first chunks take 1 MiB and the last ones about 128 KiB, whatever block the scan reads; the
    budgets depend on nothing but the file (no worker count)."""
    monkeypatch.setattr(ranges, "_BLOCK", block)  # newlines found across block boundaries too
    p = tmp_path / "rows.jsonl"
    p.write_text("".join(json.dumps({"id": i, "text": "w " * (400 + i % 300)}) + "\n" for i in range(6000)))
    data, size = p.read_bytes(), p.stat().st_size
    rs = list(line_ranges(p, 10**6))
    assert rs[0].start == 0 and rs[-1].end == size and all(a.end == b.start for a, b in zip(rs, rs[1:]))
    for r in rs:
        budget = min(ranges.CHUNK_BYTES, max(ranges.TAIL_MIN_BYTES, (size - r.start) // ranges.TAIL_SHARE))
        chunk = data[r.start:r.end]
        before_last = len(chunk[:chunk[:-1].rindex(b"\n") + 1]) if chunk.count(b"\n") > 1 else 0
        assert before_last < budget <= len(chunk) or r.end == size  # cut at the first line end past it
    sizes = [r.end - r.start for r in rs]
    assert sizes[0] >= ranges.CHUNK_BYTES and len(rs) > -(-size // ranges.CHUNK_BYTES) + 4
    assert max(sizes[-3:]) < ranges.TAIL_MIN_BYTES + 2048  # the last chunks: the 128 KiB floor (+ a line)
