"""Row slices of Parquet and Arrow IPC files (ftdata.read.columnar): cut from metadata, read as the whole file."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ftdata.errors import BuildError
from ftdata.read import columnar
from ftdata.read.columnar import read_arrow, read_parquet, read_slice, row_slices
from ftdata.read.sources import local_file

SIZES = [7, 1, 0, 20, 5]


def _write(tmp_path, fmt):
    schema = pa.schema([("id", pa.int64()), ("t", pa.string())])
    parts = [pa.table({"id": list(range(sum(SIZES[:i]), sum(SIZES[:i + 1]))), "t": ["x" * j for j in range(n)]},
                      schema=schema) for i, n in enumerate(SIZES)]
    if fmt == "parquet":
        p = tmp_path / "a.parquet"
        with pq.ParquetWriter(p, parts[0].schema) as w:
            for t in parts:
                if len(t):
                    w.write_table(t, row_group_size=len(t))
    else:
        p = tmp_path / "a.arrow"
        with pa.OSFile(str(p), "wb") as sink, pa.ipc.new_file(sink, parts[0].schema) as w:
            for t in parts:
                w.write_batch(pa.RecordBatch.from_pydict(t.to_pydict(), schema=t.schema))
    return p


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
@pytest.mark.parametrize("max_rows", [1, 3, 7, 1000])
def test_slices_cover_every_part_and_read_as_the_whole_file(tmp_path, monkeypatch, fmt, max_rows):
    p = _write(tmp_path, fmt)
    with monkeypatch.context() as m:  # cutting never reads the rows
        m.setattr(pq.ParquetFile, "read_row_group", lambda *a, **k: pytest.fail("read a row group"))
        m.setattr(columnar, "read_slice", lambda *a: pytest.fail("read a slice"))
        slices = list(row_slices(p, fmt, max_rows))
    sizes = [n for n in SIZES if n]  # an empty part has no slice
    assert [s.count for s in slices] == [min(max_rows, n - o) for n in sizes for o in range(0, n, max_rows)]
    assert all(s.count <= max_rows for s in slices)
    whole = list((read_parquet if fmt == "parquet" else read_arrow)(p, 4))
    parts = [r for s in slices for r in read_slice(p, fmt, s)]
    assert [(r.line, r.data) for r in parts] == [(r.line, r.data) for r in whole]
    assert [r.line for r in parts] == list(range(1, sum(SIZES) + 1))


def test_only_files_with_random_access_are_sliced(tmp_path):
    from ftdata.config.models import SourceSpec

    _write(tmp_path, "arrow")
    t = pa.table({"id": [1]})
    with pa.OSFile(str(tmp_path / "s.arrow"), "wb") as sink, pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    (tmp_path / "e.parquet").write_bytes(b"")

    def spec(path):
        return SourceSpec.model_validate({"name": "a", "path": path})

    assert local_file(spec("a.arrow"), tmp_path) == (tmp_path / "a.arrow", "arrow")
    assert local_file(spec("s.arrow"), tmp_path) is None  # a stream: read in the build process
    assert local_file(spec("e.parquet"), tmp_path) is None  # empty: read_source reports it
    # the one check of every chunked format: a local, non-empty file, its format given or guessed
    for name in ("r.jsonl", "r.csv", "r.tsv", "r.json", "r.txt"):
        (tmp_path / name).write_text('{"a": 1}\n')
    assert [local_file(spec(n), tmp_path) for n in ("r.jsonl", "r.csv", "r.tsv")] == [
        (tmp_path / "r.jsonl", "jsonl"), (tmp_path / "r.csv", "csv"), (tmp_path / "r.tsv", "tsv")]
    assert local_file(spec("r.json"), tmp_path) is None and local_file(spec("r.txt"), tmp_path) is None
    assert local_file(spec("missing.jsonl"), tmp_path) is None
    # a missing file whose format cannot be guessed: None (read_source says "not found"), not a guess error
    assert local_file(spec("missing.xyz"), tmp_path) is None
    given = SourceSpec.model_validate({"name": "a", "path": "r.txt", "format": "jsonl"})
    assert local_file(given, tmp_path) == (tmp_path / "r.txt", "jsonl")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(BuildError, match="bad.parquet: not a Parquet file"):
        list(row_slices(tmp_path / "bad.parquet", "parquet", 10))


@pytest.mark.parametrize("compression", ["lz4", "zstd", "uncompressed"])
def test_arrow_batch_rows_come_from_the_footer_without_reading_a_batch(tmp_path, monkeypatch, compression):
    import pyarrow.feather as feather

    t = pa.table({"id": list(range(1000)), "c": pa.array(["a", "b"] * 500).dictionary_encode()})
    p = tmp_path / "f.arrow"
    feather.write_feather(t, p, compression=compression, chunksize=137)
    reader = pa.ipc.open_file(str(p))
    want = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    assert want == [137] * 7 + [41]

    class NoBatches:  # the reader's metadata, but no batch may be read
        num_record_batches = reader.num_record_batches

        def get_batch(self, i):
            pytest.fail("read a record batch")

    monkeypatch.setattr(columnar, "_arrow_file", lambda path: NoBatches())
    assert columnar.part_rows(p, "arrow") == want


def test_a_footer_not_laid_out_as_expected_falls_back_to_the_batches(tmp_path, monkeypatch):
    p = _write(tmp_path, "arrow")

    def odd(path):
        raise ValueError("not a record batch")

    monkeypatch.setattr(columnar, "arrow_batch_rows", odd)
    assert columnar.part_rows(p, "arrow") == SIZES


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_a_part_whose_rows_differ_from_the_cut_stops_the_build(tmp_path, monkeypatch, fmt):
    """Row counts come from metadata alone (for Arrow, a footer parsed here): a count that
    disagrees with the data must not drop or repeat rows silently."""
    p = _write(tmp_path, fmt)
    real = columnar.part_rows
    monkeypatch.setattr(columnar, "part_rows", lambda path, f: [n - 1 if n > 1 else n for n in real(path, f)])
    slices = list(row_slices(p, fmt, 1000))
    with pytest.raises(BuildError, match=r"holds \d+ rows, but its metadata said \d+"):
        read_slice(p, fmt, slices[0])


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_the_slices_of_a_part_decode_it_once(tmp_path, monkeypatch, fmt):
    """Every batch_size slice of a row group / record batch used to decode the whole part again:
    one row group of 200,000 rows read in 1,000-row slices took 15x reading the whole file."""
    p = _write(tmp_path, fmt)
    calls = []
    real_rg, real_batch = pq.ParquetFile.read_row_group, pa.ipc.RecordBatchFileReader.get_batch
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda self, i, *a, **k: calls.append(i) or real_rg(self, i, *a, **k))
    monkeypatch.setattr(pa.ipc.RecordBatchFileReader, "get_batch", lambda self, i: calls.append(i) or real_batch(self, i))
    slices = list(row_slices(p, fmt, 1))
    rows = [r for s in slices for r in read_slice(p, fmt, s)]
    assert len(rows) == sum(SIZES) and [r.line for r in rows] == list(range(1, sum(SIZES) + 1))
    assert sorted(calls) == sorted({s.part for s in slices}), calls  # each part decoded once
