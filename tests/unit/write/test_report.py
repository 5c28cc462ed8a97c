"""The report's statistics, plots and HTML pieces on literal tables and label arrays (no build)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.constants import IGNORE_INDEX

from tests.conftest import ROOT

REVIEWS = ROOT / "examples" / "reviews"
TEMPLATES = ROOT / "templates" / "reviews" / "templates.yaml"


@settings(max_examples=200, deadline=None)
@given(segs=st.lists(st.lists(st.sampled_from([IGNORE_INDEX, 0, 5, 7]), max_size=6), max_size=8),
       trailing=st.lists(st.sampled_from([IGNORE_INDEX, 3]), max_size=3))
def test_trained_counts_per_segment(segs, trailing):
    from ftdata.write.reportstats import _segment_counts

    flat = np.array([x for s in segs for x in s] + trailing, dtype=np.int32)
    got = _segment_counts(flat, np.array([len(s) for s in segs], dtype=np.int64))
    assert got.tolist() == [sum(x != IGNORE_INDEX for x in s) for s in segs]


# -- the statistics on literal tables ------------------------------------------------------------

X = IGNORE_INDEX


def _causal(rows: list[tuple]) -> pa.Table:
    """(task, template, input_ids, labels, completion, answer_choices) rows as an unpacked split."""
    cols = ("task", "template", "input_ids", "labels", "completion", "answer_choices")
    return pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)})


def test_split_stats_give_prompt_and_completion_tokens():
    from ftdata.write.reportstats import split_stats

    t = _causal([("a", "t1", [5, 6, 7, 8], [X, X, 7, 8], "x", None),
                 ("a", "t2", [5, 6, 7], [X, X, 7], "y", None)])
    s = split_stats(t)
    assert s["prompt"].tolist() == [2, 2] and s["completion"].tolist() == [2, 1]
    assert s["template"].tolist() == ["t1", "t2"] and s["task"].tolist() == ["a", "a"]
    # seq2seq: the prompt is input_ids and the completion the labels, whatever their lengths
    s2 = split_stats(pa.table({"input_ids": [[5, 6, 7]], "labels": [[8, 9, 0]], "task": ["a"], "template": ["t"]}),
                     seq2seq=True)
    assert s2["prompt"].tolist() == [3] and s2["completion"].tolist() == [3] and s2["fraction"].tolist() == [1.0]


def test_answer_counts_per_template_and_choice():
    from ftdata.write.reportstats import answer_counts

    t = _causal([("cls", "a", [1], [1], " spam", ["ham", "spam"]),
                 ("cls", "a", [1], [1], "ham", ["ham", "spam"]),
                 ("cls", "a", [1], [1], "ham\n", ["ham", "spam"]),
                 ("cls", "b", [1], [1], "yes", ["no", "yes"]),
                 ("sum", "s", [1], [1], "a summary", None),
                 ("sum", "s", [1], [1], "another", [])])
    got = answer_counts(t)
    assert got == {("cls", "a"): {"choices": ["ham", "spam"], "counts": {"ham": 2, "spam": 1}},
                   ("cls", "b"): {"choices": ["no", "yes"], "counts": {"yes": 1}}}


def test_first_examples_per_template_in_split_order_and_from_packed_rows():
    from ftdata.write.reportstats import first_examples, split_stats

    t = _causal([("a", "t1", [1], [1], "0", None), ("a", "t2", [2], [2], "1", None), ("a", "t1", [3], [3], "2", None),
                 ("a", "t1", [4], [4], "3", None), ("b", "t1", [5], [5], "4", None)])
    docs = first_examples(t, split_stats(t), 2)
    assert [d["completion"] for d in docs] == ["0", "1", "2", "4"]  # ("a","t1") twice, the others once
    packed = pa.table({"input_ids": [[1, 2, 3, 4, 5], [6, 7]], "labels": [[X, 2, X, 4, 5], [X, 7]],
                       "seq_lengths": [[2, 3], [2]], "task": [["a", "a"], ["a"]], "template": [["t1", "t2"], ["t1"]],
                       "row_key": [["r1", "r2"], ["r3"]]})
    docs = first_examples(packed, split_stats(packed), 2)
    assert [(d["row_key"], d["input_ids"], d["labels"]) for d in docs] == [
        ("r1", [1, 2], [X, 2]), ("r2", [3, 4, 5], [X, 4, 5]), ("r3", [6, 7], [X, 7])]


# -- the plots' axes ------------------------------------------------------------------------------

def test_fitted_range():
    from ftdata.write.reportplots import fitted_range

    assert fitted_range(np.array([0.02, 0.04, 0.05])) == pytest.approx((0.0185, 0.0515))
    assert fitted_range(np.array([0.0, 1.0])) == (0.0, 1.0)  # clipped to [0, 1]
    lo, hi = fitted_range(np.array([0.3, 0.3]))
    assert lo < 0.3 < hi and hi - lo < 0.1  # one value: a small window around it


def test_supervised_fraction_axis_fits_a_narrow_band(monkeypatch):
    """Every fraction lies in [0.02, 0.05]: the axis spans about that, not 0 to 1."""
    from ftdata.write import reportplots

    figs = []
    monkeypatch.setattr(reportplots, "_png", lambda fig: figs.append(fig) or "")
    rng = np.random.default_rng(0)
    frac = rng.uniform(0.02, 0.05, 200)
    stats = {"train": {"fraction": frac, "trained": np.round(frac * 100), "length": np.full(200, 100),
                       "task": np.array(["cls"] * 200, dtype=object)}}
    reportplots.fraction_plot(stats)
    lo, hi = figs[0].axes[0].get_xlim()
    assert 0.015 < lo <= frac.min() and frac.max() <= hi < 0.055, (lo, hi)


# -- examples and rejects as HTML ---------------------------------------------------------------

class _CharTokenizer:
    """One id per character (its code point): decoding is exact and checkable by hand."""

    def decode(self, ids, skip_special_tokens=False):
        return "".join(chr(i) for i in ids)


def _doc(prompt: str, completion: str) -> dict:
    ids = [ord(c) for c in prompt + completion]
    return {"task": "t<1>", "template": "x&y", "source": "s", "row_key": "k",
            "input_ids": ids, "labels": [X] * len(prompt) + ids[len(prompt):],
            "prompt": prompt, "completion": completion}


def test_examples_mark_exactly_the_trained_tokens_and_escape_the_data():
    import re

    from ftdata.write.reportsamples import example_html, examples_section

    doc = _doc("Text: <script>alert(1)</script> &lt;#&gt; ", "<b>spam</b>")
    page = example_html(doc, _CharTokenizer(), seq2seq=False)
    assert "<script>" not in page and "<b>" not in page
    assert re.findall(r"<mark>(.*?)</mark>", page) == ["&lt;b&gt;spam&lt;/b&gt;"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;lt;#&amp;gt;" in page
    # a trained token inside the prompt is marked where it is, not where the completion is
    doc["labels"][0] = doc["input_ids"][0]
    marks = re.findall(r"<mark>(.*?)</mark>", example_html(doc, _CharTokenizer(), seq2seq=False))
    assert marks == ["T", "&lt;b&gt;spam&lt;/b&gt;"]
    head = "\n".join(examples_section([doc], "train", None, False))
    assert "t&lt;1&gt;" in head and "x&amp;y" in head and "text columns" in head
    # without a tokenizer: the completion column is the marked part
    assert re.findall(r"<mark>(.*?)</mark>", example_html(doc, None, seq2seq=False)) == ["&lt;b&gt;spam&lt;/b&gt;"]


def test_a_long_untrained_span_is_shortened_visibly():
    import re

    from ftdata.write.reportsamples import example_html

    page = example_html(_doc("w" * 5000, "yes"), _CharTokenizer(), seq2seq=False)
    gap = re.search(r"<i> … (\d+) characters not shown … </i>", page)
    assert gap and int(gap.group(1)) + page.replace(gap.group(0), "").count("w") == 5000
    assert "<mark>yes</mark>" in page


def test_reject_samples_take_the_first_of_each_reason(tmp_path):
    import json

    from ftdata.write.reportsamples import reject_samples, rejects_table

    recs = [{"code": "schema", "line": i, "source": "s", "reason": f"bad <{i}>", "row_key": str(i)} for i in range(10)]
    recs.insert(5, {"code": "duplicate", "line": 99, "source": "s", "reason": "dup", "row_key": "d"})
    path = tmp_path / "rejects.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    got = reject_samples(path, {"schema": 10, "duplicate": 1}, per_reason=3)
    assert [r["line"] for r in got["schema"]] == [0, 1, 2] and [r["line"] for r in got["duplicate"]] == [99]
    html = rejects_table(got)
    assert "bad &lt;0&gt;" in html and "value" not in html  # escaped; a column empty throughout is left out
    assert reject_samples(tmp_path / "none.jsonl", {"schema": 1}) == {"schema": []}
