"""A job: one chunk of phase-A work handed to an engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Job:
    """One chunk of work: its rows, or its result when already known (cache hit)."""

    index: int
    rows: list
    result: Any = None
    key: str | None = None  # cache key of the chunk, when the build caches
