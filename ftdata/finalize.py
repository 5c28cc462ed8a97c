"""Phase B of a build: assign splits, deduplicate, order and write the final shards.

Phase A leaves one Arrow file per chunk (memory-mapped here, never loaded whole). Phase B
works on the small internal columns as NumPy arrays -- split key, dedup hash, sort key,
lengths -- and then copies the selected rows into the final shards in bounded slices, so
memory stays flat as data grows.

Decisions made here, all deterministic and independent of input order:

* split: a fixed split from phase A (source split), else the seeded unit hash of the row key
  (or group value) against the cumulative ratios; in ``stratify`` mode the remaining rows
  are ranked by that hash within each label value after dedup (:mod:`ftdata.split`);
* exact dedup on normalised (prompt, completion): one copy survives, chosen by split
  priority (test, then validation, then train -- so a test example never also appears in
  train) and then by sort key; every removed copy goes to rejects naming the survivor;
* near dedup (optional): MinHash + LSH (:mod:`ftdata.neardup`), same survivor rule;
* order within a split: by a seeded hash of (source, row key, template);
* mixture (optional): the sampled splits keep a fixed number of examples per task, the
  first in that order (:mod:`ftdata.mixture`); the rest go to rejects as ``not_sampled``;
* contamination report (:mod:`ftdata.contamination`), which may fail the build.
"""

from __future__ import annotations

import mmap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .chunk import Reject, output_schema
from .gather import take_rows
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


_MAPS: list[mmap.mmap] = []


def open_work(files: list[Path]) -> pa.Table:
    """Memory-map every phase-A file and concatenate them (zero-copy).

    The maps are Python ``mmap`` objects (kept in ``_MAPS``) so :func:`release_pages` can hand
    their pages back to the kernel between write slices: without that, every page phase B ever
    touched stays in this process's resident set and peak RSS grows with the input.
    """
    tables = []
    _MAPS.clear()
    for f in files:
        with open(f, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        _MAPS.append(mm)
        tables.append(pa.ipc.open_file(pa.py_buffer(mm)).read_all())
    from .chunk import work_schema

    return pa.concat_tables(tables) if tables else work_schema().empty_table()


def release_pages() -> None:
    """Drop the resident pages of the mapped phase-A files from this process.

    The files are mapped read-only and shared, so ``MADV_DONTNEED`` only unmaps the pages here;
    the next access faults them back in from the page cache, unchanged.
    """
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None:
        return
    for mm in _MAPS:
        try:
            mm.madvise(advice)
        except (OSError, ValueError):
            pass


def close_work() -> None:
    """Forget the maps of the last build (they are unmapped once no table refers to them)."""
    _MAPS.clear()


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
    """Elementwise ``is None`` over an object array (one C loop, not a Python generator)."""
    return np.asarray(np.asarray(a, dtype=object) == None, dtype=bool)  # noqa: E711


def dedup_rows(work: pa.Table, splits: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
    """Keep-mask after exact dedup across all splits, and (removed, kept, code, note) per copy."""
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
    return keep, [(d, s, "duplicate", "exact duplicate") for d, s in zip(dups.tolist(), survivor.tolist())]


def near_dedup(work: pa.Table, splits: np.ndarray, keep: np.ndarray, threshold: float,
               num_perm: int) -> tuple[np.ndarray, list[tuple]]:
    """Remove near-duplicates among the kept rows (same task and template only).

    Survivor rule as for exact duplicates: the copy in the higher-priority split (test, then
    validation, then train) wins, then the lower sort key. A row is removed only when it is
    similar to a row that is itself kept, and its reject names that row.
    """
    n = work.num_rows
    sigs = np.zeros((n, num_perm), dtype=np.uint32)
    valid = np.zeros(n, dtype=bool)
    width = np.arange(num_perm * 4)
    at = 0
    for ch in work.column("_minhash").chunks:  # per chunk: offsets are int32 within a chunk
        loc = np.nonzero(~np.asarray(ch.is_null().to_numpy(zero_copy_only=False), dtype=bool))[0]
        if loc.size:
            data = np.frombuffer(ch.buffers()[2], dtype=np.uint8)
            offsets = np.frombuffer(ch.buffers()[1], dtype=np.int32)[ch.offset:ch.offset + len(ch) + 1]
            starts = offsets[loc].astype(np.int64)
            sigs[at + loc] = data[starts[:, None] + width[None, :]].view("<u4")
            valid[at + loc] = True
        at += len(ch)
    valid &= keep
    if valid.sum() < 2:
        return keep, []
    scope_names = pc.binary_join_element_wise(work.column("task"), work.column("template"), "\x00")
    _, scope = np.unique(scope_names.to_numpy(zero_copy_only=False), return_inverse=True)
    prio = np.fromiter((SPLIT_PRIORITY.get(x, 5) for x in splits), dtype=np.int64, count=n)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), work.column("_sort").to_numpy(), prio))] = np.arange(n)
    from .neardup import near_duplicates

    dup, surv, sim = near_duplicates(sigs, valid, scope.astype(np.int64), rank, threshold)
    keep = keep.copy()
    keep[dup] = False
    return keep, [(d, k, "near_duplicate", f"near duplicate (estimated Jaccard {j:.2f} >= {threshold})")
                  for d, k, j in zip(dup.tolist(), surv.tolist(), sim.tolist())]


