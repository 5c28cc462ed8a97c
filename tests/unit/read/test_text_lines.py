"""Plain-text sources (format: txt): one row per non-blank line, column 'text'."""

from __future__ import annotations

from ftdata.read.sources import guess_format
from ftdata.read.textfmt import read_text_lines


def test_lines_are_rows_blank_lines_are_not_and_bad_bytes_are_unreadable(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes(b"\xef\xbb\xbfA dog runs.\r\n\n   \nbad \xff byte\nnul \x00 here\nlast line without newline")
    rows = list(read_text_lines(p))
    assert [(r.line, r.data) for r in rows if r.data] == [(1, {"text": "A dog runs."}),
                                                          (6, {"text": "last line without newline"})]
    bad = [(r.line, r.error) for r in rows if r.data is None]
    assert [b[0] for b in bad] == [4, 5]
    assert "invalid UTF-8" in bad[0][1] and "NUL" in bad[1][1]
    assert guess_format(p) == "txt"
