"""Phase B of a build: assign splits, deduplicate, order and write the final shards.

Phase A leaves one Arrow file per chunk (memory-mapped here, never loaded whole). Phase B
works on the small internal columns as NumPy arrays -- split key, dedup hash, sort key,
lengths -- and then copies the selected rows into the final shards in bounded slices, so
memory stays flat as data grows.

Decisions made here, all deterministic and independent of input order:

* split: a fixed split from phase A (source split), else the seeded unit hash of the row key
  (or group value) against the cumulative ratios;
* exact dedup on normalised (prompt, completion): one copy survives, chosen by split
  priority (test, then validation, then train -- so a test example never also appears in
  train) and then by sort key; every removed copy goes to rejects naming the survivor;
* order within a split: by a seeded hash of (source, row key, template).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .chunk import Reject, output_schema
from .writer import SplitWriter

#: Survivor priority for duplicates across splits (lower wins).
SPLIT_PRIORITY = {"test": 0, "validation": 1, "valid": 1, "dev": 1, "train": 9}
WRITE_SLICE = 4096


@dataclass
class Plan:
    """Which rows of the work table go to which split, in which order."""

    split_names: list[str]
    order: dict[str, np.ndarray] = field(default_factory=dict)  # split -> row indices, in output order
    rejects: list[Reject] = field(default_factory=list)
    info: dict = field(default_factory=dict)  # extra manifest sections from plan steps


def open_work(files: list[Path]) -> pa.Table:
    """Memory-map every phase-A file and concatenate them (zero-copy)."""
    tables = []
    for f in files:
        with pa.memory_map(str(f)) as src:
            tables.append(pa.ipc.open_file(src).read_all())
    from .chunk import work_schema

    return pa.concat_tables(tables) if tables else work_schema().empty_table()


def assign_splits(work: pa.Table, ratios: dict[str, float]) -> np.ndarray:
    """Split name per work row (object array)."""
    fixed = work.column("_split").to_numpy(zero_copy_only=False)
    u = work.column("_u").to_numpy()
    names = [n for n, r in ratios.items() if r > 0]
    bounds = np.cumsum([ratios[n] for n in names])
    idx = np.minimum(np.searchsorted(bounds, u, side="right"), len(names) - 1)
    hashed = np.asarray(names, dtype=object)[idx] if names else np.full(len(u), None, dtype=object)
    return np.where(pd_isnull(fixed), hashed, fixed)


def pd_isnull(a: np.ndarray) -> np.ndarray:
    return np.fromiter((x is None for x in a), dtype=bool, count=len(a))


def dedup(work: pa.Table, splits: np.ndarray) -> tuple[np.ndarray, list[Reject]]:
    """Keep-mask after exact dedup across all splits; rejects name the surviving copy."""
    n = work.num_rows
    keep = np.ones(n, dtype=bool)
    if n == 0:
        return keep, []
    h = work.column("_dedup").combine_chunks()
    buf = np.frombuffer(h.buffers()[1], dtype=np.uint8)[h.offset * 16:(h.offset + n) * 16]
    hv = buf.view(np.dtype([("a", "<u8"), ("b", "<u8")]))
    prio = np.fromiter((SPLIT_PRIORITY.get(s, 5) for s in splits), dtype=np.int16, count=n)
    sort = work.column("_sort").to_numpy()
    order = np.lexsort((np.arange(n), sort, prio, hv["b"], hv["a"]))
    hs = hv[order]
    first = np.ones(n, dtype=bool)
    first[1:] = (hs["a"][1:] != hs["a"][:-1]) | (hs["b"][1:] != hs["b"][:-1])
    dups = order[~first]
    if dups.size == 0:
        return keep, []
    keep[dups] = False
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    survivor = order[group_start[~first]]
    rejects = []
    src, key, tpl, line = (work.column(c) for c in ("source", "row_key", "template", "_line"))
    for d, s in zip(dups.tolist(), survivor.tolist()):
        rejects.append(Reject(src[d].as_py(), key[d].as_py(), line[d].as_py(), "dedup", "duplicate",
                              f"exact duplicate of {src[s].as_py()}/{key[s].as_py()}/{tpl[s].as_py()} "
                              f"(kept in {splits[s]})", tpl[d].as_py(), splits[d]))
    return keep, rejects


def plan(work: pa.Table, ratios: dict[str, float], do_dedup: bool) -> Plan:
    """Decide split membership and order. Plan steps added later (mixtures, near-dup) go here."""
    splits = assign_splits(work, ratios)
    names = list(dict.fromkeys(list(ratios) + sorted({s for s in splits if s is not None})))
    p = Plan(names)
    keep = np.ones(work.num_rows, dtype=bool)
    if do_dedup:
        keep, rej = dedup(work, splits)
        p.rejects += rej
    sort = work.column("_sort").to_numpy()
    for name in names:
        idx = np.nonzero((splits == name) & keep)[0]
        p.order[name] = idx[np.argsort(sort[idx], kind="stable")]
    return p


def write_splits(work: pa.Table, p: Plan, folder: Path, shard_size: int) -> dict[str, list[dict]]:
    """Copy the planned rows into final shards, a bounded slice at a time."""
    cols = [f.name for f in output_schema()]
    shards = {}
    for name in p.split_names:
        w = SplitWriter(folder / name, output_schema(), shard_size)
        order = p.order.get(name, np.zeros(0, dtype=np.int64))
        for start in range(0, len(order), WRITE_SLICE):
            part = work.take(pa.array(order[start:start + WRITE_SLICE])).select(cols)
            w.write(part)
        shards[name] = w.close(name)
    return shards


def split_stats(work: pa.Table, p: Plan) -> tuple[dict, dict]:
    """(counts per split, token statistics per split) from the internal columns."""
    counts, tokens = {}, {}
    for name in p.split_names:
        idx = pa.array(p.order.get(name, np.zeros(0, dtype=np.int64)))
        sub = work.select(["task", "template", "_len", "_trained", "_truncated", "_straddle"]).take(idx)
        lens = sub.column("_len").to_numpy().astype(np.int64)
        trained = sub.column("_trained").to_numpy().astype(np.int64)
        tasks = sub.column("task").to_numpy(zero_copy_only=False)
        by_task = Counter()
        task_tokens: dict[str, dict] = {}
        for t in sorted(set(tasks)):
            m = tasks == t
            by_task[t] = int(m.sum())
            task_tokens[t] = {"tokens": int(lens[m].sum()), "trained_tokens": int(trained[m].sum())}
        tpl_counts = pc.value_counts(sub.column("template").combine_chunks()) if sub.num_rows else []
        counts[name] = {
            "examples": int(sub.num_rows),
            "tasks": dict(sorted(by_task.items())),
            "templates": dict(sorted((v["values"].as_py(), v["counts"].as_py()) for v in tpl_counts)),
            "task_tokens": task_tokens,
        }
        total = int(lens.sum())
        st = {"examples": int(sub.num_rows), "tokens": total, "trained_tokens": int(trained.sum()),
              "supervised_fraction": round(int(trained.sum()) / total, 6) if total else 0.0,
              "truncated": int(pc.sum(sub.column("_truncated")).as_py() or 0),
              "straddling_boundary": int(pc.sum(sub.column("_straddle")).as_py() or 0)}
        if lens.size:
            st["length"] = {"min": int(lens.min()), "p50": float(np.percentile(lens, 50)),
                            "p90": float(np.percentile(lens, 90)), "p99": float(np.percentile(lens, 99)),
                            "max": int(lens.max()), "mean": round(float(lens.mean()), 3)}
        tokens[name] = st
    return counts, tokens


def rows_with_output(work: pa.Table, p: Plan) -> Counter:
    """Per source: how many distinct rows have at least one example in the output."""
    out: Counter = Counter()
    idx = np.concatenate([v for v in p.order.values()]) if p.order else np.zeros(0, dtype=np.int64)
    if idx.size == 0:
        return out
    sub = work.select(["source", "row_key"]).take(pa.array(idx))
    uniq = sub.group_by(["source", "row_key"]).aggregate([])
    for v in pc.value_counts(uniq.column("source").combine_chunks()):
        out[v["values"].as_py()] = v["counts"].as_py()
    return out
