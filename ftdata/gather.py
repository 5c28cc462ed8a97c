"""Gather rows of a chunked Arrow table without concatenating its chunks.

Phase B reads the chunk tables of phase A as one memory-mapped, chunked table and copies the
planned rows into shards a slice at a time, in an order that jumps between chunks.
``Table.take`` with such indices first concatenates each variable-width column across all
chunks, so every slice costs time and memory proportional to the *whole* table (quadratic
time, memory growing with the input). :func:`take_rows` takes from each chunk only the rows it
needs and reorders the (slice-sized) result, so a slice costs what its rows cost.

When the chunks are memory-mapped, every page a slice touches stays in the process's resident
set until it is handed back, and the rows of one slice are spread over *all* chunks (the
output order is a seeded hash). The kernel also maps the neighbouring pages of each page read
(fault-around; a whole large folio on recent kernels), so a slice of a few thousand rows maps
nearly every page of every chunk: resident memory would grow with the input even though the
slice does not. ``take_rows`` therefore calls ``release`` after each chunk it has copied from,
so at most about one chunk's pages are mapped in at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa


def take_rows(table: pa.Table, indices, release: Callable[[int, int], None] | None = None) -> pa.Table:
    """``table.take(indices)`` (same rows, same order), touching only the chunks it needs.

    Args:
        table: a table, usually made of many record batches (memory-mapped chunk files).
        indices: row numbers in ``table`` (non-negative, in range), in the wanted order.
        release: called as ``release(start, stop)`` with the row range of each chunk once its
            rows are copied out (e.g. :func:`ftdata.finalize.release_pages`, which hands that
            chunk's mapped pages back to the kernel).
    """
    idx = np.asarray(indices, dtype=np.int64)
    batches = table.to_batches()
    if len(batches) <= 1 or idx.size == 0:
        taken = table.take(pa.array(idx))
        if release is not None and idx.size:
            release(0, table.num_rows)
        return taken
    offsets = np.zeros(len(batches) + 1, dtype=np.int64)
    np.cumsum([b.num_rows for b in batches], out=offsets[1:])
    which = np.searchsorted(offsets, idx, side="right") - 1
    order = np.argsort(which, kind="stable")  # requested rows grouped by chunk
    grouped = which[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    ends = np.r_[starts[1:], len(order)]
    parts = []
    for s, e in zip(starts, ends):
        b = grouped[s]
        parts.append(batches[b].take(pa.array(idx[order[s:e]] - offsets[b])))
        if release is not None:
            release(int(offsets[b]), int(offsets[b + 1]))
    gathered = pa.Table.from_batches(parts, schema=table.schema).combine_chunks()
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    return gathered.take(pa.array(inverse))
