"""Replacing an output: only ftdata's own folders, never losing the previous good build.

* ``--overwrite`` replaces only a folder an earlier build wrote (its manifest says so); an
  ordinary folder, or a file, at the output path is refused and left as it was.
* The commit is killed (SIGKILL) after each of its filesystem operations, and in the middle of
  each folder deletion: afterwards the output is a complete build that verifies (the old one
  or the new one), or ``ftdata verify`` and the next build put the old one back -- also when
  that next build is itself killed after each step of its repair.
* A full disk (a file-size limit, ``RLIMIT_FSIZE``) ends the build with ``error: ...``,
  leaves nothing half-written, and keeps the previous build.

Builds that are killed run in forked children of the test process (no interpreter start-up
per run); the fault injection replaces the ``os`` and ``shutil`` that the output-folder module
(``ftdata.write.outdir``) sees.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.cli.app import main
from ftdata.constants import COMPLETED, MANIFEST
from ftdata.errors import FtdataError
from ftdata.inspect.verify import check_output
from ftdata.read.sources import file_hash
from ftdata.write.report import write_report  # noqa: F401 - loaded, so the test can stub it

from .test_verify import small_recipe
from tests.conftest import ROOT, shared, write_native_templates, write_recipe

CTX = mp.get_context("fork")


# -- item 4: --overwrite replaces only ftdata's own folders ------------------------------------

def _listing(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_refuses_a_folder_ftdata_did_not_write(tmp_path, word_tokenizer):
    recipe = small_recipe(tmp_path, word_tokenizer)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")
    res = CliRunner().invoke(main, ["build", str(recipe), "-o", str(mine), "--overwrite", "-q"])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error:") and str(mine) in res.output and "not an ftdata output" in res.output
    assert "--overwrite" not in res.output.split("not an ftdata output")[1]  # no advice to do what was refused
    assert _listing(mine) == {"notes.txt": b"my notes\n"}
    # without --overwrite the message does not send the user to --overwrite either
    res = CliRunner().invoke(main, ["build", str(recipe), "-o", str(mine), "-q"])
    assert res.exit_code == 2 and "not an ftdata output" in res.output and "pass --overwrite" not in res.output
    # a manifest.json that is not ftdata's (a web app's) does not make the folder an ftdata output
    (mine / MANIFEST).write_text('{"name": "my app", "start_url": "/"}\n')
    with pytest.raises(FtdataError, match="not an ftdata output"):
        compile_recipe(recipe, output=mine, overwrite=True)
    assert sorted(_listing(mine)) == [MANIFEST, "notes.txt"]
    # a file at the output path
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me\n")
    with pytest.raises(FtdataError, match="not an ftdata output"):
        compile_recipe(recipe, output=a_file, overwrite=True)
    assert a_file.read_text() == "keep me\n"
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_overwrite_still_replaces_ftdata_outputs(tmp_path, word_tokenizer):
    a = small_recipe(tmp_path, word_tokenizer, tag="a")
    b = small_recipe(tmp_path, word_tokenizer, n=70, tag="b")
    out = tmp_path / "out"
    compile_recipe(a, output=out)
    (out / "stray.txt").write_text("x")  # a file added to an ftdata output goes with it
    compile_recipe(b, output=out, overwrite=True)
    assert _source_hash(out) == file_hash(tmp_path / "rowsb.jsonl") and not (out / "stray.txt").exists()
    # a stale output (no COMPLETED) is replaced even without --overwrite, as before
    (out / COMPLETED).unlink()
    compile_recipe(a, output=out)
    assert check_output(out).ok and _source_hash(out) == file_hash(tmp_path / "rowsa.jsonl")
    # an empty folder holds nothing to lose
    empty = tmp_path / "empty"
    empty.mkdir()
    compile_recipe(a, output=empty, overwrite=True)
    assert check_output(empty).ok


# -- item 5: the commit, killed after each filesystem step ---------------------------------------

def _source_hash(out: Path) -> str:
    return json.loads((out / MANIFEST).read_text())["hashes"]["sources"]["s"]


class _Killer:
    """The writer's view of ``os`` and ``shutil``: counts filesystem steps while the output folder
    is being set up (the repair of a killed build) or committed, and SIGKILLs the process after
    step ``kill_at`` -- or, for a folder deletion, also half-way through it (one file deleted,
    the rest, ``COMPLETED`` included, still there)."""

    STEPS = {"rename", "replace", "unlink", "remove", "rmdir", "fsync", "open", "write", "close", "mkdir"}

    def __init__(self, kill_at: int):
        self.kill_at = kill_at
        self.count = 0
        self.active = False
        self.trail: list[str] = []

    def _step(self, what: str) -> None:
        if not self.active:
            return
        self.count += 1
        self.trail.append(what)
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def os_proxy(self):
        killer = self

        class _OS:
            def __getattr__(self, name):
                real = getattr(os, name)
                if name not in _Killer.STEPS or not callable(real):
                    return real

                def step(*a, **kw):
                    r = real(*a, **kw)
                    killer._step(f"os.{name}")
                    return r

                return step

        return _OS()

    def shutil_proxy(self):
        killer = self

        class _Shutil:
            def __getattr__(self, name):
                return getattr(shutil, name)

            @staticmethod
            def rmtree(path, *a, **kw):
                files = [p for p in sorted(Path(path).rglob("*.arrow")) if p.is_file()] if Path(path).is_dir() else []
                if files:
                    files[0].unlink()  # a deletion cut short: one shard gone, the rest still there
                killer._step("shutil.rmtree (half-way)")
                r = shutil.rmtree(path, *a, **kw)
                killer._step("shutil.rmtree")
                return r

        return _Shutil()


def _child(recipe: str, out: str, overwrite: bool, kill_at: int, conn) -> None:
    try:
        import ftdata.write.outdir as outdir

        killer = _Killer(kill_at)
        outdir.os, outdir.shutil = killer.os_proxy(), killer.shutil_proxy()
        cls = outdir.OutputDir
        for name in ("__init__", "commit"):  # only the steps of setting up and committing count
            real = getattr(cls, name)

            def counted(self, *a, _real=real, **kw):
                killer.active = True
                try:
                    return _real(self, *a, **kw)
                finally:
                    killer.active = False

            setattr(cls, name, counted)
        try:
            compile_recipe(recipe, output=out, overwrite=overwrite)
            conn.send(("ok", "", killer.trail))
        except FtdataError as exc:
            conn.send(("error", str(exc), killer.trail))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, not lost in the child
        conn.send(("crash", f"{type(exc).__name__}: {exc}", []))
    finally:
        os._exit(0)


def _run(recipe, out, overwrite=True, kill_at=0) -> tuple[str, str, list]:
    parent, child = CTX.Pipe(duplex=False)
    p = CTX.Process(target=_child, args=(str(recipe), str(out), overwrite, kill_at, child))
    p.start()
    child.close()
    p.join(120)
    try:
        return parent.recv() if parent.poll() else ("killed", "", [])
    except EOFError:
        return ("killed", "", [])


def _no_partial_looks_complete(folder: Path, out: Path) -> None:
    """Every folder of this output, hidden ones included, that holds COMPLETED verifies."""
    for d in [out] + [p for p in folder.iterdir() if p.name.startswith(f".{out.name}.")]:
        if d.is_dir() and (d / COMPLETED).exists():
            rep = check_output(d)
            assert rep.ok, (d.name, rep.problems)


def _hidden_dirs(out: Path) -> list[Path]:
    """The hidden folders of builds of ``out``: being written (``.tmp-``) or set aside (``.old-``)."""
    return sorted(p for p in out.parent.iterdir() if p.is_dir()
                  and (p.name.startswith(f".{out.name}.tmp-") or p.name.startswith(f".{out.name}.old-")))


def _save(out: Path, dest: Path) -> None:
    """Copy the output and every hidden folder of it into ``dest`` (a state to come back to)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir()
    for p in [out] + _hidden_dirs(out):
        if p.exists():
            shutil.copytree(p, dest / p.name)


