"""Streaming readers: every source format becomes batches of ``SourceRow``.

Readers never materialise a whole file: JSON Lines and CSV/TSV are read line by line,
Parquet and Arrow by record batch. A line that cannot be parsed is not fatal: it comes out as
a ``SourceRow`` with ``error`` set and its line number, and the build writes it to rejects.
A file that cannot be opened at all raises :class:`~ftdata.errors.BuildError`.

Row-level problems that become rejects (each with its line number): malformed JSON or CSV,
invalid UTF-8, NUL bytes, NaN or infinite numbers, duplicate keys in one JSON object, a lone
UTF-16 surrogate from a JSON ``\\ud800`` escape,
nesting too deep or integers too long to parse, a CSV line with the wrong number of fields.
File-level problems that stop the build: an empty file, a CSV header naming a column twice,
a file that is not in its format at all. A UTF-8 byte-order mark is skipped; CSV fields may be
up to :data:`~ftdata.read.csvfmt.CSV_FIELD_LIMIT` characters (the csv module's default is 128 KiB).

This module picks the reader for a source (:func:`read_source`, :func:`guess_format`) and
peeks at its columns; the readers are :mod:`~ftdata.read.jsonfmt`, :mod:`~ftdata.read.csvfmt`
and :mod:`~ftdata.read.columnar` (and :mod:`~ftdata.read.hub`), each yielding
:class:`~ftdata.read.row.SourceRow`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ..errors import BuildError
from .columnar import RowSlice, is_arrow_file, read_arrow, read_parquet, read_slice, row_slices
from .csvfmt import csv_dialect, read_csv
from .jsonfmt import read_json, read_jsonl
from .ranges import ByteRange, line_ranges
from .row import SourceRow
from .textfmt import read_text_lines

_EXT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
        ".parquet": "parquet", ".arrow": "arrow", ".txt": "txt"}


def guess_format(path: Path) -> str:
    if path.is_dir():
        return "arrow"
    fmt = _EXT.get(path.suffix.lower())
    if fmt is None:
        raise BuildError(
            f"cannot guess the format of {path} from its extension; set 'format' to one of "
            "jsonl, json, csv, tsv, parquet, arrow, txt")
    return fmt


def read_hub(spec, where: str) -> Iterator[SourceRow]:
    from .hub import load_hub_dataset

    for n, row in enumerate(load_hub_dataset(spec, where), start=1):
        yield SourceRow(n, row, split=None)


def read_source(src, base: Path, batch_size: int = 1000) -> Iterator[SourceRow]:
    """Stream the rows of one recipe source."""
    from ..config.paths import resolve_path

    if src.hub is not None:
        yield from read_hub(src.hub, f"source '{src.name}'")
        return
    path = resolve_path(base, src.path)
    if not path.exists():
        raise BuildError(f"source '{src.name}': file not found: {path}")
    fmt = src.format or guess_format(path)
    if path.is_file() and path.stat().st_size == 0:
        raise BuildError(f"source '{src.name}': {path} is empty (0 bytes)")
    try:
        if fmt == "jsonl":
            yield from read_jsonl(path)
        elif fmt == "json":
            yield from read_json(path)
        elif fmt in ("csv", "tsv"):
            yield from read_csv(path, src.csv, tsv=fmt == "tsv")
        elif fmt == "parquet":
            yield from read_parquet(path, batch_size)
        elif fmt == "arrow":
            yield from read_arrow(path, batch_size)
        elif fmt == "txt":
            yield from read_text_lines(path)
        else:
            raise BuildError(f"source '{src.name}': format '{fmt}' needs 'hub'")
    except PermissionError as exc:
        raise BuildError(f"source '{src.name}': cannot read {path}: {exc}") from None
    except IsADirectoryError:
        raise BuildError(f"source '{src.name}': {path} is a folder; set format: arrow for a save_to_disk folder") from None


#: The formats of a local file its workers read in chunks (:mod:`ftdata.build.ranged`); an Arrow
#: file only as an IPC file (random access), not as a stream or ``save_to_disk`` folder.
CHUNKED_FORMATS = ("jsonl", "csv", "tsv", "parquet", "arrow")


def local_file(src, base: Path) -> tuple[Path, str] | None:
    """``(file, format)`` of a source that is a local, non-empty file in one of
    :data:`CHUNKED_FORMATS`, else None (every other source, and every problem with the file, is
    :func:`read_source`'s to read or report)."""
    from ..config.paths import resolve_path

    if src.hub is not None or not src.path:
        return None
    path = resolve_path(base, src.path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    fmt = src.format or guess_format(path)
    if fmt not in CHUNKED_FORMATS or (fmt == "arrow" and not is_arrow_file(path)):
        return None
    return path, fmt


def local_cuts(path: Path, fmt: str, batch_size: int) -> Iterator[ByteRange | RowSlice] | None:
    """The chunks of a :func:`local_file`, cut from its bytes or metadata alone, read here
    (:func:`read_cut`) or by its workers (:mod:`ftdata.build.ranged`): a JSON Lines file's line
    ranges (:func:`~ftdata.read.ranges.line_ranges`), a Parquet or Arrow IPC file's row slices
    (:func:`~ftdata.read.columnar.row_slices`); None for a CSV/TSV file, cut only after a scan of
    the whole file (:func:`~ftdata.read.csvfmt.csv_cut`) into the ``batch_size``-row chunks
    :func:`read_source` reads anyway."""
    if fmt == "jsonl":
        return line_ranges(path, batch_size)
    if fmt in ("parquet", "arrow"):
        return row_slices(path, fmt, batch_size)
    return None


def read_cut(path: Path, fmt: str, cut: ByteRange | RowSlice) -> list[SourceRow]:
    """The rows of one chunk of :func:`local_cuts` (a range of blank lines only is a chunk of no rows)."""
    if isinstance(cut, RowSlice):
        return read_slice(path, fmt, cut)
    return list(read_jsonl(path, cut.start, cut.end, cut.first_line))


def peek_columns(path: Path, fmt: str, src) -> list[str]:
    """Column names of a source, from its first readable row (used for static checks)."""
    if path.is_file() and path.stat().st_size == 0:
        raise BuildError(f"{path} is empty (0 bytes)")
    if fmt in ("csv", "tsv"):
        if not src.csv.header:
            return list(src.csv.columns or [])
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            delimiter, quoting = csv_dialect(src.csv, fmt == "tsv")
            first = next(csv.reader(fh, delimiter=delimiter, quoting=quoting), [])
            return src.csv.columns or [h.strip() for h in first]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    for row in _iter_local(path, fmt, src):
        if row.data is not None:
            return list(row.data)
    return []


def _iter_local(path: Path, fmt: str, src) -> Iterator[SourceRow]:
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "json":
        return read_json(path)
    if fmt == "arrow":
        return read_arrow(path, 10)
    if fmt == "txt":
        return read_text_lines(path)
    raise BuildError(f"unknown format {fmt}")


def file_hash(path: Path) -> str:
    """sha256 of a file, or of every file under a folder (sorted by relative path)."""
    import hashlib

    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\x00")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
