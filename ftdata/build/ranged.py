"""Reading in the workers: a chunk travels as a byte range or row slice, not as rows.

For a local JSON Lines source on an engine whose workers share the build's file system (the
local engine: threads or forked processes), the build process only scans the file for chunk
boundaries (:func:`ftdata.read.ranges.line_ranges`, NumPy over raw bytes, never parsing) and
sends each worker a :class:`RangeTask`. The worker reads its bytes, parses them, runs the one
row check and computes keys and split units (:func:`ftdata.build.rows.read_range`), runs phase
A, and returns the result with a :class:`~ftdata.build.rows.RangeRead`: each checked row's key
and line, and the rows it rejected while reading. The build process then, in input order
(:meth:`ftdata.build.phase_a.PhaseA.map_chunks`), checks the keys against the source's
:class:`~ftdata.read.keys.KeySet`, writes the read rejects where today's path writes them, and
for a chunk holding a duplicate key takes the duplicate rows' examples and rejects out of its result, so
the result is exactly the one of reading in the build process.

A chunk's cache key (:func:`range_key`) hashes the range's raw bytes, its first line number,
the source's and split's settings (they decide the row check, keys and split units) and the
context fingerprint; the cached entry carries the :class:`RangeRead` too, so a hit gives the
same result as a miss.

A local Parquet file or Arrow IPC file (not an Arrow stream, not a ``save_to_disk`` folder)
travels the same way as a :class:`SliceTask`: the build process reads only the file's metadata
(:func:`ftdata.read.columnar.row_slices`: row groups / record batches cut into ``batch_size``
rows, the chunks it reads itself when it does) and the worker reads its slice
(:func:`ftdata.read.columnar.read_slice`) into the rows the whole-file reader gives, then the
same :func:`~ftdata.build.rows.read_range` and phase A. Its cache key hashes, instead of the
range's bytes, the file's sha256 (computed anyway for the manifest's ``source_hashes``) and the
slice's place (row group or batch, offset, count; first line among the settings): a worker
then looks a slice up without reading or decoding it, and a Parquet row group's bytes alone
would not decide its rows (the footer's schema does too). The price: any change to the file
invalidates all of its chunks, where a JSON Lines edit keeps the ranges it does not touch.

A local CSV or TSV file travels as a :class:`CsvRangeTask`: byte ranges of ``batch_size`` rows,
cut only between records (:func:`ftdata.read.csvfmt.csv_cut`, quote parity checked against the
csv module's states, the whole file scanned with NumPy first), so the chunks are the very
batches of reading the whole file in the build process; the build process reads the header
(:func:`~ftdata.read.csvfmt.csv_header`) and each worker reads its range with it and its first
line. Its cache key hashes the range's bytes and, with the settings, the header. A file that
cannot be cut safely (a stray quote, a file ending inside quotes, a record that may exceed the
csv field limit, a NUL byte on Python 3.10) is read whole in the build process, as before, and
``build_info.json`` names it under ``read_in_build_process`` with the reason.

Not read in the workers (the build process reads, as before): other formats, Hub sources,
sources whose rows need a running index (``round_robin`` template choice, see
``want_index``). For an engine whose workers may not see the file (Ray) the build process
reads the same ranges and slices itself and keys them the same way, so engines share the cache.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config.models import Recipe, SourceSpec
from ..read.columnar import RowSlice, read_slice
from ..read.csvfmt import MALFORMED, csv_cut, csv_header, read_csv_range
from ..read.jsonfmt import jsonl_rows
from ..read.sources import file_hash as file_sha
from ..read.sources import local_cuts, local_file
from .cache import CachedChunk, through_cache
from .chunk import ChunkResult
from .rows import read_range

#: Python 3.10's csv module raises on a NUL byte (3.11 reads it as a character): such a file is
#: not cut (:func:`~ftdata.read.ranges.csv_ranges`).
NUL_IS_CSV_ERROR = sys.version_info < (3, 11)


class ReadTask:
    """A chunk its worker reads: :meth:`data` gives the bytes the cache key hashes,
    :meth:`source_rows` the rows from them."""

    src: SourceSpec
    recipe: Recipe
    first_line: int
    KIND = b""  # names the kind of task in the cache key

    def data(self) -> bytes:
        raise NotImplementedError

    def source_rows(self, data: bytes):
        raise NotImplementedError

    def key_settings(self) -> list:
        """What decides the chunk's rows besides its data, the source's settings and first line."""
        return []

    def rows(self):
        """``(checked rows, RangeRead)`` of the chunk (:func:`ftdata.build.rows.read_range`)."""
        return read_range(self.src, self.recipe, self.source_rows(self.data()))


@dataclass
class RangeTask(ReadTask):
    """One chunk of a JSON Lines source: bytes ``[start, end)`` of ``path``, first line ``first_line``."""

    src: SourceSpec
    recipe: Recipe
    path: str
    start: int
    end: int
    first_line: int
    KIND = b"jsonl range"

    def data(self) -> bytes:
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            return fh.read(self.end - self.start)

    def source_rows(self, data: bytes):
        return jsonl_rows(data, self.first_line)


@dataclass
class CsvRangeTask(RangeTask):
    """One chunk of a CSV or TSV file (``tsv``) whose columns are ``header``: bytes ``[start, end)``,
    cut between records (:func:`~ftdata.read.ranges.csv_ranges`)."""

    tsv: bool
    header: list[str]
    KIND = b"csv range"

    def source_rows(self, data: bytes):
        for row in read_csv_range(data, self.src.csv, self.tsv, self.header, self.first_line):
            if row.error is not None and row.error.startswith(MALFORMED):
                # csv_ranges cuts no file where the csv module can raise mid-record
                raise RuntimeError(f"{self.path}: the csv module raised mid-record in bytes "
                                   f"{self.start}..{self.end} (line {row.line}), which csv_ranges rules out: {row.error}")
            yield row

    def key_settings(self) -> list:
        return [self.header]  # the first line's, outside the range for every range but the first


@dataclass
class SliceTask(ReadTask):
    """One chunk of a Parquet or Arrow IPC file (``fmt``): row slice ``part`` of ``path``, whose
    content is the file's sha256 ``file_hash`` (the one the manifest records)."""

    src: SourceSpec
    recipe: Recipe
    path: str
    fmt: str
    part: RowSlice
    file_hash: str
    KIND = b"columnar slice"

    @property
    def first_line(self) -> int:
        return self.part.first_line

    def data(self) -> bytes:
        """What identifies the slice's rows: the file's content hash and where the slice lies in it."""
        p = self.part
        return json.dumps([self.fmt, self.file_hash, p.part, p.offset, p.count]).encode()

    def source_rows(self, data: bytes):
        return read_slice(Path(self.path), self.fmt, self.part)


