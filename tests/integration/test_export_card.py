"""The dataset card: everything on it comes from the manifest (plus per-source licenses)."""

from __future__ import annotations

import yaml

from ftdata.build.orchestrate import compile_recipe
from ftdata.inspect.load import load_compiled
from ftdata.write.card import mixture_rows, render_card

from tests.conftest import ROOT, write_recipe

REVIEWS = ROOT / "examples" / "reviews"
TEMPLATES = ROOT / "templates" / "reviews" / "templates.yaml"


def _front(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_card_of_the_reviews_build(reviews_out):
    m = load_compiled(reviews_out).manifest
    card = (reviews_out / "README.md").read_text()
    meta = _front(card)
    assert meta["license"] == "apache-2.0" and meta["size_categories"] == ["1K<n<10K"]
    assert "configs" not in meta  # only the pushed card names data files
    for src, ts in m["templates"].items():
        for t in ts:
            assert f"### {src} / {t['name']}" in card and t["jinja"] in card
    for split, t in m["tokens"].items():
        assert f"| {split} | {m['counts']['splits'][split]['examples']} | {t['tokens']} | {t['trained_tokens']} |" in card
    assert "rows sharing it land in one split" in card and "seeded with 1234" in card
    assert "Mixture**: none" in card
    assert "ftdata.load('out/reviews')" in card


def test_per_source_licenses_and_mixture(tmp_path):
    recipe = write_recipe(tmp_path, {
        "name": "mixed", "output": "out", "license": "apache-2.0",
        "sources": [
            {"name": "rating", "path": str(REVIEWS / "reviews.jsonl"), "key": "review_id", "license": "cc-by-4.0",
             "templates": [{"file": str(TEMPLATES), "names": ["predict_rating"]}]},
            {"name": "writing", "path": str(REVIEWS / "reviews.jsonl"), "key": "review_id",
             "templates": [{"file": str(TEMPLATES), "names": ["write_review"]}]},
        ],
        "mixture": {"method": "weights", "weights": {"rating": 3, "writing": 1}},
        "max_length": 200,
    })
    out = compile_recipe(recipe).output
    card = (out / "README.md").read_text()
    assert _front(card)["license"] == ["apache-2.0", "cc-by-4.0"]  # sources differ: each id, as the Hub takes a list
    assert "| rating | cc-by-4.0 |" in card and "| writing | apache-2.0 |" in card
    rows = mixture_rows(load_compiled(out).manifest["mixture"])
    assert [(r["task"], r["requested"]) for r in rows] == [("rating", 0.75), ("writing", 0.25)]
    assert "method `weights`" in card and "| train | rating | 0.75 |" in card


def test_pushed_card_has_configs_and_hub_loading(reviews_out):
    m = load_compiled(reviews_out).manifest
    card = render_card(m, repo_id="org/x", data_files={"train": "data/train-*"})
    assert _front(card)["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}]
    assert "load_dataset('org/x')" in card


