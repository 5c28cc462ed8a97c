"""rejects.jsonl does not depend on how the build was cut or run.

The README promises every output file byte-identical for any ``batch_size``, ``--num-proc`` and
engine. Phase A's rejects used to be written in the order the engine's window produced them
(read rejects of chunks still in flight before the render rejects of earlier chunks), so a
source with both read and tokenize rejects gave a different ``rejects.jsonl`` for another
``batch_size`` (the same lines, in another order). The rule now: each source's phase-A rejects
(read, schema, duplicate key, render, tokenize) in input order, a row's own rejects in template
order; the plan's rejects (dedup, split) after them.
"""

from __future__ import annotations

import json

import pytest
import yaml

from ftdata.build.orchestrate import compile_recipe

from .test_cache import output_bytes
from .test_read_in_workers import _source, read_in_build_process
from tests.conftest import write_native_templates

#: (batch_size, num_proc, read in the build process)
WAYS = [(16, 1, False), (37, 2, False), (1000, 1, False), (16, 2, True), (53, 1, True)]


def _two_templates(folder):
    """``_source``'s real DialogSum rows and bad lines, with a second, longer template: some rows
    are too long for one template only, so one row can have two rejects."""
    recipe = _source(folder)
    write_native_templates(folder / "t.yaml", [
        {"name": "sum", "prompt": "Summarize:\n{{dialogue}}", "completion": "{{summary}}"},
        {"name": "long", "prompt": "Read the dialogue below, then write a summary of it.\n{{dialogue}}\nSummary:",
         "completion": "{{summary}}"}])
    return recipe


def _with_batch(recipe, batch_size):
    spec = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    spec["batch_size"] = batch_size
    path = recipe.with_name(f"recipe-{batch_size}.yaml")
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_rejects_are_the_same_bytes_for_any_batch_size_workers_and_reader(tmp_path, monkeypatch):
    recipe = _two_templates(tmp_path)
    got = {}
    for batch_size, num_proc, in_build_process in WAYS:
        with monkeypatch.context() as m:
            if in_build_process:
                read_in_build_process(m)
            out = compile_recipe(_with_batch(recipe, batch_size), output=tmp_path / f"o{batch_size}-{num_proc}",
                                 num_proc=num_proc, cache=False)
        got[(batch_size, num_proc, in_build_process)] = output_bytes(out.output)["rejects.jsonl"]
    first = got[WAYS[0]]
    for way, data in got.items():
        assert data == first, way

    rej = [json.loads(x) for x in first.decode().splitlines()]
    codes = {r["code"] for r in rej}
    assert {"unreadable", "schema", "duplicate_key", "too_long"} <= codes, codes
    phase_a = [r for r in rej if r["stage"] in ("read", "schema", "key", "render", "tokenize")]
    assert phase_a == rej[:len(phase_a)]  # the plan's rejects, if any, come after
    lines = [r["line"] for r in phase_a]
    assert lines == sorted(lines)  # input order
    # a row rejected by both templates: its rejects in template order
    both = [line for line in set(lines) if lines.count(line) == 2]
    assert both
    for line in both:
        assert [r["template"] for r in phase_a if r["line"] == line] == ["sum", "long"]


@pytest.mark.slow
def test_rejects_on_ray_are_the_local_bytes(tmp_path, local_ray):
    recipe = _two_templates(tmp_path)
    local = compile_recipe(_with_batch(recipe, 16), output=tmp_path / "local", num_proc=2, cache=False)
    on_ray = compile_recipe(_with_batch(recipe, 16), output=tmp_path / "ray", engine="ray", cache=False)
    assert output_bytes(on_ray.output) == output_bytes(local.output)
