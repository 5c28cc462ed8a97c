"""The build's row stream: a source read in input order, each row checked and keyed.

Reading, the one row check (:func:`~ftdata.read.schema.check_source_row`) and row keys run here
in input order (:func:`checked_rows`), in the build process, for every source but a local JSON
Lines, CSV/TSV (one that can be cut between records), Parquet or Arrow IPC file on the local
engine: that one the workers read, one byte range
or row slice each (:func:`read_range`, called by :mod:`ftdata.build.ranged`), and the build process checks the
keys they return for duplicates, in input order. A row that cannot be read, fails its schema or repeats a key becomes a
:class:`~ftdata.rejects.Reject`; every other row becomes a :class:`~ftdata.build.chunk.CheckedRow`
carrying what phase A and the split need (its split unit, group, stratum, pinned split).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from ..config.models import Recipe, SourceSpec
from ..plan.split import split_units
from ..read.keys import KeySet
from ..read.schema import check_source_row
from ..read.sources import SourceRow, local_cuts, local_file, read_cut, read_source
from ..rejects import Code, Reject
from .chunk import CheckedRow

#: Characters of a rejected value kept in ``rejects.jsonl``.
VALUE_CHARS = 200


def short(value, n: int = VALUE_CHARS) -> str:
    """``value`` as text (JSON when not a string), cut to ``n`` characters."""
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return s if len(s) <= n else s[: n - 1] + "…"


def row_key(src: SourceSpec, row: SourceRow, data: dict) -> str:
    """The row's key: its line (``key: '@line'``), its key column, or a hash of its content."""
    if src.key == "@line":
        return str(row.line)
    if src.key:
        return str(data.get(src.key))
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def checked_rows(src: SourceSpec, recipe: Recipe, base: Path, *, counts,
                 reject: Callable[[Reject], None], want_index: bool,
                 timings) -> Iterator[list[CheckedRow]]:
    """Read a source in order; schema-check it; yield batches of CheckedRow.

    Duplicate keys are found with a :class:`~ftdata.read.keys.KeySet` (16 bytes a key), one
    vectorised lookup per batch; rejects still come out in row order, through ``reject``.
    ``counts`` (a :class:`~ftdata.write.manifest.SourceCounts`) gets ``rows_read`` and
    ``rows_rejected``; ``timings["read"]`` the seconds spent. ``want_index``: number the
    rows (round-robin template choice).
    """
    seen = KeySet()
    index = 0
    batches = raw_batches(src, base, recipe.batch_size)
    while True:
        t0 = time.perf_counter()
        raw = next(batches, None)
        if raw is None:
            return
        counts.rows_read += len(raw)
        staged = [_stage_row(src, row) for row in raw]
        dup = iter(seen.add_batch([x[2] for x in staged if not isinstance(x, Reject)]).tolist())
        valid = []
        for x in staged:
            if not isinstance(x, Reject) and next(dup):
                x = duplicate_key(src, x[2], x[0].line)
            if isinstance(x, Reject):
                reject(x)
                counts.rows_rejected += 1
                continue
            valid.append(x)
        out = _checked_rows(src, recipe, valid, index if want_index else None)
        index += len(valid)
        timings["read"] += time.perf_counter() - t0
        yield out


def duplicate_key(src: SourceSpec, key: str, line: int) -> Reject:
    """The reject of a row whose key an earlier row of its source already used."""
    return Reject(src.name, key, line, Code.DUPLICATE_KEY, f"row key '{key}' already used by an earlier row")


@dataclass
class RangeRead:
    """What reading one byte range of a source gave (in a worker), besides its checked rows: the
    build process needs it to find duplicate keys and account for the rows, in input order."""

    n_read: int                      # rows read (blank lines are not rows)
    rejects: list[Reject]            # rows that could not be read or failed their schema, in order
    keys: list[str]                  # the key of each checked row, in order
    lines: list[int]                 # its line
    unsplit: list[bool]              # its split comes from the ratios (none pinned)

    def as_dict(self) -> dict:
        return {"n_read": self.n_read, "rejects": [r.as_dict() for r in self.rejects], "keys": self.keys,
                "lines": self.lines, "unsplit": self.unsplit}

    @classmethod
    def from_dict(cls, d: dict) -> RangeRead:
        return cls(d["n_read"], [Reject.from_dict(r) for r in d["rejects"]], d["keys"], d["lines"], d["unsplit"])


