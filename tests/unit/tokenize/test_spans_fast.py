"""The vectorised chat path (``encode_spans_columns``) gives exactly what the reference gives.

The reference is ``encode_spans`` (offsets and char-to-token lookups per span) made into
columns: same ids, labels, counts, rejects and audit bits, on real conversations rendered by
every chat template of :mod:`ftdata.testing_chat` (every policy, tool calls and reasoning), on
random unicode spans (characters split over several byte tokens, empty and overlapping spans),
with EOS appended or not, under every overflow policy, and where the fast path must give way.
"""

from __future__ import annotations

import copy
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import normalizers

from ftdata.templating.chat import ChatPolicy, render_chat
from ftdata.templating.chatjinja import renderer_for
from ftdata.testing_chat import (
    TEMPLATES,
    TOOLS,
    dialogsum_conversations,
    named_tokenizer,
    with_tools,
)
from ftdata.tokenize import spans_fast
from ftdata.tokenize.auditbits import DUP_BOS
from ftdata.tokenize.encoded import Columns
from ftdata.tokenize.overflow import TooLong
from ftdata.tokenize.spans import encode_spans
from ftdata.tokenize.spans_fast import encode_spans_columns
from ftdata.tokenize.specials import specials_for
from ftdata.tokenize.tokenizer import load_tokenizer

from tests.conftest import shared

TOK = load_tokenizer("ftdata:tiny-bpe")
EOS = TOK.eos_token_id
BOS = TOK.convert_tokens_to_ids("<|begin_of_text|>")
TOOL_TEMPLATES = ("qwen3_style", "llama31_style", "harmony_style")
POLICIES = [ChatPolicy(train_on="all"), ChatPolicy(train_on="last"), ChatPolicy(train_on="all", reasoning="mask"),
            ChatPolicy(train_on="all", end_of_turn="eos"), ChatPolicy(train_on="all", end_of_turn="none")]


def _fast(backend, texts, spans, monkeypatch, **kw) -> Columns:
    """encode_spans_columns, failing if it falls back to the reference path."""
    with monkeypatch.context() as m:
        m.setattr(spans_fast, "encode_spans", lambda *a, **k: pytest.fail("fell back to the reference path"))
        return encode_spans_columns(backend, texts, spans, **kw)


def _reference(backend, texts, spans, **kw) -> Columns:
    return Columns.from_encoded(encode_spans(backend, texts, spans, add_special_tokens=False, **kw))


def _assert_same(backend, texts, spans, monkeypatch, **kw) -> Columns:
    fast = _fast(backend, texts, spans, monkeypatch, **kw)
    ref = _reference(backend, texts, spans, **kw)
    assert len(fast) == len(ref) == len(texts)
    assert fast.reject == ref.reject
    for i in range(len(ref)):
        if ref.reject[i] is None:
            assert fast.example(i) == ref.example(i), (i, texts[i][:60], spans[i])
    return fast


def _kw(n: int, eos=None, untrained=False, max_length=100_000, overflow="error", prompts=None) -> dict:
    return {"eos": [eos] * n, "untrained_end": [untrained] * n, "max_length": max_length, "overflow": overflow,
            "bos_id": BOS, "prompts": prompts}


@cache
def _conversations() -> tuple:
    plain = dialogsum_conversations(shared("dialogsum", "dialogsum.dev.jsonl"), 40, system="Answer as Person2.")
    return tuple(plain), tuple(with_tools(c, seed) for seed, c in enumerate(plain))


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    d = tmp_path_factory.mktemp("spans_fast_toks")
    return {name: named_tokenizer(d / name, name) for name in TEMPLATES}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_and_policy_matches_the_reference(toks, name, monkeypatch):
    tok = toks[name]
    backend = tok.backend_tokenizer
    sp = specials_for(backend).strings
    plain, tooled = _conversations()
    convos, tools = (tooled, TOOLS) if name in TOOL_TEMPLATES else (plain, None)
    r = renderer_for(tok)
    for pol in POLICIES:
        chats = [render_chat(tok, m, specials=sp, policy=pol, tools=tools, renderer=r) for m in convos]
        texts, spans = [c.text for c in chats], [c.spans for c in chats]
        kw = {"eos": [tok.eos_token_id if c.append_eos else None for c in chats],
              "untrained_end": [c.untrained_end for c in chats], "max_length": 100_000, "overflow": "error",
              "bos_id": tok.bos_token_id, "prompts": [c.text[:c.spans[0][0]] for c in chats]}
        fast = _assert_same(backend, texts, spans, monkeypatch, **kw)
        assert all(r is None for r in fast.reject) and fast.n_trained.min() > 0


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@st.composite
def _texts_and_spans(draw):
    """Texts (special tokens, emoji, combining marks, plain words) and random spans of them."""
    pieces = st.sampled_from(["<|endoftext|>", "<|begin_of_text|>", "😀", "e\u0301", " ", "\n", "word", "é"])
    texts, spans = [], []
    for _ in range(draw(st.integers(1, 6))):
        t = "".join(draw(st.lists(st.one_of(_TEXT, pieces), max_size=8)))
        cuts = sorted(draw(st.lists(st.integers(0, len(t)), max_size=6)))
        texts.append(t)
        spans.append([(cuts[j], cuts[j + 1]) for j in range(0, len(cuts) - 1, 2)]
                     + draw(st.lists(st.tuples(st.integers(0, len(t)), st.integers(0, len(t)))
                                     .map(sorted).map(tuple), max_size=2)))  # overlapping ones too
    return texts, spans


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(case=_texts_and_spans(), eos=st.sampled_from([None, EOS]), prompts=st.booleans(),
       fit=st.sampled_from([(10_000, "drop"), (12, "truncate_prompt"), (12, "drop")]))
