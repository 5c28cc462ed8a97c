"""Few-shot prompts and token-aware field truncation (pure logic)."""

from __future__ import annotations

from ftdata.templating.fewshot import ExemplarPool, draw_exemplars, fit_exemplars, kshot_prompt
from ftdata.templating.templates import from_strings
from ftdata.templating.truncation import fit_field, tokenizer_functions
from ftdata.tokenize.tokenizer import load_tokenizer


def words(prompt: str, completion: str) -> int:
    return len(prompt.split()) + len(completion.split())


def test_kshot_prompt_layout():
    ex = [("Q: 1+1?", "2"), ("Q: 2+2?", "4")]
    assert kshot_prompt("Q: 3+3?", ex) == "Q: 1+1? 2\n\nQ: 2+2? 4\n\nQ: 3+3?"
    assert kshot_prompt("Q: 3+3?", ex, separator="\nA: ", shot_separator="\n###\n") == \
        "Q: 1+1?\nA: 2\n###\nQ: 2+2?\nA: 4\n###\nQ: 3+3?"
    assert kshot_prompt("Q", []) == "Q"


def test_fit_exemplars_drops_what_does_not_fit_and_keeps_order():
    ex = [("a b c", "d"), ("a " * 20, "z"), ("e", "f")]
    kept, dropped = fit_exemplars("q", "answer", ex, count_tokens=words, max_length=8)
    assert kept == [("a b c", "d"), ("e", "f")] and dropped == [("a " * 20, "z")]
    kept, _ = fit_exemplars("q", "answer", ex, count_tokens=words, max_length=2)
    assert kept == []


def test_pool_is_bounded_and_order_independent():
    rows = [(f"k{i}", {"i": i}) for i in range(100)]
    p1, p2 = ExemplarPool(seed=1, capacity=10), ExemplarPool(seed=1, capacity=10)
    for k, r in rows:
        p1.offer(k, r)
    for k, r in reversed(rows):
        p2.offer(k, r)
    assert len(p1) == 10 and p1.rows() == p2.rows()
    assert ExemplarPool(seed=2, capacity=10).rows() == [] and p1.rows() != _pool(rows, seed=2).rows()


def _pool(rows, seed=1, capacity=50):
    p = ExemplarPool(seed=seed, capacity=capacity)
    for k, r in rows:
        p.offer(k, r)
    return p


def test_draw_is_seeded_excludes_the_row_and_skips_rows_the_template_rejects():
    rows = [(f"k{i}", {"i": i}) for i in range(20)]
    pool = _pool(rows)

    def render(key, row):
        return None if row["i"] % 2 else (f"q{row['i']}", f"a{row['i']}")

    draw = dict(seed=5, row_key="k4", template_id="t", render=render)
    a = draw_exemplars(pool, 3, **draw)
    assert a == draw_exemplars(pool, 3, **draw) and len(a) == 3
    assert ("q4", "a4") not in a and all(int(p[1:]) % 2 == 0 for p, _ in a)
    others = {tuple(draw_exemplars(pool, 3, **(draw | {"seed": s}))) for s in range(10)}
    assert len(others) > 3
    assert draw_exemplars(pool, 0, **draw) == []
    # every candidate but the row itself is reachable, and the row never is
    seen = set()
    for s in range(200):
        seen |= {p for p, _ in draw_exemplars(pool, 2, **(draw | {"seed": s}))}
    assert "q4" not in seen and len(seen) == 9


# -- truncation ---------------------------------------------------------------------------------

TOK = load_tokenizer("ftdata:tiny-bpe").backend_tokenizer
T = from_strings("Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:", "{{summary}}")
ROW = {"dialogue": " ".join(f"#Person{i % 2 + 1}#: sentence number {i} about the weather." for i in range(60)),
       "summary": "They talk about the weather."}


def _fns(max_length):
    count, ends = tokenizer_functions(TOK, separator=" ", layout="causal", add_eos=True)
    return dict(render=lambda r: T.render(r), count_tokens=count, token_ends=ends, max_length=max_length)


def test_field_is_shortened_by_tokens_to_fit_and_completion_kept():
    count, _ = tokenizer_functions(TOK, separator=" ", layout="causal", add_eos=True)
    full = count(*T.render(ROW)[:2])
    fit = fit_field(ROW, "dialogue", **_fns(full // 2))
    assert fit.error is None and fit.cut_tokens > 0
    assert count(fit.prompt, fit.completion) <= full // 2
    assert count(fit.prompt, fit.completion) >= full // 2 - 3  # cut only as much as needed
    assert fit.completion == "They talk about the weather."
    assert fit.prompt.startswith("Summarize the following conversation.") and fit.prompt.endswith("Summary:")
    kept = fit.prompt.split("\n\n")[1]
    assert ROW["dialogue"].startswith(kept)
    assert ROW["dialogue"] == " ".join(f"#Person{i % 2 + 1}#: sentence number {i} about the weather." for i in range(60))


def test_fits_already_and_impossible_cases():
    count, _ = tokenizer_functions(TOK, separator=" ", layout="causal", add_eos=True)
    full = count(*T.render(ROW)[:2])
    fit = fit_field(ROW, "dialogue", **_fns(full))
    assert fit.error is None and fit.cut_tokens == 0 and fit.prompt == T.render(ROW)[0]
    assert "cut to nothing" in fit_field(ROW, "dialogue", **_fns(12)).error
    assert "never shortened" in fit_field(ROW, "summary", **_fns(full // 2)).error
    assert "expected a string" in fit_field(ROW | {"n": 3}, "n", **_fns(10)).error


def test_seq2seq_counts_the_prompt_only():
    count, _ = tokenizer_functions(TOK, separator=" ", layout="seq2seq", add_eos=True)
    assert count("hello there", "a very long completion " * 10) == len(TOK.encode("hello there").ids)
