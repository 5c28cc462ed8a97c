"""Memory-mapped Arrow files whose resident pages are handed back as they are read.

Phase B reads the phase-A chunk files, and the report reads the written shards, through
``mmap`` so nothing is loaded whole. Every page a pass touches would otherwise stay in this
process's resident set, and peak memory would grow with the input. :func:`drop_pages` is the
one place pages are handed back (``MADV_DONTNEED``: the files are mapped read-only and shared,
so the next access faults the pages back in from the page cache, unchanged).

:class:`MappedFiles` holds the maps of **one** reader -- one build's work table, one report --
and nothing else does: two builds in one process each own theirs, so one build closing or
releasing its files cannot touch the other's.
"""

from __future__ import annotations

import mmap
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from pathlib import Path

#: ``release(start, stop)``: hand back the pages of the files holding rows ``start`` to
#: ``stop`` (None: to the end). What passes over mapped rows call once they have copied out.
Release = Callable[[int, "int | None"], None]


def drop_pages(mm: mmap.mmap) -> None:
    """Unmap the resident pages of one map from this process (where ``MADV_DONTNEED`` exists)."""
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None:
        return
    try:
        mm.madvise(advice)
    except (OSError, ValueError):  # closed, or a platform that refuses the advice: nothing to give
        pass


class MappedFiles:
    """The read-only maps of one reader's files, with the first row each file's rows start at.

    Create one per build (or per report) and :meth:`close` it when done; pass :meth:`release`
    down to the passes that copy rows out.
    """

    def __init__(self) -> None:
        self.maps: list[mmap.mmap] = []
        self.first_rows: list[int] = []  # per map: the row of the combined table its rows start at

    def map(self, path: Path, first_row: int = 0) -> mmap.mmap:
        """Map ``path`` read-only and keep the map; its rows start at ``first_row``."""
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.maps.append(mm)
        self.first_rows.append(first_row)
        return mm

    def release(self, start: int = 0, stop: int | None = None) -> None:
        """Hand back the resident pages of the files holding rows ``start`` to ``stop`` (all
        files by default), e.g. each chunk once :func:`ftdata.write.gather.take_rows` copied from it."""
        first = max(bisect_right(self.first_rows, start) - 1, 0) if start > 0 else 0
        last = len(self.maps) if stop is None else bisect_left(self.first_rows, stop)
        for mm in self.maps[first:last]:
            drop_pages(mm)

    def close(self) -> None:
        """Forget the maps (each is unmapped once no table refers to it any more)."""
        self.maps.clear()
        self.first_rows.clear()
