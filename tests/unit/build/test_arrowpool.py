"""A build allocates Arrow memory from jemalloc (:mod:`ftdata.build.arrowpool`), and only while it runs."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

from ftdata.build.arrowpool import build_memory_pool
from ftdata.build.orchestrate import compile_recipe
from ftdata.testing import write_jsonl, write_native_templates, write_recipe


def _jemalloc() -> pa.MemoryPool:
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc pool (the build keeps the default)")


@pytest.fixture
def default_pool(monkeypatch):
    """The user chose no pool; the default is put back after the test whatever it does."""
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())  # a known default that is not jemalloc
    yield
    pa.set_memory_pool(before)


def test_a_build_allocates_from_jemalloc_and_puts_the_default_back(tmp_path, default_pool):
    _jemalloc()
    src = write_jsonl(tmp_path / "rows.jsonl", [{"id": str(i), "q": f"question {i}", "a": f"answer {i}"}
                                                for i in range(40)])
    write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": "{{q}}", "completion": "{{a}}"}])
    recipe = write_recipe(tmp_path, {"name": "pool", "output": "out", "tokenizer": "ftdata:tiny-bpe",
                                     "sources": [{"name": "s", "path": src.name, "key": "id",
                                                  "templates": [{"file": "t.yaml"}]}]})
    seen = []
    compile_recipe(recipe, progress=lambda prog: seen.append(pa.default_memory_pool().backend_name))
    assert seen and set(seen) == {"jemalloc"}
    assert pa.default_memory_pool().backend_name == "system"


def test_the_pool_is_put_back_when_the_last_of_nested_or_concurrent_builds_ends(default_pool):
    _jemalloc()
    inner_done, outer_may_leave = threading.Event(), threading.Event()
    names = {}

    def other():
        with build_memory_pool():
            names["other"] = pa.default_memory_pool().backend_name
            inner_done.set()
            outer_may_leave.wait(10)

    t = threading.Thread(target=other)
    try:
        with build_memory_pool():
            t.start()
            assert inner_done.wait(10)
            with build_memory_pool():
                pass
            names["after nested"] = pa.default_memory_pool().backend_name
        names["first left"] = pa.default_memory_pool().backend_name  # the other build still runs
    finally:
        outer_may_leave.set()
        if t.is_alive():
            t.join()
    assert names == {"other": "jemalloc", "after nested": "jemalloc", "first left": "jemalloc"}
    assert pa.default_memory_pool().backend_name == "system"


def test_a_pool_the_user_chose_is_kept(monkeypatch, default_pool):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    with build_memory_pool():
        assert pa.default_memory_pool().backend_name == "system"


def test_a_failed_build_puts_the_default_back(default_pool):
    _jemalloc()
    with pytest.raises(RuntimeError), build_memory_pool():
        raise RuntimeError("the build failed")
    assert pa.default_memory_pool().backend_name == "system"
