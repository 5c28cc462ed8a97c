"""The fast paths give exactly what the reference paths give.

* Vectorised causal masking (byte lengths, ``encode_causal_columns``) against the per-example
  reference (``encode_causal``, offsets and char-to-token lookups): same ids, labels, counts
  and audit bits, on real data and random unicode, with and without post-processor tokens.
* Plain template rendering (literal text and bare ``{{ column }}``) against Jinja.
"""

from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import normalizers, processors

from ftdata.errors import TemplateError
from ftdata.templating.limits import RenderLimits
from ftdata.templating.templates import DoesNotApply, from_jinja, from_strings
from ftdata.tokenize import causal_fast, prefix
from ftdata.tokenize.causal_fast import byte_lengths, encode_causal_columns
from ftdata.tokenize.encoded import Columns
from ftdata.tokenize.spans import encode_causal
from ftdata.tokenize.tokenizer import load_tokenizer

from tests.conftest import shared

TOK = load_tokenizer("ftdata:tiny-bpe")
EOS = TOK.eos_token_id
BOS = TOK.convert_tokens_to_ids("<|begin_of_text|>")
SPECIALS = [t.content for t in TOK.backend_tokenizer.get_added_tokens_decoder().values()]


def _with_affixes(pre: bool, post_eos: bool):
    """A copy of the shipped tokenizer whose post-processor adds BOS and/or EOS."""
    backend = copy.deepcopy(TOK.backend_tokenizer)
    single = " ".join((["<|begin_of_text|>"] if pre else []) + ["$A"] + (["<|endoftext|>"] if post_eos else []))
    backend.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[("<|begin_of_text|>", BOS), ("<|endoftext|>", EOS)])
    return backend


BACKENDS = {"plain": TOK.backend_tokenizer, "bos": _with_affixes(True, False), "bos+eos": _with_affixes(True, True)}


def _fast(backend, prompts, completions, monkeypatch, **kw) -> Columns:
    """encode_causal_columns, failing if it falls back to the reference path."""
    with monkeypatch.context() as m:
        m.setattr(causal_fast, "encode_causal", lambda *a, **k: pytest.fail("fell back to the reference path"))
        return encode_causal_columns(backend, prompts, completions, **kw)


def _assert_same(backend, prompts, completions, monkeypatch, **kw) -> None:
    fast = _fast(backend, prompts, completions, monkeypatch, **kw)
    ref = encode_causal(backend, prompts, completions, **kw)
    assert len(fast) == len(ref)
    for i, e in enumerate(ref):
        got = fast.example(i)
        if e.reject is not None:
            assert got.reject == e.reject, i
            continue
        e.n_prompt = 0  # not part of the columns: phase A does not keep it
        assert got == e, (i, prompts[i][-40:], completions[i][:40])


def _real_pairs() -> tuple[list[str], list[str]]:
    prompts, completions = [], []
    for line in shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines()[:300]:
        r = json.loads(line)
        prompts.append(f"Summarize the following conversation.\n\n{r['dialogue']}\n\nSummary:")
        completions.append(r.get("summary") or r.get("summary1"))
    with open(shared("amazon_fine_food", "Reviews.csv"), encoding="utf-8", newline="") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            if i == 300:
                break
            if r["Text"].strip() and r["Summary"].strip():
                prompts.append(f"Review: {r['Text']}\nTitle:")
                completions.append(r["Summary"])
    return prompts, completions


@pytest.mark.parametrize("name", list(BACKENDS))
@pytest.mark.parametrize("separator", [" ", "", "\n"])
def test_real_data_matches_the_reference(name, separator, monkeypatch):
    prompts, completions = _real_pairs()
    for eos in (EOS, None):
        _assert_same(BACKENDS[name], prompts, completions, monkeypatch, separator=separator, eos_id=eos,
                     max_length=4096, overflow="drop", bos_id=BOS)


