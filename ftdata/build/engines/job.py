"""A job: one chunk of phase-A work handed to an engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    """One chunk of work: its rows (or the byte range that holds them), or its result when already
    known (cache hit)."""

    index: int
    rows: list
    result: Any = None
    key: str | None = None  # cache key of the chunk, when the build caches
    task: Any = None  # a byte range the worker reads itself (ftdata.build.ranged.RangeTask), or None
    read_rejects: list = field(default_factory=list)  # rejects of reading its rows (written with its result's)
    read: Any = None  # what the build process read of ``task`` for an engine that cannot (RangeRead)
