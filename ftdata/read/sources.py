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
up to :data:`CSV_FIELD_LIMIT` characters (the csv module's default is 128 KiB).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BuildError

#: Longest CSV field accepted (the csv module's own default of 131072 is too small for documents).
CSV_FIELD_LIMIT = 256 * 1024 * 1024
_BOM = "\ufeff"

_EXT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
        ".parquet": "parquet", ".arrow": "arrow"}


@dataclass
class SourceRow:
    """One raw row: its 1-based line (or record) number, its fields, or why it is unreadable."""

    line: int
    data: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None
    split: str | None = None  # the source's own split, where the format carries one


def guess_format(path: Path) -> str:
    if path.is_dir():
        return "arrow"
    fmt = _EXT.get(path.suffix.lower())
    if fmt is None:
        raise BuildError(
            f"cannot guess the format of {path} from its extension; set 'format' to one of "
            "jsonl, json, csv, tsv, parquet, arrow")
    return fmt


def _decode(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKey(f"duplicate key '{dup}' in one JSON object")
    return d


class _NotFinite(ValueError):
    pass


def _no_constant(name: str):
    raise _NotFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise _NotFinite(text)
    return value


#: One strict decoder, built once (``json.loads`` with hooks builds a decoder per call): duplicate
#: keys, NaN/Infinity and overflowing numbers raise while parsing, so no second walk is needed.
_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite_float)


def parse_json_object(text: str) -> tuple[Any, str | None]:
    """Parse one JSON value strictly: ``(value, None)`` or ``(None, reason)``."""
    try:
        return _STRICT.decode(text), None
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg} at column {exc.colno}"
    except (_DuplicateKey, _NotFinite) as exc:
        return None, "NaN or infinite number" if isinstance(exc, _NotFinite) else str(exc)
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError as exc:  # e.g. an integer literal longer than Python will convert
        return None, f"malformed JSON: {exc}"


#: Where a JSON text can spell a surrogate (only a ``\\u`` escape can: UTF-8 bytes cannot encode one).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(obj: Any) -> str | None:
    """Why a parsed JSON value holds no valid Unicode text, or None.

    ``"\\ud800"`` with no partner decodes to a lone UTF-16 surrogate: a Python string that no
    UTF-8 writer accepts (row key, tokenizer, Arrow, rejects), so the row is rejected at read.
    A proper pair (``"\\ud83d\\ude00"``) decodes to one character and passes.
    """
    stack = [obj]  # no recursion: a value nested as deep as the parser allows is still walked
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if not v.isascii() and (m := _SURROGATE.search(v)):
                return (f"lone UTF-16 surrogate \\u{ord(m.group()):04x} in a string (a \\u escape of half a "
                        "pair, not a Unicode character); fix the file's writer or remove the escape")
        elif isinstance(v, dict):
            stack += v
            stack += v.values()
        elif isinstance(v, list):
            stack += v
    return None


def _finite(obj: Any) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite(v) for v in obj)
    return True


def read_jsonl(path: Path) -> Iterator[SourceRow]:
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            text = _decode(raw)
            if text is None:
                yield SourceRow(i, None, "invalid UTF-8", raw=raw[:200].decode("utf-8", "replace"))
                continue
            if i == 1 and text.startswith(_BOM):
                text = text[1:]
            if "\x00" in text:
                yield SourceRow(i, None, "NUL byte in line", raw=text[:200])
                continue
            obj, err = parse_json_object(text)
            if err is None and not isinstance(obj, dict):
                err = f"expected a JSON object, found {type(obj).__name__}"
            if err is None and _SURROGATE_ESCAPE.search(text):  # rare: walk only rows that may hold one
                err = lone_surrogate(obj)
            if err is not None:
                yield SourceRow(i, None, err, raw=text[:200])
                continue
            yield SourceRow(i, obj)