def _records(work: pa.Table, idx, cols=("source", "row_key", "template", "_line", "task")) -> list[dict]:
    """A few columns of the given rows as dicts (one bulk take, not one lookup per value)."""
    idx = np.asarray(idx, dtype=np.int64)
    return work.select(list(cols)).take(pa.array(idx)).to_pylist() if idx.size else []


def dedup_rejects(work: pa.Table, splits: np.ndarray, removed: list[tuple]) -> list[Reject]:
    """Reject records for removed duplicates, naming the kept copy (once splits are final)."""
    if not removed:
        return []
    dups = _records(work, [r[0] for r in removed])
    kept = _records(work, [r[1] for r in removed])
    out = []
    for (d, k, code, note), rd, rk in zip(removed, dups, kept):
        of = {"source": rk["source"], "row_key": rk["row_key"], "template": rk["template"], "split": splits[k]}
        out.append(Reject(rd["source"], rd["row_key"], rd["_line"], "dedup", code,
                          f"{note} of {rk['source']}/{rk['row_key']}/{rk['template']} (kept in {splits[k]})",
                          rd["template"], splits[d], duplicate_of=of))
    return out


def sample_mixture(work: pa.Table, p: Plan, mix) -> None:
    """Realize the mixture in the sampled splits (see :mod:`ftdata.mixture`); update ``p``."""
    from .mixture import quotas, report, task_rates

    all_tasks = sorted(set(work.column("task").unique().to_pylist()))
    info = {"method": mix.method, "cap": mix.cap, "temperature": mix.temperature, "size": mix.size,
            "weights": dict(mix.weights), "replacement": False, "splits": {}}
    for name in mix.splits:
        order = p.order.get(name, np.zeros(0, dtype=np.int64))
        tasks = work.column("task").take(pa.array(order)).to_numpy(zero_copy_only=False) if len(order) else np.zeros(0, object)
        available = {t: int((tasks == t).sum()) for t in all_tasks}
        rates = task_rates(mix.method, available, weights=mix.weights, cap=mix.cap, temperature=mix.temperature)
        taken = quotas(rates, available, mix.size)
        chosen = np.zeros(len(order), dtype=bool)
        for t in all_tasks:
            pos = np.nonzero(tasks == t)[0]  # already in output (seeded) order
            chosen[pos[:taken[t]]] = True
        dropped = order[~chosen]
        p.order[name] = order[chosen]
        for r in _records(work, dropped):
            t = r["task"]
            p.rejects.append(Reject(r["source"], r["row_key"], r["_line"], "mixture", "not_sampled",
                                    f"task '{t}': the {name} mixture takes {taken[t]} of its {available[t]} examples",
                                    r["template"], name))
        info["splits"][name] = report(mix.method, rates, available, taken, mix.size)
    p.info["mixture"] = info


