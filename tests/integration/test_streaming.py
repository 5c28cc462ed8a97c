"""A JSON array source builds exactly like the same rows as JSON Lines."""

from __future__ import annotations

import json

from ftdata.build.orchestrate import compile_recipe

from tests.conftest import write_native_templates, write_recipe


def test_a_json_array_source_builds_like_jsonl(tmp_path):
    rows = [{"id": str(i), "q": f"question {i}", "a": f"answer {i}"} for i in range(50)]
    (tmp_path / "r.json").write_text(json.dumps(rows, indent=1))
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "t", "prompt": "{{q}}", "completion": "{{a}}"}])
    outs = []
    for ext in ("json", "jsonl"):
        recipe = write_recipe(tmp_path, {"name": "j", "output": f"out-{ext}", "sources": [
            {"name": "s", "path": f"r.{ext}", "key": "id", "templates": [{"file": str(tpl)}]}]}, name=f"{ext}.yaml")
        outs.append(compile_recipe(recipe))
    assert outs[0].manifest["shards"] == outs[1].manifest["shards"]
