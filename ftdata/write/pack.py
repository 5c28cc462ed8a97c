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

Raw text (``layout: text``, ``cut=True``): a document longer than ``max_length`` is cut into
consecutive pieces of ``max_length`` tokens (the last one shorter) and each piece is packed as
a document of its own: its positions restart at 0 and it never attends to another piece. No
token is dropped for length. The pieces of one document are written in one slice (a row's
bins and the full-length rows of its documents stay together), not necessarily in piece
order (best fit decides the rows); the ``packing`` section counts the pieces per split.
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


def cut_pieces(lengths: np.ndarray, max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of at most ``max_length`` tokens of documents of ``lengths``: per piece its
    document (position in ``lengths``), first token and length, in document order."""
    lengths = np.asarray(lengths, dtype=np.int64)
    counts = np.maximum(1, -(-lengths // max_length))
    doc = np.repeat(np.arange(lengths.size, dtype=np.int64), counts)
    first = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    start = (np.arange(doc.size, dtype=np.int64) - first[doc]) * max_length
    return doc, start, np.minimum(max_length, lengths[doc] - start)


def _components(bins: list[list[int]], piece_doc: np.ndarray) -> list[list[int]]:
    """Bins grouped so that every piece of a document is in one group (groups in bin order)."""
    parent = list(range(len(bins)))

    def find(b: int) -> int:
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    home: dict[int, int] = {}
    for b, items in enumerate(bins):
        for p in items:
            d = int(piece_doc[p])
            other = home.setdefault(d, b)
            if other != b:
                ra, rb = find(other), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for b in range(len(bins)):
        groups.setdefault(find(b), []).append(b)
    return [groups[k] for k in sorted(groups)]


def packed_table(docs: pa.Table, doc_counts: np.ndarray,
                 pieces: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> pa.Table:
    """Packed rows from ``docs`` (documents in row order) and the number of documents per row.

    ``pieces`` (raw text): ``(row in docs, first token, length)`` per packed document, in row
    order; ``doc_counts`` then counts pieces.
    """
    if pieces is not None:
        docs = _piece_table(docs, *pieces)
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


def _first_seen(values: np.ndarray) -> np.ndarray:
    """The distinct values in the order of their first appearance."""
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def _piece_table(docs: pa.Table, row: np.ndarray, start: np.ndarray, length: np.ndarray) -> pa.Table:
    """One row per piece: tokens ``start:start+length`` of row ``row`` of ``docs``."""
    lens = pc.list_value_length(docs.column("input_ids")).to_numpy().astype(np.int64)
    tok_off = np.zeros(docs.num_rows + 1, dtype=np.int64)
    np.cumsum(lens, out=tok_off[1:])
    offsets = np.zeros(row.size + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    at = pa.array(np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1] - tok_off[row] - start, length))
    cols = {c: _list_array(offsets, docs.column(c).combine_chunks().flatten().take(at))
            for c in ("input_ids", "labels")}
    take = pa.array(row)
    cols |= {c: docs.column(c).take(take) for c in PROVENANCE}
    return pa.table(cols)


def write_packed(work: pa.Table, plan, folder: Path, shard_size: int, max_length: int,
                 release: Release | None = None, cut: bool = False) -> dict:
    """Pack and write every split of ``plan``; returns the shards per split.

    ``release``: the build's :meth:`~ftdata.read.mapped.MappedFiles.release` (None: keep pages).
    ``cut``: documents longer than ``max_length`` are cut into pieces (raw text; see the
    module docstring); otherwise every document fits.

    Adds the manifest's ``packing`` section (and the packed ``columns``) to ``plan.info``.
    """
    shards, stats = {}, {}
    for name in plan.split_names:
        order = plan.order.get(name, np.zeros(0, dtype=np.int64))
        lens = work.column("_len").take(pa.array(order)).to_numpy() if len(order) else np.zeros(0, np.int64)
        if cut:
            pdoc, pstart, plen = cut_pieces(lens, max_length)
            bins = best_fit_decreasing(plen, max_length)
            groups = _components(bins, pdoc)
        else:
            pdoc, plen = np.arange(len(lens), dtype=np.int64), lens
            bins = best_fit_decreasing(lens, max_length)
            groups = [[b] for b in range(len(bins))]
        w = SplitWriter(Path(folder) / name, packed_schema(), shard_size)
        parts, start = [], 0
        while start < len(groups):
            # a slice of whole groups of rows, about SLICE_DOCS documents
            stop, ndocs = start, 0
            while stop < len(groups) and (ndocs == 0 or ndocs + sum(len(bins[b]) for b in groups[stop]) <= SLICE_DOCS):
                ndocs += sum(len(bins[b]) for b in groups[stop])
                stop += 1
            parts.append([bins[b] for g in groups[start:stop] for b in g])
            start = stop
        picked = [np.fromiter((p for b in part for p in b), dtype=np.int64, count=sum(map(len, part)))
                  for part in parts]
        # the documents each slice reads (each once; a cut document's pieces share it)
        slices = [order[_first_seen(pdoc[p])] if cut else order[p] for p in picked]
        # every slice in one pass over the chunk files, each handed back once copied from
        for part, p, docs in zip(parts, picked, gather_slices(work.select(["input_ids", "labels", *PROVENANCE]),
                                                             slices, Path(folder), release)):
            pieces = None
            if cut:  # each piece's row among the slice's documents
                uniq = _first_seen(pdoc[p])
                sorter = np.argsort(uniq)
                pieces = (sorter[np.searchsorted(uniq, pdoc[p], sorter=sorter)], pstart[p], plen[p])
            w.write(packed_table(docs, np.fromiter((len(b) for b in part), dtype=np.int64, count=len(part)), pieces))
        shards[name] = w.close(name)
        tokens = int(lens.sum())
        stats[name] = {"rows": len(bins), "documents": int(len(order)), "tokens": tokens,
                       "fill_ratio": round(tokens / (len(bins) * max_length), 6) if bins else 0.0}
        if cut:
            stats[name]["pieces"] = int(len(plen))
    rows = sum(s["rows"] for s in stats.values())
    tokens = sum(s["tokens"] for s in stats.values())
    plan.info["packing"] = {"method": "best_fit_decreasing", "max_length": max_length, "splits": stats,
                            "fill_ratio": round(tokens / (rows * max_length), 6) if rows else 0.0}
    plan.info["columns"] = [f.name for f in packed_schema()]
    return shards
