"""Build progress: what a long build reports while it runs, and how ETAs are estimated.

The build calls its ``progress`` callback with a :class:`BuildProgress` after every chunk
and at each stage change. Rates are measured over a sliding window (the last
:data:`WINDOW` seconds), so a build whose first chunks came from the cache does not promise
a finish time that the uncached rest cannot keep. The row total is counted before the build
starts, cheaply, where the format allows it (newlines in JSON Lines / CSV, Parquet and Arrow
metadata); for other sources there is no total and no ETA rather than a made-up one.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

WINDOW = 20.0


@dataclass
class BuildProgress:
    """A snapshot of a running build."""

    stage: str  # "phase A" (read, render, tokenize), "finalize", "done"
    rows: int = 0  # rows read so far, all sources
    rows_total: int | None = None  # rows in all sources, when it can be known up front
    examples: int = 0  # example candidates so far
    tokens: int = 0  # tokens in the candidates so far
    chunks: int = 0
    cached_chunks: int = 0
    elapsed: float = 0.0  # seconds since the build started
    rows_per_s: float = 0.0  # over the last WINDOW seconds
    tokens_per_s: float = 0.0
    stage_seconds: dict = field(default_factory=dict)  # finished stages

    @property
    def eta(self) -> float | None:
        """Seconds left in phase A, or None when the total is not known."""
        if self.rows_total is None or self.rows_per_s <= 0 or self.stage != "phase A":
            return None
        return max(self.rows_total - self.rows, 0) / self.rows_per_s


class RateMeter:
    """Rows and tokens per second over a sliding window."""

    def __init__(self, window: float = WINDOW):
        self.window = window
        self.samples: deque[tuple[float, int, int]] = deque()

    def add(self, rows: int, tokens: int) -> tuple[float, float]:
        now = time.perf_counter()
        self.samples.append((now, rows, tokens))
        while len(self.samples) > 2 and now - self.samples[1][0] > self.window:
            self.samples.popleft()
        t0, r0, k0 = self.samples[0]
        dt = now - t0
        return ((rows - r0) / dt, (tokens - k0) / dt) if dt > 0 else (0.0, 0.0)


def count_rows(path: Path, fmt: str, header: bool = True) -> int | None:
    """Rows in a local source, counted cheaply; None when that needs a full parse."""
    try:
        if fmt in ("jsonl", "csv", "tsv"):
            n, last = 0, b"\n"
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    n += block.count(b"\n")
                    last = block[-1:]
            n += last != b"\n"
            # an estimate: blank lines (skipped by the readers) and quoted newlines in CSV count too
            return n - (1 if fmt in ("csv", "tsv") and header else 0)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        if fmt == "arrow" and path.is_dir():
            import datasets

            ds = datasets.load_from_disk(str(path))
            return sum(d.num_rows for d in ds.values()) if isinstance(ds, datasets.DatasetDict) else ds.num_rows
    except Exception:  # noqa: BLE001 - only an estimate; the build reports real errors
        return None
    return None


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def describe(p: BuildProgress) -> str:
    """One line for a progress bar's tail: rates, cache use and an honest ETA."""
    if p.stage != "phase A":
        took = ", ".join(f"{k} {v:.1f}s" for k, v in p.stage_seconds.items())
        return f"{p.examples:,} examples, {p.tokens:,} tokens" + (f"; {took}" if took else "")
    parts = [f"{p.rows_per_s:,.0f} rows/s", f"{p.tokens_per_s:,.0f} tok/s", f"{p.examples:,} examples"]
    if p.cached_chunks:
        parts.append(f"{p.cached_chunks}/{p.chunks} chunks cached")
    eta = p.eta
    parts.append(f"ETA {_hms(eta)}" if eta is not None else "ETA ?")
    return ", ".join(parts)
