"""Crash safety and concurrency: SIGKILL never leaves a folder that looks complete but is not;
two builds of one output never mix.

Builds run in forked children of the test process (no interpreter start-up per run), on small
inputs, so many kills fit in a few seconds. Determinism across ``--num-proc`` values and
engines is left to the tests of those features (see tests/integration/test_verify.py for batch sizes).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path

import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.constants import COMPLETED
from ftdata.errors import FtdataError
from ftdata.inspect.verify import check_output

from .test_verify import small_recipe

CTX = mp.get_context("fork")


def _child_build(recipe: str, out: str, overwrite: bool, kill_after_rename: int, conn) -> None:
    """Run one build in a forked child; optionally SIGKILL itself after the n-th rename."""
    try:
        if kill_after_rename:
            import ftdata.write.outdir as outdir
            import ftdata.write.writer as writer

            real_rename, count = os.rename, [0]

            class _OS:  # the writer's view of ``os``, with a rename that dies on cue
                def __getattr__(self, name):
                    return getattr(os, name)

                @staticmethod
                def rename(a, b):
                    real_rename(a, b)
                    count[0] += 1
                    if count[0] == kill_after_rename:
                        os.kill(os.getpid(), signal.SIGKILL)

            writer.os = outdir.os = _OS()  # shard renames, then the folder's
        compile_recipe(recipe, output=out, overwrite=overwrite)
        conn.send(("ok", ""))
    except FtdataError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, not lost in the child
        conn.send(("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(0)


def _start(recipe, out, overwrite=True, kill_after_rename=0):
    parent, child = CTX.Pipe(duplex=False)
    p = CTX.Process(target=_child_build, args=(str(recipe), str(out), overwrite, kill_after_rename, child))
    p.start()
    child.close()
    return p, parent


def _outcome(p, conn) -> tuple[str, str]:
    p.join(60)
    try:
        return conn.recv() if conn.poll() else ("killed", "")
    except EOFError:
        return ("killed", "")


def _check_left_behind(folder: Path, out: Path) -> str:
    """Every folder a build may have left either verifies or is not marked complete."""
    candidates = [out] + [p for p in folder.iterdir() if p.name.startswith(f".{out.name}.")]
    state = "absent"
    for d in candidates:
        if not d.is_dir():
            continue
        if (d / COMPLETED).exists():
            rep = check_output(d)
            assert rep.ok, (d, rep.problems)
            if d == out:
                state = "complete"
        elif d == out:
            state = "incomplete"
    return state


def _warm_up(recipe, out) -> None:
    """Build once in this process so forked children inherit every lazy import (seconds each)."""
    compile_recipe(recipe, output=out, overwrite=True)


def _rename_count(recipe, out) -> int:
    """How many renames one uninterrupted build makes (shards, then the folder)."""
    import ftdata.write.outdir as outdir
    import ftdata.write.writer as writer

    real, n = os.rename, [0]

    class _OS:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def rename(a, b):
            n[0] += 1
            real(a, b)

    writer.os = outdir.os = _OS()  # shard renames, then the folder's
    try:
        compile_recipe(recipe, output=out, overwrite=True)
    finally:
        writer.os = outdir.os = os
    return n[0]


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_complete_looking_partial(tmp_path, word_tokenizer):
    rng = random.Random(20261122)
    a = small_recipe(tmp_path, word_tokenizer, n=300, shard_size=40, tag="a")
    b = small_recipe(tmp_path, word_tokenizer, n=200, shard_size=40, tag="b")
    out = tmp_path / "out"
    _warm_up(a, tmp_path / "warm")
    t0 = time.perf_counter()
    p, conn = _start(a, out)
    assert _outcome(p, conn)[0] == "ok"
    duration = time.perf_counter() - t0
    outcomes = {"complete": 0, "incomplete": 0, "absent": 0}
    killed = 0
    # random moments: anywhere from fork to a little past the usual end of a build,
    # alternating two recipes so a mixed folder would show up as a failed verification
    runs = 0
    while killed < 20 and runs < 40:  # until 20 kills have interrupted a build (a few finish first)
        p, conn = _start(a if runs % 2 else b, out)
        runs += 1
        time.sleep(rng.uniform(0.0, duration * 1.1))
        os.kill(p.pid, signal.SIGKILL)
        kind, msg = _outcome(p, conn)
        assert kind in ("ok", "killed"), msg
        killed += kind == "killed"
        outcomes[_check_left_behind(tmp_path, out)] += 1
    assert killed == 20
    # every rename of the commit sequence, killed right after it (deterministic coverage of the
    # moments between "shards written", "folder moved into place" and "COMPLETED written")
    renames = _rename_count(a, tmp_path / "probe")
    assert renames >= 3
    for k in range(1, renames + 1):
        p, conn = _start(b if k % 2 else a, out, kill_after_rename=k)
        assert _outcome(p, conn)[0] == "killed"
        outcomes[_check_left_behind(tmp_path, out)] += 1
    killed += renames
    # "complete" after a kill is the previous build's output, still intact (it verified above)
    print(f"SIGKILL: {runs + renames} runs ({duration:.2f} s per build), {killed} killed before finishing; "
          f"target afterwards: {outcomes}")
    assert outcomes["incomplete"] + outcomes["absent"] > 0
    # a folder left incomplete is refused by readers and replaced by the next build
    p, conn = _start(a, out, overwrite=False)
    assert _outcome(p, conn)[0] in ("ok", "error")
    p, conn = _start(a, out, overwrite=True)
    assert _outcome(p, conn) == ("ok", "")
    assert check_output(out).ok
    assert not [d for d in tmp_path.iterdir() if d.name.startswith(".out.tmp") or d.name.startswith(".out.old")]


def test_two_builds_of_one_output_one_wins(tmp_path, word_tokenizer):
    a = small_recipe(tmp_path, word_tokenizer, n=400, tag="a")
    b = small_recipe(tmp_path, word_tokenizer, n=400, tag="b")
    out = tmp_path / "out"
    _warm_up(a, tmp_path / "warm")
    results = {}
    for _attempt in range(3):  # a loaded machine may let one build finish before the other starts
        pa_, ca = _start(a, out, overwrite=True)
        pb_, cb = _start(b, out, overwrite=True)
        results = {"a": _outcome(pa_, ca), "b": _outcome(pb_, cb)}
        if sorted(k for k, _ in results.values()) == ["error", "ok"]:
            break
    kinds = sorted(k for k, _ in results.values())
    assert kinds == ["error", "ok"], results
    winner = next(n for n, (k, _) in results.items() if k == "ok")
    loser_msg = next(m for k, m in results.values() if k == "error")
    assert "another build is writing" in loser_msg and str(out) in loser_msg
    assert check_output(out).ok
    from ftdata.inspect.load import read_manifest

    m = read_manifest(out, verify="full")
    assert list(m["hashes"]["sources"]) == ["s"]
    rows = (tmp_path / f"rows{winner}.jsonl")
    from ftdata.read.sources import file_hash

    assert m["hashes"]["sources"]["s"] == file_hash(rows)  # the winner's data, nothing of the other
