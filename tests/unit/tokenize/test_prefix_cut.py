"""The reference path's inlined cut search (``prefix._cut_char``) against :func:`prefix._cut_token`
with its ``start`` and ``edge`` callables: same cut token, and the tail starts where that token does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.tokenize import prefix
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


def test_inlined_cut_is_the_callable_one_on_real_chat_prompts():
    import json

    with shared("dialogsum", "dialogsum.dev.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(150), f)]
    for r in rows:
        prompt = f"<|im_start|>user\n{r['dialogue']}\n\nSummary:<|im_end|>\n<|im_start|>assistant\n"
        text = prompt + r["summary"] + "<|im_end|>\n"
        enc = TOK.backend_tokenizer.encode(text, add_special_tokens=False)
        k = enc.char_to_token(len(prompt))
        for kk in (k, k - 1, k - 5):
            assert prefix._cut_char(enc.token_to_chars, text, 0, kk) == _full(enc.token_to_chars, text, 0, kk)