def _put_back(state: Path, out: Path) -> None:
    """Make the output and its hidden folders what :func:`_save` saw."""
    for p in [out] + _hidden_dirs(out):
        if p.exists():
            shutil.rmtree(p)
    for p in state.iterdir():
        shutil.copytree(p, out.parent / p.name)


def _shape(out: Path) -> tuple:
    """What a kill left, in kinds: the target complete or not, the hidden folders with or without COMPLETED."""
    return ((out / COMPLETED).exists(), out.exists(),
            tuple(sorted((p.name.split("-")[0], (p / COMPLETED).exists()) for p in _hidden_dirs(out))))


def _stub_report(folder, manifest, *args, **kwargs) -> None:
    (folder / "report.html").write_text("<p>plots are not what this test is about</p>")


@pytest.mark.slow
def test_the_previous_build_survives_a_kill_after_every_step_of_the_commit(tmp_path, word_tokenizer, monkeypatch):
    monkeypatch.setattr(sys.modules["ftdata.write.report"], "write_report", _stub_report)  # 85% of a small build; children inherit it
    a = small_recipe(tmp_path, word_tokenizer, n=24, shard_size=64, tag="a")
    b = small_recipe(tmp_path, word_tokenizer, n=20, shard_size=64, tag="b")
    old, new = file_hash(tmp_path / "rowsa.jsonl"), file_hash(tmp_path / "rowsb.jsonl")
    out = tmp_path / "out"
    compile_recipe(a, output=out)  # also imports everything before forking
    clean, killed = tmp_path / "state-clean", tmp_path / "state-killed"
    _save(out, clean)
    kind, msg, trail = _run(b, out)  # an uninterrupted replacement: how many steps it takes
    assert kind == "ok", msg
    assert _source_hash(out) == new and len(trail) >= 3, trail
    seen = {"old kept": 0, "new in place": 0, "restored by verify": 0, "restored by the next build": 0,
            "kills while repairing": 0}
    shapes = set()
    for k in range(1, len(trail) + 1):
        where = f"killed after step {k} ({trail[k - 1]})"
        _put_back(clean, out)
        assert _run(b, out, kill_at=k)[0] == "killed", where
        _no_partial_looks_complete(tmp_path, out)
        absent = not (out / COMPLETED).exists()
        if absent:  # the old build is aside: `ftdata verify` and the next build put it back
            left = old
        else:
            assert check_output(out).ok, where
            left = _source_hash(out)
            seen["old kept" if left == old else "new in place"] += 1
        _save(out, killed)
        res = CliRunner().invoke(main, ["verify", str(out)])
        assert res.exit_code == 0, (where, res.output)
        assert _source_hash(out) == left, where
        seen["restored by verify"] += absent and "restored" in res.output
        # the same state, then the next build: killed after each step of its repair (once per
        # kind of state), then run to the end, where it refuses to overwrite without --overwrite
        first_of_its_shape = _shape(out) not in shapes
        shapes.add(_shape(out))
        for j in range(1, 20) if first_of_its_shape else [0]:
            _put_back(killed, out)
            kind, msg, _ = _run(a, out, overwrite=False, kill_at=j)
            _no_partial_looks_complete(tmp_path, out)
            if kind == "killed":  # killed while repairing: verify still finds a good build
                seen["kills while repairing"] += 1
                res = CliRunner().invoke(main, ["verify", str(out)])
                assert res.exit_code == 0 and _source_hash(out) == left, (where, j, res.output)
                continue
            assert kind == "error" and "already exists" in msg, (where, j, kind, msg)
            assert check_output(out).ok and _source_hash(out) == left, (where, j)
            seen["restored by the next build"] += absent
            break
        else:
            pytest.fail(f"{where}: the next build's repair never ended")
    print(f"commit of {len(trail)} steps: {' / '.join(trail)}; after a kill at each: {seen}")
    assert seen["old kept"] and seen["new in place"] and seen["restored by verify"]
    assert seen["restored by the next build"] and seen["kills while repairing"]
    # and the next build with --overwrite leaves the new build and nothing else
    kind, msg, _ = _run(b, out)
    assert kind == "ok" and _source_hash(out) == new and check_output(out).ok, msg
    assert not _hidden_dirs(out)


