"""csv_ranges / csv_cut: a CSV/TSV file cut only between records, ``rows`` rows a range, so each
range read alone gives the rows the whole file gives, in the batches reading the whole file
gives (ftdata.read.csvfmt.read_csv_range against read_csv), or not cut at all."""

from __future__ import annotations

import csv
import random
from itertools import islice

import pytest

from ftdata.config.models import CsvOptions
from ftdata.read import csvfmt
from ftdata.read.csvfmt import csv_cut, csv_header, read_csv, read_csv_range


def _ranged(path, opts, cut, tsv=False) -> list[list]:
    data = path.read_bytes()
    header = csv_header(path, opts, tsv)
    return [list(read_csv_range(data[rg.start:rg.end], opts, tsv, header, rg.first_line)) for rg in cut.ranges]


def _batches(path, opts, rows, tsv=False) -> list[list]:
    """The whole file read in ``rows``-row batches, as the build process reads it."""
    it = read_csv(path, opts, tsv)
    out = []
    while batch := list(islice(it, rows)):
        out.append(batch)
    return out


def _random_csv(rnd: random.Random) -> str:
    """Records with quoted fields holding delimiters, doubled quotes and \\n, \\r\\n, lone \\r; line
    ends of all three kinds, blank and whitespace lines, a byte-order mark; sometimes one stray
    character anywhere."""
    parts = ["\ufeff"] if rnd.random() < 0.2 else []
    for _ in range(rnd.randint(1, 14)):
        fields = []
        for _ in range(rnd.randint(1, 3)):
            if rnd.random() < 0.5:
                body = "".join(rnd.choice(["x", ",", '""', "\n", "\r\n", "\r", "é", " "]) for _ in range(rnd.randint(0, 5)))
                fields.append('"' + body + '"')
            else:
                fields.append("".join(rnd.choice(["y", " ", "é", "\u3000"]) for _ in range(rnd.randint(0, 3))))
        parts.append(",".join(fields) + rnd.choice(["\n", "\r\n", "\r", "\n\n", "\n \n"]))
    text = "".join(parts)
    if rnd.random() < 0.3:
        i = rnd.randrange(len(text) + 1)
        text = text[:i] + rnd.choice(['"', '""', ",", "\n", "\r", "a"]) + text[i:]
    return text.rstrip("\r\n") if rnd.random() < 0.1 else text


@pytest.mark.parametrize("quoting", ["minimal", "none"])
def test_every_range_read_alone_gives_the_batches_of_the_whole_file(tmp_path, quoting):
    rnd = random.Random(20)
    path = tmp_path / "f.csv"
    cut_files = not_cut = 0
    for _ in range(400):
        tsv = rnd.random() < 0.3
        text = _random_csv(rnd)
        path.write_bytes((text.replace(",", "\t") if tsv else text).encode())
        opts = rnd.choice([CsvOptions(quoting=quoting), CsvOptions(quoting=quoting, columns=["a", "b", "c"]),
                           CsvOptions(quoting=quoting, header=False, columns=["a", "b", "c"])])
        try:
            csv_header(path, opts, tsv)
        except Exception:  # no header: the build stops, on both paths (csv_header raises as read_csv)
            continue
        for rows in (1, 2, 3, 100):
            cut = csv_cut(path, opts, tsv, rows)
            if cut.ranges is None:
                not_cut += 1
                continue
            cut_files += 1
            assert _ranged(path, opts, cut, tsv) == _batches(path, opts, rows, tsv), path.read_bytes()
    assert cut_files > 1000 and (not_cut > 50 if quoting == "minimal" else not_cut == 0), (cut_files, not_cut)


def test_records_and_quotes_carried_across_scan_blocks(tmp_path, monkeypatch):
    """The scan reads the file a block at a time: a record, a quote pair, a ``\r\n`` or a blank
    line split between blocks (here of 1 and 3 bytes) gives the same ranges."""
    from ftdata.read import ranges

    rnd = random.Random(7)
    path = tmp_path / "f.csv"
    checked = 0
    for _ in range(150):
        path.write_bytes(_random_csv(rnd).encode())
        opts = CsvOptions(quoting=rnd.choice(["minimal", "none"]))
        try:
            csv_header(path, opts, False)
        except Exception:
            continue
        for rows in (1, 3):
            want = csv_cut(path, opts, False, rows)
            for block in (1, 3):
                monkeypatch.setattr(ranges, "_BLOCK", block)
                assert csv_cut(path, opts, False, rows) == want, (path.read_bytes(), block)
                monkeypatch.undo()
            checked += want.ranges is not None
    assert checked > 200


