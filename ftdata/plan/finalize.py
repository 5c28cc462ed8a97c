"""Phase B of a build: assign splits, deduplicate, order and write the final shards.

Phase A leaves one Arrow file per chunk (memory-mapped here, never loaded whole). Phase B
works on the small internal columns as NumPy arrays -- split key, dedup hash, sort key,
lengths -- and then copies the selected rows into the final shards in bounded slices, so
memory stays flat as data grows. Every pass over the mapped files (:func:`work_batches`,
:func:`column_numpy`, :func:`ftdata.write.gather.gather_slices`) is given the build's ``release``
(:class:`ftdata.read.mapped.MappedFiles`, owned by that build) and hands each file's pages back as
soon as it has copied from it, so the resident set holds about one chunk file, not all of them.

Decisions made here, all deterministic and independent of input order:

* split: a fixed split from phase A (source split), else the seeded unit hash of the row key
  (or group value, whatever the source) against the cumulative ratios; in ``stratify`` mode
  the remaining rows are ranked by that hash within each label value after dedup (all three
  rules in :mod:`ftdata.plan.split`, which phase A and the few-shot pools call too);
* exact dedup on normalised (prompt, completion): one copy survives, chosen by split
  priority (test, then validation, then train -- so a test example never also appears in
  train) and then by sort key; every removed copy goes to rejects naming the survivor;
* near dedup (optional): MinHash + LSH (:mod:`ftdata.plan.neardup`), same survivor rule;
* order within a split: by a seeded hash of (source, row key, template);
* mixture (optional): the sampled splits keep a fixed number of examples per task, the
  first in that order (:mod:`ftdata.plan.mixture`); the rest go to rejects as ``not_sampled``;
* contamination report (:mod:`ftdata.plan.contamination`), which may fail the build.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..build.chunk import CHAT_COLUMNS, output_schema
from ..constants import SPLIT_PRIORITY
from ..read.mapped import Release
from ..rejects import Code, Reject
from ..write.gather import gather_slices
from ..write.writer import SplitWriter
from .split import assign_splits
from .worktable import SMALL_PASS_ROWS, column_numpy, selected, value_codes, work_batches

WRITE_SLICE = 4096


@dataclass
class Plan:
    """Which rows of the work table go to which split, in which order."""

    split_names: list[str]
    order: dict[str, np.ndarray] = field(default_factory=dict)  # split -> row indices, in output order
    rejects: list[Reject] = field(default_factory=list)
    info: dict = field(default_factory=dict)  # extra manifest sections from plan steps


def is_none(a: np.ndarray) -> np.ndarray:
    """Elementwise ``is None`` over an object array (one C loop, not a Python generator).

    NumPy only: unlike pandas' ``isnull``, NaN is a value here, not a missing one.
    """
    return np.asarray(np.asarray(a, dtype=object) == None, dtype=bool)  # noqa: E711


def split_priority(splits: np.ndarray) -> np.ndarray:
    """Each row's split priority (:data:`~ftdata.constants.SPLIT_PRIORITY`; 5 for a split it does not
    name), as int64: one comparison of the object array per named split, not a generator per row."""
    splits = np.asarray(splits, dtype=object)
    prio = np.full(len(splits), 5, dtype=np.int64)
    for name, rank in SPLIT_PRIORITY.items():
        prio[splits == name] = rank
    return prio


def dedup_rows(work: pa.Table, splits: np.ndarray, sort: np.ndarray,
               release: Release | None = None) -> tuple[np.ndarray, list[tuple]]:
    """Keep-mask after exact dedup across all splits, and (removed, kept, code, note) per copy
    (``sort``: the ``_sort`` column)."""
    n = work.num_rows
    keep = np.ones(n, dtype=bool)
    if n == 0:
        return keep, []
    hv = column_numpy(work, "_dedup", release).view(np.dtype([("a", "<u8"), ("b", "<u8")]))
    a = np.sort(hv["a"])  # copies share both halves: none share the first, none to remove (one key sorted, not five)
    if not (a[1:] == a[:-1]).any():
        return keep, []
    prio = split_priority(splits)
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
    return keep, [(d, s, Code.DUPLICATE, "exact duplicate") for d, s in zip(dups.tolist(), survivor.tolist())]


def near_dedup(work: pa.Table, splits: np.ndarray, keep: np.ndarray, sort: np.ndarray, threshold: float,
               num_perm: int, release: Release | None = None) -> tuple[np.ndarray, list[tuple]]:
    """Remove near-duplicates among the kept rows (same task and template only).

    Survivor rule as for exact duplicates: the copy in the higher-priority split (test, then
    validation, then train) wins, then the lower sort key. A row is removed only when it is
    similar to a row that is itself kept, and its reject names that row.
    """
    n = work.num_rows
    sigs = np.zeros((n, num_perm), dtype=np.uint32)
    valid = np.zeros(n, dtype=bool)
    width = np.arange(num_perm * 4)
    for at, batch in work_batches(work, ["_minhash"], release):  # per chunk: offsets are int32 within a chunk
        ch = batch.column(0)
        loc = np.nonzero(~np.asarray(ch.is_null().to_numpy(zero_copy_only=False), dtype=bool))[0]
        if loc.size:
            data = np.frombuffer(ch.buffers()[2], dtype=np.uint8)
            offsets = np.frombuffer(ch.buffers()[1], dtype=np.int32)[ch.offset:ch.offset + len(ch) + 1]
            starts = offsets[loc].astype(np.int64)
            sigs[at + loc] = data[starts[:, None] + width[None, :]].view("<u4")
            valid[at + loc] = True
    valid &= keep
    if valid.sum() < 2:
        return keep, []
    scope_names = pc.binary_join_element_wise(work.column("task"), work.column("template"), "\x00")
    _, scope = np.unique(scope_names.to_numpy(zero_copy_only=False), return_inverse=True)
    prio = split_priority(splits)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), sort, prio))] = np.arange(n)
    from .neardup import near_duplicates

    dup, surv, sim = near_duplicates(sigs, valid, scope.astype(np.int64), rank, threshold)
    keep = keep.copy()
    keep[dup] = False
    return keep, [(d, k, Code.NEAR_DUPLICATE, f"near duplicate (estimated Jaccard {j:.2f} >= {threshold})")
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
        out.append(Reject(rd["source"], rd["row_key"], rd["_line"], code,
                          f"{note} of {rk['source']}/{rk['row_key']}/{rk['template']} (kept in {splits[k]})",
                          rd["template"], splits[d], duplicate_of=of))
    return out


def sample_mixture(work: pa.Table, p: Plan, mix) -> None:
    """Realize the mixture in the sampled splits (see :mod:`ftdata.plan.mixture`); update ``p``."""
    from .mixture import quotas, report, task_rates

    all_tasks = sorted(set(work.column("task").unique().to_pylist()))
    info = {"method": mix.method, "cap": mix.cap, "temperature": mix.temperature, "size": mix.size,
            "weights": dict(mix.weights), "replacement": False, "splits": {}}
    for name in mix.splits:
        order = p.order.get(name, np.zeros(0, dtype=np.int64))
        tasks = work.column("task").take(pa.array(order)).to_numpy(zero_copy_only=False) if len(order) else np.zeros(0, object)
        available = {t: int((tasks == t).sum()) for t in all_tasks}
        rates = task_rates(mix.method, available, weights=mix.weights, cap=mix.cap, temperature=mix.temperature)
        taken = quotas(rates, available, mix.size, cap=mix.cap)
        chosen = np.zeros(len(order), dtype=bool)
        for t in all_tasks:
            pos = np.nonzero(tasks == t)[0]  # already in output (seeded) order
            chosen[pos[:taken[t]]] = True
        dropped = order[~chosen]
        p.order[name] = order[chosen]
        for r in _records(work, dropped):
            t = r["task"]
            p.rejects.append(Reject(r["source"], r["row_key"], r["_line"], Code.NOT_SAMPLED,
                                    f"task '{t}': the {name} mixture takes {taken[t]} of its {available[t]} examples",
                                    r["template"], name))
        info["splits"][name] = report(mix.method, rates, available, taken, mix.size)
    p.info["mixture"] = info


def plan(work: pa.Table, split, dedup, *, mixture=None, contamination=None,
         templates: dict | None = None, base: Path | None = None, release: Release | None = None) -> Plan:
    """Decide split membership and order, in this sequence (each step sees the previous).

    1. splits: fixed (source) splits, else the hashed ratios -- except in ``stratify`` mode,
       where rows without a fixed split are assigned after dedup (so the proportions hold in
       the output);
    2. exact dedup, 3. near dedup (``dedup.near``), 4. stratified assignment,
    5. order within each split by the seeded sort key, 6. the mixture (sampled splits only),
    7. the contamination report (may raise BuildError).

    Args:
        work: the phase-A work table.
        split: :class:`ftdata.config.recipe.SplitSpec`.
        dedup: :class:`ftdata.config.recipe.DedupSpec` (a bool is read as ``exact``).
        mixture: :class:`ftdata.config.recipe.MixtureSpec` or None.
        contamination: :class:`ftdata.config.recipe.ContaminationSpec` or None.
        templates: source -> templates (their literal text is left out of n-grams).
        base: folder for relative paths (evaluation sets).
        release: the build's :meth:`~ftdata.read.mapped.MappedFiles.release` (None: keep pages).
    """
    ratios = split.ratios
    stratify = getattr(split, "mode", None) == "stratify"
    # each internal column read once (a pass over every chunk file)
    fixed, u, sort = (column_numpy(work, c, release) for c in ("_split", "_u", "_sort"))
    splits = assign_splits(fixed, u, ratios)
    if stratify:
        splits = np.where(is_none(fixed), None, splits)
    exact = dedup if isinstance(dedup, bool) else dedup.exact
    keep = np.ones(work.num_rows, dtype=bool)
    removed: list[tuple] = []
    if exact:
        keep, rem = dedup_rows(work, splits, sort, release)
        removed += rem
    if not isinstance(dedup, bool) and dedup.near:
        keep, rem = near_dedup(work, splits, keep, sort, dedup.threshold, dedup.num_perm, release)
        removed += rem
    if stratify:
        names_pos = [n for n, r in ratios.items() if r > 0]
        todo = np.nonzero(is_none(splits) & keep)[0]
        if todo.size:
            from .split import stratified_splits

            strata = work.column("_stratum").take(pa.array(todo)).to_numpy(zero_copy_only=False)
            splits[todo] = np.asarray(names_pos, dtype=object)[stratified_splits(u[todo], strata, ratios)]
    names = list(dict.fromkeys(list(ratios) + sorted({s for s in splits[keep] if s is not None})))
    p = Plan(names)
    p.rejects += dedup_rejects(work, splits, removed)
    for name in names:
        idx = np.nonzero((splits == name) & keep)[0]
        p.order[name] = idx[np.argsort(sort[idx], kind="stable")]
    if mixture is not None:
        sample_mixture(work, p, mixture)
    if contamination is not None:
        from .contamination import contamination_report
        from .neardup import template_literals

        literals = {(s, t.name): template_literals(t.sources()) for s, ts in (templates or {}).items() for t in ts}
        p.info["contamination"] = contamination_report(work, p.order, contamination, literals, base or Path.cwd(),
                                                        release=release)
    return p


def write_splits(work: pa.Table, p: Plan, folder: Path, shard_size: int,
                 release: Release | None = None, references: bool = False) -> dict[str, list[dict]]:
    """Copy the planned rows into final shards, a bounded slice at a time.

    Every slice of every split is gathered in one pass over the chunk files
    (:func:`ftdata.write.gather.gather_slices`), not one pass per slice. With ``references`` (a
    template names reference columns) the internal ``_references`` column is written as
    ``references``; without, the shards are what they always were.
    """
    chat = CHAT_COLUMNS[0][0] in work.column_names
    schema = output_schema(chat, references)
    cols = [f.name for f in output_schema(chat)]
    table = (work.select(cols + ["_references"]).rename_columns(schema.names) if references
             else work.select(cols))
    names = p.split_names
    orders = [p.order.get(name, np.zeros(0, dtype=np.int64)) for name in names]
    slices = [(k, o[start:start + WRITE_SLICE]) for k, o in enumerate(orders) for start in range(0, len(o), WRITE_SLICE)]
    writers = [SplitWriter(folder / name, schema, shard_size) for name in names]
    for (k, _), part in zip(slices, gather_slices(table, [s for _, s in slices], folder, release)):
        writers[k].write(part)
    return {name: w.close(name) for name, w in zip(names, writers)}


def split_stats(work: pa.Table, p: Plan, release: Release | None = None) -> tuple[dict, dict]:
    """(counts per split, token statistics per split) from the internal columns.

    One pass over the work table, a chunk at a time (see :func:`work_batches`), counting each
    row in the split it is written to. Nothing here depends on the order the rows are visited
    in (the length percentiles sort), so the figures are those of the splits as written.
    """
    names = p.split_names
    which = np.full(work.num_rows, -1, dtype=np.int32)  # split number per work row, -1: not written
    for k, name in enumerate(names):
        which[p.order.get(name, np.zeros(0, dtype=np.int64))] = k
    lens: list[list[np.ndarray]] = [[] for _ in names]
    by_task: list[dict[str, list[int]]] = [{} for _ in names]  # task -> [examples, tokens, trained tokens]
    by_template: list[Counter] = [Counter() for _ in names]
    flags = np.zeros((len(names), 2), dtype=np.int64)  # truncated, straddling the boundary
    for start, batch in work_batches(work, ["task", "template", "_len", "_trained", "_truncated", "_straddle"],
                                     release, SMALL_PASS_ROWS):
        k = which[start:start + batch.num_rows]
        rows = np.nonzero(k >= 0)[0]
        if rows.size == 0:
            continue
        k, sub = k[rows], selected(batch, rows)
        ln = sub.column("_len").to_numpy().astype(np.int64)
        trained = sub.column("_trained").to_numpy().astype(np.int64)
        marked = np.stack([pc.fill_null(sub.column(c), False).to_numpy(zero_copy_only=False)
                           for c in ("_truncated", "_straddle")], axis=1)
        task, task_names = value_codes(sub.column("task"))
        tpl, tpl_names = value_codes(sub.column("template"))
        for j in np.unique(k).tolist():
            m = k == j
            lens[j].append(ln[m])
            flags[j] += np.count_nonzero(marked[m], axis=0)
            for c, n in enumerate(np.bincount(tpl[m], minlength=len(tpl_names)).tolist()):
                if n:
                    by_template[j][tpl_names[c]] += n
            for c in np.unique(task[m]).tolist():
                mc = m & (task == c)
                acc = by_task[j].setdefault(task_names[c], [0, 0, 0])
                acc[0] += int(mc.sum())
                acc[1] += int(ln[mc].sum())
                acc[2] += int(trained[mc].sum())
    counts, tokens = {}, {}
    for j, name in enumerate(names):
        ln = np.concatenate(lens[j]) if lens[j] else np.zeros(0, dtype=np.int64)
        tasks = dict(sorted(by_task[j].items()))
        counts[name] = {
            "examples": int(ln.size),
            "tasks": {t: v[0] for t, v in tasks.items()},
            "templates": dict(sorted(by_template[j].items())),
            "task_tokens": {t: {"tokens": v[1], "trained_tokens": v[2]} for t, v in tasks.items()},
        }
        total, supervised = int(ln.sum()), sum(v[2] for v in tasks.values())
        st = {"examples": int(ln.size), "tokens": total, "trained_tokens": supervised,
              "supervised_fraction": round(supervised / total, 6) if total else 0.0,
              "truncated": int(flags[j, 0]), "straddling_boundary": int(flags[j, 1])}
        if ln.size:
            st["length"] = {"min": int(ln.min()), "p50": float(np.percentile(ln, 50)),
                            "p90": float(np.percentile(ln, 90)), "p99": float(np.percentile(ln, 99)),
                            "max": int(ln.max()), "mean": round(float(ln.mean()), 3)}
        tokens[name] = st
    return counts, tokens


def rows_with_output(work: pa.Table, p: Plan, release: Release | None = None) -> tuple[Counter, Counter]:
    """Per source: (distinct rows with at least one example in the output, examples written).

    Counted over the planned rows (one per document, packed or not), so the shards need not be
    read back, in one pass over the work table a chunk at a time (see :func:`work_batches`). A
    row's examples all come from the one chunk that rendered it, and row keys are unique within
    a source (a repeated key is rejected when read), so the distinct rows of the chunks add up.
    """
    written = np.zeros(work.num_rows, dtype=bool)
    for idx in p.order.values():
        written[idx] = True
    rows: Counter = Counter()
    examples: Counter = Counter()
    for start, batch in work_batches(work, ["source", "row_key"], release, SMALL_PASS_ROWS):
        sel = np.nonzero(written[start:start + batch.num_rows])[0]
        if sel.size == 0:
            continue
        sub = pa.Table.from_batches([selected(batch, sel)])
        for v in pc.value_counts(sub.column("source").combine_chunks()):
            examples[v["values"].as_py()] += v["counts"].as_py()
        uniq = sub.group_by(["source", "row_key"]).aggregate([])
        for v in pc.value_counts(uniq.column("source").combine_chunks()):
            rows[v["values"].as_py()] += v["counts"].as_py()
    return rows, examples


def field_cut_stats(work: pa.Table, p: Plan, release: Release | None = None) -> dict[str, dict]:
    """Per split: examples whose template's ``truncate`` field was shortened, with the tokens and
    characters removed (``_cut_tokens``, ``_cut_chars``): in all, per task, and per template
    within each task.

    Counted over the rows written, in one pass over the work table a chunk at a time.
    """
    which = np.full(work.num_rows, -1, dtype=np.int32)  # split number per work row, -1: not written
    for k, name in enumerate(p.split_names):
        which[p.order.get(name, np.zeros(0, dtype=np.int64))] = k
    acc: list[dict] = [{} for _ in p.split_names]  # (task, template) -> [examples, tokens, chars]
    for start, batch in work_batches(work, ["task", "template", "_cut_tokens", "_cut_chars"], release):
        k = which[start:start + batch.num_rows]
        tokens = batch.column("_cut_tokens").to_numpy(zero_copy_only=False)
        rows = np.nonzero((k >= 0) & (tokens > 0))[0]
        if rows.size == 0:
            continue
        chars = batch.column("_cut_chars").to_numpy(zero_copy_only=False)
        tasks = batch.column("task").take(pa.array(rows)).to_pylist()
        tpls = batch.column("template").take(pa.array(rows)).to_pylist()
        for i, task, tpl in zip(rows.tolist(), tasks, tpls):
            c = acc[k[i]].setdefault((task, tpl), [0, 0, 0])
            c[0] += 1
            c[1] += int(tokens[i])
            c[2] += int(chars[i])

    def figures(cs: list[list[int]]) -> dict:
        return {"examples": sum(c[0] for c in cs), "tokens_removed": sum(c[1] for c in cs),
                "chars_removed": sum(c[2] for c in cs)}

    out = {}
    for name, a in zip(p.split_names, acc):
        tasks = sorted({t for t, _ in a})
        out[name] = figures(list(a.values())) | {"tasks": {
            t: figures([c for (t2, _), c in a.items() if t2 == t])
            | {"templates": {tpl: figures([c]) for (t2, tpl), c in sorted(a.items()) if t2 == t}}
            for t in tasks}}
    return out
