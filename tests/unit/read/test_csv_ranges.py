"""csv_ranges: a CSV/TSV file cut only between records, so a range read alone gives the rows the
whole file gives (ftdata.read.csvfmt.read_csv_range against read_csv), or not cut at all."""

from __future__ import annotations

import csv
import random

import pytest

from ftdata.config.models import CsvOptions
from ftdata.read.csvfmt import csv_header, read_csv, read_csv_range
from ftdata.read.ranges import csv_ranges

BIG = 1 << 28


def _ranged_rows(path, opts, tsv, cut):
    data = path.read_bytes()
    header = csv_header(path, opts, tsv)
    return [r for rg in cut.ranges for r in read_csv_range(data[rg.start:rg.end], opts, tsv, header, rg.first_line)]


def _random_csv(rnd: random.Random) -> str:
    """Records with quoted fields holding delimiters, doubled quotes and \\n, \\r\\n, lone \\r; line
    ends of all three kinds, blank lines, a byte-order mark; sometimes one stray character."""
    parts = ["\ufeff"] if rnd.random() < 0.2 else []
    for _ in range(rnd.randint(1, 12)):
        fields = []
        for _ in range(rnd.randint(1, 3)):
            if rnd.random() < 0.5:
                body = "".join(rnd.choice(["x", ",", '""', "\n", "\r\n", "\r", "é"]) for _ in range(rnd.randint(0, 5)))
                fields.append('"' + body + '"')
            else:
                fields.append("".join(rnd.choice(["y", " ", "é"]) for _ in range(rnd.randint(0, 3))))
        parts.append(",".join(fields) + rnd.choice(["\n", "\r\n", "\r", "\n\n"]))
    text = "".join(parts)
    if rnd.random() < 0.3:  # a stray quote, delimiter or line end anywhere
        i = rnd.randrange(len(text) + 1)
        text = text[:i] + rnd.choice(['"', '""', ",", "\n", "\r", "a"]) + text[i:]
    return text.rstrip("\r\n") if rnd.random() < 0.1 else text


@pytest.mark.parametrize("quoting", ["minimal", "none"])
def test_every_range_read_alone_gives_the_rows_of_the_whole_file(tmp_path, quoting):
    rnd = random.Random(20)
    path = tmp_path / "f.csv"
    cut_files = not_cut = 0
    for _ in range(400):
        path.write_bytes(_random_csv(rnd).encode())
        opts = CsvOptions(quoting=quoting) if rnd.random() < 0.5 else \
            CsvOptions(quoting=quoting, header=False, columns=["a", "b", "c"])
        try:
            whole = list(read_csv(path, opts, False))
        except Exception:  # no header: the build stops, on both paths (csv_header raises the same)
            continue
        for max_lines, max_bytes in ((1, 1), (2, 7), (3, 1000)):
            cut = csv_ranges(path, max_lines, delimiter=",", quoted=quoting == "minimal", field_limit=BIG,
                             max_bytes=max_bytes)
            if cut.ranges is None:
                not_cut += 1
                continue
            cut_files += 1
            assert _ranged_rows(path, opts, False, cut) == whole, path.read_bytes()
    assert cut_files > 800 and (not_cut > 50 if quoting == "minimal" else not_cut == 0), (cut_files, not_cut)


def test_a_newline_inside_quotes_is_never_a_cut(tmp_path):
    """A cut by newlines alone (every ``\\n``, as JSON Lines is cut) splits the quoted records and
    reads other rows; csv_ranges cuts after them."""
    path = tmp_path / "f.csv"
    text = "q,a\r\n" + "".join(f'{i},"line one\nline two, with ""quotes""\r\nline three"\r\n' for i in range(20))
    path.write_bytes(text.encode())
    opts = CsvOptions()
    whole = list(read_csv(path, opts, False))
    assert len(whole) == 20 and all(r.error is None for r in whole)
    cut = csv_ranges(path, 2, delimiter=",", quoted=True, field_limit=BIG)
    # the header and the first record (lines 1-4: the 2nd line is inside quotes), then a record a range
    assert [r.first_line for r in cut.ranges] == [1] + list(range(5, 62, 3))
    assert _ranged_rows(path, opts, False, cut) == whole
    blind = csv_ranges(path, 2, delimiter=",", quoted=False, field_limit=BIG)  # quotes ignored
    assert _ranged_rows(path, opts, False, blind) != whole


