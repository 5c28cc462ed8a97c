"""How a build ends when it does not finish: killed, interrupted, offline, or missing an extra.

Each test runs ``python -m ftdata`` in a subprocess (the way a user meets these endings) on a
few hundred real DialogSum rows, and acts on it mid-phase-A, while its worker processes run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import shared, write_native_templates, write_recipe


def _dialogsum_recipe(tmp_path: Path) -> Path:
    """500 DialogSum rows in 50 chunks of two templates: phase A lasts a while on 2 workers."""
    tpl = write_native_templates(tmp_path / "t.yaml", [
        {"name": "sum", "prompt": "Summarize:\n{{ dialogue }}\nSummary:", "completion": "{{ summary }}"},
        {"name": "topic", "prompt": "{{ dialogue }}\nTopic:", "completion": "{{ topic }}"}])
    return write_recipe(tmp_path, {
        "name": "ds", "output": "out", "max_length": 2048, "batch_size": 10, "split": {"ratios": {"train": 1.0}},
        "sources": [{"name": "d", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                     "templates": [{"file": str(tpl)}]}]})


def _ftdata(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ftdata", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st and st[1] == str(pid) and st[0] != "Z":
                kids.append(int(d))
    return kids


def _stat(pid: int) -> list[str] | None:
    """``[state, ppid, ...]`` from /proc/<pid>/stat, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"  # a zombie has exited; only its reaping is left


def _workers_started(p: subprocess.Popen, n: int, timeout: float = 60) -> list[int]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        kids = _children(p.pid)
        if len(kids) >= n:
            return kids
        if p.poll() is not None:
            break
        time.sleep(0.02)
    out, err = p.communicate()
    raise AssertionError(f"no {n} workers appeared (exit {p.returncode}): {err[-2000:]}")


def test_workers_exit_when_a_num_proc_build_is_killed(tmp_path):
    recipe = _dialogsum_recipe(tmp_path)
    p = _ftdata("build", str(recipe), "-q", "--no-cache", "--num-proc", "2", cwd=tmp_path)
    workers = _workers_started(p, 2)
    try:
        assert all(_alive(w) for w in workers) and p.poll() is None  # mid-phase-A
        p.kill()
        p.wait()
        t0 = time.monotonic()
        while any(_alive(w) for w in workers) and time.monotonic() - t0 < 3:
            time.sleep(0.02)
        left = [w for w in workers if _alive(w)]
        assert not left, f"workers {left} outlived the killed build by {time.monotonic() - t0:.1f} s"
    finally:
        for w in workers:  # a failing run must not leave its orphans on the machine
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_parent_watch_ends_a_process_whose_parent_died():
    """The fallback where the kernel cannot signal a parent's death (not Linux): a process
    running :func:`~ftdata.engines.local.watch_parent` exits once its parent is killed."""
    middle = subprocess.Popen([sys.executable, "-c", (
        "import os, sys, time, threading\n"
        "from ftdata.engines.local import watch_parent\n"
        "parent = os.getpid()\n"
        "if os.fork() == 0:\n"
        "    threading.Thread(target=watch_parent, args=(parent, 0.05), daemon=True).start()\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(60)\n")])
    child = None
    try:
        t0 = time.monotonic()
        while not (kids := _children(middle.pid)) and time.monotonic() - t0 < 30:
            time.sleep(0.02)
        child = kids[0]
        time.sleep(0.2)
        assert _alive(child)  # its parent lives: it waits
        middle.kill()
        middle.wait()
        t0 = time.monotonic()
        while _alive(child) and time.monotonic() - t0 < 2:
            time.sleep(0.02)
        assert not _alive(child), "the watched process outlived its parent by 2 s"
    finally:
        middle.kill()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)
