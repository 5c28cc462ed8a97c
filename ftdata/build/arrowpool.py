"""Arrow's memory pool while a build runs: jemalloc, where pyarrow has it and nobody chose one.

Phase B copies every output byte several times in short-lived Arrow buffers (the work table
combined, each slice taken, the report's statistics), a few hundred megabytes on the plain
benchmark. Memory a process has not touched before costs a page fault per page on first
write, about 2 µs a 4 KiB page on the 2-core test machine (a 64 MiB copy into fresh memory ran at
1.6 GB/s, into memory already touched at 8.4 GB/s); so what matters is whether a freed buffer's
pages are reused by the next one. pyarrow's default pool on Linux wheels is mimalloc, which
returns freed pages to the kernel soon after; jemalloc keeps them for its decay time, so the next
slice reuses them. Measured on the plain benchmark (50,000 DialogSum examples, 2 processes),
phase B's ``write_splits``: with each pool as the default by ``ARROW_DEFAULT_MEMORY_POOL``
(3 builds each) mimalloc 0.89-1.16 s, the system allocator 0.57-0.76 s, jemalloc 0.51-0.61 s;
this module against the code before it, alternating (4 builds each), 0.81-0.96 -> 0.54-0.61 s.

The pool is the process-wide default (:func:`pyarrow.set_memory_pool`), set when the first
build starts and put back when the last one still running ends; worker processes forked during
the build inherit it. Every buffer is freed by the pool that made it, so the output is the same
whichever pool made it. Memory: jemalloc holds freed pages until its decay time, on top of what
the other pool holds; peak memory of the build and its workers at 1M rows stayed 1.09x that at
100k (561 / 516 MB). A user who chose a pool by ``ARROW_DEFAULT_MEMORY_POOL`` keeps it, and so
does a pyarrow without jemalloc (Windows wheels); a pool set with :func:`pyarrow.set_memory_pool`
is replaced for the build's duration and put back after.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pyarrow as pa

from .processwide import Held


def _jemalloc() -> Callable[[], None] | None:
    """Set jemalloc as Arrow's default pool; how to put the previous one back. None: the user
    chose a pool, or jemalloc is missing or already the default."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return None
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return None
    previous = pa.default_memory_pool()
    if previous.backend_name == pool.backend_name:
        return None
    pa.set_memory_pool(pool)
    return lambda: pa.set_memory_pool(previous)


_POOL = Held(_jemalloc)


def build_memory_pool():
    """jemalloc as Arrow's default pool for the duration of the ``with`` block (see the module
    docstring); nests and may be entered by several threads (:class:`~ftdata.build.processwide.Held`)."""
    return _POOL.held()
