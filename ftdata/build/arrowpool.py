"""Arrow's memory pool while a build runs: jemalloc, where pyarrow has it and nobody chose one.

Phase B copies every output byte several times in short-lived Arrow buffers (the work table
combined, each slice taken, the report's statistics), a few hundred megabytes on the plain
benchmark. Memory a process has not touched before costs a page fault per page on first
write, about 2 µs a 4 KiB page on the 2-core test machine (a 64 MiB copy into fresh memory ran at
1.6 GB/s, into memory already touched at 8.4 GB/s); so what matters is whether a freed buffer's
pages are reused by the next one. pyarrow's default pool on Linux wheels is mimalloc, which hands freed pages back to the
kernel at once; jemalloc keeps them for a while (its decay time), so the next slice reuses
them. Measured on the plain benchmark (50,000 DialogSum examples, 2 processes), phase B's
``write_splits`` took 0.89-1.16 s with mimalloc and 0.49-0.51 s with jemalloc as the default
pool during phase B (3 builds each).

The pool is the process-wide default (:func:`pyarrow.set_memory_pool`), set when the first
build starts and put back when the last one still running ends; worker processes forked during
the build inherit it. It only changes speed: every buffer is freed by the pool that made it. A
user who chose a pool (the ``ARROW_DEFAULT_MEMORY_POOL`` environment variable) keeps it, and so
does a pyarrow without jemalloc (Windows wheels).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import pyarrow as pa

_LOCK = threading.Lock()
_STATE = {"depth": 0, "previous": None}


def _wanted():
    """The pool a build sets, or None: the user chose one, or jemalloc is missing or already the default."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return None
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return None
    return None if pa.default_memory_pool().backend_name == pool.backend_name else pool


@contextmanager
def build_memory_pool():
    """jemalloc as Arrow's default pool for the duration (see the module docstring); nests and
    may be entered by several threads (the first in sets it, the last out restores the previous)."""
    with _LOCK:
        if _STATE["depth"] == 0:
            pool = _wanted()
            if pool is not None:
                _STATE["previous"] = pa.default_memory_pool()
                pa.set_memory_pool(pool)
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0 and _STATE["previous"] is not None:
                pa.set_memory_pool(_STATE["previous"])
                _STATE["previous"] = None
