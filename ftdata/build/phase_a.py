"""Phase A driven from the build process: every chunk of every source, from cache or engine.

Rows are read and checked in input order (:meth:`checked_rows`), cut into chunks -- or, for a
local JSON Lines, CSV/TSV, Parquet or Arrow IPC file, only its byte ranges or row slices are cut here and the workers read them
(:mod:`ftdata.build.ranged`; :meth:`PhaseA.read_back` checks their keys in input order) -- and
each chunk's result comes from the chunk cache or from the engine's workers; each result is
accounted for (candidates, rejects) and its table kept on disk for phase B, in input order.
Progress (rows, rates, ETA) is reported after every chunk.

A chunk's rejects -- those of reading its rows (read, schema, duplicate key), wherever they were
read, and those of rendering and tokenizing them -- are written together when its result is
accounted for, in line order (:meth:`PhaseA.write_rejects`). Chunks cover consecutive lines, so a
source's phase-A rejects are in input order, a row's own in template order, whatever the chunk
size, the number of workers, the engine or where the rows were read: ``rejects.jsonl`` is the same
bytes for all of them (the plan's rejects follow, from phase B).

:class:`PhaseA` is the part of :class:`~ftdata.build.orchestrate.Build` that does this; it
reads the build's ``recipe``, ``base``, ``cache``, ``counts``, ``timings``, ``reject`` and
``checked_rows`` and ``context``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..config.paths import resolve_path
from ..errors import BuildError
from ..read.keys import KeySet
from ..read.sources import guess_format
from . import rows as row_stream
from .cache import CachedChunk, chunk_key, context_fingerprint, table_counts
from .chunk import ChunkResult
from .engines import make_engine
from .engines.job import Job
from .progress import BuildProgress, RateMeter, count_rows
from .ranged import range_key, read_tasks


def _import_before_fork() -> None:
    """Imports that pyarrow makes lazily on its first array from NumPy (pandas, ~0.2 s): done in
    the build process before the workers are forked, so they inherit them instead of each
    importing them on its first chunk; the build process needs them in phase B anyway."""
    import numpy as np

    pa.array(np.zeros(1, dtype=np.int32))


def _import_for_finalize() -> None:
    """Modules only phase B and the report use (matplotlib ~0.4 s, datasets), imported on a
    thread while the workers tokenize, not on the critical path after them. Started once the
    workers exist: a thread importing while a worker is forked could leave it a held import lock."""
    import importlib

    try:
        import matplotlib

        matplotlib.use("Agg", force=True)  # as the report does; no display is ever opened
    except ImportError:
        pass
    for name in ("matplotlib.pyplot", "datasets"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


class PhaseA:
    """Phase A of a :class:`~ftdata.build.orchestrate.Build` (see the module docstring)."""

    def phase_a(self, work_dir: Path, engine: str, num_proc: int, ray_address: str | None,
                 progress) -> BuildProgress:
        """Phase A over every source, in order: each chunk's table in ``work_dir`` (or the cache),
        its file in ``self._files``; the progress, at the start of the finalize stage."""
        from collections import deque

        self._meter, self._rows_in_flight = RateMeter(), deque()
        prog = self._prog = BuildProgress("phase A", rows_total=self._count_rows())
        self._report(prog, progress)
        _import_before_fork()
        self._eng = make_engine(engine, num_proc=num_proc, address=ray_address)
        self._files = []
        for src in self.recipe.sources:
            self._files += self.map_chunks(src, work_dir, self._eng, prog, progress)
        if self._importer is not None:  # before the engine closes: it may change the environment
            self._importer.join()
        self._eng.close()
        self._eng = None
        prog.stage_seconds["phase A"] = round(time.perf_counter() - self._t_start, 3)
        prog.stage = "finalize"
        self._report(prog, progress)
        return prog


    def map_chunks(self, src, work_dir: Path, engine, prog: BuildProgress, progress) -> list[Path]:
        """Phase A for one source: every chunk from the cache or the engine, in input order."""
        ctx = self.context(src)
        fp = context_fingerprint(ctx, self._tok_hash) if self.cache is not None else None
        # an engine whose workers see this file system hashes, looks up and stores chunks itself
        store = ((str(self.cache.root), self.cache.read, fp)
                 if self.cache is not None and engine.stores_results else None)

        t0 = time.perf_counter()  # a CSV/TSV file is scanned whole here, before its first range
        tasks = (read_tasks(src, self.recipe, self.base, self.source_file_hashes.get(src.name), self.not_cut)
                 if not self.wants_index(src) else None)
        self.timings["read"] += time.perf_counter() - t0

        read_rejects: list = []  # read here, not yet given to a job: the rows read since the last batch

        def jobs():
            if tasks is not None:  # the workers read (ftdata.build.ranged); this process only cuts
                for i, task in enumerate(tasks):
                    job = Job(i, [], task=task)
                    if not engine.stores_results:  # workers that may not see the file: read here
                        self.read_for_engine(job, fp)
                    self._rows_in_flight.append(0)
                    yield job
                return
            for i, rows in enumerate(self.checked_rows(src, reject=read_rejects.append)):
                job = Job(i, rows, read_rejects=read_rejects[:])
                read_rejects.clear()
                if self.cache is not None and store is None:
                    t0 = time.perf_counter()
                    job.key = chunk_key(fp, rows)
                    job.result = self.cache.get(job.key)
                    self.timings["cache"] += time.perf_counter() - t0
                self._rows_in_flight.append(len(rows))
                yield job

        files, seen = [], KeySet()
        t_wait, main_before = time.perf_counter(), self.timings["read"] + self.timings["cache"]
        for job, res in engine.map(ctx, jobs(), store=store):
            # time this thread waited for the engine (reading and cache look-ups run inside
            # engine.map, driven by jobs(), and are counted under their own names)
            main_now = self.timings["read"] + self.timings["cache"]
            self.timings["render+tokenize"] += time.perf_counter() - t_wait - (main_now - main_before)
            hit = isinstance(res, CachedChunk) and res.hit
            key = None if store is not None else job.key
            if store is not None:  # a result the worker could not store is kept for this build only
                self.cache.note(res.key, hit)
            n_rows = self._rows_in_flight.popleft()
            if job.task is not None:
                res, n_rows, key, job.read_rejects = self.read_back(src, ctx, fp, job, res, seen, key)
            files.append(self.save_chunk(res, work_dir / f"{src.name}-{job.index:06d}.arrow", src.name, key,
                                         job.read_rejects))
            prog.rows += n_rows
            prog.chunks += 1
            prog.cached_chunks += hit
            if self._importer is None:  # a first result: the engine's workers are running
                import threading

                self._importer = threading.Thread(target=_import_for_finalize, name="ftdata-import", daemon=True)
                self._importer.start()
            self._report(prog, progress)
            t_wait, main_before = time.perf_counter(), self.timings["read"] + self.timings["cache"]
        self.write_rejects(read_rejects)  # rows read after the last batch's (all rejected), or no batch at all
        return files

    def read_for_engine(self, job: Job, fp: str | None) -> None:
        """Read ``job``'s range or slice in this process, for an engine whose workers may not see
        the file (Ray): its rows go to the engine, its :class:`~ftdata.build.rows.RangeRead` stays
        on the job, and its cache entry is keyed and found as a worker's would be
        (:func:`~ftdata.build.ranged.range_key`), so engines share the cache."""
        t0 = time.perf_counter()
        data = job.task.data()
        job.key = range_key(fp, job.task, data) if self.cache is not None else None
        job.result = self.cache.get(job.key, ranged=True) if job.key is not None else None
        if job.result is None:
            job.rows, job.read = row_stream.read_range(job.task.src, job.task.recipe, job.task.source_rows(data))
        self.timings["read"] += time.perf_counter() - t0

    def read_back(self, src, ctx, fp, job: Job, res, seen: KeySet, key: str | None):
        """Account, in input order, for a chunk its worker read (:mod:`ftdata.build.ranged`):
        check its keys against ``seen``, count its rows and its read and duplicate-key rejects. A chunk holding a duplicate key loses the duplicate rows' examples and rejects
        (:func:`_without_lines`; recomputed here without those rows where that cannot be done):
        exactly the chunk reading in this process makes. Returns ``(result, rows done, cache key
        to store it under here or None, read and duplicate-key rejects)``. ``key``: the range's key where this process stores the
        chunk's entry (an engine whose workers may not see the cache: Ray)."""
        from .chunk import process_chunk  # looked up at call time, as the engines do

        t0 = time.perf_counter()
        info = res.read
        dup = seen.add_batch(info.keys) if info.keys else np.zeros(0, dtype=bool)
        if dup.any():  # rare: the rows whose key an earlier row has
            dups = [row_stream.duplicate_key(src, k, line) for k, line, d in zip(info.keys, info.lines, dup.tolist())
                    if d]
            hashed = int(np.count_nonzero(np.asarray(info.unsplit, dtype=bool)[~dup]))
        else:  # no row walked in Python: a chunk's keys are mostly all new
            dups, hashed = [], sum(info.unsplit)
        rejects = info.rejects + dups
        counts = self.counts[src.name]
        counts.rows_read += info.n_read
        counts.rows_rejected += len(rejects)
        self.hashed_rows += hashed
        n_rows = len(info.keys) - len(dups)
        if dups:
            if key is not None and not isinstance(res, CachedChunk):
                # the whole range's entry, as a worker that sees the cache stores it, so the next
                # build finds it; this build keeps the chunk without the duplicate rows
                t1 = time.perf_counter()
                self.cache.put(key, res, res.table.schema)
                wrote = time.perf_counter() - t1
                self.timings["write"] += wrote
                t0 += wrote  # not reading
            drop = {r.line for r in dups}
            kept = _without_lines(res, drop)
            if kept is not None:  # the duplicate rows' examples and rejects taken out of the result
                res, key = kept, None  # kept for this build only (the cache has the whole range's entry)
            else:
                rows = [r for r in job.task.rows()[0] if r.line not in drop]
                res = process_chunk(ctx, rows)
                key = chunk_key(fp, rows) if self.cache is not None else None
        # this process's share of reading: the key check, the accounting, a chunk recomputed
        self.timings["read"] += time.perf_counter() - t0
        return res, n_rows, key, rejects

    def write_rejects(self, *batches: list) -> None:
        """Write rejects of consecutive lines of one source in line order (a stable sort: a row's
        own rejects keep their template order)."""
        for rec in sorted([r for b in batches for r in b], key=lambda r: r.line):
            self.reject(rec)

    def save_chunk(self, res: ChunkResult | CachedChunk, path: Path, source: str, key: str | None = None,
                   read_rejects: list = ()) -> Path:
        """Account for a chunk's result and keep its table on disk (in the cache when on); write the
        rejects of reading its rows and of its rows, in line order."""
        t0 = time.perf_counter()
        self.counts[source].examples_candidates += res.candidates
        self.write_rejects(read_rejects, res.rejects)
        if not isinstance(res, CachedChunk):
            stored = self.cache.put(key, res, res.table.schema) if self.cache is not None and key else None
            if stored is None:
                with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, res.table.schema) as w:
                    w.write_table(res.table)
                stored = CachedChunk(path, res.rejects, res.candidates, *table_counts(res.table))
            res = stored
        self._prog.examples += res.rows
        self._prog.tokens += res.tokens
        self.timings["write"] += time.perf_counter() - t0
        return res.path

    def _report(self, prog: BuildProgress, progress) -> None:
        prog.elapsed = time.perf_counter() - self._t_start
        prog.rows_per_s, prog.tokens_per_s = self._meter.add(prog.rows, prog.tokens)
        if progress:
            progress(prog)


    def _count_rows(self) -> int | None:
        total = 0
        for src in self.recipe.sources:
            if src.path is None:
                return None
            p = resolve_path(self.base, src.path)
            try:
                n = count_rows(p, src.format or guess_format(p), header=src.csv.header)
            except BuildError:
                n = None
            if n is None:
                return None
            total += n
        return total


def _without_lines(res, drop: set[int]) -> ChunkResult | None:
    """``res`` (a chunk's result, in memory or a file) without the examples and rejects of the rows
    on lines ``drop``: what phase A gives the chunk without those rows, since a row's examples and
    rejects depend on that row alone (the same recipe builds the same bytes whatever ``batch_size``).
    None where the chunk's candidates are not its examples plus its rejects, row by row (then the
    caller recomputes the chunk without those rows)."""
    import pyarrow.compute as pc

    table = res.table if isinstance(res, ChunkResult) else pa.ipc.open_file(pa.memory_map(str(res.path))).read_all()
    if res.candidates != table.num_rows + len(res.rejects):
        return None
    gone = pc.is_in(table.column("_line"), value_set=pa.array(sorted(drop), pa.int64()))
    kept = table.filter(pc.invert(gone))
    rejects = [r for r in res.rejects if r.line not in drop]
    return ChunkResult(kept, rejects, kept.num_rows + len(rejects))
