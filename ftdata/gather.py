"""Gather rows of a chunked Arrow table without concatenating its chunks.

Phase B reads the chunk tables of phase A as one memory-mapped, chunked table and copies the
planned rows into shards a slice at a time, in an order that jumps between chunks.
``Table.take`` with such indices first concatenates each variable-width column across all
chunks, so every slice costs time and memory proportional to the *whole* table (quadratic
time, memory growing with the input). :func:`take_rows` takes from each chunk only the rows it
needs and reorders the (slice-sized) result, so a slice costs what its rows cost.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def take_rows(table: pa.Table, indices) -> pa.Table:
    """``table.take(indices)`` (same rows, same order), touching only the chunks it needs.

    Args:
        table: a table, usually made of many record batches (memory-mapped chunk files).
        indices: row numbers in ``table`` (non-negative, in range), in the wanted order.
    """
    idx = np.asarray(indices, dtype=np.int64)
    batches = table.to_batches()
    if len(batches) <= 1 or idx.size == 0:
        return table.take(pa.array(idx))
    offsets = np.zeros(len(batches) + 1, dtype=np.int64)
    np.cumsum([b.num_rows for b in batches], out=offsets[1:])
    which = np.searchsorted(offsets, idx, side="right") - 1
    order = np.argsort(which, kind="stable")  # requested rows grouped by chunk
    grouped = which[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    ends = np.r_[starts[1:], len(order)]
    parts = [batches[grouped[s]].take(pa.array(idx[order[s:e]] - offsets[grouped[s]])) for s, e in zip(starts, ends)]
    gathered = pa.Table.from_batches(parts, schema=table.schema).combine_chunks()
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    return gathered.take(pa.array(inverse))