def test_random_unicode_spans_match_the_reference(case, eos, prompts, fit, monkeypatch):
    # straddling tokens, emoji split into bytes, empty and overlapping spans, cut examples
    texts, spans = case
    pr = [t[:s[0][0]] if s else t for t, s in zip(texts, spans)] if prompts else None
    _assert_same(TOK.backend_tokenizer, texts, spans, monkeypatch,
                 **_kw(len(texts), eos, True, max_length=fit[0], overflow=fit[1], prompts=pr))


@pytest.mark.parametrize("overflow", ["drop", "truncate_prompt"])
def test_overflow_policies_match_the_reference(overflow, monkeypatch):
    texts = ["a long prompt of many words " * 8 + "answer here", "short answer", "x " * 40 + "y"]
    spans = [[(len(texts[0]) - 11, len(texts[0]))], [(6, 12)], [(0, 80)]]
    fast = _assert_same(TOK.backend_tokenizer, texts, spans, monkeypatch,
                        **_kw(3, EOS, max_length=12, overflow=overflow, prompts=[t[:s[0][0]] for t, s in zip(texts, spans)]))
    assert fast.reject[2] is not None  # its completion alone is over max_length, under either policy
    if overflow == "truncate_prompt":
        assert fast.truncated[0]


def test_overflow_error_names_the_first_example_over_the_limit(monkeypatch):
    texts = ["fits", "too long " * 20, "too long too " * 20]
    with pytest.raises(TooLong) as exc:
        _fast(TOK.backend_tokenizer, texts, [[(0, 4)], [(0, 8)], [(0, 8)]], monkeypatch, **_kw(3, EOS, max_length=10))
    assert exc.value.index == 1


def test_nothing_trained_and_duplicated_bos(monkeypatch):
    texts = ["<|begin_of_text|><|begin_of_text|>hello there", "no span", "empty span", ""]
    spans = [[(34, 40)], [], [(3, 3)], []]
    fast = _assert_same(TOK.backend_tokenizer, texts, spans, monkeypatch, **_kw(4, EOS))
    assert fast.reject[1] is not None and fast.reject[2] is not None and fast.reject[3] is not None
    assert fast.flags[0] & DUP_BOS  # as the reference's (compared above)


def test_escaped_texts_take_the_reference_path(monkeypatch):
    calls = []
    real = spans_fast.encode_spans
    monkeypatch.setattr(spans_fast, "encode_spans", lambda *a, **k: calls.append(1) or real(*a, **k))
    texts = ["plain text", "held \U000f0000 special"]
    encode_spans_columns(TOK.backend_tokenizer, texts, [[(0, 5)], [(0, 4)]], escaped=[False, True], **_kw(2, EOS))
    assert calls == [1]


def test_a_chunk_the_normalizer_would_change_takes_the_reference_path(monkeypatch):
    backend = copy.deepcopy(TOK.backend_tokenizer)
    backend.normalizer = normalizers.NFC()
    ok = _assert_same(backend, ["caf\u00e9 au lait"], [[(5, 12)]], monkeypatch, **_kw(1, EOS))
    assert ok.n_trained[0] > 1
    calls = []
    real = spans_fast.encode_spans
    monkeypatch.setattr(spans_fast, "encode_spans", lambda *a, **k: calls.append(1) or real(*a, **k))
    encode_spans_columns(backend, ["cafe\u0301 au lait"], [[(6, 13)]], **_kw(1, EOS))
    assert calls == [1]


def test_a_tokenizer_that_is_not_byte_level_takes_the_reference_path(word_tokenizer, monkeypatch):
    backend = load_tokenizer(str(word_tokenizer)).backend_tokenizer
    calls = []
    real = spans_fast.encode_spans
    monkeypatch.setattr(spans_fast, "encode_spans", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = encode_spans_columns(backend, ["hello there world"], [[(6, 17)]], **_kw(1, None))
    assert calls == [1] and np.array_equal(got.ids, np.array(backend.encode("hello there world",
                                                                             add_special_tokens=False).ids))
