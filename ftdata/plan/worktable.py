"""The phase-A work table: every chunk file memory-mapped and read as one Arrow table."""

from __future__ import annotations

import mmap
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

_MAPS: list[mmap.mmap] = []
_FIRST_ROWS: list[int] = []  # per map in _MAPS: the work-table row its rows start at


def open_work(files: list[Path]) -> pa.Table:
    """Memory-map every phase-A file and concatenate them (zero-copy).

    The maps are Python ``mmap`` objects (kept in ``_MAPS``, with the row each one starts at)
    so :func:`release_pages` can hand their pages back to the kernel while rows are copied
    out: without that, every page phase B ever touched stays in this process's resident set
    and peak RSS grows with the input.
    """
    tables = []
    close_work()
    rows = 0
    for f in files:
        with open(f, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        _MAPS.append(mm)
        _FIRST_ROWS.append(rows)
        tables.append(pa.ipc.open_file(pa.py_buffer(mm)).read_all())
        rows += tables[-1].num_rows
        _drop(mm)  # the footer just read: no file stays resident here until its rows are read
    from ..build.chunk import work_schema

    return pa.concat_tables(tables) if tables else work_schema().empty_table()


def release_pages(start: int = 0, stop: int | None = None) -> None:
    """Drop the resident pages of the mapped phase-A files from this process.

    Only the files holding work rows ``start`` to ``stop`` (all of them by default), so
    :func:`ftdata.gather.take_rows` can hand back each chunk as soon as it has copied from it.
    The files are mapped read-only and shared, so ``MADV_DONTNEED`` only unmaps the pages here;
    the next access faults them back in from the page cache, unchanged.
    """
    first = max(bisect_right(_FIRST_ROWS, start) - 1, 0)
    last = len(_MAPS) if stop is None else bisect_left(_FIRST_ROWS, stop)
    for mm in _MAPS[first:last]:
        _drop(mm)


def _drop(mm: mmap.mmap) -> None:
    """Unmap the resident pages of one map from this process (where ``MADV_DONTNEED`` exists)."""
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None:
        return
    try:
        mm.madvise(advice)
    except (OSError, ValueError):
        pass


def work_batches(work: pa.Table, columns: list[str]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(first row, batch)`` for each chunk of the work table, ``columns`` only, in order.

    Each chunk's mapped pages are handed back (:func:`release_pages`) when the next one is
    asked for, so a pass over every row keeps about one chunk resident, not the whole table.
    """
    start = 0
    for batch in work.select(columns).to_batches():
        yield start, batch
        release_pages(start, start + batch.num_rows)
        start += batch.num_rows


def column_numpy(work: pa.Table, name: str) -> np.ndarray:
    """Column ``name`` of the work table as one NumPy array, copied out a chunk at a time.

    Like ``work.column(name).to_numpy(zero_copy_only=False)`` (strings become objects), but each
    chunk's mapped pages are handed back once copied (:func:`work_batches`). A fixed-size
    binary column comes back as raw items (``V<width>``), to be viewed as the caller needs.
    """
    out = None
    for start, batch in work_batches(work, [name]):
        col = batch.column(0)
        if pa.types.is_fixed_size_binary(col.type):
            width = col.type.byte_width
            part = np.frombuffer(col.buffers()[1], dtype=f"V{width}")[col.offset:col.offset + len(col)]
        else:
            part = col.to_numpy(zero_copy_only=False)
        if out is None:
            out = np.empty(work.num_rows, dtype=part.dtype)
        out[start:start + len(part)] = part
    return work.column(name).to_numpy(zero_copy_only=False) if out is None else out


def close_work() -> None:
    """Forget the maps of the last build (they are unmapped once no table refers to them)."""
    _MAPS.clear()
    _FIRST_ROWS.clear()
