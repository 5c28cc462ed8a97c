"""Template choice, row/template modes, field truncation and few-shot prompts in real builds."""

from __future__ import annotations

import re
from collections import Counter

import datasets
import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.errors import ConfigError
from ftdata.write.manifest import accounting_ok

from tests.conftest import ROOT, shared, write_jsonl, write_native_templates, write_recipe

REVIEWS_TPL = ROOT / "templates" / "reviews" / "templates.yaml"
REVIEWS_DATA = ROOT / "examples" / "reviews" / "reviews.jsonl"


def _reviews(tmp_path, out="out", seed=1, **ref):
    r = {"name": "rv", "output": out, "seed": seed,
         "sources": [{"name": "reviews", "path": str(REVIEWS_DATA), "key": "review_id",
                      "columns": {"star_rating": {"type": "int", "min": 1, "max": 5}},
                      "templates": [{"file": str(REVIEWS_TPL), **ref}]}],
         "max_length": 512}
    return write_recipe(tmp_path, r, name=f"recipe-{out}.yaml")


def _per_template(m) -> Counter:
    c = Counter()
    for s in m["counts"]["splits"].values():
        c.update(s["templates"])
    return c


def _rows(out, split=None):
    dd = datasets.load_from_disk(str(out))
    return [r for name in dd for r in dd[name] if split in (None, name)]


def test_select_by_metadata(tmp_path):
    m = compile_recipe(_reviews(tmp_path, original_task=True)).manifest
    assert set(_per_template(m)) == {"predict_rating"}
    m = compile_recipe(_reviews(tmp_path, out="b", metrics=["ROUGE"], original_task=False)).manifest
    assert set(_per_template(m)) == {"write_review", "review_headline"}
    with pytest.raises(ConfigError, match="no template matches"):
        compile_recipe(_reviews(tmp_path, out="c", metrics=["Squad"]))


def test_round_robin_one_template_per_row_and_exact_accounting(tmp_path):
    m = compile_recipe(_reviews(tmp_path, mode="round_robin")).manifest
    c = m["counts"]["sources"]["reviews"]
    assert c["fanout"] == 1 and c["templates"] == 3
    assert c["examples_candidates"] == c["rows_rendered"]
    assert accounting_ok(m) == []
    per = _per_template(m)
    assert set(per) == {"predict_rating", "write_review", "review_headline"}
    assert max(per.values()) - min(per.values()) <= 0.1 * sum(per.values())  # in turn: near equal
    keys = Counter(r["row_key"] for r in _rows(tmp_path / "out"))
    assert max(keys.values()) == 1


def test_random_mode_is_seeded(tmp_path):
    a = compile_recipe(_reviews(tmp_path, out="a", mode="random"))
    b = compile_recipe(_reviews(tmp_path, out="b", mode="random"))
    c = compile_recipe(_reviews(tmp_path, out="c", mode="random", seed=2))
    pick = {o: {r["row_key"]: r["template"] for r in _rows(x.output)} for o, x in (("a", a), ("b", b), ("c", c))}
    assert pick["a"] == pick["b"]
    common = set(pick["a"]) & set(pick["c"])
    assert sum(pick["a"][k] != pick["c"][k] for k in common) > len(common) // 3
    assert accounting_ok(a.manifest) == [] and a.manifest["counts"]["sources"]["reviews"]["fanout"] == 1


# -- field truncation ----------------------------------------------------------------------------

def _dialogsum(tmp_path, tpl, out="out", **kw):
    r = {"name": "ds", "output": out, "seed": 1, "max_length": 160,
         "sources": [{"name": "d", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                      "templates": [{"file": str(tpl)}]}]}
    r.update(kw)
    return write_recipe(tmp_path, r, name=f"recipe-{out}.yaml")


def test_named_field_is_cut_by_tokens_so_examples_fit(tmp_path):
    spec = {"name": "summarize", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
            "completion": "{{summary}}", "metrics": ["ROUGE"]}
    # without the field to cut, most examples are too long: the point of the comparison, so allowed (and the
    # few left all go to one split, so none comes out empty)
    plain = compile_recipe(_dialogsum(tmp_path, write_native_templates(tmp_path / "a.yaml", [spec]), out="a",
                                      max_reject_share=1.0, split={"ratios": {"train": 1.0}}))
    cut = compile_recipe(_dialogsum(tmp_path, write_native_templates(tmp_path / "b.yaml", [spec | {"truncate": "dialogue"}]),
                                    out="b"))
    too_long = plain.manifest["counts"]["rejects_by_code"].get("too_long", 0)
    assert too_long > 100
    assert cut.manifest["counts"]["rejects_by_code"].get("too_long", 0) < too_long // 10
    assert accounting_ok(cut.manifest) == []
    dev = {r["fname"]: r for r in map(__import__("json").loads, shared("dialogsum", "dialogsum.dev.jsonl").open())}
    for r in _rows(cut.output):
        assert len(r["input_ids"]) <= 160
        src = dev[r["row_key"]]
        assert r["completion"] == src["summary"].strip()  # never shortened
        kept = r["prompt"].removeprefix("Summarize the following conversation.\n\n").removesuffix("\n\nSummary:")
        assert src["dialogue"].startswith(kept)
    # the recipe's reference can name the field instead of the template
    ref = compile_recipe(_dialogsum(tmp_path, tmp_path / "a.yaml", out="c",
                                    sources=[{"name": "d", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")),
                                              "key": "fname", "templates": [{"file": str(tmp_path / "a.yaml"),
                                                                             "truncate": "dialogue"}]}]))
    assert ref.manifest["counts"]["splits"] == cut.manifest["counts"]["splits"]


