"""Reading in the workers, CSV and TSV files (ftdata.build.ranged.CsvRangeTask).

A CSV/TSV file is cut into byte ranges between records (ftdata.read.ranges.csv_ranges: quote
parity, checked against the csv module's states); each worker reads its range with the file's
header and first line. Every output file -- rejects.jsonl in its order and with its lines, the
manifest's counts, the splits -- must equal what reading in the build process gives, for 1 and 2
processes, cold cache and warm; a file that cannot be cut is read whole in the build process
(build_info.json says why), with the same bytes.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from ftdata.build import ranged
from ftdata.build.orchestrate import compile_recipe
from ftdata.read import csvfmt

from .test_cache import output_bytes
from .test_read_in_workers import built_both_ways, read_in_build_process
from tests.conftest import shared, write_native_templates, write_recipe

BATCH = 8  # physical lines a range: cuts land next to, and move past, multi-line records


def _record(fields, end: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=end).writerow(fields)
    return out.getvalue()


def _reviews() -> tuple[list[str], list[list[str]]]:
    with open(shared("amazon_fine_food", "Reviews.csv"), encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:121]


def _cuttable_csv(folder, repeats: bool = True) -> bytes:
    """Real Amazon reviews written back with quoted newlines (``\\n``, ``\\r\\n``, lone ``\\r``) and
    doubled quotes in their fields, records ending in all three line ends, a byte-order mark,
    blank lines, invalid UTF-8, wrong field counts, empty summaries (schema) and repeated Ids
    within and across ranges."""
    header, rows = _reviews()
    parts = [("\ufeff" + _record(header, "\r\n")).encode()]
    for i, row in enumerate(rows):
        row = list(row)
        if i % 3 == 0:
            row[9] = row[9].replace("<br />", "\n") + "\nlast line"
        if i % 5 == 1:
            row[9] += '\r\nsaid "great"\r\n'
        if i % 7 == 2:
            row[8] += "\rcontinued"
        if i % 23 == 10:
            row[8] = ""
        parts.append(_record(row, ("\r\n", "\n", "\r")[i % 3]).encode())
        if i % 11 == 4:
            parts.append(b"\n\n")
        if i % 13 == 6:
            parts.append(b"only,three,fields\n")
        if i % 17 == 8:
            parts.append(b"999" + str(i).encode() + b",B00\xff\xfe,U,P,1,1,5,1,\"bad\",\"text\"\n")
        if repeats and i % 9 == 7:
            parts.append(_record(rows[i - 1], "\n").encode())   # the Id of the record before
        if repeats and i % 19 == 18:
            parts.append(_record(rows[i - 15], "\r\n").encode())  # an Id ranges before
    return b"".join(parts)


def _recipe(folder, name: str, data: bytes, **src):
    (folder / name).write_bytes(data)
    write_native_templates(folder / "t.yaml", [{"name": "head", "prompt": "Headline for:\n{{Text}}",
                                                "completion": "{{Summary}}"}])
    return write_recipe(folder, {
        "name": "c", "output": "out", "seed": 5, "batch_size": BATCH, "max_length": 200, "max_reject_share": 1.0,
        "sources": [{"name": "r", "path": name, "key": "Id", "templates": [{"file": "t.yaml"}],
                     "columns": {"Summary": {"type": "str", "min_length": 1}}, **src}]})


def csvfmt_opts():
    from ftdata.config.models import CsvOptions

    return CsvOptions()


def _worker_reads(monkeypatch) -> list:
    """The CSV ranges read (by workers or, for Ray, the build process) while building."""
    seen = []
    real = ranged.CsvRangeTask.source_rows
    monkeypatch.setattr(ranged.CsvRangeTask, "source_rows", lambda self, d: seen.append(self.first_line) or real(self, d))
    return seen


@pytest.mark.parametrize("num_proc", [1, 2])
def test_workers_read_csv_with_the_bytes_of_reading_in_the_build_process(tmp_path, monkeypatch, num_proc):
    recipe = _recipe(tmp_path, "r.csv", _cuttable_csv(tmp_path))
    reads = _worker_reads(monkeypatch)
    workers, got, want = built_both_ways(recipe, tmp_path, monkeypatch, num_proc)
    assert "read_in_build_process" not in workers.build_info
    cut = csvfmt.csv_cut(tmp_path / "r.csv", csvfmt_opts(), False, BATCH)
    if num_proc == 1:  # threads: the patched reader is theirs (forked processes have their own copy)
        assert sorted(reads) == [r.first_line for r in cut.ranges]
    # cuts land right after records spanning several lines: a range's last row starts lines
    # before the next range
    data = (tmp_path / "r.csv").read_bytes()
    header = csvfmt.csv_header(tmp_path / "r.csv", csvfmt_opts(), False)
    last_lines = [list(csvfmt.read_csv_range(data[r.start:r.end], csvfmt_opts(), False, header, r.first_line))[-1].line
                  for r in cut.ranges]
    assert sum(nxt.first_line - last > 1 for last, nxt in zip(last_lines, cut.ranges[1:])) >= 3
    assert len(cut.ranges) > 15

    rej = [json.loads(x) for x in want["rejects.jsonl"].decode().splitlines()]
    assert {"unreadable", "schema", "duplicate_key", "too_long"} <= {r["code"] for r in rej}
    assert {"invalid UTF-8", "expected 10 fields, found 3"} <= {r["reason"] for r in rej}
    c = workers.manifest["counts"]["sources"]["r"]
    with open(tmp_path / "r.csv", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        records = [r for r in csv.reader(fh) if r and (len(r) > 1 or r[0].strip())]
    assert c["rows_read"] == len(records) - 1 > 150  # the header is no row
    # a warm rebuild reuses every range's entry and gives the same bytes
    warm = compile_recipe(recipe, output=tmp_path / "workers", num_proc=num_proc, overwrite=True, cache=True)
    assert warm.build_info["cache"]["chunks_computed"] == 0
    assert warm.build_info["cache"]["chunks_reused"] == len(cut.ranges)
    assert output_bytes(warm.output) == got


def test_a_cut_that_ignores_quotes_gives_other_bytes(tmp_path, monkeypatch):
    """The test above fails if the cut ignores quotes: cut at every newline, the workers read
    other rows (and other rejects, at other lines)."""
    recipe = _recipe(tmp_path, "r.csv", _cuttable_csv(tmp_path))
    real = csvfmt.csv_ranges
    monkeypatch.setattr(csvfmt, "csv_ranges", lambda *a, **k: real(*a, **{**k, "quoted": False}))
    with pytest.raises(AssertionError, match=r"\nassert b"):  # an output file's bytes differ
        built_both_ways(recipe, tmp_path, monkeypatch, 1)


def test_real_sms_spam_tsv_headerless_quoting_none(tmp_path, monkeypatch):
    """The real SMS spam collection: TSV, no header (csv.columns), stray quotes read as text."""
    data = shared("sms_spam", "SMSSpamCollection").read_bytes()
    (tmp_path / "sms.tsv").write_bytes(data)
    write_native_templates(tmp_path / "t.yaml", [{"name": "cls", "prompt": "Spam or ham?\n{{text}}",
                                                  "completion": "{{label}}"}])
    recipe = write_recipe(tmp_path, {
        "name": "s", "output": "out", "seed": 2, "batch_size": 500,
        "sources": [{"name": "sms", "path": "sms.tsv", "csv": {"quoting": "none", "header": False,
                                                                "columns": ["label", "text"]},
                     "templates": [{"file": "t.yaml"}]}]})
    reads = _worker_reads(monkeypatch)
    workers, got, _ = built_both_ways(recipe, tmp_path, monkeypatch, 1)
    assert len(reads) == -(-data.count(b"\n") // 500) and "read_in_build_process" not in workers.build_info
    assert workers.manifest["counts"]["sources"]["sms"]["rows_read"] == 5574


@pytest.mark.parametrize("case", ["stray quote", "ends in quotes", "field limit", "NUL on 3.10"])
@pytest.mark.parametrize("num_proc", [1, 2])
def test_a_file_that_cannot_be_cut_is_read_in_the_build_process(tmp_path, monkeypatch, case, num_proc):
    data = _cuttable_csv(tmp_path)
    limit = csv.field_size_limit()
    if case == "stray quote":
        data += b'77,P,U,N,1,1,5,1,a "stray" quote,"text"\n' + data.split(b"\r\n", 1)[1][:3000].rsplit(b"\n", 1)[0]
    elif case == "ends in quotes":
        data += b'78,P,U,N,1,1,5,1,title,"never closed\n79,P,U,N,1,1,5,1,t,x\n'
    elif case == "field limit":
        # the csv module gives up on the long field at its first line and reads the quote on the
        # next as opening a field to the end of the file: cut by parity, its rows would differ
        data += b'80,P,U,N,1,1,5,1,t,"' + b"y" * 3000 + b'\n",\n81,P,U,N,1,1,5,1,t,x\n'
        monkeypatch.setattr(csvfmt, "CSV_FIELD_LIMIT", 2000)
        csv.field_size_limit(2000)
    else:
        data += b"82,P,U,N,1,1,5,1,t\x00,x\n"
        monkeypatch.setattr(ranged, "NUL_IS_CSV_ERROR", True)
    recipe = _recipe(tmp_path, "r.csv", data)
    reads = _worker_reads(monkeypatch)
    try:
        workers, got, want = built_both_ways(recipe, tmp_path, monkeypatch, num_proc, workers_read=False)
    finally:
        csv.field_size_limit(limit)
    assert reads == []
    why = workers.build_info["read_in_build_process"]["r"]
    assert {"stray quote": "quote", "ends in quotes": "ends inside", "field limit": "field limit",
            "NUL on 3.10": "NUL"}[case] in why, why
    if case == "field limit":
        assert b"field larger than field limit" in want["rejects.jsonl"]


def test_a_worker_that_meets_a_csv_error_stops_the_build(tmp_path, monkeypatch):
    """csv_ranges rules out every file where the csv module can raise mid-record; were one cut
    anyway (here: the field limit not checked), the worker stops the build with a clear error
    instead of giving rows other than reading the whole file gives."""
    data = _cuttable_csv(tmp_path) + b'80,P,U,N,1,1,5,1,t,"' + b"y" * 3000 + b'\n",\n81,P,U,N,1,1,5,1,t,x\n'
    recipe = _recipe(tmp_path, "r.csv", data)
    real = csvfmt.csv_ranges
    monkeypatch.setattr(csvfmt, "csv_ranges", lambda *a, **k: real(*a, **{**k, "field_limit": 1 << 30}))
    monkeypatch.setattr(csvfmt, "CSV_FIELD_LIMIT", 2000)
    limit = csv.field_size_limit(2000)
    try:
        with pytest.raises(Exception, match="raised mid-record .* field larger than field limit"):
            compile_recipe(recipe, output=tmp_path / "out", num_proc=1)
    finally:
        csv.field_size_limit(limit)


def test_ray_reads_the_same_csv_ranges_and_shares_their_cache(tmp_path, monkeypatch, local_ray):
    """On Ray (workers that may not see the file) the build process reads the same ranges itself
    and keys them as the local workers do: the bytes of reading the whole file on Ray, and the
    local engine reuses every entry. (rejects.jsonl on Ray orders read and phase-A rejects by Ray's
    window, not the local engine's, also for JSON Lines: compared Ray with Ray.)"""
    recipe = _recipe(tmp_path, "r.csv", _cuttable_csv(tmp_path, repeats=False))
    on_ray = compile_recipe(recipe, output=tmp_path / "out", engine="ray", cache=True)
    with monkeypatch.context() as m:
        read_in_build_process(m)
        whole = compile_recipe(recipe, output=tmp_path / "whole", engine="ray", cache=False)
    assert output_bytes(on_ray.output) == output_bytes(whole.output)
    local = compile_recipe(recipe, output=tmp_path / "out", overwrite=True, cache=True)  # the same cache
    assert local.build_info["cache"]["chunks_computed"] == 0
    assert local.build_info["cache"]["chunks_reused"] == on_ray.build_info["cache"]["chunks_computed"] > 15
