"""Helpers shared by the benchmarks: make repeated DialogSum inputs from ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PROMPT = "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:"


def dialogsum_rows() -> list[dict]:
    rows = []
    for name in ("dialogsum.dev.jsonl", "dialogsum.test.jsonl"):
        for line in (SHARED / "dialogsum" / name).read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            rows.append({"fname": r["fname"], "dialogue": r["dialogue"],
                         "summary": r.get("summary") or r.get("summary1")})
    return rows


def write_repeated(path: Path, times: int) -> int:
    """Write DialogSum dev+test ``times`` over; each copy is made unique (so dedup keeps it)."""
    rows = dialogsum_rows()
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(times):
            for r in rows:
                fh.write(json.dumps({"fname": f"{r['fname']}#{i}", "dialogue": f"(copy {i}) {r['dialogue']}",
                                     "summary": r["summary"]}) + "\n")
                n += 1
    return n


def write_recipe(folder: Path, source: Path, name: str = "recipe", **extra) -> Path:
    """A one-template DialogSum recipe at ``folder/<name>.yaml``; ``extra`` overrides recipe fields."""
    import yaml

    (folder / "t.yaml").write_text(yaml.safe_dump({"templates": [
        {"name": "summarize", "prompt": PROMPT, "completion": "{{summary}}", "metrics": ["ROUGE"]}]}))
    recipe = {"name": "bench", "output": str(folder / "out"), "sources": [
        {"name": "dialogsum", "path": str(source), "key": "fname", "templates": [{"file": "t.yaml"}]}],
        "tokenizer": "ftdata:tiny-bpe", "max_length": 4096}
    recipe.update(extra)
    p = folder / f"{name}.yaml"
    p.write_text(yaml.safe_dump(recipe))
    return p
