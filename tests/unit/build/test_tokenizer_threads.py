"""One process's chunk threads tokenize single-threaded where they fill the cores, as worker processes do."""

from __future__ import annotations

import os

import pytest

from ftdata.build.engines import local
from ftdata.build.orchestrate import compile_recipe
from ftdata.testing import write_jsonl, write_native_templates, write_recipe


def _recipe(folder):
    src = write_jsonl(folder / "rows.jsonl", [{"id": str(i), "q": f"question {i}", "a": f"answer {i}"}
                                              for i in range(60)])
    write_native_templates(folder / "t.yaml", [{"name": "qa", "prompt": "{{q}}", "completion": "{{a}}"}])
    return write_recipe(folder, {"name": "threads", "output": "out", "tokenizer": "ftdata:tiny-bpe", "batch_size": 8,
                                 "sources": [{"name": "s", "path": src.name, "key": "id",
                                              "templates": [{"file": "t.yaml"}]}]})


def _seen_during_build(folder, num_proc: int) -> set:
    seen = set()
    compile_recipe(_recipe(folder), num_proc=num_proc, overwrite=True,
                   progress=lambda prog: seen.add(os.environ.get("TOKENIZERS_PARALLELISM")) if prog.stage == "phase A" and prog.rows else None)
    return seen


@pytest.mark.parametrize(("cores", "expected"), [(2, {"false"}), (1, {"false"}), (16, {None})])
def test_chunk_threads_tokenize_single_threaded_only_where_they_fill_the_cores(tmp_path, monkeypatch, cores, expected):
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    monkeypatch.setattr(local.os, "cpu_count", lambda: cores)
    assert local.tokenizer_threads(local.THREADS) == (cores > local.THREADS)
    assert _seen_during_build(tmp_path, 1) == expected
    assert "TOKENIZERS_PARALLELISM" not in os.environ  # put back once the build is done


def test_a_value_the_user_set_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    monkeypatch.setattr(local.os, "cpu_count", lambda: 2)
    assert _seen_during_build(tmp_path, 1) == {"true"}
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_nested_engines_put_the_setting_back_when_the_last_closes(monkeypatch):
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    monkeypatch.setattr(local.os, "cpu_count", lambda: 2)
    a, b = local.LocalEngine(1), local.LocalEngine(1)
    a._executor()
    b._executor()
    a.close()
    assert os.environ.get("TOKENIZERS_PARALLELISM") == "false"  # b still runs
    b.close()
    assert "TOKENIZERS_PARALLELISM" not in os.environ