def _json_array(path: Path, block: int = 1 << 20) -> Iterator:
    """Elements of a top-level JSON array, decoded one at a time from a buffered read.

    Memory holds one block plus the element being decoded, whatever the file's size. A
    syntax error anywhere stops the file (there is no safe place to resume in a JSON text).
    """
    dec = json.JSONDecoder()
    with open(path, encoding="utf-8-sig") as fh:
        buf, pos, eof = "", 0, False

        def fill() -> bool:
            nonlocal buf, pos, eof
            more = fh.read(block)
            eof = not more
            buf, pos = buf[pos:] + more, 0
            return bool(more)

        def skip_ws() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not fill():
                    return buf[pos] if pos < len(buf) else ""

        if skip_ws() != "[":
            raise BuildError(f"{path}: expected a JSON array of objects")
        pos += 1
        first, n = True, 0
        while True:
            c = skip_ws()
            if c == "]" and first:
                return
            if not first:
                if c == "]":
                    return
                if c != ",":
                    raise BuildError(f"{path}: not a JSON document: expected ',' or ']' at element {n + 1}")
                pos += 1
                skip_ws()
            while True:
                try:
                    obj, end = dec.raw_decode(buf, pos)
                    break
                except ValueError as exc:
                    # an element cut by the block boundary: read on; at the end it is an error
                    if eof or not fill():
                        raise BuildError(f"{path}: not a JSON document: {exc}") from None
                except RecursionError:
                    raise BuildError(f"{path}: not a JSON document: nested too deeply") from None
            pos = end
            first = False
            n += 1
            yield obj
            if pos > block:  # drop what was decoded
                buf, pos = buf[pos:], 0


def _first_char(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        while True:
            c = fh.read(1)
            if not c or not c.isspace():
                return c


def read_json(path: Path) -> Iterator[SourceRow]:
    """A JSON array of objects (streamed, element by element) or ``{"data": [...]}`` (loaded whole)."""
    if _first_char(path) == "[":
        yield from _json_objects(_json_array(path))
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BuildError(f"{path}: not a JSON document: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise BuildError(f"{path}: expected a JSON array of objects (or {{'data': [...]}})")
    yield from _json_objects(data)


def _json_objects(objs) -> Iterator[SourceRow]:
    """Array elements as rows: a non-object or a non-finite number is a row-level problem."""
    for i, obj in enumerate(objs, start=1):
        if not isinstance(obj, dict):
            yield SourceRow(i, None, f"expected a JSON object, found {type(obj).__name__}")
        elif not _finite(obj):
            yield SourceRow(i, None, "NaN or infinite number")
        elif err := lone_surrogate(obj):
            yield SourceRow(i, None, err)
        else:
            yield SourceRow(i, obj)


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


def read_parquet(path: Path, batch_size: int) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001
        raise BuildError(f"{path}: not a Parquet file: {exc}") from None
    n = 0
    for batch in pf.iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            n += 1
            yield SourceRow(n, row)


def read_arrow(path: Path, batch_size: int) -> Iterator[SourceRow]:
    import datasets

    if path.is_dir():
        try:
            ds = datasets.load_from_disk(str(path))
        except Exception as exc:  # noqa: BLE001
            raise BuildError(f"{path}: not a datasets save_to_disk folder: {exc}") from None
        parts = ds.items() if isinstance(ds, datasets.DatasetDict) else [(None, ds)]
        for split, d in parts:
            n = 0
            for batch in d.with_format("arrow").iter(batch_size=batch_size):
                for row in batch.to_pylist():
                    n += 1
                    yield SourceRow(n, row, split=split)
        return
    import pyarrow as pa

    try:
        reader = pa.ipc.open_stream(str(path))
    except Exception:  # noqa: BLE001 - try the file format next
        try:
            reader = pa.ipc.open_file(str(path))
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except Exception as exc:  # noqa: BLE001
            raise BuildError(f"{path}: not an Arrow IPC file: {exc}") from None
    else:
        batches = iter(reader)
    n = 0
    for batch in batches:
        for row in batch.to_pylist():
            n += 1
            yield SourceRow(n, row)


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
        else:
            raise BuildError(f"source '{src.name}': format '{fmt}' needs 'hub'")
    except PermissionError as exc:
        raise BuildError(f"source '{src.name}': cannot read {path}: {exc}") from None
    except IsADirectoryError:
        raise BuildError(f"source '{src.name}': {path} is a folder; set format: arrow for a save_to_disk folder") from None


def peek_columns(path: Path, fmt: str, src) -> list[str]:
    """Column names of a source, from its first readable row (used for static checks)."""
    if path.is_file() and path.stat().st_size == 0:
        raise BuildError(f"{path} is empty (0 bytes)")
    if fmt in ("csv", "tsv"):
        if not src.csv.header:
            return list(src.csv.columns or [])
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            delimiter = src.csv.delimiter or ("\t" if fmt == "tsv" else ",")
            quoting = csv.QUOTE_NONE if src.csv.quoting == "none" else csv.QUOTE_MINIMAL
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