def test_an_unchanged_rebuild_puts_the_previous_build_back_and_keeps_it(tmp_path, word_tokenizer):
    # the state a kill between the commit's two renames leaves: no target, the old build aside
    recipe = small_recipe(tmp_path, word_tokenizer)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["build", str(recipe), "-q"])
    assert res.exit_code == 0, res.output
    before = _listing(out)
    os.rename(out, tmp_path / ".out.old-0123456789ab")
    res = CliRunner().invoke(main, ["build", str(recipe), "--overwrite", "-q"])
    assert res.exit_code == 0 and res.output.startswith("up to date:"), res.output
    assert _listing(out) == before and not _hidden_dirs(out)


# -- item 8: a full disk --------------------------------------------------------------------------

def _dialogsum_recipe(folder: Path, shard_size: int, batch_size: int, rows: int = 500) -> Path:
    lines = shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "dialogsum.jsonl").write_text("".join(lines[:rows]), encoding="utf-8")
    tpl = write_native_templates(folder / "dialogsum.yaml", [{
        "name": "summarize", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
        "completion": "{{summary}}"}])
    return write_recipe(folder, {
        "name": "dialogsum", "output": "out", "seed": 7, "tokenizer": "ftdata:tiny-bpe", "max_length": 2048,
        "shard_size": shard_size, "batch_size": batch_size,
        "sources": [{"name": "dialogsum", "path": "dialogsum.jsonl", "key": "fname",
                     "templates": [{"file": str(tpl)}]}]})


