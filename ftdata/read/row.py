"""The unit every source reader yields: one raw row, or why it could not be read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class SourceRow:
    """One raw row: its 1-based line (or record) number, its fields, or why it is unreadable."""

    line: int
    data: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None
    split: str | None = None  # the source's own split, where the format carries one