def read_tasks(src: SourceSpec, recipe: Recipe, base: Path, file_hash: str | None,
               not_cut: dict | None = None) -> Iterator[ReadTask] | None:
    """The chunks of ``src`` its workers can read (a local JSON Lines, CSV/TSV, Parquet or Arrow
    IPC file), cut here from the file's bytes or metadata only; None for any other source, and for
    a CSV/TSV file that cannot be cut between records (``not_cut[src.name]`` says why)."""
    local = local_file(src, base)
    if local is None:
        return None
    path, fmt = local
    cuts = local_cuts(path, fmt, recipe.batch_size)
    if cuts is None:
        return _csv_tasks(src, recipe, path, fmt == "tsv", not_cut)
    if fmt == "jsonl":
        return (RangeTask(src, recipe, str(path), r.start, r.end, r.first_line) for r in cuts)
    sha = file_hash or file_sha(path)
    return (SliceTask(src, recipe, str(path), fmt, s, sha) for s in cuts)


def _csv_tasks(src: SourceSpec, recipe: Recipe, path: Path, tsv: bool, not_cut: dict | None) -> Iterator[ReadTask] | None:
    """The ranges of a CSV/TSV file, the whole file scanned first; None where it has none."""
    try:
        header = csv_header(path, src.csv, tsv)  # the errors reading it here would raise, raised here
        cut = csv_cut(path, src.csv, tsv, recipe.batch_size, nul_is_error=NUL_IS_CSV_ERROR)
    except PermissionError:
        return None  # read_source reports it
    if cut.ranges is None:
        if not_cut is not None:
            not_cut[src.name] = cut.reason
        return None
    if header is None:  # a header line and no record: no rows, no chunk
        return iter(())
    return (CsvRangeTask(src, recipe, str(path), r.start, r.end, r.first_line, tsv, header) for r in cut.ranges)


def range_key(fingerprint: str, task: ReadTask, data: bytes) -> str:
    """Cache key of a chunk its worker reads: see the module docstring."""
    settings = [task.src.model_dump(mode="json", exclude={"path"}), task.recipe.split.model_dump(mode="json"),
                task.recipe.seed, task.first_line] + task.key_settings()
    h = hashlib.sha256(fingerprint.encode())
    h.update(b"\x00" + task.KIND + b"\x00" + json.dumps(settings, sort_keys=True, default=str).encode() + b"\x00")
    h.update(data)
    return h.hexdigest()


def run_range(ctx, task: ReadTask, store: tuple | None = None) -> ChunkResult | CachedChunk:
    """Worker side: read, check and key the range, run phase A on it (through the chunk cache when
    ``store`` names it: :func:`ftdata.build.cache.through_cache`)."""
    from .chunk import process_chunk  # looked up at call time, as cached_process does

    data = task.data()

    def compute() -> ChunkResult:
        rows, info = read_range(task.src, task.recipe, task.source_rows(data))
        res = process_chunk(ctx, rows)
        res.read = info
        return res

    return through_cache(store, lambda fp: range_key(fp, task, data), compute, ranged=True)
