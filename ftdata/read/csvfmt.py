"""CSV and TSV sources, read record by record with the line each record starts on.

A malformed record, invalid UTF-8, a NUL byte or the wrong number of fields is a row-level
problem; no header (and no ``csv.columns``) or a header naming a column twice stops the build.
Fields may be up to :data:`CSV_FIELD_LIMIT` characters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from ..errors import BuildError
from .row import SourceRow

#: Longest CSV field accepted (the csv module's own default of 131072 is too small for documents).
CSV_FIELD_LIMIT = 256 * 1024 * 1024


class _LineCounter(io.TextIOBase):
    """Wraps a text file to count physical lines handed to the csv module."""

    def __init__(self, fh):
        self.fh = fh
        self.lines = 0

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.fh)
        self.lines += 1
        return line


def read_csv(path: Path, opts, tsv: bool) -> Iterator[SourceRow]:
    delimiter = opts.delimiter or ("\t" if tsv else ",")
    quoting = csv.QUOTE_NONE if opts.quoting == "none" else csv.QUOTE_MINIMAL
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        counter = _LineCounter(fh)
        reader = csv.reader(counter, delimiter=delimiter, quoting=quoting, strict=False)
        header = opts.columns
        if opts.header:
            try:
                first = next(reader)
            except StopIteration:
                return
            if header is None:
                header = [h.strip() for h in first]
        if not header:
            raise BuildError(f"{path}: no header line; set csv.columns to name the columns")
        dups = sorted({h for h in header if header.count(h) > 1})
        if dups:
            raise BuildError(f"{path}: the header names column(s) {', '.join(repr(d) for d in dups)} more than once; "
                             "rename them or set csv.columns")
        while True:
            start = counter.lines + 1
            try:
                rec = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield SourceRow(start, None, f"malformed CSV: {exc}")
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
