"""The prefix audit's shortcuts against their full paths: the reference path's inlined cut search
(``prefix._cut_char``) against :func:`prefix._cut_token` with its ``start`` and ``edge`` callables
(same cut token, the tail starts where that token does), and the tails kept between calls
(``kept``) against encoding every tail."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.tokenize import prefix
from ftdata.tokenize.spans import encode_spans
from ftdata.tokenize.tokenizer import load_tokenizer

from tests.conftest import shared

TOK = load_tokenizer("ftdata:tiny-bpe")
#: characters that make edges, non-edges and the whitespace _is_space does (not) take
ALPHABET = st.sampled_from(list("ab .,\n\t") + ["  ", "\u00a0", "\u3000", "\x1c", "\u00e9", "\U0001f600", "<|im_end|>"])


def _full(chars, text: str, lo: int, k: int) -> tuple[int, int]:
    j = prefix._cut_token(lambda t: chars(t)[0], lo, k, lambda c: prefix._space_edge(text, c))
    return j, (chars(j)[0] if j > lo else 0)


def _assert_same(chars, text: str, n_tokens: int) -> None:
    for lo in range(0, min(n_tokens, 3)):
        for k in range(lo, n_tokens + 1):
            assert prefix._cut_char(chars, text, lo, k) == _full(chars, text, lo, k), (text, lo, k)


@settings(max_examples=150, deadline=None)
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_inlined_cut_is_the_callable_one_on_tokenizer_offsets(text):
    enc = TOK.backend_tokenizer.encode(text, add_special_tokens=False)
    _assert_same(enc.token_to_chars, text, len(enc.ids))


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, min_size=1, max_size=90).map("".join), st.data())
def test_inlined_cut_is_the_callable_one_on_any_starts(text, data):
    # token starts as any tokenizer could give them: non-decreasing, repeated (the bytes of one
    # character), skipping characters (whitespace a pre-tokenizer drops), long prompts (the reach)
    starts = sorted(data.draw(st.lists(st.integers(0, len(text)), min_size=1, max_size=80)))
    _assert_same(lambda t: (starts[t], starts[t] + 1), text, len(starts))


def _chat_texts(n: int, at: int = 0) -> list[tuple[str, str]]:
    """(prompt, full text) of DialogSum conversations rendered ChatML-style."""
    with shared("dialogsum", "dialogsum.dev.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(at + n), f)][at:]
    out = []
    for r in rows:
        # the dialogue's last line alone: the tails repeat across conversations as real ones do
        prompt = f"<|im_start|>user\n{r['dialogue'][-80:]}\n\nSummary:<|im_end|>\n<|im_start|>assistant\n"
        out.append((prompt, prompt + r["summary"] + "<|im_end|>\n"))
    return out


def test_inlined_cut_is_the_callable_one_on_real_chat_prompts():
    for prompt, text in _chat_texts(150):
        enc = TOK.backend_tokenizer.encode(text, add_special_tokens=False)
        k = enc.char_to_token(len(prompt))
        for kk in (k, k - 1, k - 5):
            assert prefix._cut_char(enc.token_to_chars, text, 0, kk) == _full(enc.token_to_chars, text, 0, kk)


class _Counting:
    """A backend that counts the texts the verdicts encode (the tokenizers type is not patchable)."""

    def __init__(self, backend):
        self.backend, self.texts = backend, 0

    def encode_batch_fast(self, texts, add_special_tokens):
        self.texts += len(texts)
        return self.backend.encode_batch_fast(texts, add_special_tokens=add_special_tokens)

    def encode_batch(self, texts, add_special_tokens):  # escaped texts (specials.encode_texts)
        self.texts += len(texts)
        return self.backend.encode_batch(texts, add_special_tokens=add_special_tokens)

    def __getattr__(self, name):
        return getattr(self.backend, name)


def _checks(pairs, spoil: int = 7) -> list:
    """The reference path's checks of chat texts; every ``spoil``-th gets joint ids that differ
    (so its tail, its tail without the space, and its whole prompt are all encoded)."""
    out = []
    for i, (prompt, text) in enumerate(pairs):
        enc = TOK.backend_tokenizer.encode(text, add_special_tokens=False)
        ids, k = list(enc.ids), enc.char_to_token(len(prompt))
        if i % spoil == 0:
            ids[k - 1] = (ids[k - 1] + 1) % 100
        j, c = prefix._cut_char(enc.token_to_chars, text, 0, k)
        out.append(prefix.PrefixCheck(prompt, prompt[c:] if j > 0 else None, ids, 0, j, k, i % 5 == 0))
    return out


def test_kept_tails_give_the_verdicts_of_encoding_every_tail():
    chunks = [_checks(_chat_texts(60, at)) for at in (0, 60, 120, 0)]
    kept, counted = {}, _Counting(TOK.backend_tokenizer)
    encoded = []
    for checks in chunks:
        want = prefix._prefix_verdicts(TOK.backend_tokenizer, checks)
        before = counted.texts
        assert prefix._prefix_verdicts(counted, checks, kept) == want
        encoded.append(counted.texts - before)
    assert any(want for want in (prefix._prefix_verdicts(TOK.backend_tokenizer, c) for c in chunks))
    assert encoded[3] == 0 and encoded[1] < len(chunks[1])  # the same chunk again: all kept
    # escaped or not is part of the key (an escaped text is encoded in pieces)
    assert {esc for _, esc in kept} == {False, True}


def test_a_kept_text_is_what_the_verdict_uses():
    checks = _checks(_chat_texts(20), spoil=1000)[1:]
    assert not any(prefix._prefix_verdicts(TOK.backend_tokenizer, checks))
    c = checks[0]
    kept = {(t, c.escaped): [0] for t in (c.tail, c.tail[1:], c.prompt)}  # wrong ids for all three tries
    assert prefix._prefix_verdicts(TOK.backend_tokenizer, checks, kept)[0]


def test_kept_tails_are_bounded(monkeypatch):
    monkeypatch.setattr(prefix, "KEPT_TEXTS", 25)
    monkeypatch.setattr(prefix, "KEPT_CHARS", 60)
    kept = {}
    for at in (0, 40, 80):
        checks = _checks(_chat_texts(40, at))
        assert prefix._prefix_verdicts(TOK.backend_tokenizer, checks, kept) == \
            prefix._prefix_verdicts(TOK.backend_tokenizer, checks)
        assert len(kept) <= 25 and all(len(t) <= 60 for t, _ in kept)


@pytest.mark.parametrize("at", [0, 100])
def test_chat_spans_with_kept_tails_flag_as_without(at):
    pairs = _chat_texts(100, at)
    args = ([t for _, t in pairs], [[(len(p), len(t))] for p, t in pairs])
    kw = dict(eos=[None] * len(pairs), untrained_end=[False] * len(pairs), max_length=4096, overflow="drop",
              add_special_tokens=False, prompts=[p for p, _ in pairs])
    kept = {}
    for _ in range(2):
        with_kept = encode_spans(TOK.backend_tokenizer, *args, **kw, kept_tails=kept)
        without = encode_spans(TOK.backend_tokenizer, *args, **kw)
        assert [e.flags for e in with_kept] == [e.flags for e in without]
    assert len(kept) > 20
