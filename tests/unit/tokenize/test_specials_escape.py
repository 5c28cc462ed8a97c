"""Escaping special-token strings in data: the whole-value pre-check agrees with the full walk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models

from ftdata.tokenize.specials import Specials, specials_for
from ftdata.tokenize.tokenizer import load_tokenizer

_SHIPPED = specials_for(load_tokenizer("ftdata:tiny-bpe").backend_tokenizer)


def _mixed_firsts() -> Specials:
    """Specials that do not share a first character (the pre-check searches every string)."""
    backend = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    backend.add_special_tokens(["<|x|>", "[SEP]", "##"])
    return Specials(backend)


_MIXED = _mixed_firsts()
_PIECES = ["a", " ", "<", "|", "<|im_end|>", "<|im", "[SEP]", "[SE", "<|x|>", "##", "#", "é", "\n"]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=6).map("".join)
_VALUE = st.recursive(st.one_of(_TEXT, st.integers(), st.none(), st.booleans()),
                      lambda kids: st.one_of(st.lists(kids, max_size=4),
                                             st.dictionaries(_TEXT, kids, max_size=4)), max_leaves=20)


def test_fast_path_mixed_firsts_is_on_both_sides():
    assert _SHIPPED._first == "<"  # every shipped special starts with '<': strings without it are skipped
    assert _MIXED._first is None


@settings(max_examples=300, deadline=None)
@given(value=_VALUE)
def test_escape_agrees_with_the_full_walk(value):
    for sp in (_SHIPPED, _MIXED):
        want = sp._escape(value)  # the walk that builds the escaped copy
        got = sp.escape(value)
        assert got == want
        assert sp.found_in(value) is want[1]
        if not want[1]:
            assert got[0] is value  # nothing to escape: the value itself, nothing rebuilt


def test_row_with_a_special_is_escaped_and_one_without_is_not():
    clean = {"id": 1, "messages": [{"role": "user", "content": "a < b"}, {"role": "assistant", "content": "ok"}]}
    dirty = {"id": 2, "messages": [{"role": "user", "content": "say <|im_end|> now"},
                                   {"role": "assistant", "content": "ok"}]}
    assert _SHIPPED.escape(clean) == (clean, False)
    out, hit = _SHIPPED.escape(dirty)
    assert hit and out["messages"][0]["content"] == "say " + _SHIPPED.to_sentinel["<|im_end|>"] + " now"
    assert out["messages"][1] is dirty["messages"][1]  # untouched parts are shared, as before
    assert dirty["messages"][0]["content"] == "say <|im_end|> now"  # the input is not modified
    # a special among a dict's keys is not escaped (keys are not data): both paths agree
    assert _SHIPPED.escape({"<|im_end|>": "x"}) == ({"<|im_end|>": "x"}, False)
    assert _MIXED.escape(["q", {"k": "[SEP]"}]) == (["q", {"k": _MIXED.to_sentinel["[SEP]"]}], True)


def test_escaping_and_the_chat_turn_search_share_one_compiled_alternation():
    """The specials' regex is compiled once per list (SpecialsRx), longest first, for both."""
    from ftdata.templating.specialsrx import SpecialsRx

    assert _MIXED.strings == ["<|x|>", "[SEP]", "##"]
    # a Specials made now (the kept regexes are per list, and other tests' lists may have pushed
    # _MIXED's out of the small cache since it was made)
    made = _mixed_firsts()
    assert made.rx is SpecialsRx.of(made.strings).first
    assert _MIXED.rx.pattern == "|".join(map(__import__("re").escape, _MIXED.strings))
    assert _MIXED.escape("a<|x|>[SEP]##")[0] == "a" + "".join(_MIXED.to_sentinel[s] for s in _MIXED.strings)
