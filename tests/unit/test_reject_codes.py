"""The reject table (ftdata.rejects): one meaning per code, codes as enums everywhere, masking
returns (code, message), and ``overflow: error`` travels as an exception, never as a string."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import ftdata
from ftdata.rejects import Code, Reject, Rejection, Stage, meaning, tally
from ftdata.tokenize.causal_fast import encode_causal_columns
from ftdata.tokenize.encoded import NO_TRAINED_TOKEN
from ftdata.tokenize.overflow import TooLong
from ftdata.tokenize.seq2seq import encode_seq2seq
from ftdata.tokenize.spans import encode_causal, encode_spans
from ftdata.tokenize.tokenizer import load_tokenizer

PACKAGE = Path(ftdata.__file__).parent


def test_every_code_has_a_stage_and_a_one_line_meaning():
    assert len({c.value for c in Code}) == len(Code)
    for c in Code:
        assert c.value == c.name.lower(), c
        assert isinstance(c.stage, Stage), c
        assert c.meaning and "\n" not in c.meaning and len(c.meaning) <= 100, c
        assert meaning(c) == meaning(c.value) == c.meaning
    assert meaning("no_such_code") == "a code this ftdata version does not know (no_such_code)"
    # every stage rejects something; only dedup and the mixture are the recipe's own choice
    assert {c.stage for c in Code} == set(Stage)
    assert {c for c in Code if c.deliberate} == {Code.DUPLICATE, Code.NEAR_DUPLICATE, Code.NOT_SAMPLED}
    assert [s for s in Stage if s.whole_row] == [Stage.READ, Stage.SCHEMA, Stage.KEY]


def test_module_docstring_table_matches_the_enum():
    import ftdata.rejects as mod

    rows = {}
    for line in mod.__doc__.splitlines():
        parts = line.split()
        if parts and parts[0] in Code._value2member_map_:
            deliberate = len(parts) > 2 and parts[2] == "yes"
            rows[parts[0]] = (parts[1], deliberate)
    assert rows == {c.value: (c.stage.value, c.deliberate) for c in Code}


def test_codes_read_as_their_values():
    """str-valued: rejects.jsonl and the manifest's counts are the bytes plain strings gave."""
    c = Code.TOO_LONG
    assert c == "too_long" and {c: 1} == {"too_long": 1} and {"too_long": 1}[c] == 1
    assert f"{c}|{c:<10}|" == "too_long|too_long  |" and str(Stage.DEDUP) == "dedup"
    assert json.dumps({c: [c, Stage.TOKENIZE]}) == '{"too_long": ["too_long", "tokenize"]}'
    assert tally({Code.SCHEMA: 2, Code.DUPLICATE: 1}) == {"duplicate": 1, "schema": 2}
    assert all(type(k) is str for k in tally({Code.SCHEMA: 2}))


def test_reject_record_takes_its_stage_from_the_code():
    r = Reject("s", "k1", 3, Code.NOT_AN_ANSWER_CHOICE, "completion is not ...", "t", value="7")
    assert r.stage is Stage.RENDER
    d = r.as_dict()
    assert d == {"source": "s", "row_key": "k1", "line": 3, "code": "not_an_answer_choice",
                 "reason": "completion is not ...", "template": "t", "value": "7", "stage": "render"}
    assert Reject.from_dict(json.loads(json.dumps(d))) == r
    assert Reject("s", None, 1, "unreadable", "bad").code is Code.UNREADABLE  # from the chunk cache's JSON
    with pytest.raises(ValueError, match="'bogus'"):
        Reject("s", None, 1, "bogus", "bad")
    with pytest.raises(ValueError, match="belongs to stage 'render', found stage 'tokenize'"):
        Reject.from_dict(dict(d, stage="tokenize"))


@pytest.fixture
def word(word_tokenizer):
    return load_tokenizer(str(word_tokenizer)).backend_tokenizer


def test_masking_returns_code_and_message(word):
    # ids by hand: "Q: what is two plus three" is 6 words, "five" 1, EOS (id 0) 1
    kw = dict(separator=" ", eos_id=0, max_length=6)
    long_, empty = encode_causal(word, ["Q: what is two plus three", "Q: hi"], ["five", "   "], overflow="drop", **kw)
    assert long_.reject == Rejection(Code.TOO_LONG, "too long: 8 tokens > max_length 6")
    assert empty.reject == NO_TRAINED_TOKEN == (Code.NO_TRAINED_TOKEN,
                                                "no trained token (empty completion after tokenization)")
    cols = encode_causal_columns(word, ["Q: what is two plus three", "Q:"], ["five", "five six five six five six"],
                                 overflow="truncate_prompt", **kw)
    assert cols.reject[0] is None and cols.truncated[0]
    assert cols.reject[1] == (Code.TOO_LONG, "completion alone is 7 tokens, no room in max_length 6 "
                                             "(completions are never cut)")
    s2s = encode_seq2seq(word, ["Q: what is two plus three", "Q: hi"], ["five six five six five six", "   "],
                         eos_id=0, max_length=6, overflow="drop")
    assert s2s[0].reject == (Code.TOO_LONG, "completion is 7 tokens > max_length 6 (completions are never cut)")
    assert s2s[1].reject == NO_TRAINED_TOKEN
    (p,) = encode_seq2seq(word, ["Q: what is two plus three yes"], ["five"], eos_id=0, max_length=6, overflow="drop")
    assert p.reject == (Code.TOO_LONG, "too long: prompt is 7 tokens > max_length 6")


@pytest.mark.parametrize("path", ["causal", "columns", "seq2seq", "spans"])
def test_overflow_error_raises_naming_the_example(word, path):
    prompts, completions = ["Q: hi", "Q: what is two plus three yes", "Q: what is two plus three yes"], ["five"] * 3
    kw = dict(eos_id=0, max_length=6, overflow="error")
    with pytest.raises(TooLong) as info:
        if path == "causal":
            encode_causal(word, prompts, completions, separator=" ", **kw)
        elif path == "columns":
            encode_causal_columns(word, prompts, completions, separator=" ", **kw)
        elif path == "seq2seq":
            encode_seq2seq(word, prompts, completions, **kw)
        else:
            texts = [p + " " + c for p, c in zip(prompts, completions)]
            encode_spans(word, texts, [[(len(p), len(t))] for p, t in zip(prompts, texts)], eos=[0] * 3,
                         untrained_end=[False] * 3, max_length=6, overflow="error")
    assert info.value.index == 1  # the first example over max_length
    assert info.value.message.startswith("too long: ") and "> max_length 6" in info.value.message
    assert not info.value.message.startswith("ERROR")


def _py_files():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def test_no_error_strings_and_no_free_text_codes():
    """Fatal errors are exceptions; every Reject and ChatError names its code from the table."""
    found = []
    for path in _py_files():
        src = path.read_text(encoding="utf-8")
        if '"ERROR:' in src or "'ERROR:" in src or 'startswith("ERROR' in src:
            found.append(f"{path.name}: an 'ERROR:' string")
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            at = {"Reject": 3, "ChatError": 1, "Rejection": 0}.get(name)
            if at is None:
                continue
            args = list(node.args[at:at + 1]) + [k.value for k in node.keywords if k.arg == "code"]
            if any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                found.append(f"{path.name} line {node.lineno}: {name} with a string code")
    assert not found
