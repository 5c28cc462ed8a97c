"""Showing trained tokens (``ftdata inspect`` / ``preview``) by direct calls with the word tokenizer."""

from __future__ import annotations

import pytest

from ftdata.constants import IGNORE_INDEX as X
from ftdata.inspect.display import (
    CLOSE,
    DIM,
    GREEN,
    OPEN,
    RESET,
    boundary_line,
    segments,
    show_tokens,
)
from ftdata.testing import make_word_tokenizer
from ftdata.tokenize.tokenizer import load_tokenizer

# "Q: what is two plus three A: five <eos>", trained on "five <eos>"
IDS = [2, 4, 5, 6, 7, 8, 3, 9, 0]
LABELS = [X, X, X, X, X, X, X, 9, 0]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return load_tokenizer(str(make_word_tokenizer(tmp_path_factory.mktemp("wordtok"))))


def test_segments_group_tokens_by_trained_state(tok):
    assert segments(tok, IDS, LABELS) == [(False, "Q: what is two plus three A:"), (True, "five <eos>")]
    assert segments(tok, [4, 9, 5, 10], [X, 9, X, 10]) == [(False, "what"), (True, "five"),
                                                           (False, "is"), (True, "six")]


def test_trained_text_is_marked_when_piped_and_coloured_on_a_terminal(tok):
    plain = show_tokens(tok, IDS, LABELS, color=False)
    assert plain.startswith("Q: what is two plus three A:")
    assert plain.endswith(f"{OPEN}five <eos>{CLOSE}")
    coloured = show_tokens(tok, IDS, LABELS, color=True)
    assert coloured == f"{DIM}Q: what is two plus three A:{RESET}{GREEN}five <eos>{RESET}"


def test_boundary_line_names_the_last_context_and_first_trained_token(tok):
    assert boundary_line(tok, IDS, LABELS) == (
        "boundary: last context token 'A:' (id 3) | first trained token 'five' (id 9); "
        "2/9 tokens trained")
    assert boundary_line(tok, [9, 0], [9, 0]).startswith("boundary: last context token (start)")
    assert boundary_line(tok, [2, 4], [X, X]) == "no trained token"
