"""One process's chunk threads tokenize single-threaded where they fill the cores, as worker processes do."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ftdata.build.engines import local
from ftdata.build.orchestrate import compile_recipe
from ftdata.testing import write_jsonl, write_native_templates, write_recipe


@pytest.fixture
def no_setting(monkeypatch):
    """No TOKENIZERS_PARALLELISM before the test, and none left after it (nor a count held)."""
    had = os.environ.pop("TOKENIZERS_PARALLELISM", None)
    yield
    held = local.SERIAL_TOKENIZERS._depth
    local.SERIAL_TOKENIZERS._depth, local.SERIAL_TOKENIZERS._undo = 0, None
    os.environ.pop("TOKENIZERS_PARALLELISM", None)
    if had is not None:
        os.environ["TOKENIZERS_PARALLELISM"] = had
    assert held == 0, "an engine was left open"


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
                   progress=lambda prog: seen.add(os.environ.get("TOKENIZERS_PARALLELISM"))
                   if prog.stage == "phase A" and prog.rows else None)
    return seen


@pytest.mark.parametrize(("n_cores", "expected"), [(2, {"false"}), (1, {"false"}), (16, {None})])
def test_chunk_threads_tokenize_single_threaded_only_where_they_fill_the_cores(tmp_path, monkeypatch, no_setting,
                                                                               n_cores, expected):
    monkeypatch.setattr(local, "cores", lambda: n_cores)
    assert local.tokenizer_threads(local.THREADS) == (n_cores > local.THREADS)
    assert _seen_during_build(tmp_path, 1) == expected
    assert "TOKENIZERS_PARALLELISM" not in os.environ  # removed once the build is done


def test_a_value_the_user_set_is_kept(tmp_path, monkeypatch, no_setting):
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    monkeypatch.setattr(local, "cores", lambda: 2)
    assert _seen_during_build(tmp_path, 1) == {"true"}
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_nested_engines_put_the_setting_back_when_the_last_closes(monkeypatch, no_setting):
    monkeypatch.setattr(local, "cores", lambda: 2)
    a, b = local.LocalEngine(1), local.LocalEngine(1)
    try:
        a._executor()
        b._executor()
        a.close()
        a.close()  # closing twice leaves the count alone
        assert os.environ.get("TOKENIZERS_PARALLELISM") == "false"  # b still runs
    finally:
        a.close()
        b.close()
    assert "TOKENIZERS_PARALLELISM" not in os.environ


def test_an_interrupted_engine_removes_the_setting_only_once_its_threads_end(monkeypatch, no_setting):
    monkeypatch.setattr(local, "cores", lambda: 2)
    eng = local.LocalEngine(1)
    release = threading.Event()
    try:
        busy = eng._executor().submit(release.wait, 10)  # a chunk still running when the build fails
        eng.close(wait=False)
        assert os.environ.get("TOKENIZERS_PARALLELISM") == "false"
    finally:
        release.set()
    busy.result(10)
    for _ in range(200):  # the setting goes once the thread has ended, on a thread of its own
        if "TOKENIZERS_PARALLELISM" not in os.environ:
            break
        time.sleep(0.01)
    assert "TOKENIZERS_PARALLELISM" not in os.environ
    assert local.SERIAL_TOKENIZERS._depth == 0


def test_cores_are_those_this_process_may_use():
    if hasattr(os, "sched_getaffinity"):
        assert local.cores() == len(os.sched_getaffinity(0))
    assert local.cores() >= 1


def test_a_value_set_while_the_engine_ran_is_kept(monkeypatch, no_setting):
    monkeypatch.setattr(local, "cores", lambda: 2)
    eng = local.LocalEngine(1)
    try:
        eng._executor()
        assert os.environ.get("TOKENIZERS_PARALLELISM") == "false"
        os.environ["TOKENIZERS_PARALLELISM"] = "true"  # the program changed its mind meanwhile
    finally:
        eng.close()
    assert os.environ.get("TOKENIZERS_PARALLELISM") == "true"


def test_the_import_thread_ends_before_the_engine_closes(tmp_path, monkeypatch, no_setting):
    """The engine's close changes the environment; the build's import thread (C code reading it)
    must be done by then."""
    from ftdata.build import phase_a

    real = phase_a._import_for_finalize

    def slow_import():
        time.sleep(0.5)
        real()

    monkeypatch.setattr(phase_a, "_import_for_finalize", slow_import)
    monkeypatch.setattr(local, "cores", lambda: 2)
    alive_at_close = []
    close = local.LocalEngine.close

    def recording_close(self, wait=True):
        alive_at_close.append(any(t.name == "ftdata-import" and t.is_alive() for t in threading.enumerate()))
        close(self, wait)

    monkeypatch.setattr(local.LocalEngine, "close", recording_close)
    _seen_during_build(tmp_path, 1)
    assert alive_at_close and not any(alive_at_close)


@pytest.mark.parametrize(("user", "expected"), [(None, "false"), ("true", "true")])
def test_worker_processes_follow_the_same_rule(no_setting, user, expected):
    """A worker process that fills the cores tokenizes single-threaded, and keeps a value the user
    set, as the thread engine does (one rule: :func:`local._serial_tokenizers`)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    if user is not None:
        os.environ["TOKENIZERS_PARALLELISM"] = user
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork"), initializer=local._worker_init,
                             initargs=(False, os.getpid())) as pool:
        seen = pool.submit(os.getenv, "TOKENIZERS_PARALLELISM").result(30)
    assert seen == expected
    assert os.environ.get("TOKENIZERS_PARALLELISM") == user  # the build process's own is untouched


def _gc_state() -> tuple:
    import gc

    return gc.get_threshold(), gc.get_freeze_count() > 0


@pytest.mark.parametrize("parent", [None, 0, 50_000])
def test_worker_processes_collect_garbage_less_often(parent):
    """A worker freezes what it inherits and collects its youngest generation every
    ``WORKER_GC_THRESHOLD`` allocations, unless the build process turned collection off (0) or
    set it higher: those stay. The build process's own setting is untouched."""
    import gc
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    before = gc.get_threshold()
    if parent is not None:
        gc.set_threshold(parent, *before[1:])
    try:
        with ProcessPoolExecutor(1, mp_context=mp.get_context("fork"), initializer=local._worker_init,
                                 initargs=(False, os.getpid())) as pool:
            threshold, frozen = pool.submit(_gc_state).result(30)
        mine = gc.get_threshold()
    finally:
        gc.set_threshold(*before)
    young = local.WORKER_GC_THRESHOLD if parent is None else parent
    assert threshold == (young, *before[1:]) and frozen
    assert mine == (before[0] if parent is None else parent, *before[1:])
