"""The phase-A work table: every chunk file memory-mapped and read as one Arrow table.

The maps belong to the build that opened them (a :class:`~ftdata.read.mapped.MappedFiles`),
never to this module, so two builds in one process cannot release or close each other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..read.mapped import MappedFiles, Release, drop_pages


def open_work(files: list[Path], maps: MappedFiles) -> pa.Table:
    """Memory-map every phase-A file and concatenate them (zero-copy).

    The maps are kept in ``maps`` (the build's own :class:`~ftdata.read.mapped.MappedFiles`, with
    the row each file starts at), so ``maps.release`` can hand their pages back to the kernel
    while rows are copied out: without that, every page phase B ever touched stays in this
    process's resident set and peak RSS grows with the input.
    """
    tables = []
    rows = 0
    for f in files:
        mm = maps.map(f, rows)
        tables.append(pa.ipc.open_file(pa.py_buffer(mm)).read_all())
        rows += tables[-1].num_rows
        drop_pages(mm)  # the footer just read: no file stays resident here until its rows are read
    from ..build.chunk import work_schema

    return pa.concat_tables(tables) if tables else work_schema().empty_table()


def work_batches(work: pa.Table, columns: list[str], release: Release | None = None,
                 min_rows: int = 0) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(first row, batch)`` for each chunk of the work table, ``columns`` only, in order.

    Each chunk's mapped pages are handed back (``release``, the build's
    :meth:`~ftdata.read.mapped.MappedFiles.release`) when the next one is asked for, so a pass over
    every row keeps about one chunk resident, not the whole table. ``min_rows``: consecutive
    chunks joined into one batch of at least that many rows (the last may hold fewer), for a
    pass over a few small columns whose cost is mostly per batch (a build of short rows has a
    chunk per thousand rows); their pages are handed back once the joined batch is done. Chunks
    are joined only up to :data:`JOIN_BYTES` (a chunk larger than that comes alone), so Arrow
    never has to split a joined column (a string column holds at most 2 GiB) and a row's
    examples, which one chunk holds, stay in one batch.
    """
    start, group, n, size = 0, [], 0, 0
    for batch in work.select(columns).to_batches():
        b = batch.nbytes if min_rows else 0
        if group and size + b > JOIN_BYTES:  # joined, it would copy too much: the group so far first
            yield from _group(start, group, release)
            start, group, n, size = start + n, [], 0, 0
        group.append(batch)
        n, size = n + batch.num_rows, size + b
        if n >= min_rows:
            yield from _group(start, group, release)
            start, group, n, size = start + n, [], 0, 0
    if group:
        yield from _group(start, group, release)


def _group(start: int, group: list[pa.RecordBatch], release: Release | None) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``group`` (consecutive chunks from row ``start``) as one batch, or as the few Arrow makes
    of it (a string column past 2 GiB is split); then its pages handed back."""
    at = start
    for batch in group if len(group) == 1 else _joined(group):
        yield at, batch
        at += batch.num_rows
    if release is not None:
        release(start, at)


def _joined(batches: list[pa.RecordBatch]) -> list[pa.RecordBatch]:
    """Consecutive batches as one where Arrow can (their columns copied together): more than one
    when a column's data does not fit one array, never a row dropped."""
    return pa.Table.from_batches(batches).combine_chunks().to_batches() or [batches[0].slice(0, 0)]


#: Rows a pass over a few small columns joins its chunks up to (:func:`work_batches`): about a
#: megabyte of task, template and count columns.
SMALL_PASS_ROWS = 1 << 16
#: Most bytes :func:`work_batches` joins into one batch (long keys make a chunk large).
JOIN_BYTES = 64 << 20


def selected(batch: pa.RecordBatch, rows: np.ndarray) -> pa.RecordBatch:
    """Rows ``rows`` of ``batch`` (distinct indices, in order): the batch itself, not a copy, when
    they are all of it."""
    return batch if rows.size == batch.num_rows else batch.take(pa.array(rows))


def value_codes(values: pa.Array) -> tuple[np.ndarray, list]:
    """Dictionary codes of ``values`` and the values they stand for (null is a value too)."""
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(values, null_encoding="encode")
    return enc.indices.to_numpy(zero_copy_only=False), enc.dictionary.to_pylist()


def column_numpy(work: pa.Table, name: str, release: Release | None = None) -> np.ndarray:
    """Column ``name`` of the work table as one NumPy array, copied out a chunk at a time.

    Like ``work.column(name).to_numpy(zero_copy_only=False)`` (strings become objects), but each
    chunk's mapped pages are handed back once copied (:func:`work_batches`). A fixed-size
    binary column comes back as raw items (``V<width>``), to be viewed as the caller needs.
    """
    out = None
    for start, batch in work_batches(work, [name], release):
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
