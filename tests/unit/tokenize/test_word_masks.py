"""Masking by direct calls with the word tokenizer: every id and label written out by hand.

Ids are positions in ``ftdata.testing.WORDS``: ``<eos>`` 0, ``Q:`` 2, ``A:`` 3, ``what`` 4,
``is`` 5, ``two`` 6, ``plus`` 7, ``three`` 8, ``five`` 9, ``six`` 10.
"""

from __future__ import annotations

import pytest

from ftdata.constants import IGNORE_INDEX as X
from ftdata.testing import make_word_tokenizer, word_ids
from ftdata.tokenize.seq2seq import encode_seq2seq
from ftdata.tokenize.spans import encode_causal
from ftdata.tokenize.tokenizer import load_tokenizer

PROMPT, COMPLETION = "Q: what is two plus three A:", "five"


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    """The word tokenizer's backend (no BOS; EOS is ``<eos>``, id 0)."""
    tok = load_tokenizer(str(make_word_tokenizer(tmp_path_factory.mktemp("wordtok"))))
    return tok.backend_tokenizer


def test_word_ids_are_positions_in_the_vocabulary():
    assert word_ids(f"{PROMPT} {COMPLETION} <eos>") == [2, 4, 5, 6, 7, 8, 3, 9, 0]
    assert word_ids("unheard of") == [16, 16]


def test_causal_labels_are_the_completion_and_eos_only(words):
    (e,) = encode_causal(words, [PROMPT], [COMPLETION], separator=" ", eos_id=0, max_length=32,
                         overflow="drop")
    assert e.input_ids == [2, 4, 5, 6, 7, 8, 3, 9, 0]
    assert e.labels == [X, X, X, X, X, X, X, 9, 0]
    assert (e.n_prompt, e.n_trained, e.truncated) == (7, 2, False)


def test_causal_without_eos_trains_the_completion_alone(words):
    (e,) = encode_causal(words, ["Q: say hi A:"], ["hello yes"], separator=" ", eos_id=None,
                         max_length=32, overflow="drop")
    assert e.input_ids == [2, 11, 12, 3, 13, 14]
    assert e.labels == [X, X, X, X, 13, 14]


def test_truncate_prompt_keeps_head_and_tail_of_the_prompt_and_the_whole_completion(words):
    # 9 tokens into 6: the completion and EOS (2) stay; of the prompt, 4 stay: the first two
    # and the last two
    (e,) = encode_causal(words, [PROMPT], [COMPLETION], separator=" ", eos_id=0, max_length=6,
                         overflow="truncate_prompt")
    assert e.input_ids == [2, 4, 8, 3, 9, 0]
    assert e.labels == [X, X, X, X, 9, 0]
    assert e.truncated and e.n_prompt == 4


def test_drop_rejects_what_does_not_fit_and_keeps_what_fits(words):
    short, long = encode_causal(words, ["Q: say hi A:", PROMPT], ["hello", COMPLETION], separator=" ",
                                eos_id=0, max_length=6, overflow="drop")
    assert short.reject is None and short.input_ids == [2, 11, 12, 3, 13, 0]
    assert long.reject is not None and long.input_ids is None and long.labels is None


def test_seq2seq_prompt_is_the_input_and_completion_plus_eos_the_labels(words):
    (e,) = encode_seq2seq(words, [PROMPT], ["five six"], eos_id=0, max_length=32, overflow="drop")
    assert e.input_ids == [2, 4, 5, 6, 7, 8, 3]
    assert e.labels == [9, 10, 0]