def plan(work: pa.Table, split, dedup, *, mixture=None, contamination=None,
         templates: dict | None = None, base: Path | None = None) -> Plan:
    """Decide split membership and order, in this sequence (each step sees the previous).

    1. splits: fixed (source) splits, else the hashed ratios -- except in ``stratify`` mode,
       where rows without a fixed split are assigned after dedup (so the proportions hold in
       the output);
    2. exact dedup, 3. near dedup (``dedup.near``), 4. stratified assignment,
    5. order within each split by the seeded sort key, 6. the mixture (sampled splits only),
    7. the contamination report (may raise BuildError).

    Args:
        work: the phase-A work table.
        split: :class:`ftdata.recipe.SplitSpec`.
        dedup: :class:`ftdata.recipe.DedupSpec` (a bool is read as ``exact``).
        mixture: :class:`ftdata.recipe.MixtureSpec` or None.
        contamination: :class:`ftdata.recipe.ContaminationSpec` or None.
        templates: source -> templates (their literal text is left out of n-grams).
        base: folder for relative paths (evaluation sets).
    """
    ratios = split.ratios
    stratify = getattr(split, "mode", None) == "stratify"
    splits = assign_splits(work, ratios)
    if stratify:
        fixed = work.column("_split").to_numpy(zero_copy_only=False)
        splits = np.where(pd_isnull(fixed), None, splits)
    exact = dedup if isinstance(dedup, bool) else dedup.exact
    keep = np.ones(work.num_rows, dtype=bool)
    removed: list[tuple] = []
    if exact:
        keep, rem = dedup_rows(work, splits)
        removed += rem
    if not isinstance(dedup, bool) and dedup.near:
        keep, rem = near_dedup(work, splits, keep, dedup.threshold, dedup.num_perm)
        removed += rem
    if stratify:
        names_pos = [n for n, r in ratios.items() if r > 0]
        todo = np.nonzero(pd_isnull(splits) & keep)[0]
        if todo.size:
            from .split import stratified_splits

            u = work.column("_u").to_numpy()[todo]
            strata = work.column("_stratum").take(pa.array(todo)).to_numpy(zero_copy_only=False)
            splits[todo] = np.asarray(names_pos, dtype=object)[stratified_splits(u, strata, ratios)]
    names = list(dict.fromkeys(list(ratios) + sorted({s for s in splits[keep] if s is not None})))
    p = Plan(names)
    p.rejects += dedup_rejects(work, splits, removed)
    sort = work.column("_sort").to_numpy()
    for name in names:
        idx = np.nonzero((splits == name) & keep)[0]
        p.order[name] = idx[np.argsort(sort[idx], kind="stable")]
    if mixture is not None:
        sample_mixture(work, p, mixture)
    if contamination is not None:
        from .contamination import contamination_report
        from .neardup import template_literals

        literals = {(s, t.name): template_literals(t.sources()) for s, ts in (templates or {}).items() for t in ts}
        p.info["contamination"] = contamination_report(work, p.order, contamination, literals, base or Path.cwd())
    return p


def write_splits(work: pa.Table, p: Plan, folder: Path, shard_size: int) -> dict[str, list[dict]]:
    """Copy the planned rows into final shards, a bounded slice at a time."""
    cols = [f.name for f in output_schema()]
    shards = {}
    for name in p.split_names:
        w = SplitWriter(folder / name, output_schema(), shard_size)
        order = p.order.get(name, np.zeros(0, dtype=np.int64))
        for start in range(0, len(order), WRITE_SLICE):
            part = take_rows(work.select(cols), order[start:start + WRITE_SLICE])  # no whole-column concat
            w.write(part)
            del part
            release_pages()
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


def rows_with_output(work: pa.Table, p: Plan) -> tuple[Counter, Counter]:
    """Per source: (distinct rows with at least one example in the output, examples written).

    Counted over the planned rows (one per document, packed or not), so the shards need not be
    read back.
    """
    rows: Counter = Counter()
    examples: Counter = Counter()
    idx = np.concatenate([v for v in p.order.values()]) if p.order else np.zeros(0, dtype=np.int64)
    if idx.size == 0:
        return rows, examples
    sub = take_rows(work.select(["source", "row_key"]), idx)
    for v in pc.value_counts(sub.column("source").combine_chunks()):
        examples[v["values"].as_py()] = v["counts"].as_py()
    uniq = sub.group_by(["source", "row_key"]).aggregate([])
    for v in pc.value_counts(uniq.column("source").combine_chunks()):
        rows[v["values"].as_py()] = v["counts"].as_py()
    return rows, examples
