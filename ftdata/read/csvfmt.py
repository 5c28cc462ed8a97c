"""CSV and TSV sources, read record by record with the line each record starts on.

A malformed record, invalid UTF-8, a NUL byte or the wrong number of fields is a row-level
problem; no header (and no ``csv.columns``) or a header naming a column twice stops the build.
Fields may be up to :data:`CSV_FIELD_LIMIT` characters.

The whole file goes through :func:`read_csv`; one byte range of it, cut where the csv module is
between records (:func:`ftdata.read.ranges.csv_ranges`), through :func:`read_csv_range` with the
file's header (:func:`csv_header`) and the range's first line: the same records, the same lines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from ..errors import BuildError
from .ranges import CsvCut, csv_ranges
from .row import SourceRow

#: Longest CSV field accepted (the csv module's own default of 131072 is too small for documents).
CSV_FIELD_LIMIT = 256 * 1024 * 1024


class _LineCounter(io.TextIOBase):
    """Wraps a text file to count physical lines handed to the csv module."""

    def __init__(self, fh, lines: int = 0):
        self.fh = fh
        self.lines = lines

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.fh)
        self.lines += 1
        return line


#: The start of a row error the csv module raised (a malformed record).
MALFORMED = "malformed CSV"


def csv_dialect(opts, tsv: bool) -> tuple[str, int]:
    """``(delimiter, quoting)`` of a source's CSV options."""
    return opts.delimiter or ("\t" if tsv else ","), csv.QUOTE_NONE if opts.quoting == "none" else csv.QUOTE_MINIMAL


def field_limit() -> int:
    """The csv module's field size limit while reading: at least :data:`CSV_FIELD_LIMIT`."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv.field_size_limit()


def _reader(fh, opts, tsv: bool, first_line: int = 1) -> tuple[_LineCounter, Iterator[list[str]]]:
    delimiter, quoting = csv_dialect(opts, tsv)
    field_limit()
    counter = _LineCounter(fh, first_line - 1)
    return counter, csv.reader(counter, delimiter=delimiter, quoting=quoting, strict=False)


def _header(path: Path, opts, reader) -> list[str] | None:
    """The columns (the first record, or ``csv.columns``), checked; None for a file with a header
    line and no record at all. Reads the header record from ``reader`` when the file has one."""
    header = opts.columns
    if opts.header:
        try:
            first = next(reader)
        except StopIteration:
            return None
        if header is None:
            header = [h.strip() for h in first]
    if not header:
        raise BuildError(f"{path}: no header line; set csv.columns to name the columns")
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise BuildError(f"{path}: the header names column(s) {', '.join(repr(d) for d in dups)} more than once; "
                         "rename them or set csv.columns")
    return header


def _open(path: Path):
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def csv_header(path: Path, opts, tsv: bool) -> list[str] | None:
    """The columns of a CSV/TSV file as :func:`read_csv` finds them (errors included)."""
    with _open(path) as fh:
        return _header(path, opts, _reader(fh, opts, tsv)[1])


def read_csv(path: Path, opts, tsv: bool) -> Iterator[SourceRow]:
    with _open(path) as fh:
        counter, reader = _reader(fh, opts, tsv)
        header = _header(path, opts, reader)
        if header is not None:
            yield from _rows(counter, reader, header, csv_dialect(opts, tsv)[0])


def read_csv_range(data: bytes, opts, tsv: bool, header: list[str], first_line: int) -> Iterator[SourceRow]:
    """The rows of bytes ``data`` of a CSV/TSV file whose columns are ``header``, its first
    physical line ``first_line``: what :func:`read_csv` gives for them. The first range
    (``first_line`` 1) holds the byte-order mark and the header line, if any; every range
    starts and ends between records."""
    first = first_line == 1
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig" if first else "utf-8",
                            errors="surrogateescape", newline="")
    counter, reader = _reader(text, opts, tsv, first_line)
    if first and opts.header:
        next(reader, None)  # the header line: its columns are ``header``
    yield from _rows(counter, reader, header, csv_dialect(opts, tsv)[0])


def csv_cut(path: Path, opts, tsv: bool, rows: int, nul_is_error: bool = False) -> CsvCut:
    """The ranges of ``rows`` rows a CSV/TSV file is read in by the workers, each read by
    :func:`read_csv_range` into the rows :func:`read_csv` gives for it; or why it cannot be cut
    (:func:`~ftdata.read.ranges.csv_ranges`)."""
    delimiter, quoting = csv_dialect(opts, tsv)

    def is_row(data: bytes, line: int) -> bool:  # a record that is not blank
        return next(read_csv_range(data, opts, tsv, ["_"], line), None) is not None

    return csv_ranges(path, rows, delimiter=delimiter, quoted=quoting != csv.QUOTE_NONE, header=opts.header,
                      field_limit=field_limit(), is_row=is_row, nul_is_error=nul_is_error)


def _rows(counter: _LineCounter, reader, header: list[str], delimiter: str) -> Iterator[SourceRow]:
    while True:
        start = counter.lines + 1
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield SourceRow(start, None, f"{MALFORMED}: {exc}")
            continue
        if not rec or (len(rec) == 1 and not rec[0].strip()):
            continue
        text = delimiter.join(rec)
        if any("\udc80" <= ch <= "\udcff" for ch in text):
            yield SourceRow(start, None, "invalid UTF-8", raw=text[:200].encode("utf-8", "replace").decode())
            continue
        if "\x00" in text:
            yield SourceRow(start, None, "NUL byte in line", raw=text[:200].replace("\x00", "\\0"))
            continue
        if len(rec) != len(header):
            yield SourceRow(start, None, f"expected {len(header)} fields, found {len(rec)}", raw=text[:200])
            continue
        yield SourceRow(start, dict(zip(header, rec)))