def test_line_numbers_count_lone_carriage_returns(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"q,a\rx,1\r\ny,2\r\rz,\"3\r\n4\"\nw,5\n")
    opts = CsvOptions()
    whole = list(read_csv(path, opts, False))
    assert [r.line for r in whole] == [2, 3, 5, 7]
    cut = csv_ranges(path, 1, delimiter=",", quoted=True, field_limit=BIG)
    assert [r.first_line for r in cut.ranges] == [1, 3, 7]  # cut at \n only, never inside quotes (line 5)
    assert _ranged_rows(path, opts, False, cut) == whole


@pytest.mark.parametrize("text,why", [
    ('q,a\nab"c,1\nx,"2\n3"\n', "quote"),          # a quote inside an unquoted field
    ('q,a\n"ab"c,1\nx,"2\n3"\n', "quote"),         # text after a closing quote
    ('q,a\nx,"unterminated\ny,2\n', "ends inside"),  # the file ends inside quotes
])
def test_a_quote_parity_cannot_follow_is_not_cut(tmp_path, text, why):
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode())
    cut = csv_ranges(path, 1, delimiter=",", quoted=True, field_limit=BIG)
    assert cut.ranges is None and why in cut.reason
    if why == "quote":
        assert "line 2" in cut.reason
    # the same bytes read without quoting are cut at every line
    assert len(csv_ranges(path, 1, delimiter=",", quoted=False, field_limit=BIG).ranges) == text.count("\n")


def test_a_record_over_the_field_limit_is_not_cut(tmp_path, monkeypatch):
    """The csv module raises "field larger than field limit" mid-record and goes on at the next
    line, in a state the cut cannot know: ranges read alone then give other rows."""
    from ftdata.read import csvfmt

    path = tmp_path / "f.csv"
    # the module gives up on line 2's field and reads line 3's quote as opening a field that runs
    # to the end of the file; by parity it closes line 2's, and u,3 and v,4 are records
    path.write_bytes(('q,a\nx,"' + "y" * 80 + '\n"\nu,3\nv,4\n').encode())
    opts = CsvOptions()
    old = csv.field_size_limit()
    monkeypatch.setattr(csvfmt, "CSV_FIELD_LIMIT", 64)
    try:
        csv.field_size_limit(64)
        whole = list(read_csv(path, opts, False))
        assert "field larger than field limit" in whole[0].error
        unsafe = csv_ranges(path, 1, delimiter=",", quoted=True, field_limit=BIG)  # the limit not checked
        assert _ranged_rows(path, opts, False, unsafe) != whole
    finally:
        csv.field_size_limit(old)
    cut = csv_ranges(path, 1, delimiter=",", quoted=True, field_limit=64)
    assert cut.ranges is None and "field limit" in cut.reason
    assert csv_ranges(path, 1, delimiter=",", quoted=True, field_limit=100).ranges is not None


def test_nul_bytes_are_not_cut_where_the_csv_module_raises_on_them(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"q,a\nx\x00,1\ny,2\n")
    assert csv_ranges(path, 1, delimiter=",", quoted=True, field_limit=BIG).ranges is not None
    cut = csv_ranges(path, 1, delimiter=",", quoted=True, field_limit=BIG, nul_is_error=True)
    assert cut.ranges is None and "NUL" in cut.reason


def test_a_delimiter_of_several_bytes_is_not_cut(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes('q§a\n"x"§1\n'.encode())
    assert "delimiter" in csv_ranges(path, 1, delimiter="§", quoted=True, field_limit=BIG).reason
    assert csv_ranges(path, 1, delimiter="§", quoted=False, field_limit=BIG).ranges is not None
