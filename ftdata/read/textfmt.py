"""Plain-text sources (``format: txt``, ``.txt``): one row per non-blank line, column ``text``.

Line-aligned corpora (one sentence or one document per line, e.g. Multi30K's ``train.en``)
become rows of a single column ``text``, which the raw-text layout (``layout: text``) trains
on; a line that is not UTF-8 or holds a NUL byte is an unreadable row (a reject), blank lines
are not rows. Line numbers are the file's own (1-based), so ``key: '@line'`` names a line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..constants import TEXT_COLUMN
from .row import SourceRow


def read_text_lines(path: Path) -> Iterator[SourceRow]:
    """Rows of a plain-text file, streamed line by line."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield SourceRow(n, None, error=f"invalid UTF-8 ({exc.reason} at byte {exc.start})",
                                raw=raw[:200].decode("utf-8", "replace"))
                continue
            if "\x00" in line:
                yield SourceRow(n, None, error="NUL byte in the line", raw=line[:200])
                continue
            line = line.rstrip("\r\n")
            if line.strip():
                yield SourceRow(n, {TEXT_COLUMN: line})