def test_a_newline_inside_quotes_is_never_a_cut(tmp_path):
    """A cut at newlines alone (every ``\\n``, as JSON Lines is cut) splits the quoted records and
    reads other rows; csv_ranges cuts after them."""
    from ftdata.read.ranges import csv_ranges

    path = tmp_path / "f.csv"
    text = "q,a\r\n" + "".join(f'{i},"line one\nline two, with ""quotes""\r\nline three"\r\n' for i in range(20))
    path.write_bytes(text.encode())
    opts = CsvOptions()
    cut = csv_cut(path, opts, False, 2)
    assert [r.first_line for r in cut.ranges] == [1] + list(range(8, 62, 6))  # the header, then 2 records (6 lines) a range
    assert _ranged(path, opts, cut) == _batches(path, opts, 2)
    blind = csv_ranges(path, 2, delimiter=",", quoted=False, header=True, field_limit=1 << 28,
                       is_row=lambda data, line: True)  # quotes ignored
    assert _ranged(path, opts, blind) != _batches(path, opts, 2)


def test_line_numbers_count_lone_carriage_returns_and_blank_lines_are_no_rows(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"q,a\rx,1\r\ny,2\r\r  \n\"\"\nz,\"3\r\n4\"\nw,5\n\n\n")
    opts = CsvOptions()
    assert [r.line for r in read_csv(path, opts, False)] == [2, 3, 7, 9]
    cut = csv_cut(path, opts, False, 1)
    # blank lines (4, 5: whitespace, 6: an empty quoted field) go with the row after them;
    # trailing ones (10, 11) hold no row and are in no range
    assert [(r.first_line, r.start, r.end) for r in cut.ranges] == [(1, 0, 9), (3, 9, 13), (4, 13, 29), (9, 29, 33)]
    assert _ranged(path, opts, cut) == _batches(path, opts, 1)


@pytest.mark.parametrize("text,why", [
    ('q,a\nab"c,1\nx,"2\n3"\n', "quote"),          # a quote inside an unquoted field
    ('q,a\n"ab"c,1\nx,"2\n3"\n', "quote"),         # text after a closing quote
    ('q,a\nx,"unterminated\ny,2\n', "ends inside"),  # the file ends inside quotes
])
def test_a_quote_parity_cannot_follow_is_not_cut(tmp_path, text, why):
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode())
    cut = csv_cut(path, CsvOptions(), False, 1)
    assert cut.ranges is None and why in cut.reason
    if why == "quote":
        assert "line 2" in cut.reason
    # the same bytes read without quoting are cut at every row
    assert len(csv_cut(path, CsvOptions(quoting="none"), False, 1).ranges) == text.count("\n") - 1


def test_a_record_over_the_field_limit_is_not_cut(tmp_path, monkeypatch):
    """The csv module raises "field larger than field limit" mid-record and goes on at the next
    line, in a state the cut cannot know: ranges read alone would give other rows."""
    from ftdata.read.ranges import csv_ranges

    path = tmp_path / "f.csv"
    # the module gives up on line 2's field and reads line 3's quote as opening a field that runs
    # to the end of the file; by parity it closes line 2's, and u,3 and v,4 are records
    path.write_bytes(('q,a\nx,"' + "y" * 80 + '\n"\nu,3\nv,4\n').encode())
    opts = CsvOptions()
    old = csv.field_size_limit()
    monkeypatch.setattr(csvfmt, "CSV_FIELD_LIMIT", 64)
    try:
        csv.field_size_limit(64)
        whole = _batches(path, opts, 1)
        assert "field larger than field limit" in whole[0][0].error
        unsafe = csv_ranges(path, 1, delimiter=",", quoted=True, header=True, field_limit=1 << 28,
                            is_row=lambda data, line: True)  # the limit not checked
        assert _ranged(path, opts, unsafe) != whole
        cut = csv_cut(path, opts, False, 1)
        assert cut.ranges is None and "field limit" in cut.reason
    finally:
        csv.field_size_limit(old)
    assert csv_cut(path, opts, False, 1).ranges is not None  # under the usual limit


def test_nul_bytes_are_not_cut_where_the_csv_module_raises_on_them(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"q,a\nx\x00,1\ny,2\n")
    assert csv_cut(path, CsvOptions(), False, 1).ranges is not None
    cut = csv_cut(path, CsvOptions(), False, 1, nul_is_error=True)
    assert cut.ranges is None and "NUL" in cut.reason


def test_a_delimiter_of_several_bytes_is_not_cut_when_quoted(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes('q§a\n"x"§1\n'.encode())
    assert "not one ASCII byte" in csv_cut(path, CsvOptions(delimiter="§"), False, 1).reason
    for d in ('"', "\n", "\r"):  # one byte, but one the cut reads as a quote or a line end
        assert "quote or line-end" in csv_cut(path, CsvOptions(delimiter=d), False, 1).reason
    opts = CsvOptions(delimiter="§", quoting="none")
    assert _ranged(path, opts, csv_cut(path, opts, False, 1)) == _batches(path, opts, 1)


def test_header_only_and_blank_only_files_have_no_range(tmp_path):
    path = tmp_path / "f.csv"
    for data in (b"q,a\n", b"q,a", b"\xef\xbb\xbfq,a\r\n\r\n  \n"):
        path.write_bytes(data)
        assert csv_cut(path, CsvOptions(), False, 5).ranges == [] == _batches(path, CsvOptions(), 5)
    path.write_bytes(b"\n \n")
    opts = CsvOptions(header=False, columns=["q"])
    assert csv_cut(path, opts, False, 5).ranges == [] == _batches(path, opts, 5)
