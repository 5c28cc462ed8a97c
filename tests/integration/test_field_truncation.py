"""Field truncation (``truncate: dialogue``) is counted per split, task and template, with the
tokens and characters removed, in the manifest, the summary, the report and the card.

Real data: DialogSum dev from ../shared/data with the shipped DialogSum templates.
"""

from __future__ import annotations

import json

import datasets

from ftdata.build.orchestrate import compile_recipe
from ftdata.inspect.summary import summary_text
from ftdata.templating.templates import load_templates
from ftdata.tokenize.tokenizer import load_tokenizer
from ftdata.write.manifest import accounting_ok

from tests.conftest import ROOT, shared, write_recipe

TEMPLATES = ROOT / "templates" / "dialogsum" / "templates.yaml"
NAMES = ["summarize", "main_points"]
MAX_LENGTH = 512


def _expected(dd, rows: dict, templates: dict, tok) -> dict:
    """Per (split, template): [examples cut, field tokens removed, field characters removed], found by
    comparing each written prompt with the prompt of the uncut row."""
    out: dict = {}
    backend = tok.backend_tokenizer
    for split in dd:
        for ex in dd[split]:
            t = templates[ex["template"]]
            row = rows[ex["row_key"]]
            full = t.render(row)[0]
            if ex["prompt"] == full:
                continue
            # the template holds the dialogue once: what is around it is fixed text
            head, tail = t.render(dict(row, dialogue="\x00"))[0].split("\x00")
            assert ex["prompt"].startswith(head) and ex["prompt"].endswith(tail)
            kept = len(ex["prompt"]) - len(head) - len(tail)
            assert row["dialogue"].startswith(ex["prompt"][len(head):len(ex["prompt"]) - len(tail)])
            ends = [e for s, e in backend.encode(row["dialogue"], add_special_tokens=False).offsets if e > s]
            acc = out.setdefault((split, ex["template"]), [0, 0, 0])
            acc[0] += 1
            acc[1] += len({e for e in ends if e > kept})
            acc[2] += len(row["dialogue"]) - kept
    return out


def test_field_truncation_is_counted_per_split_task_and_template(tmp_path):
    data = shared("dialogsum", "dialogsum.dev.jsonl")
    recipe = write_recipe(tmp_path, {
        "name": "ds", "output": "out", "tokenizer": "ftdata:tiny-bpe", "max_length": MAX_LENGTH,
        "sources": [{"name": "dialogsum", "path": str(data), "key": "fname", "task": "summarization",
                     "templates": [{"file": str(TEMPLATES), "names": NAMES}]}]})
    res = compile_recipe(recipe)
    m = res.manifest
    assert accounting_ok(m) == []
    rows = {r["fname"]: r for r in map(json.loads, data.read_text(encoding="utf-8").splitlines())}
    templates = {t.name: t for t in load_templates(TEMPLATES)}
    expected = _expected(datasets.load_from_disk(str(res.output)), rows, templates, load_tokenizer("ftdata:tiny-bpe"))
    assert sum(v[0] for v in expected.values()) > 0  # the build did shorten dialogues
    for split in m["counts"]["splits"]:
        got = m["tokens"][split]["field_truncated"]
        want = [sum(v[i] for (s, _), v in expected.items() if s == split) for i in range(3)]
        assert [got["examples"], got["tokens_removed"], got["chars_removed"]] == want
        task = got["tasks"].get("summarization", {"examples": 0, "tokens_removed": 0, "chars_removed": 0,
                                                  "templates": {}})
        assert [task["examples"], task["tokens_removed"], task["chars_removed"]] == want
        for name in NAMES:
            v = expected.get((split, name), [0, 0, 0])
            g = task["templates"].get(name, {"examples": 0, "tokens_removed": 0, "chars_removed": 0})
            assert [g["examples"], g["tokens_removed"], g["chars_removed"]] == v
    total = sum(v[0] for v in expected.values())
    removed = sum(v[1] for v in expected.values())
    summary = summary_text(m, res.output)
    assert f"field truncation: {total} examples shortened" in summary and f"{removed} tokens" in summary
    card = (res.output / "README.md").read_text(encoding="utf-8")
    report = (res.output / "report.html").read_text(encoding="utf-8")
    assert "Field truncation" in card and "Field truncation" in report
    for (split, name), (n, tokens, chars) in expected.items():
        assert f"| {split} | summarization | {name} | {n} | {tokens} | {chars} |" in card
        assert (f"<td class=t>{split}</td><td class=t>summarization</td><td class=t>{name}</td>"
                f"<td>{n}</td><td>{tokens}</td><td>{chars}</td>") in report


def test_no_field_truncation_configured_leaves_the_manifest_as_before(tmp_path, dialogsum_template):
    recipe = write_recipe(tmp_path, {
        "name": "ds", "output": "out", "tokenizer": "ftdata:tiny-bpe", "max_length": 2048,
        "sources": [{"name": "dialogsum", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                     "templates": [{"file": str(dialogsum_template)}]}]})
    m = compile_recipe(recipe).manifest
    assert all("field_truncated" not in t for t in m["tokens"].values())
