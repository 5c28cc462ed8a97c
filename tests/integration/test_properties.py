"""Property tests (hypothesis): masking over random unicode, random templates, accounting.

Example counts are kept small so the whole file runs in well under a minute on CI.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ftdata.build import accounting_ok, compile_recipe
from ftdata.constants import IGNORE_INDEX
from ftdata.errors import BuildError, TemplateError
from ftdata.masking import encode_causal
from ftdata.templates import DoesNotApply, from_strings
from ftdata.tokenizer import load_tokenizer

from .conftest import write_native_templates, write_recipe

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
        assert "no trained token" in e.reject
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


# -- accounting over random data through whole builds ----------------------------------------

ROW = st.fixed_dictionaries({"q": EDGY, "a": st.one_of(EDGY, st.integers(-5, 5), st.none())})


@pytest.fixture(scope="module")
def build_dir():
    d = Path(tempfile.mkdtemp(prefix="ftdata-props-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=0, max_size=25), prompt=TEMPLATE_TEXT, completion=TEMPLATE_TEXT,
       junk=st.lists(st.sampled_from(["{bad", "[1, 2]", "\x00", '{"q": NaN}']), max_size=3),
       dedup=st.booleans(), max_length=st.sampled_from([8, 64, 512]))
def test_accounting_always_adds_up(build_dir, rows, prompt, completion, junk, dedup, max_length):
    folder = Path(tempfile.mkdtemp(dir=build_dir))
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + junk
    (folder / "rows.jsonl").write_text("\n".join(lines + ['{"q": "anchor", "a": "row"}']) + "\n", encoding="utf-8")
    tpl = write_native_templates(folder / "t.yaml", [
        {"name": "fixed", "prompt": "Q: {{ q }}", "completion": "{{ a }}"},
        {"name": "random", "prompt": prompt + "{{ q }}", "completion": completion + "{{ a }}"}])
    # garbage is the point here: any share of rejects is allowed, and one split cannot come out empty
    recipe = write_recipe(folder, {"name": "p", "output": "out", "dedup": dedup, "max_length": max_length,
                                   "max_reject_share": 1.0, "split": {"ratios": {"train": 1.0}},
                                   "sources": [{"name": "s", "path": "rows.jsonl", "templates": [{"file": str(tpl)}]}]})
    try:
        res = compile_recipe(recipe)
    except BuildError as exc:  # no usable row at all: the build fails, and keeps its rejects beside the output
        assert "no usable rows" in str(exc)
        info = json.loads((folder / "out.failed" / "failure.json").read_text(encoding="utf-8"))
        rejects = (folder / "out.failed" / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
        c = info["counts"]["sources"]["s"]
        assert len(rejects) == info["counts"]["rejects"] == c["rows_rejected"] + c["examples_rejected"]
        assert c["examples_candidates"] == c["examples_rejected"] == c["rows_rendered"] * c["fanout"]
        assert c["rows_read"] == len([x for x in lines if x.strip()]) + 1
        assert not (folder / "out").exists()
        shutil.rmtree(folder, ignore_errors=True)
        return
    assert accounting_ok(res.manifest) == []
    c = res.manifest["counts"]["sources"]["s"]
    rejects = (res.output / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == res.manifest["counts"]["rejects"]
    assert c["rows_read"] == len([x for x in lines if x.strip()]) + 1
    shutil.rmtree(folder, ignore_errors=True)