@pytest.mark.parametrize("overflow", ["truncate_prompt", "drop"])
def test_overflow_policies_match_the_reference(overflow, monkeypatch):
    prompts, completions = _real_pairs()
    _assert_same(BACKENDS["bos"], prompts[:200], completions[:200], monkeypatch, separator=" ", eos_id=EOS,
                 max_length=160, overflow=overflow, bos_id=BOS)


WS = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", "\r\n", ""])
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
EDGY = st.builds(lambda a, t, b: a + t + b, WS, TEXT, WS).filter(lambda s: not any(x in s for x in SPECIALS))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(EDGY, EDGY), min_size=1, max_size=6), separator=st.sampled_from([" ", "", "\n", ": "]),
       name=st.sampled_from(list(BACKENDS)), eos=st.sampled_from([EOS, None]),
       fit=st.sampled_from([(10_000, "drop"), (12, "truncate_prompt"), (12, "drop")]))
def test_random_unicode_matches_the_reference(pairs, separator, name, eos, fit, monkeypatch):
    # straddling tokens (also in cut examples), empty completions, emoji split into bytes, lone whitespace
    _assert_same(BACKENDS[name], [p for p, _ in pairs], [c for _, c in pairs], monkeypatch, separator=separator,
                 eos_id=eos, max_length=fit[0], overflow=fit[1], bos_id=BOS)


def _prefix_checks(prompts, completions, monkeypatch, vectorised: bool) -> list:
    """The checks the byte-level path hands to the prefix verdicts (its cuts), with the vectorised
    window search or with the per-example one alone."""
    seen = []
    with monkeypatch.context() as m:
        m.setattr(prefix, "_prefix_verdicts",
                  lambda backend, checks, kept=None: seen.extend(checks) or [False] * len(checks))
        if not vectorised:
            m.setattr(prefix, "_window_cuts", lambda k, *a: (np.full(len(k), -1), np.full(len(k), -1)))
        _fast(BACKENDS["bos"], prompts, completions, monkeypatch, separator="", eos_id=EOS, max_length=10_000,
              overflow="drop", bos_id=BOS)
    return [(c.prompt, c.tail, c.lo, c.j, c.k) for c in seen]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(EDGY, EDGY), min_size=1, max_size=6))
def test_vectorised_prefix_cuts_are_the_per_example_ones(pairs, monkeypatch):
    prompts, completions = [p for p, _ in pairs], [c for _, c in pairs]
    assert (_prefix_checks(prompts, completions, monkeypatch, True)
            == _prefix_checks(prompts, completions, monkeypatch, False))


def test_vectorised_prefix_cuts_on_real_data(monkeypatch):
    prompts, completions = _real_pairs()
    vec = _prefix_checks(prompts, completions, monkeypatch, True)
    assert vec == _prefix_checks(prompts, completions, monkeypatch, False)
    assert sum(c[1] is not None for c in vec) > 0.9 * len(vec)  # nearly every prompt is cut, not re-encoded whole


def test_a_cut_straddling_example_is_flagged_as_the_reference_does(monkeypatch):
    prompts = ["Summarize the following conversation about a long day at work. Summ"] * 2
    completions = ["mmary done", "aries are short"]
    _assert_same(BACKENDS["bos"], prompts, completions, monkeypatch, separator="", eos_id=EOS, max_length=12,
                 overflow="truncate_prompt", bos_id=BOS)


def test_examples_with_no_tokens_at_all(monkeypatch):
    _assert_same(BACKENDS["plain"], ["a", ""], ["b", ""], monkeypatch, separator="", eos_id=None, max_length=64,
                 overflow="drop", bos_id=BOS)


def test_a_tokenizer_that_is_not_byte_level_takes_the_reference_path(word_tokenizer):
    tok = load_tokenizer(str(word_tokenizer))
    assert byte_lengths(tok.backend_tokenizer) is None
    cols = encode_causal_columns(tok.backend_tokenizer, ["rate it"], ["five"], separator=" ", eos_id=None,
                                 max_length=64, overflow="drop")
    assert cols.example(0) == Columns.from_encoded(encode_causal(
        tok.backend_tokenizer, ["rate it"], ["five"], separator=" ", eos_id=None, max_length=64,
        overflow="drop")).example(0)


