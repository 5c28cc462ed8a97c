"""Packing: several examples per ``max_length`` row, decided at compile time and saved.

With ``packing: true`` each split is written as packed rows instead of one row per example.
Documents (compiled examples) are placed by **best-fit decreasing**: longest first (ties in
the split's seeded order), each into the open row with the least room that still holds it, a
new row when none does. The result depends only on the lengths and the seeded order, so the
same recipe and seed give the same rows.

Columns of a packed split:

* ``input_ids``, ``labels`` (list<int32>): the documents' tokens and labels, concatenated;
  every document keeps its own EOS and masks, so no label crosses a document.
* ``attention_mask`` (list<int8>): all ones.
* ``position_ids`` (list<int32>): restart at 0 at each document, so consumers that honour them
  (flash-attention varlen, transformers' packed-sequence collators) keep documents apart.
* ``seq_lengths`` (list<int32>): the documents' lengths, in order (sum = row length).
* ``source``, ``task``, ``template``, ``row_key`` (list<string>): provenance of each document.

Counts stay per document: ``examples_written`` and the split counts count documents; the
manifest's ``packing`` section gives rows, documents, tokens and the fill ratio (tokens /
(rows x max_length)) per split.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..read.mapped import Release
from .gather import gather_slices
from .writer import SplitWriter

PROVENANCE = ("source", "task", "template", "row_key")
#: Documents copied per slice while writing (bounds memory).
SLICE_DOCS = 8192


def packed_schema() -> pa.Schema:
    """Columns of a packed split (see the module docstring)."""
    return pa.schema([
        ("input_ids", pa.list_(pa.int32())),
        ("attention_mask", pa.list_(pa.int8())),
        ("labels", pa.list_(pa.int32())),
        ("position_ids", pa.list_(pa.int32())),
        ("seq_lengths", pa.list_(pa.int32())),
        *[(c, pa.list_(pa.string())) for c in PROVENANCE],
    ])


def best_fit_decreasing(lengths: np.ndarray, capacity: int) -> list[list[int]]:
    """Bins of positions into ``lengths``, each bin's total <= ``capacity``.

    Longest first, ties by position; each item goes to the bin with the least room that holds
    it (lowest bin number on ties). Bins come back ordered by their earliest position and hold
    their positions in increasing order, so output order follows the input order.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size and int(lengths.max()) > capacity:
        raise ValueError(f"an item of length {int(lengths.max())} exceeds the bin capacity {capacity}")
    order = np.lexsort((np.arange(lengths.size), -lengths))
    room: list[tuple[int, int]] = []  # (remaining room, bin number), kept sorted
    bins: list[list[int]] = []
    for pos in order.tolist():
        n = int(lengths[pos])
        j = bisect.bisect_left(room, (n, -1))
        if j == len(room):
            bins.append([pos])
            bisect.insort(room, (capacity - n, len(bins) - 1))
        else:
            left, b = room.pop(j)
            bins[b].append(pos)
            bisect.insort(room, (left - n, b))
    for b in bins:
        b.sort()
    bins.sort(key=lambda b: b[0])
    return bins


def _list_array(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def packed_table(docs: pa.Table, doc_counts: np.ndarray) -> pa.Table:
    """Packed rows from ``docs`` (documents in row order) and the number of documents per row."""
    lens = pc.list_value_length(docs.column("input_ids")).to_numpy().astype(np.int64)
    doc_off = np.zeros(len(doc_counts) + 1, dtype=np.int64)
    np.cumsum(doc_counts, out=doc_off[1:])
    tok_off = np.zeros(docs.num_rows + 1, dtype=np.int64)
    np.cumsum(lens, out=tok_off[1:])
    row_tok_off = tok_off[doc_off]
    total = int(tok_off[-1])
    positions = np.arange(total, dtype=np.int32) - np.repeat(tok_off[:-1], lens).astype(np.int32)
    cols = {
        "input_ids": _list_array(row_tok_off, docs.column("input_ids").combine_chunks().flatten()),
        "attention_mask": _list_array(row_tok_off, pa.array(np.ones(total, dtype=np.int8))),
        "labels": _list_array(row_tok_off, docs.column("labels").combine_chunks().flatten()),
        "position_ids": _list_array(row_tok_off, pa.array(positions)),
        "seq_lengths": _list_array(doc_off, pa.array(lens.astype(np.int32))),
    }
    for c in PROVENANCE:
        cols[c] = _list_array(doc_off, docs.column(c).combine_chunks())
    return pa.table(cols, schema=packed_schema())


def write_packed(work: pa.Table, plan, folder: Path, shard_size: int, max_length: int,
                 release: Release | None = None) -> dict:
    """Pack and write every split of ``plan``; returns the shards per split.

    ``release``: the build's :meth:`~ftdata.read.mapped.MappedFiles.release` (None: keep pages).

    Adds the manifest's ``packing`` section (and the packed ``columns``) to ``plan.info``.
    """
    shards, stats = {}, {}
    for name in plan.split_names:
        order = plan.order.get(name, np.zeros(0, dtype=np.int64))
        lens = work.column("_len").take(pa.array(order)).to_numpy() if len(order) else np.zeros(0, np.int64)
        bins = best_fit_decreasing(lens, max_length)
        w = SplitWriter(Path(folder) / name, packed_schema(), shard_size)
        parts, start = [], 0
        while start < len(bins):
            # a slice of whole rows, about SLICE_DOCS documents
            stop, ndocs = start, 0
            while stop < len(bins) and (ndocs == 0 or ndocs + len(bins[stop]) <= SLICE_DOCS):
                ndocs += len(bins[stop])
                stop += 1
            parts.append(bins[start:stop])
            start = stop
        slices = [order[np.fromiter((p for b in part for p in b), dtype=np.int64, count=sum(map(len, part)))]
                  for part in parts]
        # every slice in one pass over the chunk files, each handed back once copied from
        for part, docs in zip(parts, gather_slices(work.select(["input_ids", "labels", *PROVENANCE]), slices,
                                                   Path(folder), release)):
            w.write(packed_table(docs, np.fromiter((len(b) for b in part), dtype=np.int64, count=len(part))))
        shards[name] = w.close(name)
        tokens = int(lens.sum())
        stats[name] = {"rows": len(bins), "documents": int(len(order)), "tokens": tokens,
                       "fill_ratio": round(tokens / (len(bins) * max_length), 6) if bins else 0.0}
    rows = sum(s["rows"] for s in stats.values())
    tokens = sum(s["tokens"] for s in stats.values())
    plan.info["packing"] = {"method": "best_fit_decreasing", "max_length": max_length, "splits": stats,
                            "fill_ratio": round(tokens / (rows * max_length), 6) if rows else 0.0}
    plan.info["columns"] = [f.name for f in packed_schema()]
    return shards