# -- few-shot --------------------------------------------------------------------------------------

def _shots_recipe(tmp_path, rows, out="out", **kw):
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    tpl = write_native_templates(tmp_path / "qa.yaml", [{"name": "qa", "prompt": "Q: {{q}}", "completion": "{{a}}",
                                                          "metrics": ["Accuracy"]}])
    r = {"name": "qa", "output": out, "seed": 3, "shots": 2, "max_length": 256,
         "sources": [{"name": "qa", "path": str(data), "key": "id", "templates": [{"file": str(tpl)}]}]}
    r.update(kw)
    return write_recipe(tmp_path, r, name=f"recipe-{out}.yaml")


ROWS = [{"id": f"r{i}", "q": f"question{i} ?", "a": f"answer{i}"} for i in range(120)]


def test_shots_come_from_train_only_and_never_the_row_itself(tmp_path):
    res = compile_recipe(_shots_recipe(tmp_path, ROWS))
    assert accounting_ok(res.manifest) == []
    dd = datasets.load_from_disk(str(res.output))
    train_keys = set(dd["train"]["row_key"])
    assert len(dd["validation"]) and len(dd["test"])
    for split in dd:
        for r in dd[split]:
            shots = r["prompt"].split("\n\n")
            assert len(shots) == 3 and shots[-1] == f"Q: question{r['row_key'][1:]} ?"
            used = {f"r{n}" for n in re.findall(r"question(\d+)", "\n\n".join(shots[:-1]))}
            assert len(used) == 2 and used <= train_keys and r["row_key"] not in used
            for s in shots[:-1]:  # each exemplar is solved: prompt, separator, its own answer
                n = re.findall(r"question(\d+)", s)[0]
                assert s == f"Q: question{n} ? answer{n}"
    again = compile_recipe(_shots_recipe(tmp_path, ROWS, out="again"))
    assert _rows(again.output) == _rows(res.output)


def test_shots_that_do_not_fit_are_dropped(tmp_path):
    rows = [dict(r, q=r["q"] + (" filler words" * 30 if i % 2 else "")) for i, r in enumerate(ROWS)]
    zero = compile_recipe(_shots_recipe(tmp_path, rows, out="zero", shots=0, max_length=120))
    res = compile_recipe(_shots_recipe(tmp_path, rows, max_length=120))
    # exemplars never cost an example: as many examples are written as without shots
    def written(r):
        return sum(s["examples"] for s in r.manifest["counts"]["splits"].values())

    assert written(res) == written(zero)
    counts = Counter(len(r["prompt"].split("\n\n")) - 1 for r in _rows(res.output))
    assert all(len(r["input_ids"]) <= 120 for r in _rows(res.output))
    assert counts[2] and (counts[0] or counts[1])


def test_shots_refused_with_stratified_splits(tmp_path):
    with pytest.raises(ConfigError, match="shots"):
        compile_recipe(_shots_recipe(tmp_path, ROWS, split={"ratios": {"train": 0.8, "test": 0.2},
                                                              "stratify_by": "a"}))


# -- bad templates -----------------------------------------------------------------------------------

def test_template_failing_on_every_row_stops_the_build_before_it_starts(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", ROWS)
    tpl = write_native_templates(tmp_path / "bad.yaml", [
        {"name": "ok", "prompt": "Q: {{q}}", "completion": "{{a}}"},
        {"name": "broken", "prompt": "Q: {{ q.nope() }}", "completion": "{{a}}"}])
    r = {"name": "qa", "output": "out", "sources": [{"name": "qa", "path": str(data), "key": "id",
                                                      "templates": [{"file": str(tpl)}]}]}
    with pytest.raises(ConfigError) as e:
        compile_recipe(write_recipe(tmp_path, r))
    msg = str(e.value)
    assert "template 'broken'" in msg and "bad.yaml" in msg and "line" in msg and "sampled rows" in msg
    assert not (tmp_path / "out").exists()


def test_template_failing_on_some_rows_makes_rejects(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", ROWS)
    tpl = write_native_templates(tmp_path / "some.yaml", [
        {"name": "picky", "prompt": "Q: {{q}} {{ (1 / (q | length - 12)) if q.endswith('7 ?') else '' }}",
         "completion": "{{a}}"}])
    r = {"name": "qa", "output": "out", "sources": [{"name": "qa", "path": str(data), "key": "id",
                                                      "templates": [{"file": str(tpl)}]}]}
    res = compile_recipe(write_recipe(tmp_path, r))
    rejects = [__import__("json").loads(x) for x in (res.output / "rejects.jsonl").read_text().splitlines()]
    errs = [x for x in rejects if x["code"] == "render_error"]
    assert errs and all(x["template"] == "picky" and "ZeroDivisionError" in x["reason"] for x in errs)
    assert accounting_ok(res.manifest) == []
