"""Bad input: each row-level problem is a reject with reason and line; file-level ones stop cleanly.

Also the YAML side: an alias bomb is refused quickly, unknown tags name file and line.
"""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.cli.app import main
from ftdata.config.yamlio import load_yaml_text
from ftdata.errors import ConfigError, FtdataError
from ftdata.write.manifest import accounting_ok

from tests.conftest import _laughs, write_native_templates, write_recipe


def _build(tmp_path, tokenizer, data_name: str, data: bytes, columns=None, csv=None, key=None, prompt="{{ q }}"):
    (tmp_path / data_name).write_bytes(data)
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "t", "prompt": prompt, "completion": "{{ a }}"}])
    src = {"name": "s", "path": data_name, "templates": [{"file": str(tpl)}]}
    if columns:
        src["columns"] = columns
    if csv:
        src["csv"] = csv
    if key:
        src["key"] = key
    # most rows are bad by design: any share of rejects is allowed
    recipe = write_recipe(tmp_path, {"name": "x", "output": "out", "tokenizer": str(tokenizer), "dedup": False,
                                     "max_reject_share": 1.0, "split": {"ratios": {"train": 1.0}}, "sources": [src],
                                     "render_limits": {"max_output_chars": 100_000}})
    return recipe


def _rejects(res) -> dict[int, dict]:
    rows = [json.loads(x) for x in (res.output / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    return {r["line"]: r for r in rows}


GOOD = b'{"q": "what is two", "a": "five"}'


def test_jsonl_row_level_problems_become_rejects_with_lines(tmp_path, word_tokenizer):
    lines = [
        GOOD,                                                   # 1 ok
        b'{"q": "what is", "a": ',                              # 2 truncated JSON
        b'{"q": "what", "a": NaN}',                             # 3 NaN
        b'{"q": "what", "a": Infinity}',                        # 4 infinity
        b'{"q": "what", "a": 1e999}',                           # 5 overflows to infinity
        b'{"q": "\xff\xfe what", "a": "x"}',                    # 6 invalid UTF-8
        b'{"q": "what\x00", "a": "x"}',                         # 7 NUL byte
        b'{"q": "what", "q": "is", "a": "x"}',                  # 8 duplicate key
        b'["what", "five"]',                                    # 9 not an object
        b'{"q": "what", "a": ' + b"9" * 5000 + b"}",            # 10 integer too long to convert
        b"[" * 100_000 + b"]" * 100_000,                        # 11 nested too deeply
        b'{"q": "what is", "a": "' + b"y" * (50 * 1024 * 1024) + b'"}',  # 12 a 50 MB field
        b'{"q": "hello", "a": "six"}\r',                         # 13 CRLF line end: fine
        b'{"a": "five"}',                                       # 14 missing column
        b'{"q": ["a", "list"], "a": {"wrong": "type"}}',         # 15 wrong types: renders, typed below
        b"",                                                    # 16 blank line: skipped
        GOOD.replace(b"two", b"three"),                         # 17 ok
    ]
    recipe = _build(tmp_path, word_tokenizer, "rows.jsonl", b"\n".join(lines) + b"\n")
    res = compile_recipe(recipe)
    rej = _rejects(res)
    expect = {2: "malformed JSON", 3: "NaN or infinite", 4: "NaN or infinite", 5: "NaN or infinite",
              6: "invalid UTF-8", 7: "NUL byte", 8: "duplicate key 'q'", 9: "expected a JSON object",
              10: "malformed JSON", 11: "nested too deeply", 12: "max_output_chars", 14: "'q' is undefined"}
    for line, needle in expect.items():
        assert line in rej, (line, sorted(rej))
        assert needle in rej[line]["reason"], (line, rej[line]["reason"])
    assert 1 not in rej and 13 not in rej and 17 not in rej and 16 not in rej
    c = res.manifest["counts"]["sources"]["s"]
    assert c["rows_read"] == 16 and not accounting_ok(res.manifest)
    assert len((res.output / "rejects.jsonl").read_bytes()) < 100_000  # the 50 MB value is not copied


@pytest.mark.slow  # the csv module parses the 50 MB field character by character (~10 s)
def test_csv_row_level_problems_become_rejects_with_lines(tmp_path, word_tokenizer):
    big = "y" * (50 * 1024 * 1024)
    text = ("\ufeffq,a,n\r\n"                 # 1 header with a byte-order mark, CRLF
            "what is two,five,1\r\n"         # 2 ok
            "what is,five\n"                 # 3 missing field (LF)
            "what is two,six,1,extra\n")     # 4 one field too many
    data = text.encode("utf-8") + b"what \xff,five,1\n" + b"what\x00,five,1\n" + \
        f"what is,{big},1\n".encode() + b"hello,six,x\n" + b"what is two,five,2\n" + \
        b'what,"unterminated,3\nhello,six,4\n'  # 10: an open quote runs to the end of the file
    recipe = _build(tmp_path, word_tokenizer, "rows.csv", data, columns={"n": {"type": "int"}})
    res = compile_recipe(recipe)
    rej = _rejects(res)
    expect = {3: "expected 3 fields, found 2", 4: "expected 3 fields, found 4", 5: "invalid UTF-8", 6: "NUL byte",
              7: "max_output_chars", 8: "expected an integer, found 'x'", 10: "expected 3 fields, found 2"}
    for line, needle in expect.items():
        assert needle in rej[line]["reason"], (line, rej[line]["reason"])
    assert sorted(rej) == sorted(expect)  # line 2 passed: the BOM did not rename the first column
    assert res.manifest["counts"]["sources"]["s"]["rows_read"] == 9
    assert not accounting_ok(res.manifest)


def test_mixed_line_endings_keep_line_numbers(tmp_path, word_tokenizer):
    lines = [GOOD + b"\r\n", b"{bad\n", GOOD.replace(b"two", b"three") + b"\r\n", b"{also bad\r\n",
             GOOD.replace(b"five", b"six") + b"\n"]
    res = compile_recipe(_build(tmp_path, word_tokenizer, "rows.jsonl", b"".join(lines)))
    assert sorted(_rejects(res)) == [2, 4]
    csv_data = b"q,a\r\nwhat is two,five\nwhat,\"x\ny\"\r\nhello,six,extra\nwhat is three,five\r\n"
    res = compile_recipe(_build(tmp_path / "c", word_tokenizer, "rows.csv", csv_data)) if (tmp_path / "c").mkdir() \
        is None else None
    rej = _rejects(res)
    assert list(rej) == [5] and "expected 2 fields, found 3" in rej[5]["reason"]
    assert res.manifest["counts"]["sources"]["s"]["rows_read"] == 4


def test_wrong_types_are_schema_rejects(tmp_path, word_tokenizer):
    rows = [{"q": "what", "a": "five", "n": v} for v in (1, "2", 2.5, True, None, "nan", [1], {"x": 1})]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    res = compile_recipe(_build(tmp_path, word_tokenizer, "rows.jsonl", data,
                                columns={"n": {"type": "int"}}, key="@line"))
    rej = _rejects(res)
    assert sorted(rej) == [3, 4, 5, 6, 7, 8]
    assert all(r["stage"] == "schema" and r["reason"].startswith("n:") for r in rej.values())


@pytest.mark.parametrize("name,data,needle", [
    ("empty.jsonl", b"", "is empty"),
    ("empty.csv", b"", "is empty"),
    ("dup.csv", b"q,a,q\nx,y,z\n", "more than once"),
    ("bad.parquet", b"not parquet at all", "Parquet"),
    ("bad.json", b"{\"data\": [1, 2", "not a JSON document"),
])
def test_file_level_problems_are_clear_errors(tmp_path, word_tokenizer, name, data, needle):
    recipe = _build(tmp_path, word_tokenizer, name, data)
    with pytest.raises(FtdataError, match=needle):
        compile_recipe(recipe)
    res = CliRunner().invoke(main, ["build", str(recipe)])
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]


# -- YAML ------------------------------------------------------------------------------------

def test_alias_bomb_is_refused_quickly(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="alias bomb") as ei:
        load_yaml_text(_laughs(), "bomb.yaml")
    assert time.perf_counter() - t0 < 2.0
    assert "bomb.yaml:" in str(ei.value)
    # as a recipe through the CLI as well
    (tmp_path / "r.yaml").write_text("name: x\n" + _laughs())
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "r.yaml")])
    assert res.exit_code == 2 and "alias bomb" in res.output and "Traceback" not in res.output
    # ordinary anchors keep working
    assert load_yaml_text("base: &b {x: 1}\nother: *b\n") == {"base": {"x": 1}, "other": {"x": 1}}


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
@pytest.mark.parametrize("key", [None, "fname"])
def test_lone_surrogate_in_real_rows_is_a_reject(tmp_path, dialogsum_template, fmt, key):
    """A ``\\ud800`` escape with no partner decodes to a string no UTF-8 writer accepts (row key,
    tokenizer, Arrow): it is a read reject naming the line, and every other row is built."""
    from tests.conftest import shared

    lines = shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    assert "\\u" not in lines[4] + lines[9] + lines[14]
    lines[4] = lines[4].replace('"summary": "', '"summary": "half \\ud800 pair ', 1)       # lone high
    lines[9] = lines[9].replace('"dialogue": "', '"dialogue": "\\uDC00 ', 1)              # lone low, upper case
    lines[14] = lines[14].replace('"summary": "', '"summary": "\\ud83d\\ude00 \\\\ud800 ', 1)  # a pair; an escaped backslash
    assert all(a != b for a, b in zip(lines[4:15:5], shared("dialogsum", "dialogsum.dev.jsonl")
                                      .read_text(encoding="utf-8").splitlines()[4:15:5]))
    data = "\n".join(lines) + "\n" if fmt == "jsonl" else "[\n" + ",\n".join(lines) + "\n]\n"
    (tmp_path / f"rows.{fmt}").write_text(data, encoding="utf-8")
    src = {"name": "d", "path": f"rows.{fmt}", "templates": [{"file": str(dialogsum_template)}]}
    if key:
        src["key"] = key
    recipe = write_recipe(tmp_path, {"name": "x", "output": "out", "dedup": False, "max_length": 4096,
                                     "split": {"ratios": {"train": 1.0}}, "sources": [src]})
    res = compile_recipe(recipe)
    rej = _rejects(res)
    assert sorted(rej) == [5, 10], rej
    for line, code in ((5, "\\ud800"), (10, "\\udc00")):
        assert rej[line]["stage"] == "read" and "surrogate" in rej[line]["reason"], rej[line]
        assert code in rej[line]["reason"], rej[line]
    c = res.manifest["counts"]["sources"]["d"]
    assert c["rows_read"] == 30 and c["rows_rejected"] == 2 and c["examples_written"] == 28
    assert not accounting_ok(res.manifest)
