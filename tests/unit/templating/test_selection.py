"""Choosing templates (name, id, metadata) and assigning them to rows (all/round_robin/random)."""

from __future__ import annotations

from collections import Counter

import pytest

from ftdata.errors import ConfigError
from ftdata.templating.selection import Group, RowPlan, choose
from ftdata.templating.templates import load_templates

from tests.conftest import ROOT, shared

REVIEWS = load_templates(ROOT / "templates" / "reviews" / "templates.yaml")


def names(ts):
    return [t.name for t in ts]


def test_choose_by_name_id_and_metadata():
    assert names(choose(REVIEWS)) == ["predict_rating", "write_review", "review_headline"]
    assert names(choose(REVIEWS, names=["review_headline", "predict_rating"])) == ["review_headline", "predict_rating"]
    assert names(choose(REVIEWS, ids=["8c2d4e17-0a9b-4f6c-b3d8-2e5a7f1c6b02"])) == ["write_review"]
    assert names(choose(REVIEWS, original_task=True)) == ["predict_rating"]
    assert names(choose(REVIEWS, original_task=False)) == ["write_review", "review_headline"]
    assert names(choose(REVIEWS, metrics=["rouge"])) == ["write_review", "review_headline"]
    assert names(choose(REVIEWS, metrics=["BLEU"], original_task=False)) == ["write_review"]


def test_choose_errors_name_the_problem():
    with pytest.raises(ConfigError) as e:
        choose(REVIEWS, names=["predict_ratin"], file="f.yaml")
    assert "did you mean 'predict_rating'" in str(e.value) and "f.yaml" in str(e.value)
    with pytest.raises(ConfigError) as e:
        choose(REVIEWS, metrics=["Squad"], file="f.yaml")
    assert "no template matches" in str(e.value) and "metrics in this file: Accuracy, BLEU, ROUGE" in str(e.value)


def test_choose_on_the_corpus_original_task():
    ts = load_templates(shared("promptsource", "templates", "samsum", "templates.yaml"))
    chosen = choose(ts, original_task=True, metrics=["ROUGE"])
    assert chosen and all(t.original_task for t in chosen)
    assert len(chosen) < len(ts)


def test_row_plan_modes():
    a, b, c = REVIEWS
    plan = RowPlan([Group([a, b, c], "all")])
    assert plan.fanout == 3 and plan.for_row(0, "k") == [a, b, c]
    rr = RowPlan([Group([a, b, c], "round_robin")])
    assert rr.fanout == 1
    assert [rr.for_row(i, f"k{i}")[0].name for i in range(6)] == names([a, b, c, a, b, c])
    rnd = RowPlan([Group([a, b, c], "random")], seed=3)
    picks = [rnd.for_row(i, f"k{i}")[0].name for i in range(300)]
    assert set(picks) == set(names([a, b, c])) and min(Counter(picks).values()) > 60
    # seeded by (seed, row key): the index and the order of rows do not matter
    assert rnd.for_row(0, "k7") == rnd.for_row(99, "k7")
    other = RowPlan([Group([a, b, c], "random")], seed=4)
    assert [other.for_row(0, f"k{i}")[0].name for i in range(50)] != picks[:50]
    mixed = RowPlan([Group([a], "all"), Group([b, c], "random")])
    assert mixed.fanout == 2 and len(mixed.for_row(0, "x")) == 2
