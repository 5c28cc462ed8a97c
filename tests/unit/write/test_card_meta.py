"""The card's Hub metadata: task categories, tokenizer names, licenses, citations (no build)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ftdata.config.models import Recipe, recipe_hash
from ftdata.write.card import front_matter, hub_license, template_task, tokenizer_display


@pytest.mark.parametrize(("metrics", "choices", "original", "task"), [
    (["Accuracy"], None, True, "text-classification"),
    ([], "yes ||| no", None, "text-classification"),
    (["ROUGE"], None, True, "summarization"),
    (["rouge"], None, None, "summarization"),
    (["BLEU"], None, True, "translation"),
    (["ROUGE", "BLEU"], None, True, "text-generation"),
    (["Squad"], None, True, "question-answering"),
    (["ROUGE"], None, False, "text-generation"),  # not the dataset's task: a headline writer, a topic
    (["Accuracy"], "a ||| b", False, "text-generation"),
    ([], None, None, "text-generation"),
])
def test_template_task(metrics, choices, original, task):
    assert template_task(metrics, choices, original) == task


@pytest.mark.parametrize(("given", "shown"), [
    ("ftdata:tiny-bpe", "ftdata:tiny-bpe"), ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B"), ("gpt2", "gpt2"),
    ("/home/alice/tok/llama", "llama"), ("./tok", "tok"), ("~/tok", "tok"), ("../a/b/tok", "tok"), (None, None),
])
def test_tokenizer_display_never_shows_a_local_path(given, shown):
    assert tokenizer_display(given) == shown


def _m(licenses, recipe_license=None):
    return {"license": recipe_license, "licenses": licenses, "counts": {"sources": {k: {} for k in licenses}}}


def test_hub_license_one_id_a_list_or_other():
    assert hub_license(_m({"a": "MIT", "b": "mit"})) == "mit"
    assert hub_license(_m({"a": "cc-by-4.0", "b": None}, "apache-2.0")) == ["apache-2.0", "cc-by-4.0"]
    assert hub_license(_m({"a": None})) == "other"


def test_front_matter():
    assert front_matter("---\nlicense: mit\nlanguage: [en]\n---\n# x\n") == {"license": "mit", "language": ["en"]}
    assert front_matter("# no yaml\n") == {}


def _recipe(**source):
    return Recipe.model_validate({"name": "r", "sources": [{"name": "s", "path": "x.jsonl",
                                                            "templates": [{"file": "t.yaml"}], **source}]})


def test_license_and_citation_are_checked():
    with pytest.raises(ValidationError, match="license 'CC BY 4.0' is not a license identifier"):
        _recipe(license="CC BY 4.0")
    with pytest.raises(ValidationError, match="citation is empty"):
        _recipe(citation="  ")
    with pytest.raises(ValidationError, match="not a license identifier"):
        Recipe.model_validate({"name": "r", "license": "Apache 2", "sources": [
            {"name": "s", "path": "x.jsonl", "templates": [{"file": "t.yaml"}]}]})
    assert _recipe(license="cc-by-4.0", citation="@misc{x}").sources[0].citation == "@misc{x}"


def test_a_recipe_without_citations_hashes_as_before_the_field():
    import hashlib
    import json

    r = _recipe(license="mit")
    dump = r.model_dump(mode="json", exclude={"output", "batch_size", "cache_dir", "max_reject_share"})
    del dump["sources"][0]["citation"]
    assert recipe_hash(r) == hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()
    assert recipe_hash(_recipe(license="mit", citation="@misc{x}")) != recipe_hash(r)
