"""Property tests of masking and rendering: trained tokens decode to the completion; random
templates render or fail cleanly."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ftdata.constants import IGNORE_INDEX
from ftdata.errors import TemplateError
from ftdata.templating.templates import DoesNotApply, from_strings
from ftdata.tokenize.spans import encode_causal
from ftdata.tokenize.tokenizer import load_tokenizer

TOK = load_tokenizer("ftdata:tiny-bpe")
EOS = TOK.eos_token_id
SPECIALS = {t.content for t in TOK.backend_tokenizer.get_added_tokens_decoder().values()}

# unicode text without surrogates; whitespace of every kind is likely at either end
WS = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", "\u3000", "\r\n", ""])
TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=0, max_size=40)
EDGY = st.builds(lambda a, t, b: a + t + b, WS, TEXT, WS)


def _no_specials(s: str) -> bool:
    return not any(sp in s for sp in SPECIALS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=EDGY, completion=EDGY.filter(lambda s: s != ""), separator=st.sampled_from([" ", "\n", "", ": "]))
def test_trained_tokens_decode_to_the_completion(prompt, completion, separator):
    assume(_no_specials(prompt + separator + completion))
    (e,) = encode_causal(TOK.backend_tokenizer, [prompt], [completion], separator=separator, eos_id=EOS,
                         max_length=10_000, overflow="drop")
    if e.reject is not None:
        # the only acceptable reason: nothing of the completion became a token
        assert e.reject.code == "no_trained_token" and "no trained token" in e.reject.message
        assert not TOK.backend_tokenizer.encode(separator + completion, add_special_tokens=False).ids
        return
    ids, labels = e.input_ids, e.labels
    assert len(ids) == len(labels)
    # labels are: untrained prefix, then the trained tokens themselves, ending in EOS
    first = next(i for i, lab in enumerate(labels) if lab != IGNORE_INDEX)
    assert all(lab == IGNORE_INDEX for lab in labels[:first])
    assert labels[first:] == ids[first:]
    assert ids[-1] == EOS and labels[-1] == EOS
    assert e.n_trained == len(ids) - first
    trained_text = TOK.decode(ids[first:-1])
    if not e.straddle:
        # offsets allow an exact split: the trained text is the separator plus the completion
        assert trained_text == separator + completion
        assert TOK.decode(ids[:first]) == prompt
    else:
        # a token that starts in the prompt carries completion characters: trained, and reported
        assert trained_text.endswith(completion)
        assert (prompt + separator + completion).endswith(trained_text)
    assert TOK.decode(ids[:-1]) == prompt + separator + completion


# -- random templates ------------------------------------------------------------------------

SAFE_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="{}%#\r")
LITERAL = st.text(SAFE_CHARS, max_size=12)
PIECE = st.one_of(
    LITERAL,
    st.sampled_from(["{{ q }}", "{{ a }}", "{{ q|upper }}", "{{ a|trim }}", "{{ q|length }}", "{{ q ~ a }}",
                     "{% if q %}[{{ q }}]{% endif %}", "{% for w in q.split() %}<{{ w }}>{% endfor %}",
                     "{{ choice([q, a]) }}", "{{ q|replace(' ', '_') }}", "{{ (q * 2)|truncate(30) }}",
                     "{% set xs = [] %}{% if xs.append(a) %}{% endif %}{{ xs|join(',') }}"]),
)
TEMPLATE_TEXT = st.lists(PIECE, min_size=0, max_size=5).map("".join)


@settings(max_examples=120, deadline=None)
@given(prompt=TEMPLATE_TEXT, completion=TEMPLATE_TEXT, q=EDGY, a=EDGY)
def test_random_templates_render_or_fail_cleanly(prompt, completion, q, a):
    t = from_strings(prompt, completion, name="random")
    row = {"q": q, "a": a}
    try:
        p, c, _ = t.render(row, seed=1, row_key="k")
    except DoesNotApply as exc:
        assert "template 'random' does not apply" in str(exc)
        return
    except TemplateError as exc:  # e.g. truncate of a short text is fine; nothing else may escape
        assert "template 'random'" in str(exc)
        return
    assert p and c and p == p.strip() and c == c.strip()
    assert t.render(row, seed=1, row_key="k") == (p, c, None)  # repeatable
