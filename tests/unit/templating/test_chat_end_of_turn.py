"""The special-token questions of the turn search, one C-level call each, answer as the
per-special scans did: the end of turn (whitespace, ``str.isspace``, then the first special in
the list's order -- longest first -- that starts there; None for the header's ``skip`` token or
where no special follows), and for tool-call turns the special a generation prompt opens with,
whether a region ends with a special, and whether a stretch of text holds one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.templating.chat import _end_of_turn
from ftdata.templating.specialsrx import SpecialsRx

LLAMA3 = sorted([f"<|reserved_special_token_{i}|>" for i in range(248)]
                + ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                   "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"], key=lambda s: (-len(s), s))
SMALL = ["<|im_start|>", "<|im_end|>", "<|end|>", "<|e", "|>"]  # prefixes of each other: order decides


def scan(text: str, end: int, specials: list[str], skip: str | None) -> int | None:
    """The per-special scan, as the engine did it before."""
    j = end
    while j < len(text) and text[j].isspace():
        j += 1
    for sp in specials:
        if text.startswith(sp, j):
            return None if sp == skip else j + len(sp)
    return None


PIECES = st.sampled_from(["<|eot_id|>", "<|im_end|>", "<|e", "<|end|>", "<|start_header_id|>", " ", "\n", "\t",
                          "\u00a0", "\u2028", "\x1c", "\u200b", "word", "<", "|>"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=8), st.data(),
       st.sampled_from([LLAMA3, SMALL, sorted(SMALL, key=lambda s: (-len(s), s)), []]))
def test_the_regex_finds_what_the_scan_found(parts, data, specials):
    text = "".join(parts)
    end = data.draw(st.integers(0, len(text)))
    skip = data.draw(st.sampled_from([None, "<|start_header_id|>", "<|im_start|>", "<|e"]))
    assert _end_of_turn(text, end, specials, skip) == scan(text, end, specials, skip)


def test_a_new_list_of_specials_is_not_served_an_old_pattern():
    text = "answer<|eot_id|>"
    assert _end_of_turn(text, 6, ["<|im_end|>"]) is None
    assert _end_of_turn(text, 6, ["<|eot_id|>"]) == len(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=8), st.data(),
       st.sampled_from([LLAMA3, SMALL, sorted(SMALL, key=lambda s: (-len(s), s)), [], ["", "<|e"]]))
def test_the_tool_turn_questions_answer_as_the_scans_did(parts, data, specials):
    """Which special a generation prompt opens with, whether a region ends with a special, and
    whether a stretch of text holds one: one call each, the answers of the per-special scans."""
    text = "".join(parts)
    end = data.draw(st.integers(0, len(text)))
    h = data.draw(st.integers(0, end))
    rx = SpecialsRx.of(specials)
    opening = rx.first.match(text) if text else None
    assert (opening.group() if opening else None) == next((sp for sp in specials if text and text.startswith(sp)),
                                                          None)
    assert text.endswith(rx.all, 0, end) == any(text.startswith(sp, end - len(sp), end) for sp in specials)
    assert (rx.first.search(text, h, end) is not None) == any(sp in text[h:end] for sp in specials)


def test_a_special_that_starts_with_whitespace_is_not_an_end_after_the_whitespace_is_skipped():
    """The scan skips all the whitespace first, then asks which special starts there: a special
    whose own text starts with whitespace never matches (the regex must not backtrack into it)."""
    for text, specials in (("a\n<|x|>", ["\n<|x|>"]), ("a  <|eot|>", [" <|eot|>", "<|eot|>"]),
                           ("a \t<|a|>", ["<|a|>"]), ("a\n\n<|x|>", ["\n<|x|>", "<|y|>"])):
        assert _end_of_turn(text, 1, specials) == scan(text, 1, specials, None)
