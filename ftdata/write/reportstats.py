"""The per-example statistics the build report plots, read a bounded slice at a time.

:func:`split_stats` gives, per example (per document in packed rows), the token length, the
prompt and completion tokens, the trained tokens, the supervised fraction, the task and the
template; :func:`answer_counts` counts the answers of templates with ``answer_choices``;
:func:`first_examples` picks the first few examples of each template. :func:`shard_tables`
reads a split's columns from the Arrow shards the manifest lists, mapped so that pages are
handed back after each slice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..constants import IGNORE_INDEX
from ..read.mapped import MappedFiles, Release
from .gather import take_rows

#: Rows per slice when computing per-example statistics (bounds memory on large splits).
STATS_SLICE = 8192
#: Columns the report reads from each split (a packed split has no prompt, completion or answer_choices).
COLUMNS = ("input_ids", "labels", "seq_lengths", "source", "task", "template", "row_key", "prompt", "completion",
           "answer_choices")
#: Columns :func:`split_stats` reads (the others are read by :func:`answer_counts` and :func:`first_examples`).
_STATS = ("input_ids", "labels", "seq_lengths", "task", "template")


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


def _names(batch: pa.RecordBatch, column: str, packed: bool) -> np.ndarray:
    """A string column of ``batch`` per example (flattened per document in packed rows), as
    objects shared by equal values: one string per distinct name, not one per example (a split
    holds few names and may hold millions of examples)."""
    col = batch.column(column)
    enc = pc.dictionary_encode(pc.list_flatten(col) if packed else col, null_encoding="encode")
    return enc.dictionary.to_numpy(zero_copy_only=False)[enc.indices.to_numpy(zero_copy_only=False)]


def split_stats(table: pa.Table, release: Release | None = None, seq2seq: bool | None = None) -> dict[str, np.ndarray]:
    """Per example (per document in packed rows): token length, prompt and completion tokens,
    trained tokens, supervised fraction, task and template.

    Causal layout: the completion is the trained tokens and the prompt the rest of the sequence;
    seq2seq: the prompt is ``input_ids`` and the completion the labels (the decoder side).
    ``release``: called after each slice to hand back the mapped shards' pages (None: keep them).
    ``seq2seq``: the manifest's layout (None: an example whose labels differ in length from its
    ``input_ids`` counts as seq2seq).
    """
    packed = "seq_lengths" in table.column_names
    names = [c for c in ("task", "template") if c in table.column_names]
    parts: dict[str, list] = {"length": [], "lab_len": [], "trained": [], "task": [], "template": []}
    # a bounded slice at a time: flattening whole columns would hold every label of the split
    # in memory (several bytes per token), which grows with the data
    for batch in table.select([c for c in _STATS if c in table.column_names]).to_batches(max_chunksize=STATS_SLICE):
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
        for c in names:
            parts[c].append(_names(batch, c, packed))
        del labels, flat, batch
        if release is not None:
            release(0, None)
    cat = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in parts.items()
           if k not in ("task", "template")}
    lengths, lab_len, trained = cat["length"], cat["lab_len"], cat["trained"]
    seq2seq = lab_len != lengths if seq2seq is None else np.full(len(lengths), seq2seq)
    # causal: share of the sequence that is trained; seq2seq: of the labels (the decoder side)
    denom = np.where(seq2seq, lab_len, lengths)
    out = {"length": lengths, "trained": trained, "fraction": trained / np.maximum(denom, 1),
           "prompt": np.where(seq2seq, lengths, lengths - trained), "completion": np.where(seq2seq, lab_len, trained)}
    for c in ("task", "template"):
        out[c] = (np.concatenate(parts[c]) if parts[c] else np.zeros(0, dtype=object)) if c in names \
            else np.array(["(all)"] * len(lengths), dtype=object)
    return out


def answer_counts(table: pa.Table, release: Release | None = None) -> dict[tuple[str, str], dict]:
    """Per (task, template) with ``answer_choices``: the choices and how often each answer
    (the completion, stripped) occurs, ``{"choices": [...], "counts": {answer: n}}``.

    Empty for a packed split (it keeps no completion text).
    """
    need = ("task", "template", "completion", "answer_choices")
    if not all(c in table.column_names for c in need):
        return {}
    out: dict[tuple[str, str], dict] = {}
    for batch in table.select(need).to_batches(max_chunksize=STATS_SLICE):
        n = pc.fill_null(pc.list_value_length(batch.column("answer_choices")), 0)
        mask = pc.greater(n, 0)
        if pc.any(mask).as_py():
            sub = pa.Table.from_batches([batch]).filter(mask)
            sub = sub.append_column("answer", pc.utf8_trim_whitespace(sub.column("completion")))
            sub = sub.append_column("i", pa.array(np.arange(sub.num_rows)))
            grouped = sub.select(["task", "template", "answer", "i"]).group_by(["task", "template", "answer"]).aggregate(
                [("i", "count"), ("i", "min")])
            for task, tpl, ans, cnt, i in zip(*(grouped.column(c).to_pylist() for c in
                                                ("task", "template", "answer", "i_count", "i_min"))):
                entry = out.setdefault((task, tpl), {"choices": None, "counts": {}})
                entry["counts"][ans] = entry["counts"].get(ans, 0) + cnt
                if entry["choices"] is None:  # as the template's first example lists them
                    entry["choices"] = [str(c).strip() for c in sub.column("answer_choices")[i].as_py()]
        del batch
        if release is not None:
            release(0, None)
    return out


def first_examples(table: pa.Table, stats: dict[str, np.ndarray], per_template: int) -> list[dict]:
    """The first ``per_template`` examples (documents, in packed rows) of each (task, template), in
    split order: ``source``, ``task``, ``template``, ``row_key``, ``input_ids``, ``labels`` and, when
    the split has them, ``prompt`` and ``completion``. ``stats``: the split's :func:`split_stats`
    (its task and template per example say which rows to read: only those are read)."""
    # one pass in split order (np.unique over astype(str) copies made fixed-width copies of every
    # example's names, and a mask per pair compared the whole split again)
    seen: dict = {}
    picked: list[int] = []
    for i, pair in enumerate(zip(stats["task"].tolist(), stats["template"].tolist())):
        n = seen.get(pair, 0)
        if n < per_template:
            seen[pair] = n + 1
            picked.append(i)
    cols = [c for c in COLUMNS if c in table.column_names and c != "answer_choices"]
    # take_rows, not Table.take: that would first concatenate whole columns of the split
    if "seq_lengths" not in table.column_names:
        return take_rows(table.select(cols), picked).to_pylist()
    # packed: example i is document i - first[row] of the row that holds it
    per_row = pc.list_value_length(table.column("seq_lengths")).to_numpy(zero_copy_only=False).astype(np.int64)
    first = np.cumsum(per_row) - per_row
    rows = np.searchsorted(first, picked, side="right") - 1
    got = take_rows(table.select(cols), np.unique(rows)).to_pylist()
    by_row = dict(zip(np.unique(rows).tolist(), got))
    return [_documents(by_row[r])[i - first[r]] for i, r in zip(picked, rows.tolist())]


def _documents(row: dict) -> list[dict]:
    """The documents of a packed row, each with its own ids, labels and provenance."""
    docs, start = [], 0
    for i, n in enumerate(row["seq_lengths"]):
        d = {k: v[i] for k, v in row.items() if k not in ("input_ids", "labels", "seq_lengths")}
        d["input_ids"], d["labels"] = row["input_ids"][start:start + n], row["labels"][start:start + n]
        docs.append(d)
        start += n
    return docs
