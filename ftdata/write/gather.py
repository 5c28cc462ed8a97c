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

Writing a whole split that way still visits every chunk once per slice: slices x chunks small
takes, each faulting its pages back in, which grows faster than the input. :func:`gather_slices`
copies many slices at once instead: one pass over the chunks, in file order, sends each chunk's
rows (one ``take``) to small spill files, one per slice; then each slice is read back whole and
put in order (one ``take``). Every chunk is read once, sequentially, and memory holds a few
chunks (:data:`AHEAD` copied out ahead of the one being spilled) and two slices.

Where memory allows -- the columns to gather take at most :data:`IN_MEMORY_BYTES` -- the spill
files are skipped: the chunks are copied once into one table (their pages handed back once
copied) and every slice is taken from it (:func:`_gather_in_memory`). The spill
writes every row to disk and reads it back, and a file system with online discard pays again
to delete them: writing the shards of the plain benchmark's 50,000 DialogSum examples (218 MB of
output columns) took best 0.47 s wall / 0.76 CPU-s through spill files and 0.33 / 0.46 in memory,
same bytes. Above the budget memory stays flat as before; below it, phase B holds one more copy
of the output (at most the budget).
"""

from __future__ import annotations

import os
import resource
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

#: Chunks copied out ahead of the one being spilled (each on its own thread).
AHEAD = 2
#: Largest table (bytes of the columns gathered) that :func:`gather_slices` copies into memory
#: whole instead of spilling (256 MiB: the extra memory a small build may hold in phase B).
IN_MEMORY_BYTES = 256 << 20
#: Threads of the in-memory gather: the columns are copied, and the slices taken, two at a time
#: (Arrow releases the GIL), while the caller writes the slice before.
GATHER_THREADS = 2


def take_rows(table: pa.Table, indices, release: Callable[[int, int], None] | None = None) -> pa.Table:
    """``table.take(indices)`` (same rows, same order), touching only the chunks it needs.

    Args:
        table: a table, usually made of many record batches (memory-mapped chunk files).
        indices: row numbers in ``table`` (non-negative, in range), in the wanted order.
        release: called as ``release(start, stop)`` with the row range of each chunk once its
            rows are copied out (e.g. :meth:`ftdata.read.mapped.MappedFiles.release`, which hands that
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


def _open_files_budget() -> int:
    """How many spill files one pass may hold open: half the descriptors still free (the mapped
    chunk files hold one each), at least 16."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    soft = soft if 0 < soft < 1 << 20 else 4096
    try:
        in_use = len(os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"))
    except OSError:
        in_use = soft // 2
    return max(16, (soft - in_use) // 2)


def gather_slices(table: pa.Table, slices: list[np.ndarray], spill_dir: Path,
                  release: Callable[[int, int], None] | None = None) -> Iterator[pa.Table]:
    """``table.take(s)`` for each slice ``s`` of ``slices``, in order, reading each chunk once.

    Args:
        table: a table of many record batches (memory-mapped chunk files).
        slices: row numbers in ``table``, one array per wanted slice, each in its wanted order;
            no row may be in two slices.
        spill_dir: where the spill files go (a temporary folder inside it, removed at the end).
        release: as in :func:`take_rows`, called after each chunk is copied from.

    Slices beyond what one pass may hold open (:func:`_open_files_budget`) are done in further
    passes, each reading only the rows of its own slices.
    """
    if fits_in_memory(table):
        yield from _gather_in_memory(table, slices, release)
        return
    budget = _open_files_budget()
    for first in range(0, len(slices), budget):
        yield from _gather_pass(table, slices[first:first + budget], spill_dir, release)


def fits_in_memory(table: pa.Table) -> bool:
    """Whether :func:`gather_slices` copies ``table`` into memory rather than spilling it
    (its columns within :data:`IN_MEMORY_BYTES`)."""
    return table.nbytes <= IN_MEMORY_BYTES


def _gather_in_memory(table: pa.Table, slices: list[np.ndarray],
                      release: Callable[[int, int], None] | None) -> Iterator[pa.Table]:
    """:func:`gather_slices` for a table that fits :data:`IN_MEMORY_BYTES`: its chunks copied once
    into one table (then each chunk's pages handed back), then each slice taken from it."""
    with ThreadPoolExecutor(GATHER_THREADS, thread_name_prefix="ftdata-gather") as pool:
        whole = pa.Table.from_arrays(list(pool.map(pa.ChunkedArray.combine_chunks, table.columns)),
                                     schema=table.schema)
        if release is not None:
            start = 0
            for batch in table.to_batches():
                release(start, start + batch.num_rows)
                start += batch.num_rows
        taking: deque = deque()
        for s in slices:  # the next slices are taken while the caller writes this one
            taking.append(pool.submit(whole.take, pa.array(np.asarray(s, dtype=np.int64))))
            if len(taking) > GATHER_THREADS:
                yield taking.popleft().result()
        while taking:
            yield taking.popleft().result()


def _gather_pass(table: pa.Table, slices: list[np.ndarray], spill_dir: Path,
                 release: Callable[[int, int], None] | None) -> Iterator[pa.Table]:
    slices = [np.asarray(s, dtype=np.int64) for s in slices]
    dest = np.full(table.num_rows, -1, dtype=np.int64)  # slice number per row of the table
    for k, s in enumerate(slices):
        dest[s] = k
    batches = table.to_batches()
    bounds = np.cumsum([0] + [b.num_rows for b in batches])

    def grouped(i: int, batch: pa.RecordBatch):
        """Chunk ``i``'s wanted rows grouped by slice (in row order within each) and their slices."""
        k = dest[bounds[i]:bounds[i + 1]]
        rows = np.flatnonzero(k >= 0)
        rows = rows[np.argsort(k[rows], kind="stable")]
        taken = batch.take(pa.array(rows)) if rows.size else None
        if release is not None:
            release(int(bounds[i]), int(bounds[i + 1]))
        return taken, k[rows]

    with tempfile.TemporaryDirectory(dir=spill_dir, prefix="gather-") as d:
        paths = [Path(d) / f"{k:06d}.arrow" for k in range(len(slices))]
        sinks: dict[int, tuple] = {}
        try:
            # the next chunks are copied out on threads while this one is spilled (Arrow releases
            # the GIL; copying a chunk costs about three times spilling it, hence two threads);
            # chunks are spilled in order, so each slice's rows stay in table order
            with ThreadPoolExecutor(AHEAD, thread_name_prefix="ftdata-gather") as pool:
                ahead = deque(pool.submit(grouped, i, batches[i]) for i in range(min(AHEAD, len(batches))))
                for i in range(len(batches)):
                    taken, ks = ahead.popleft().result()
                    if i + AHEAD < len(batches):  # AHEAD chunks copied out or being copied, no more
                        ahead.append(pool.submit(grouped, i + AHEAD, batches[i + AHEAD]))
                    if taken is None:
                        continue
                    cuts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
                    for a, b in zip(cuts.tolist(), np.r_[cuts[1:], ks.size].tolist()):
                        slot = int(ks[a])
                        if slot not in sinks:
                            fh = pa.OSFile(str(paths[slot]), "wb")
                            sinks[slot] = (fh, pa.ipc.new_stream(fh, table.schema))
                        sinks[slot][1].write_batch(taken.slice(a, b - a))
        finally:
            for fh, writer in sinks.values():
                writer.close()
                fh.close()

        def load(k: int) -> pa.Table:
            if k not in sinks:
                return table.schema.empty_table()
            # mapped only while its rows are copied out, in the slice's order (they arrived in
            # table order); the map is closed before the slice is handed on
            with pa.memory_map(str(paths[k])) as src:
                part = pa.ipc.open_stream(src).read_all()
                ordered = part.take(pa.array(np.searchsorted(np.sort(slices[k]), slices[k])))
                del part
            paths[k].unlink()
            return ordered

        # the next slice is read and ordered on a thread (Arrow releases the GIL) while the
        # caller writes this one: two slices in memory at most
        with ThreadPoolExecutor(1, thread_name_prefix="ftdata-gather") as pool:
            ahead = pool.submit(load, 0) if slices else None
            for k in range(len(slices)):
                part = ahead.result()
                ahead = pool.submit(load, k + 1) if k + 1 < len(slices) else None
                yield part
                del part
