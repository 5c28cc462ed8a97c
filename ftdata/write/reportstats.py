"""The per-example statistics the build report plots, read a bounded slice at a time.

:func:`split_stats` gives, per example (per document in packed rows), the token length, the
trained tokens, the supervised fraction and the task; :func:`shard_tables` reads a split's
columns from the Arrow shards the manifest lists, mapped so that pages are handed back after
each slice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..constants import IGNORE_INDEX
from ..read.mapped import MappedFiles, Release

#: Rows per slice when computing per-example statistics (bounds memory on large splits).
STATS_SLICE = 8192
#: Columns the report reads from each split.
COLUMNS = ("input_ids", "labels", "seq_lengths", "task")


def shard_tables(folder: Path, manifest: dict, maps: MappedFiles) -> dict[str, pa.Table]:
    """Read the splits from the Arrow shards the manifest lists (used by the build, before COMPLETED).

    The shards are mapped into ``maps``; their pages are handed back after each statistics slice
    (flat RSS).
    """
    out = {}
    for split, shards in manifest.get("shards", {}).items():
        parts = []
        for s in shards:
            mm = maps.map(folder / s["file"])
            with pa.ipc.open_stream(pa.py_buffer(mm)) as reader:
                parts.append(reader.read_all().select([c for c in COLUMNS if c in reader.schema.names]))
        if parts:
            out[split] = pa.concat_tables(parts)
    return out


def _segment_counts(labels: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Trained labels (not ``IGNORE_INDEX``) in each of the back-to-back segments of ``labels``
    with the given ``lengths``: one pass, no running sum as long as the labels."""
    ends = np.cumsum(lengths)
    trained = labels[:int(ends[-1]) if ends.size else 0] != IGNORE_INDEX
    out = np.zeros(lengths.size, dtype=np.int64)
    some = lengths > 0  # reduceat cannot sum an empty segment: those stay 0
    if some.any():
        out[some] = np.add.reduceat(trained, (ends - lengths)[some], dtype=np.int64)
    return out


def split_stats(table: pa.Table, release: Release | None = None) -> dict[str, np.ndarray]:
    """Per example (per document in packed rows): token length, trained tokens, supervised fraction, task.

    ``release``: called after each slice to hand back the mapped shards' pages (None: keep them).
    """
    packed = "seq_lengths" in table.column_names
    parts: dict[str, list] = {"length": [], "lab_len": [], "trained": [], "task": []}
    # a bounded slice at a time: flattening whole columns would hold every label of the split
    # in memory (several bytes per token), which grows with the data
    for batch in table.to_batches(max_chunksize=STATS_SLICE):
        labels = batch.column("labels")
        if packed:  # documents lie back to back in each row, so the flat arrays split at their lengths
            lengths = pc.list_flatten(batch.column("seq_lengths")).to_numpy(zero_copy_only=False).astype(np.int64)
            lab_len = lengths
        else:
            lengths = pc.list_value_length(batch.column("input_ids")).to_numpy(zero_copy_only=False).astype(np.int64)
            lab_len = pc.list_value_length(labels).to_numpy(zero_copy_only=False).astype(np.int64)
        flat = pc.list_flatten(labels).to_numpy(zero_copy_only=False)
        parts["trained"].append(_segment_counts(flat, lab_len))
        parts["length"].append(lengths)
        parts["lab_len"].append(lab_len)
        if "task" in table.column_names:
            col = batch.column("task")
            parts["task"].append((pc.list_flatten(col) if packed else col).to_numpy(zero_copy_only=False))
        del labels, flat, batch
        if release is not None:
            release(0, None)
    cat = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in parts.items() if k != "task"}
    lengths, lab_len, trained = cat["length"], cat["lab_len"], cat["trained"]
    # causal: share of the sequence that is trained; seq2seq: of the labels (the decoder side)
    denom = np.where(lab_len == lengths, lengths, lab_len)
    if "task" not in table.column_names:
        tasks = np.array(["(all)"] * len(lengths), dtype=object)
    else:
        tasks = np.concatenate(parts["task"]) if parts["task"] else np.zeros(0, dtype=object)
    return {"length": lengths, "trained": trained, "fraction": trained / np.maximum(denom, 1), "task": tasks}
