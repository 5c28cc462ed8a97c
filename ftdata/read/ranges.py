"""Chunk boundaries of a line-based source, found by scanning bytes (never parsing).

A build cuts a JSON Lines source into chunks of whole lines: a chunk ends after
``max_lines`` lines, or after the line holding its byte budget's last byte, whichever comes
first (:func:`line_ranges`). The budget is ``max_bytes``, or a quarter of the bytes still to
cut when that is less (the file's tail) but not below :data:`TAIL_MIN_BYTES` (unless
``max_bytes`` is). Cutting by
bytes as well as by lines sizes chunks by work: 1,000 conversations of 32 turns are 3.5 MB of
text and become several chunks the workers share, where 1,000 rows of a short
prompt/completion source stay one chunk; the tail's shrinking chunks let the workers finish
together.

The scan finds newline positions with NumPy, a block of the file at a time, so its cost is a few
milliseconds per hundred megabytes, whatever the line count; the rows of a range are read by
:func:`ftdata.read.jsonfmt.read_jsonl` (``start``, ``end``, ``first_line``), the same reader
the whole file goes through, in the build process or in a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Bytes of raw row text after which a chunk is cut even below ``batch_size`` rows.
#: Measured (process_chunk CPU seconds over a whole source, one process, best of 2, the tiny
#: ChatML benchmark tokenizer): 2,000 synthetic 32-turn conversations (3.5 KB a row) cost
#: 4.17 / 4.35 / 4.60 / 4.09 / 3.91 s in chunks of 128 KiB / 256 KiB / 512 KiB / 1 MiB / 1,000
#: rows, and 10,000 DialogSum conversations 5.67 / 5.61 / 5.61 / 5.35 / 5.54 s: within the noise,
#: so a chunk's fixed cost does not decide. 1 MiB keeps the plain DialogSum benchmark (~1.1 KB a
#: row) at ~940 rows a chunk, close to today's 1,000 (fewer chunk files for phase B), and cuts
#: 1,000 32-turn conversations into 4 chunks of 1 MiB that two workers share instead of one
#: (11 with the tail rule below).
CHUNK_BYTES = 1 << 20

#: The tail of a file is cut finer: a chunk's byte budget is 1/:data:`TAIL_SHARE` of the bytes
#: still to cut, but at least :data:`TAIL_MIN_BYTES` (and at most ``max_bytes``); the chunk ends
#: at the first line end past it. So the last chunks shrink and the
#: workers finish together instead of one tokenizing a whole last chunk while the others wait.
#: Both are constants, not the worker count: the cuts (and the chunk cache's keys) depend on the
#: file and ``batch_size`` alone, whatever ``--num-proc`` or engine. Measured on 5,000 DialogSum
#: conversations (4.8 MB; 5 chunks before, 12 now), 2 processes, 8 builds each way alternating:
#: phase A median 1.333 -> 1.169 s, build 1.800 -> 1.637 s, CPU 2.95 -> 2.90 s; the worker left
#: idle at the end waited 0.19-0.28 s before, 0.02 s now. 1,000 32-turn conversations (4 -> 11
#: chunks) and the plain 50,000 rows (50 -> 57) within the noise either way.
TAIL_SHARE = 4
TAIL_MIN_BYTES = 128 << 10

_BLOCK = 1 << 24  # bytes scanned per NumPy pass


@dataclass(frozen=True)
class ByteRange:
    """Lines ``first_line``.. of a file, bytes ``[start, end)``."""

    start: int
    end: int
    first_line: int


def line_ranges(path: Path, max_lines: int, max_bytes: int = CHUNK_BYTES) -> Iterator[ByteRange]:
    """The chunks of a line-based file: see the module docstring. An empty file has none."""
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb") as fh:
        nl = np.empty(0, dtype=np.int64)  # positions of the newlines at or after ``start``, scanned
        start, line, scanned = 0, 1, 0
        while start < size:
            cap = min(max_bytes, max(TAIL_MIN_BYTES, (size - start) // TAIL_SHARE))
            while scanned < size and len(nl) < max_lines and (not len(nl) or nl[-1] < start + cap - 1):
                block = np.frombuffer(fh.read(_BLOCK), dtype=np.uint8)
                nl = np.concatenate([nl, np.flatnonzero(block == 10) + scanned])
                scanned += max(len(block), 1)  # a file that shrank under us ends the scan
            ends = []
            if len(nl) >= max_lines:
                ends.append(int(nl[max_lines - 1]))
            i = int(np.searchsorted(nl, start + cap - 1))
            if i < len(nl):
                ends.append(int(nl[i]))
            end = min(ends) + 1 if ends else size
            n_lines = int(np.searchsorted(nl, end))
            yield ByteRange(start, end, line)
            line += n_lines
            nl = nl[n_lines:]
            start = end


# -- CSV / TSV ----------------------------------------------------------------------------------

_QUOTE, _LF, _CR = 0x22, 0x0A, 0x0D
_BOM = b"\xef\xbb\xbf"
#: bytes that make a record a row (not blank): ASCII other than whitespace and the quote. A
#: record without one (whitespace, quotes, non-ASCII only) is checked by parsing it.
_SOLID = np.array([i < 0x80 and not chr(i).isspace() and i != _QUOTE for i in range(256)])


@dataclass(frozen=True)
class CsvCut:
    """The chunks of a CSV/TSV file (:func:`csv_ranges`), or why it has none: ``ranges`` None and
    ``reason`` saying why the file must be read whole, in one process."""

    ranges: list[ByteRange] | None
    reason: str | None = None


def csv_ranges(path: Path, rows: int, *, delimiter: str, quoted: bool, header: bool, field_limit: int,
               is_row: Callable[[bytes, int], bool], nul_is_error: bool = False) -> CsvCut:
    """The chunks of a CSV/TSV file, ``rows`` rows each (the last one fewer): the chunks reading
    the whole file in ``rows``-row batches gives (blank records are no rows; with ``header`` the
    first record is none), cut only where Python's csv module (``strict=False``, ``doublequote``,
    no escape character, lines split at ``\n``, ``\r\n`` and a lone ``\r``) is between records;
    ``ranges`` None when the file cannot be cut safely.

    Records end at the line ends with an even number of ``"`` before them (``quoted`` False,
    QUOTE_NONE: at every line end). Quote parity is the csv module's quoted state only when
    every quote that opens (even count before it) starts a field -- right after the byte-order
    mark or file start, the delimiter, ``\n``, ``\r`` or a closing quote (a doubled ``""``) --
    and every quote that closes is followed by the delimiter, ``\n``, ``\r``, another quote or
    the end of the file: a stray quote anywhere else (``ab"c``, ``"ab"c``) makes the module carry
    on in a state parity does not follow, and so does a file ending inside quotes; then there is
    no cut. Nor where the module would raise an error mid-record and go on at the next line (a
    state the cut cannot know): a record longer than ``field_limit`` bytes may hold a field over
    the limit, and ``nul_is_error`` (Python 3.10) makes any NUL byte one. A record with an ASCII
    byte other than whitespace and quotes is a row; ``is_row(bytes, first line)`` decides for
    the others (blank lines). Line numbers count ``\n`` and lone ``\r``, as the csv module's
    line iterator does. The whole file is scanned (NumPy, a block at a time) before the first
    range is given; a cut lies right after a chunk's last row, so blank lines after it belong
    to the next chunk, and trailing ones to the last.
    """
    size = path.stat().st_size
    if size == 0:
        return CsvCut([])
    d = delimiter.encode("utf-8")
    if quoted and (len(d) != 1 or d[0] in (_QUOTE, _LF, _CR)):
        why = "is a quote or line-end character" if len(d) == 1 else "is not one ASCII byte"
        return CsvCut(None, f"delimiter {delimiter!r} {why}")
    arr = np.memmap(path, dtype=np.uint8, mode="r")
    begin = len(_BOM) if arr[:3].tobytes() == _BOM else 0  # where the first field starts
    cuts: list[tuple[int, int]] = []  # (last byte of a chunk, its last line)
    quotes = lines = n_rows = 0       # quotes, line ends and rows before the block
    rec_start, rec_line = 0, 1        # the record being read: its first byte and line
    solid = False                     # it has a byte that makes it a row
    for a in range(0, size, _BLOCK):
        block = arr[a:a + _BLOCK]
        if nul_is_error and not block.all():
            return CsvCut(None, "a NUL byte (an error to Python 3.10's csv module)")
        lf = np.flatnonzero(block == _LF) + a
        cr = np.flatnonzero(block == _CR) + a
        lone_cr = cr[arr[np.minimum(cr + 1, size - 1)] != _LF]  # (a \r as the last byte is lone too)
        ends = np.union1d(lf, lone_cr)  # every physical line end in the block, in order
        ends_at = ends
        if quoted:
            q = np.flatnonzero(block == _QUOTE) + a
            opens = ((quotes + np.arange(len(q))) & 1) == 0
            o, c = q[opens], q[~opens]
            before = arr[np.maximum(o - 1, 0)]
            ok_open = (o == begin) | (before == d[0]) | (before == _LF) | (before == _CR) | (before == _QUOTE)
            after = arr[np.minimum(c + 1, size - 1)]
            ok_close = (c == size - 1) | (after == d[0]) | (after == _LF) | (after == _CR) | (after == _QUOTE)
            if not ok_open.all() or not ok_close.all():
                bad = int(np.concatenate([o[~ok_open], c[~ok_close]]).min())
                return CsvCut(None, f"a quote the csv module does not read as opening or closing a "
                                    f"quoted field (byte {bad}, line {_line_of(arr, bad)})")
            ends_at = ends[((quotes + np.searchsorted(q, ends)) & 1) == 0]  # record ends
            quotes += len(q)
        line_no = lines + np.searchsorted(ends, ends_at, side="right")  # the line each record ends on
        lines += len(ends)
        starts = np.concatenate([[rec_start], ends_at[:-1] + 1]) if len(ends_at) else np.array([rec_start])
        if len(ends_at) and int((ends_at - starts).max()) + 1 > field_limit:
            return CsvCut(None, f"a record may be longer than the csv field limit ({field_limit})")
        # which records have a solid byte: per piece of the block between record ends
        pieces = np.concatenate([[0], ends_at + 1 - a])
        pieces = pieces[pieces < len(block)]
        has = np.logical_or.reduceat(_SOLID[block], pieces) if len(block) else np.zeros(0, bool)
        if pieces[0] == 0 and len(has):
            has[0] |= solid  # the record carried over from the block before
        else:
            has = np.concatenate([[solid], has])
        row = has[:len(ends_at)].copy()
        first_lines = np.concatenate([[rec_line], line_no[:-1] + 1]) if len(ends_at) else np.array([rec_line])
        for i in np.flatnonzero(~row):
            row[i] = is_row(arr[int(starts[i]):int(ends_at[i]) + 1].tobytes(), int(first_lines[i]))
        if header and len(ends_at) and starts[0] == 0:
            row[0] = False  # the header line
        solid = bool(has[len(ends_at)]) if len(has) > len(ends_at) else False
        if len(ends_at):
            rec_start, rec_line = int(ends_at[-1]) + 1, int(line_no[-1]) + 1
        at = np.flatnonzero(row)
        at = at[(n_rows + np.arange(1, len(at) + 1)) % rows == 0]  # each chunk's last row
        cuts += zip(ends_at[at].tolist(), line_no[at].tolist())
        n_rows += int(row.sum())
    if quotes & 1:
        return CsvCut(None, "the file ends inside a quoted field")
    if rec_start < size:  # a last record without a line end
        if size - rec_start > field_limit:
            return CsvCut(None, f"a record may be longer than the csv field limit ({field_limit})")
        if not (header and rec_start == 0) and (solid or is_row(arr[rec_start:].tobytes(), rec_line)):
            n_rows += 1
    ranges, start, line = [], 0, 1
    for end, last in cuts:
        ranges.append(ByteRange(start, end + 1, line))
        start, line = end + 1, last + 1
    if n_rows > len(cuts) * rows:  # the last chunk, of fewer rows or ending without a line end
        ranges.append(ByteRange(start, size, line))
    return CsvCut(ranges)


def _line_of(arr, pos: int) -> int:
    """The physical line holding byte ``pos`` (for a message)."""
    head = arr[:pos]
    lf, cr = np.flatnonzero(head == _LF), np.flatnonzero(head == _CR)
    lone = cr[arr[cr + 1] != _LF] if len(cr) else cr
    return 1 + len(lf) + len(lone)