def test_trimmed_offsets_keep_the_reference_path():
    # a post-processor that trims offsets moves the reference spans off the bytes
    backend = copy.deepcopy(TOK.backend_tokenizer)
    backend.post_processor = processors.ByteLevel(trim_offsets=True)
    assert byte_lengths(backend) is None
    kw = dict(separator="", eos_id=EOS, max_length=64, overflow="drop")
    cols = encode_causal_columns(backend, ["Q:", "Title: "], ["   yes", "Nice"], **kw)
    ref = Columns.from_encoded(encode_causal(backend, ["Q:", "Title: "], ["   yes", "Nice"], **kw))
    assert [cols.example(i) for i in range(2)] == [ref.example(i) for i in range(2)]


def test_lengths_that_do_not_add_up_fall_back_for_good():
    # a prefix space makes every text one byte longer than its tokens say: caught, reference path
    from tokenizers.pre_tokenizers import ByteLevel

    backend = copy.deepcopy(TOK.backend_tokenizer)
    backend.pre_tokenizer = ByteLevel(add_prefix_space=True)
    kw = dict(separator=" ", eos_id=EOS, max_length=64, overflow="drop")
    cols = encode_causal_columns(backend, ["Q: hi"], ["yes"], **kw)
    assert id(backend) in causal_fast._SLOW
    assert cols.example(0) == Columns.from_encoded(encode_causal(backend, ["Q: hi"], ["yes"], **kw)).example(0)



def _normalized_backend(normalizer):
    """A copy of the shipped tokenizer with ``normalizer`` (Qwen2 has NFC)."""
    backend = copy.deepcopy(TOK.backend_tokenizer)
    backend.normalizer = normalizer
    return backend


@pytest.mark.parametrize("normalizer", [normalizers.NFC(), normalizers.Sequence([normalizers.NFKC()])])
@pytest.mark.parametrize("overflow", [(4096, "drop"), (160, "truncate_prompt")])
def test_a_unicode_normalizer_keeps_the_vectorised_path(normalizer, overflow, monkeypatch):
    # real text is already NFC: the normalizer changes nothing, the byte lengths still place the tokens
    backend = _normalized_backend(normalizer)
    prompts, completions = _real_pairs()
    assert byte_lengths(backend) is not None
    _assert_same(backend, prompts, completions, monkeypatch, separator=" ", eos_id=EOS, max_length=overflow[0],
                 overflow=overflow[1], bos_id=BOS)


def test_a_chunk_the_normalizer_would_change_takes_the_reference_path_alone(monkeypatch):
    backend = _normalized_backend(normalizers.NFC())
    kw = dict(separator=" ", eos_id=EOS, max_length=64, overflow="drop", bos_id=BOS)
    # "e" + combining acute: NFC makes it one character, so the bytes no longer match the tokens
    decomposed = (["Cafe\u0301 menu?", "Plain"], ["Cre\u0300me brûlée", "text"])
    ref = encode_causal(backend, *decomposed, **kw)
    got = encode_causal_columns(backend, *decomposed, **kw)
    assert [got.example(i) for i in range(2)] == [Columns.from_encoded(ref).example(i) for i in range(2)]
    assert id(backend) not in causal_fast._SLOW  # the next chunk tries the fast path again
    _assert_same(backend, ["Café menu?"], ["Crème brûlée"], monkeypatch, **kw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(EDGY, EDGY), min_size=1, max_size=6), separator=st.sampled_from([" ", "", "\u0301"]))