def read_range(src: SourceSpec, recipe: Recipe, source_rows: Iterable[SourceRow]) -> tuple[list[CheckedRow], RangeRead]:
    """The checked rows of one chunk of ``src`` read in a worker (a JSON Lines byte range, a
    Parquet / Arrow row slice: :mod:`ftdata.build.ranged`) and its :class:`RangeRead`: the row
    check and keys of :func:`checked_rows` for one chunk, without the duplicate-key check (the
    build process does it, in input order)."""
    staged, rejects = [], []
    n = 0
    for row in source_rows:
        n += 1
        x = _stage_row(src, row)
        if isinstance(x, Reject):
            rejects.append(x)
        else:
            staged.append(x)
    rows = _checked_rows(src, recipe, staged, None)
    return rows, RangeRead(n, rejects, [r.key for r in rows], [r.line for r in rows], [r.split is None for r in rows])


def raw_batches(src: SourceSpec, base: Path, batch_size: int) -> Iterator[list[SourceRow]]:
    """A source's rows in input order, in chunks: a local JSON Lines file in the line ranges of
    :func:`~ftdata.read.ranges.line_ranges` (``batch_size`` lines or
    :data:`~ftdata.read.ranges.CHUNK_BYTES` of text, whichever comes first, the file's tail
    cut finer: chunks sized by work), a local Parquet or Arrow IPC file in the row slices of
    :func:`~ftdata.read.columnar.row_slices` (``batch_size`` rows, never across a row group or
    record batch), every other source in chunks of ``batch_size`` rows: the chunks the workers
    read (:mod:`ftdata.build.ranged`; a CSV/TSV file's ranges are these ``batch_size``-row
    chunks, :func:`~ftdata.read.csvfmt.csv_cut`)."""
    local = local_file(src, base)
    cuts = local_cuts(*local, batch_size) if local is not None else None
    if cuts is not None:
        for cut in cuts:
            yield read_cut(*local, cut)
        return
    it = read_source(src, base, batch_size)
    while rows := list(islice(it, batch_size)):
        yield rows


def _stage_row(src: SourceSpec, row: SourceRow) -> Reject | tuple[SourceRow, dict, str]:
    """A Reject for a row that cannot be read or fails its schema, else (row, data, key) still
    to check for a duplicate key."""
    if row.error is not None:
        return Reject(src.name, None, row.line, Code.UNREADABLE, row.error, value=row.raw)
    data, err = check_source_row(row.data, src)
    if err:
        return Reject(src.name, row_key(src, row, row.data), row.line, Code.SCHEMA, err,
                      value=short(row.data))
    return row, data, row_key(src, row, data)


def _checked_rows(src: SourceSpec, recipe: Recipe, staged: list[tuple[SourceRow, dict, str]],
                  first_index: int | None) -> list[CheckedRow]:
    """Valid rows (``(row, data, key)`` each) with what the split needs: each one's pinned split
    (the source's, or its own when kept), split unit, group and stratum; numbered from
    ``first_index`` (None: not numbered). One pass, the split units hashed together."""
    sp, seed = recipe.split, recipe.seed
    group, strat = sp.group_by, sp.stratify_by
    # the source's own split names are kept without a key, or with split mode 'source'
    keep_own = src.key is None or sp.mode == "source"
    hub_split = src.hub.split.split("[")[0] if src.hub is not None and sp.mode == "source" else None
    fixed = src.split
    gvals = ([None if data.get(group) is None else str(data.get(group)) for _, data, _ in staged]
             if group is not None else [None] * len(staged))
    units = split_units(seed, src.name, [key for _, _, key in staged], group, gvals)
    out = []
    for k, ((row, data, key), gval, u) in enumerate(zip(staged, gvals, units)):
        own = row.split or hub_split
        split = fixed or (own if keep_own and own else None)
        stratum = None if strat is None or data.get(strat) is None else str(data.get(strat))
        out.append(CheckedRow(key, row.line, data, split, u, stratum, gval,  # positional: a third of the cost
                              None if first_index is None else first_index + k))
    return out