def _ftdata(args: list[str], fsize: int | None = None) -> subprocess.CompletedProcess:
    def limit():  # in the child only: files may not grow past ``fsize`` bytes (ulimit -f)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "ftdata", *args], capture_output=True, text=True, env=env,
                          preexec_fn=limit if fsize else None, timeout=300)


@pytest.mark.parametrize("where", ["chunk files", "shards"])
def test_a_file_size_limit_ends_in_an_error_and_keeps_the_previous_build(tmp_path, where):
    # small chunks and big shards, so a limit between their sizes is hit only in phase B (a shard or
    # its spill file), and a limit below the chunk size in phase A (the chunk cache)
    recipe = _dialogsum_recipe(tmp_path, shard_size=150, batch_size=10, rows=200)
    out = compile_recipe(recipe, cache=True).output  # as `ftdata build` does: chunks in .out.cache
    before = _listing(out)
    shards = [len(v) for k, v in before.items() if k.endswith(".arrow")]
    others = [len(v) for k, v in before.items() if not k.endswith(".arrow")]
    chunks = [p.stat().st_size for p in (tmp_path / ".out.cache").rglob("*.arrow")]
    assert chunks and max(shards) > max(chunks + others), (shards, chunks, others)
    fsize = (max(chunks + others) + max(shards)) // 2 if where == "shards" else max(chunks) // 2
    res = _ftdata(["build", str(recipe), "--overwrite", "--force"], fsize=fsize)
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    err = res.stderr.strip().splitlines()
    assert err and err[-1].startswith("error:") and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert "Exception ignored" not in res.stderr, res.stderr[-3000:]
    msg = err[-1]
    assert "file-size limit" in msg and f"{fsize:,} bytes" in msg and str(out) in msg, msg
    # the previous build, byte for byte; nothing of the failed one beside it or in the cache
    assert _listing(out) == before and check_output(out).ok
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert not [p for p in (tmp_path / ".out.cache").rglob("*") if p.name.endswith(".tmp")]


def test_a_full_disk_ends_in_an_error_that_says_how_much_room_and_keeps_the_previous_build(
        tmp_path, word_tokenizer, monkeypatch):
    # a real full disk needs a small file system (a tmpfs mount), which a test cannot count on;
    # the shard writer's second write fails as a full disk's would (ENOSPC)
    import errno

    import ftdata.write.writer as writer

    recipe = small_recipe(tmp_path, word_tokenizer, shard_size=8)
    out = compile_recipe(recipe).output
    before = _listing(out)
    real, calls = writer.SplitWriter.write, [0]

    def write(self, table):
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, table)

    monkeypatch.setattr(writer.SplitWriter, "write", write)
    with pytest.raises(FtdataError) as info:
        compile_recipe(recipe, overwrite=True)
    msg = str(info.value)
    assert msg.startswith(f"no room left to write the build of {out} ([Errno {errno.ENOSPC}]"), msg
    assert "were free on the file system" in msg and "when the build started" in msg, msg
    assert f"the previous build, {sum(map(len, before.values())):,} bytes" in msg, msg
    assert f"The previous build at {out} is unchanged" in msg, msg
    assert _listing(out) == before and check_output(out).ok and not _hidden_dirs(out)
