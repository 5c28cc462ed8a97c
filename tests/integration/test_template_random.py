"""Random templates through whole builds: the same bytes whatever the batching, workers, cache
or project folder; duplicate template ids are refused."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.errors import ConfigError
from ftdata.templating.templates import load_templates

from .test_cache import output_bytes
from tests.conftest import shared, write_jsonl, write_native_templates, write_recipe

ROW = {"items": [f"item{i}" for i in range(12)], "text": "hello"}


#: templates that draw in every way a template can: helpers and filters, on literal lists
#: (which Jinja would fold at compile time) and on the row's own values
RANDOM_TEMPLATES = [
    {"name": "literal",
     "prompt": "{{ ['Summarize', 'Sum up', 'Condense', 'Shorten'] | random }} the dialogue "
               "({{ ['briefly', 'in one line', 'plainly'] | choice }}, "
               "{{ ['a', 'b', 'c', 'd'] | shuffle | join('') }}):\n{{ dialogue }}",
     "completion": "{{ summary }}"},
    {"name": "rows",
     "prompt": "{{ choice(['Topic?', 'What is it about?']) }} {{ dialogue.split() | random }}\n"
               "{{ dialogue.split('\\n') | shuffle | join('\\n') }}",
     "completion": "{{ topic }}"},
]
#: DialogSum's test split has three reference summaries and topics: a template picks one per row
#: (and the recipe picks one template per row at random)
REFERENCE_TEMPLATES = [
    {"name": "one_reference", "prompt": "{{ ['Summarize', 'Sum up'] | random }}:\n{{ dialogue }}",
     "completion": "{{ [summary1, summary2, summary3] | random }}"},
    {"name": "one_topic", "prompt": "{{ ['Topic', 'Subject'] | random }}:\n{{ dialogue }}",
     "completion": "{{ [topic1, topic2, topic3] | shuffle | first }}"},
]
SEED = 11


def random_recipe(folder, batch_size: int) -> dict:
    """A recipe over real DialogSum rows (dev and test) whose templates all draw at random.

    A dict, not a file: a recipe file would differ in its ``batch_size`` line, and the manifest
    holds the recipe file's hash.
    """
    for split, n in (("dev", 200), ("test", 100)):
        if not (folder / f"{split}.jsonl").exists():
            lines = shared("dialogsum", f"dialogsum.{split}.jsonl").read_text(encoding="utf-8")
            write_jsonl(folder / f"{split}.jsonl", [json.loads(x) for x in lines.splitlines()[:n]])
    write_native_templates(folder / "random.yaml", RANDOM_TEMPLATES)
    write_native_templates(folder / "references.yaml", REFERENCE_TEMPLATES)
    return {"name": "rnd", "output": "out", "seed": SEED, "batch_size": batch_size,
            "max_length": 4096,
            "sources": [{"name": "dev", "path": "dev.jsonl", "key": "fname",
                         "templates": [{"file": "random.yaml"}]},
                        {"name": "test", "path": "test.jsonl", "key": "fname",
                         "templates": [{"file": "references.yaml", "mode": "random"}]}]}


@pytest.mark.slow
def test_random_templates_build_byte_identical_whatever_the_batching_workers_and_cache(tmp_path):
    """Issue 15 item 3: every output file is the same bytes under batch_size 37 and 1000,
    num_proc 1 and 2, cache cold and warm, and each row's draw is the one a lone render of
    (seed, row key, template) gives -- never one that depends on chunk, worker or call order."""

    def build(name, batch_size, **kw):
        recipe = random_recipe(tmp_path, batch_size)
        return compile_recipe(recipe, base=tmp_path, output=tmp_path / name, **kw)

    ref = build("ref", 37, cache=False)
    first = output_bytes(ref.output)
    others = [build("b1000", 1000, cache=False), build("np2", 37, num_proc=2, cache=False),
              build("np2_b1000", 1000, num_proc=2, cache=False)]
    cold = [build("cached", 37, cache=True), build("cached2", 1000, num_proc=2, cache=True)]
    warm = [build("cached", 37, cache=True, overwrite=True),
            build("cached2", 1000, num_proc=2, cache=True, overwrite=True)]
    assert [r.build_info["cache"]["chunks_reused"] for r in cold] == [0, 0]
    for res in warm:
        info = res.build_info["cache"]
        assert info["chunks_computed"] == 0 < info["chunks_reused"]
    for res in [*others, *cold, *warm]:
        got = output_bytes(res.output)
        assert sorted(got) == sorted(first)
        assert [f for f in first if got[f] != first[f]] == [], res.output.name

    # each example holds the draw of its own (seed, row key, template), and the draws vary
    rows = {(src, r["fname"]): r for src in ("dev", "test")
            for r in map(json.loads, (tmp_path / f"{src}.jsonl").read_text().splitlines())}
    templates = {t.name: t for f in ("random.yaml", "references.yaml")
                 for t in load_templates(tmp_path / f)}
    dd = datasets.load_from_disk(str(ref.output))
    cols = ["source", "row_key", "template", "prompt", "completion"]
    written = [ex for split in dd.values() for ex in split.select_columns(cols)]
    assert len(written) > len(rows)
    for ex in written:
        row = rows[ex["source"], ex["row_key"]]
        alone = templates[ex["template"]].render(row, seed=SEED, row_key=ex["row_key"])
        assert (ex["prompt"], ex["completion"]) == alone[:2]
    for name, opening in (("literal", " the dialogue"), ("one_reference", ":"), ("one_topic", ":")):
        assert len({ex["prompt"].split(opening)[0] for ex in written if ex["template"] == name}) > 1


def test_the_same_project_in_two_folders_builds_the_same_bytes(tmp_path, monkeypatch):
    """A template without an ``id`` is named by its file's base name and its own name, never the
    file's absolute path: the same project on a laptop and in a CI clone draws the same rows and
    writes the same bytes. Every file is compared; the manifest records no absolute path (only
    template file base names and recipe-relative references), so nothing is left out but the
    timings."""
    builds = []
    for where in ("laptop/project", "ci/runner/checkout"):
        folder = tmp_path / where
        folder.mkdir(parents=True)
        builds.append(compile_recipe(write_recipe(folder, random_recipe(folder, 37)), cache=False))
    first, second = (output_bytes(b.output) for b in builds)
    assert sorted(first) == sorted(second)
    assert [f for f in first if first[f] != second[f]] == []
    # a lone load, by a relative path from another working folder (as ``ftdata templates render``,
    # preview, lint and the studio load), names each template as the build did
    monkeypatch.chdir(tmp_path / "ci")
    alone = {t.name: t.id for f in ("random.yaml", "references.yaml")
             for t in load_templates(Path("runner/checkout") / f)}
    written = {t["name"]: t["id"] for ts in builds[0].manifest["templates"].values() for t in ts}
    assert alone == written


def test_two_templates_with_one_id_are_refused(tmp_path):
    """Two different templates under one id would share every per-template cache (exemplar
    renders, field truncation) and draw alike: the recipe is refused, naming both files."""
    lines = shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(x) for x in lines[:20]]
    write_jsonl(tmp_path / "dev.jsonl", rows)
    for folder, prompt in (("short", "Summarize:\n{{ dialogue }}"),
                           ("long", "Sum up:\n{{ dialogue }}")):
        (tmp_path / folder).mkdir()
        write_native_templates(tmp_path / folder / "templates.yaml", [
            {"name": "summarize", "prompt": prompt, "completion": "{{ summary }}"}])
    recipe = {"name": "clash", "output": "out", "seed": SEED, "max_length": 4096,
              "sources": [{"name": "a", "path": "dev.jsonl", "key": "fname",
                           "templates": [{"file": "short/templates.yaml"}]},
                          {"name": "b", "path": "dev.jsonl", "key": "fname",
                           "templates": [{"file": "short/templates.yaml"},
                                         {"file": "long/templates.yaml"}]}]}
    with pytest.raises(ConfigError) as err:
        compile_recipe(write_recipe(tmp_path, recipe))
    (problem,) = err.value.problems
    assert "sources[1].templates[1]" in problem
    assert str(tmp_path / "short" / "templates.yaml") in problem
    assert str(tmp_path / "long" / "templates.yaml") in problem
    assert "id:" in problem
    assert not (tmp_path / "out").exists()
    # the fix the message gives: an explicit id on one of them
    write_native_templates(tmp_path / "long" / "templates.yaml", [
        {"name": "summarize", "id": "summarize-long", "prompt": "Sum up:\n{{ dialogue }}",
         "completion": "{{ summary }}"}])
    res = compile_recipe(write_recipe(tmp_path, recipe))
    assert [t["id"] for t in res.manifest["templates"]["b"]][1] == "summarize-long"