def test_nfc_tokenizer_on_random_unicode_matches_the_reference(pairs, separator, monkeypatch):
    backend = BACKENDS_NFC
    prompts, completions = [p for p, _ in pairs], [c for _, c in pairs]
    kw = dict(separator=separator, eos_id=EOS, max_length=10_000, overflow="drop", bos_id=BOS)
    got = encode_causal_columns(backend, prompts, completions, **kw)
    ref = encode_causal(backend, prompts, completions, **kw)
    for i, e in enumerate(ref):
        if e.reject is not None:
            assert got.example(i).reject == e.reject
            continue
        e.n_prompt = 0
        assert got.example(i) == e


BACKENDS_NFC = _normalized_backend(normalizers.NFC())


def test_other_normalizers_keep_the_reference_path():
    assert byte_lengths(_normalized_backend(normalizers.Lowercase())) is None
    assert byte_lengths(_normalized_backend(normalizers.Sequence([normalizers.NFC(), normalizers.Strip()]))) is None

# -- plain templates ---------------------------------------------------------------------------

VALUE = st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=False), st.none(), st.booleans(),
                  st.lists(st.text(max_size=5), max_size=3), st.just("a ||| b"))
LITERAL = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="{}%#\r"), max_size=10)
PIECE = st.one_of(LITERAL, st.sampled_from(["{{ q }}", "{{a}}", "{{- q }}", "{{ a -}}", "{{ q }}{{ q }}"]))


def _jinja_only(t):
    t.compile()
    t._plain.clear()
    return t


def _outcome(t, row, **kw):
    try:
        return t.render(row, **kw)
    except (DoesNotApply, TemplateError) as exc:
        return type(exc), str(exc)


@settings(max_examples=200, deadline=None)
@given(prompt=st.lists(PIECE, max_size=5), completion=st.lists(PIECE, max_size=4), q=VALUE, a=VALUE)
def test_plain_templates_render_as_jinja_does(prompt, completion, q, a):
    p, c = "".join(prompt), "".join(completion)
    fast, slow = from_strings(p, c, name="t"), _jinja_only(from_strings(p, c, name="t"))
    fast.compile()
    assert fast._plain  # the plain path is what is under test
    assert _outcome(fast, {"q": q, "a": a}) == _outcome(slow, {"q": q, "a": a})


def test_plain_promptsource_form_and_answer_choices():
    indexed = from_jinja("{{premise}} ||| {{answer_choices[label]}}", name="x", answer_choices="yes ||| no")
    indexed.compile()
    assert not indexed._plain  # an index is not plain: Jinja renders every part of it
    t = from_jinja("{{premise}} ||| {{hypothesis}}", name="p", answer_choices="yes ||| no")
    t.compile()
    assert t._plain
    row = {"premise": "A man ||| sleeps", "hypothesis": "He rests"}
    assert t.render(row) == _jinja_only(from_jinja("{{premise}} ||| {{hypothesis}}", name="p",
                                                    answer_choices="yes ||| no")).render(row)


def test_an_edited_copy_renders_its_own_text():
    # the studio edits with dataclasses.replace(..., _compiled={}): no pieces may be shared
    import dataclasses

    t = from_strings("Q: {{ q }}", "{{ a }}", name="t")
    row = {"q": "x", "a": "y"}
    assert t.render(row)[0] == "Q: x"
    edited = dataclasses.replace(t, prompt="New: {{ q | upper }}", _compiled={})
    assert edited.render(row)[0] == "New: X"
    plain_edit = dataclasses.replace(t, prompt="Other: {{ q }}", _compiled={})
    assert plain_edit.render(row)[0] == "Other: x"
    assert t.render(row)[0] == "Q: x"


def test_plain_errors_are_jinja_errors():
    t = from_strings("Summarize: {{ dialoge }}", "{{ summary }}", name="t")
    with pytest.raises(TemplateError, match="did you mean 'dialogue'"):
        t.render({"dialogue": "hi", "summary": "s"})
    small = RenderLimits(max_output_chars=10)
    with pytest.raises(TemplateError, match="max_output_chars"):
        t.render({"dialoge": "x" * 50, "summary": "s"}, limits=small)
