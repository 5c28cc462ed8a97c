"""A chat build gives the same files whether its masks come from the vectorised chat path
(:mod:`ftdata.tokenize.spans_fast`) or from the reference path (``encode_spans``, forced here):
real multi-turn conversations, every assistant turn trained, with rows that are cut by the
overflow policy, rows with special-token strings in their data (their chunk takes the
reference path either way) and rows the chat engine rejects."""

from __future__ import annotations

import hashlib
import json

import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.testing import write_jsonl, write_recipe
from ftdata.testing_chat import dialogsum_conversations, named_tokenizer
from ftdata.tokenize import spans_fast

from tests.conftest import shared


def _files(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in ("build_info.json", "report.html")}


def _rows() -> list[dict]:
    convos = dialogsum_conversations(shared("dialogsum", "dialogsum.dev.jsonl"), 120, system="Answer as Person2.")
    rows = [{"id": f"c{i}", "messages": m} for i, m in enumerate(convos)]
    rows[3]["messages"][1]["content"] += " <|im_end|> typed by a user"  # a special in data: text
    rows[5]["messages"][-1]["content"] = "caf\u00e9 \U0001f600 na\u00efve"  # non-ASCII, an emoji split into bytes
    rows[7]["messages"] = [{"role": "user", "content": "hello"}]  # nothing to train: rejected
    return rows


@pytest.mark.parametrize("train_on,overflow,max_length", [("all", "drop", 400), ("last", "truncate_prompt", 120)])
def test_vectorised_and_reference_chat_builds_are_identical(tmp_path, monkeypatch, train_on, overflow, max_length):
    named_tokenizer(tmp_path / "tok", "chatml")
    write_jsonl(tmp_path / "rows.jsonl", _rows())
    recipe = {"name": "chat", "output": "out", "tokenizer": str(tmp_path / "tok"), "max_length": max_length,
              "overflow": overflow, "batch_size": 40, "max_reject_share": 1.0, "split": {"ratios": {"train": 1.0}},
              "sources": [{"name": "c", "path": "rows.jsonl", "key": "id", "templates": []}],
              "chat": {"messages_column": "messages", "train_on": train_on}}
    path = write_recipe(tmp_path, recipe)
    fast = compile_recipe(path, output=tmp_path / "fast")
    calls = []
    monkeypatch.setattr(spans_fast, "_spans_fast", lambda *a, **k: calls.append(1))  # None: the reference path
    ref = compile_recipe(path, output=tmp_path / "ref")
    assert calls  # the reference path ran
    assert _files(fast.output) == _files(ref.output)
    m = json.loads((fast.output / "manifest.json").read_text())
    assert m["counts"]["rejects_by_code"]["too_long"] > 0 and m["counts"]["splits"]["train"]["examples"] > 80
    assert m["audit"]["totals"]["special_tokens_in_data"] == 1
    if overflow == "truncate_prompt":
        assert m["tokens"]["train"]["truncated"] > 0
