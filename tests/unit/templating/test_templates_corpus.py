"""The whole promptsource corpus loads and compiles; review, summarization and classification
sets render the way promptsource renders them.

The reference below restates promptsource's documented rendering rules with a plain (not
sandboxed) jinja2 environment: ``|||`` in row values is replaced by promptsource's placeholder,
``answer_choices`` is rendered with the row and split on ``|||`` (each part stripped), the
template is rendered with ``answer_choices`` in scope and split on ``|||``, each part stripped.
ftdata must agree with it on every template and row below (randomness aside, see
``test_helpers_*``). The reference leaves out promptsource's 2,048-character cut of every
variable on purpose: ftdata does not cut (see ``test_no_2048_character_cut``).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import jinja2
import pytest

from ftdata.templating.templates import load_templates

from tests.conftest import shared

CORPUS_FILES = 279
CORPUS_TEMPLATES = 2085
PIPE = "3ed2dface8203c4c9dfb1a5dc58e41e0"


def corpus() -> Path:
    return shared("promptsource", "templates")


# -- promptsource's rules, restated ------------------------------------------------------------

def _ps_most_frequent(items):
    counts = Counter(items).most_common()
    return [x for x, n in counts if n == counts[0][1]] if counts else None


def _reference_env(rng: random.Random) -> jinja2.Environment:
    env = jinja2.Environment()
    env.globals["zip"] = zip
    env.filters["choice"] = rng.choice
    env.filters["most_frequent"] = _ps_most_frequent
    return env


def reference_render(t, row: dict, rng: random.Random | None = None, cut: int | None = None) -> list[str]:
    env = _reference_env(rng or random.Random(0))
    safe = {k: v.replace("|||", PIPE) if isinstance(v, str) else v for k, v in row.items()}
    choices = None
    if t.answer_choices is not None:
        text = env.from_string(t.answer_choices).render(**safe)
        choices = [c.strip().replace(PIPE, "|||") for c in text.split("|||")]
    jinja = t.jinja
    if cut is not None:
        jinja = jinja.replace("}}", f" | string | truncate({cut}) }}}}")
    text = env.from_string(jinja).render(**safe, answer_choices=choices)
    return [p.replace(PIPE, "|||").strip() for p in text.split("|||")]


# -- rows built from each dataset's fields -------------------------------------------------------

LONG = " ".join(f"word{i}" for i in range(600))  # > 2,048 characters

ROWS: dict[str, list[dict]] = {
    "amazon_us_reviews/Wireless_v1_00": [
        {"marketplace": "US", "customer_id": "1", "review_id": "R1", "product_id": "P1", "product_parent": "9",
         "product_title": "USB-C charging cable, 2 m", "product_category": "Wireless", "star_rating": 4,
         "helpful_votes": 0, "total_votes": 1, "vine": 0, "verified_purchase": 1,
         "review_headline": "Charges fast", "review_body": "Works with my phone and the tablet.<br />Sturdy plug.",
         "review_date": "2015-08-31"},
        {"marketplace": "US", "customer_id": "2", "review_id": "R2", "product_id": "P2", "product_parent": "8",
         "product_title": "Car mount ||| holder", "product_category": "Wireless", "star_rating": 1,
         "helpful_votes": 3, "total_votes": 3, "vine": 0, "verified_purchase": 0,
         "review_headline": "Fell off twice", "review_body": "The clip ||| snapped within a week.",
         "review_date": "2015-08-30"},
    ],
    "amazon_polarity": [
        {"label": 1, "title": "Great soundtrack", "content": "It made me want to play the game again."},
        {"label": 0, "title": "Broke in a day", "content": "The hinge cracked ||| the first time I opened it."},
    ],
    "amazon_reviews_multi/en": [
        {"review_id": "en_1", "product_id": "p1", "reviewer_id": "r1", "stars": 5, "language": "en",
         "review_body": "Exactly as described, arrived early.", "review_title": "Perfect",
         "product_category": "home"},
        {"review_id": "en_2", "product_id": "p2", "reviewer_id": "r2", "stars": 2, "language": "en",
         "review_body": "Smaller than the picture suggests.", "review_title": "Meh",
         "product_category": "kitchen"},
    ],
    "yelp_polarity": [
        {"label": 1, "text": "Friendly staff and the best tacos in town."},
        {"label": 0, "text": "Waited an hour. Cold food."},
    ],
    "yelp_review_full": [
        {"label": 4, "text": "Five stars, would come back."},
        {"label": 0, "text": "Never again."},
    ],
    "app_reviews": [
        {"package_name": "com.example.notes", "review": "Syncs quickly, no ads.", "date": "2017-01-01", "star": 5},
        {"package_name": "com.example.maps", "review": "Crashes on start.", "date": "2017-01-02", "star": 1},
    ],
    "imdb": [
        {"label": 1, "text": "A warm, funny film with a great cast."},
        {"label": 0, "text": "Two hours I will never get back."},
    ],
    "samsum": [
        {"id": "1", "dialogue": "Amanda: I baked cookies. Do you want some?\r\nJerry: Sure!",
         "summary": "Amanda baked cookies and will bring Jerry some."},
        {"id": "2", "dialogue": "Tom: Meeting at 5?\nAnna: Make it 6.", "summary": "Tom and Anna meet at 6."},
    ],
    "xsum": [
        {"id": "1", "document": "The council approved the new bridge on Tuesday. Work starts in May.",
         "summary": "A new bridge has been approved."},
        {"id": "2", "document": LONG, "summary": "A very long document."},
    ],
    "cnn_dailymail/3.0.0": [
        {"id": "a1", "article": "(CNN) -- A cat was rescued from a tree by firefighters on Monday.",
         "highlights": "Cat rescued from a tree .\nFirefighters called on Monday ."},
        {"id": "a2", "article": "LONDON -- Rain is expected all week.", "highlights": "Rain all week ."},
    ],
    "gigaword": [
        {"document": "australia 's current account deficit shrunk by a record #.## billion dollars",
         "summary": "australian current account deficit narrows sharply"},
        {"document": "at least two people were killed in a suicide bomb attack", "summary": "two killed in attack"},
    ],
    "multi_news": [
        {"document": "First article about the storm. ||||| Second article about the storm. ||||| ",
         "summary": "– A storm hit the coast on Monday."},
        {"document": "Only one source here.", "summary": "– One source."},
    ],
}

#: Templates whose completion is, by design, not one of its answer choices.
CHOICE_EXCEPTIONS = {("imdb", "Negation template for positive and negative")}


def test_whole_corpus_loads_and_compiles():
    t0 = time.perf_counter()
    files = sorted(corpus().rglob("templates.yaml"))
    templates = [t for f in files for t in load_templates(f)]
    assert len(files) == CORPUS_FILES
    assert len(templates) == CORPUS_TEMPLATES
    for t in templates:  # loading compiles; make sure every part really is compiled
        assert set(t._compiled) == set(t.sources())
    # features the corpus relies on are present and read unchanged
    assert any("task_template" in t.extra for t in templates)
    assert any(t.jinja.count("|||") > 1 for t in templates)
    metrics = {m for t in templates for m in t.metrics}
    assert {"ROUGE", "BLEU", "Accuracy"} <= metrics
    print(f"corpus: {len(files)} files, {len(templates)} templates loaded and compiled "
          f"in {time.perf_counter() - t0:.2f}s")


@pytest.mark.parametrize("dataset", sorted(ROWS))
def test_renders_like_promptsource(dataset):
    templates = load_templates(corpus() / dataset / "templates.yaml")
    assert templates
    checked = 0
    for t in templates:
        for i, row in enumerate(ROWS[dataset]):
            expected = reference_render(t, row)
            prompt, completion, choices = t.render(row, seed=0, row_key=str(i))
            assert len(expected) == 2, (t.name, expected)
            assert [prompt, completion] == expected, t.name
            assert prompt == prompt.strip() and completion == completion.strip()
            assert "|||" not in prompt or any("|||" in str(v) for v in row.values())
            if t.answer_choices is not None:
                env = _reference_env(random.Random(0))
                text = env.from_string(t.answer_choices).render(**row)
                assert choices == [c.strip() for c in text.split("|||")]
                if (dataset, t.name) not in CHOICE_EXCEPTIONS:
                    assert completion in choices, (t.name, completion, choices)
            else:
                assert choices is None
            checked += 1
    assert checked == len(templates) * len(ROWS[dataset])
    print(f"{dataset}: {len(templates)} templates x {len(ROWS[dataset])} rows = {checked} renders checked")


def test_row_values_cannot_move_the_boundary():
    t = next(t for t in load_templates(corpus() / "amazon_polarity" / "templates.yaml")
             if "{{title}}" in t.jinja.replace(" ", ""))
    prompt, completion, _ = t.render(ROWS["amazon_polarity"][1], row_key="x")
    assert "the hinge cracked ||| the first time" in prompt.lower()
    assert completion in {"Negative", "Positive", "No", "Yes", "dissatisfied", "satisfied",
                          "decrease", "increase", "unflattering", "flattering"}


def test_multi_news_splits_documents_on_the_pipe_placeholder():
    t = load_templates(corpus() / "multi_news" / "templates.yaml")[0]
    prompt, completion, _ = t.render(ROWS["multi_news"][0])
    assert "Article: First article about the storm." in prompt
    assert "Article:  Second article about the storm." in prompt  # the space after ||||| stays
    assert PIPE not in prompt and "|||" not in prompt
    assert completion == "A storm hit the coast on Monday."


def test_no_2048_character_cut():
    """promptsource cuts every variable at 2,048 characters; ftdata keeps the whole value."""
    t = next(t for t in load_templates(corpus() / "xsum" / "templates.yaml") if t.jinja.startswith("{{document}}"))
    row = ROWS["xsum"][1]
    prompt, _, _ = t.render(row)
    cut = reference_render(t, row, cut=2048)[0]
    assert LONG in prompt
    assert LONG not in cut and len(cut) < len(prompt)


# -- the helpers ----------------------------------------------------------------------------------

def _squad():
    ts = load_templates(corpus() / "squadshifts" / "nyt" / "templates.yaml")
    return next(t for t in ts if "most_frequent | choice" in t.jinja)


def test_helpers_most_frequent_then_choice():
    t = _squad()
    row = {"question": "Who?", "context": "Ada wrote it.", "answers": {"text": ["Ada", "Ada Lovelace", "Ada"]}}
    for seed in range(5):  # one most frequent answer: no randomness left
        assert t.render(row, seed=seed, row_key="k")[1] == "Ada"
    tie = {"question": "Who?", "context": "Ada wrote it.", "answers": {"text": ["Ada", "Lovelace"]}}
    picks = {t.render(tie, seed=seed, row_key="k")[1] for seed in range(30)}
    assert picks == {"Ada", "Lovelace"}  # whole answers, never single characters


def test_helpers_zip():
    t = next(t for t in load_templates(corpus() / "coqa" / "templates.yaml") if t.name == "last_qa_turn")
    row = {"story": "Tom has a dog named Rex.", "questions": ["Who has a dog?", "What is its name?"],
           "answers": {"input_text": ["Tom", "Rex"], "answer_start": [0, 19], "answer_end": [3, 23]}}
    prompt, completion, _ = t.render(row)
    assert "Q: Who has a dog?" in prompt and "A:Tom" in prompt
    assert completion == "Rex"
    assert [prompt, completion] == reference_render(t, row)
