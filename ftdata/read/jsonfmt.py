"""JSON Lines and JSON sources, parsed strictly, row by row.

JSON Lines is read line by line; a JSON array is decoded element by element from a buffered
read (:func:`_json_array`), so neither is held whole. One strict decoder
(:func:`parse_json_object`) turns duplicate keys, NaN or infinite numbers, nesting too deep and
integers too long into row-level problems, as are invalid UTF-8, NUL bytes and lone UTF-16
surrogates (:func:`lone_surrogate`); a file that is not JSON at all stops the build.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import BuildError
from .row import SourceRow

_BOM = "\ufeff"


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


def read_jsonl(path: Path, start: int = 0, end: int | None = None, first_line: int = 1) -> Iterator[SourceRow]:
    """The rows of a JSON Lines file, or of its lines in bytes ``[start, end)`` (whole lines,
    the first of them line ``first_line``: a chunk from :func:`ftdata.read.ranges.line_ranges`)."""
    with open(path, "rb") as fh:
        if start or end is not None:
            fh.seek(start)
            yield from jsonl_rows(fh.read(-1 if end is None else end - start), first_line)
        else:
            yield from jsonl_rows(fh, first_line)


def jsonl_rows(lines: Iterable[bytes] | bytes, first_line: int = 1) -> Iterator[SourceRow]:
    """The rows of JSON Lines ``lines`` (an open binary file, or the bytes of whole lines), the
    first being line ``first_line`` of its file; a UTF-8 byte-order mark is skipped on line 1."""
    with io.BytesIO(lines) if isinstance(lines, bytes) else contextlib.nullcontext(lines) as fh:
        for i, raw in enumerate(fh, start=first_line):
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
