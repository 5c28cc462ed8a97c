"""The build: recipe -> compiled directory.

read -> schema check -> (phase A, per chunk: render -> tokenize + mask) ->
(phase B: split -> dedup -> order -> write shards) -> manifest.json, rejects.jsonl, COMPLETED.

Reading, the schema check and row keys run in this process, in input order (they are cheap
and need one view of the source: duplicate keys). Phase A (:mod:`ftdata.chunk`) is a pure
function per chunk; phase B (:mod:`ftdata.finalize`) decides over all chunks at once, on
small NumPy columns. Every row read ends up either in the output or in ``rejects.jsonl``
with its stage and reason, and the manifest's counts add up exactly (:func:`accounting_ok`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import pyarrow as pa

from ..config.paths import resolve_path
from ..config.recipe import Recipe, check_tokenizer, load_recipe, recipe_hash, validate_recipe
from ..constants import (
    BUILD_INFO,
    IGNORE_INDEX,
    LABEL_CONVENTION,
    MANIFEST,
    OUTPUT_FORMAT,
    REJECTS,
    __version__,
)
from ..errors import BuildError, ConfigError
from ..plan.finalize import field_cut_stats, plan, rows_with_output, split_stats, write_splits
from ..plan.gate import drop_failed, failed_dir, keep_failed, outcome_problems
from ..plan.split import assign_splits, split_unit
from ..plan.worktable import open_work
from ..read.keys import KeySet
from ..read.mapped import MappedFiles
from ..read.row import SourceRow
from ..read.schema import check_source_row
from ..read.sources import file_hash, guess_format, read_source
from ..rejects import Code, Reject, tally
from ..templating.fewshot import ExemplarPool
from ..templating.renderplan import RenderPlan
from ..templating.selection import Group, RowPlan, choose_ref, truncate_field
from ..templating.templates import Template, load_templates
from ..tokenize.audit import audit_section
from ..tokenize.tokenizer import load_tokenizer, tokenizer_hash
from ..write.outdir import OutputDir, no_space_error, restore_previous
from ..write.pack import write_packed
from ..write.writer import RejectsWriter, write_json
from .cache import (
    CachedChunk,
    ChunkCache,
    chunk_key,
    code_hash,
    context_fingerprint,
    resolve_cache_dir,
    table_counts,
)
from .chunk import CheckedRow, ChunkContext, ChunkResult, output_schema, work_schema
from .engines import check_engine, make_engine
from .engines.job import Job
from .progress import BuildProgress, RateMeter, count_rows

VALUE_CHARS = 200


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


def _short(value, n: int = VALUE_CHARS) -> str:
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return s if len(s) <= n else s[: n - 1] + "…"


@dataclass
class SourceCounts:
    """Per-source accounting; see :func:`accounting_ok` for the identities."""

    rows_read: int = 0
    rows_rejected: int = 0
    rows_with_output: int = 0
    rows_without_output: int = 0
    templates: int = 0
    fanout: int = 0  # templates each rendered row meets (ftdata.selection.RowPlan.fanout)
    examples_candidates: int = 0
    examples_written: int = 0
    examples_rejected: int = 0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["rows_rendered"] = self.rows_read - self.rows_rejected
        return d


@dataclass
class BuildResult:
    """What a build produced: the output folder and its manifest."""

    output: Path
    manifest: dict
    build_info: dict = field(default_factory=dict)


def compile_recipe(recipe: str | Path | Recipe | dict, *, overwrite: bool = False, base: Path | None = None,
                   progress: Callable[[BuildProgress], None] | None = None, output: str | Path | None = None,
                   num_proc: int = 1, engine: str = "local", ray_address: str | None = None,
                   cache: bool = False, force: bool = False, skip_unchanged: bool = False) -> BuildResult:
    """Compile a recipe into a compiled directory.

    Args:
        recipe: path to a recipe YAML, a parsed dict, or a :class:`Recipe`.
        overwrite: replace an existing output.
        base: folder that relative paths in a dict/Recipe are resolved against (default cwd).
        progress: called with a :class:`~ftdata.progress.BuildProgress` after every chunk and
            at each stage change (rows, rows/s, tokens/s, ETA).
        output: override the recipe's output folder.
        num_proc: worker processes for phase A (1: two threads in this process).
        engine: ``local`` or ``ray`` (see :mod:`ftdata.engines`).
        ray_address: Ray cluster to join (``engine="ray"``); None starts Ray locally.
        cache: reuse and store phase-A chunk results (see :mod:`ftdata.cache`). ``ftdata build``
            turns it on; a library call leaves no cache folder beside the output unless asked.
        force: recompute every chunk, ignoring cached results (they are still refreshed).
        skip_unchanged: with ``overwrite``, keep an existing complete output that was built
            from exactly the same inputs, code and settings instead of rebuilding it.

    Returns:
        BuildResult with the output path and manifest.
    """
    recipe_file_hash = None
    if isinstance(recipe, (str, Path)):
        rpath = Path(recipe)
        recipe_obj, base = load_recipe(rpath)  # every problem `ftdata validate` reports stops here
        recipe_file_hash = file_hash(rpath)
    else:
        base = Path(base or Path.cwd()).resolve()
        recipe_obj = validate_recipe(recipe, base)
    target = Path(output).resolve() if output else recipe_obj.output_dir(base)
    b = Build(recipe_obj, base, recipe_file_hash)
    return b.run(target, overwrite, progress, num_proc=num_proc, engine=engine, ray_address=ray_address,
                 cache=cache, force=force, skip_unchanged=skip_unchanged)


class Build:
    """One build of one recipe. ``run`` is the whole life cycle."""

    def __init__(self, recipe: Recipe, base: Path, recipe_file_hash: str | None):
        self.recipe = recipe
        self.base = base
        self.recipe_file_hash = recipe_file_hash
        self.tok = load_tokenizer(recipe.tokenizer, base)
        # rules between fields held when the Recipe was made; those with the tokenizer are checked
        # here too, for a Build made without load_recipe (the studio)
        problems = check_tokenizer(recipe, self.tok, "<recipe>")
        if problems:
            raise ConfigError(problems, "<recipe>")
        self.templates: dict[str, list[Template]] = {}
        self.template_hashes: dict[str, str] = {}
        self.row_plans: dict[str, RowPlan] = {}
        self.truncate: dict[str, dict[str, str]] = {}
        for src in recipe.sources:
            chosen, groups, cut = [], [], {}
            for ref in src.templates:
                tp = resolve_path(base, ref.file)
                picked = choose_ref(load_templates(tp), ref, str(tp))
                chosen += picked
                groups.append(Group(picked, ref.mode))
                cut.update({t.id: f for t in picked if (f := truncate_field(t, ref))})
                self.template_hashes[str(Path(ref.file))] = file_hash(tp)
            self.row_plans[src.name] = RowPlan(groups, recipe.seed)
            self.truncate[src.name] = cut
            for t in chosen:  # the recipe's render limits travel with each template (also to workers)
                t.limits = recipe.render_limits
            self.templates[src.name] = chosen
        # a chat messages column gives one example per row, whatever the templates
        per_row = 1 if recipe.chat and recipe.chat.enabled and recipe.chat.messages_column else None
        self.counts = {s.name: SourceCounts(templates=len(self.templates[s.name]),
                                            fanout=per_row or self.row_plans[s.name].fanout) for s in recipe.sources}
        self.rejects_by: Counter = Counter()
        self.rejects_by_stage: Counter = Counter()
        # per source: reject code -> records, and the first record of each code (ftdata.gate)
        self.rejects_by_source: dict[str, Counter] = {s.name: Counter() for s in recipe.sources}
        self.reject_samples: dict[str, dict[str, Reject]] = {s.name: {} for s in recipe.sources}
        self.hashed_rows = 0  # rows whose split comes from the ratios
        self._importer = None  # the thread of _import_for_finalize, once started
        self.timings: Counter = Counter()

    # -- helpers ------------------------------------------------------------------------
    def context(self, src) -> ChunkContext:
        r = self.recipe
        return ChunkContext(source=src.name, task=src.task_name, templates=self.templates[src.name],
                            tokenizer=r.tokenizer, tokenizer_base=str(self.base), layout=r.layout,
                            separator=r.separator, max_length=r.max_length, overflow=r.overflow,
                            add_eos=r.add_eos, seed=r.seed,
                            near_dup=(r.dedup.shingle_size, r.dedup.num_perm) if r.dedup.near else None,
                            chat=r.chat.model_dump() if r.chat and r.chat.enabled else None,
                            special_tokens_in_data=r.special_tokens_in_data, render_plan=self.render_plan(src))

    def render_plan(self, src) -> RenderPlan | None:
        """Template choice per row, field truncation and few-shot for ``src``; None when all are off."""
        r, rows = self.recipe, self.row_plans.get(src.name)
        if rows is None or (all(g.mode == "all" for g in rows.groups) and not self.truncate.get(src.name)
                            and not r.shots):
            return None  # the plain path: every template on every row, nothing added
        return RenderPlan(rows, self.truncate[src.name], r.shots, r.shot_separator,
                          self.exemplar_pool(src) if r.shots else None, separator=r.separator, layout=r.layout,
                          add_eos=r.add_eos, max_length=r.max_length, seed=r.seed)

    def exemplar_pool(self, src) -> ExemplarPool:
        """The train rows of ``src`` few-shot exemplars are drawn from (a silent first pass).

        Rows holding special-token strings are left out, so exemplars never carry them.
        """
        from ..tokenize.masking import specials_for

        sp = specials_for(self.tok.backend_tokenizer)
        pool = ExemplarPool(self.recipe.seed)
        for batch in self.checked_rows(src, record=False):
            # the build's own split rule (phase B calls the same function on the same columns)
            splits = assign_splits([row.split for row in batch], [row.u for row in batch],
                                   self.recipe.split.ratios)
            for row, split in zip(batch, splits):
                if split == "train" and not sp.escape(row.data)[1]:
                    pool.offer(row.key, row.data)
        return pool

    def reject(self, rec: Reject) -> None:
        d = rec.as_dict()
        if rec.value is not None:
            d["value"] = _short(rec.value)
        self.rejects.write(d)
        self.rejects_by[rec.code] += 1
        self.rejects_by_stage[rec.stage] += 1
        self.rejects_by_source[rec.source][rec.code] += 1
        self.reject_samples[rec.source].setdefault(rec.code, rec)
        if not rec.stage.whole_row:
            self.counts[rec.source].examples_rejected += 1

    def row_key(self, src, row: SourceRow, data: dict) -> str:
        if src.key == "@line":
            return str(row.line)
        if src.key:
            return str(data.get(src.key))
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def checked_rows(self, src, record: bool = True) -> Iterator[list[CheckedRow]]:
        """Read a source in order; schema-check it; yield batches of CheckedRow.

        Duplicate keys are found with a :class:`~ftdata.keys.KeySet` (16 bytes a key), one
        vectorised lookup per batch; rejects still come out in row order. ``record=False``
        reads silently (no counts, no rejects), for the few-shot exemplar pass.
        """
        counts = self.counts[src.name] if record else SourceCounts()
        reject = self.reject if record else (lambda rec: None)
        want_index = src.name in self.row_plans and any(g.mode == "round_robin" for g in self.row_plans[src.name].groups)
        index = 0
        seen = KeySet()
        group = self.recipe.split.group_by
        # the same for every row of the source
        keep_own = src.key is None or self.recipe.split.mode == "source"
        hub_split = src.hub.split.split("[")[0] if src.hub is not None and self.recipe.split.mode == "source" else None
        strat, seed = self.recipe.split.stratify_by, self.recipe.seed
        it = read_source(src, self.base, self.recipe.batch_size)
        while True:
            t0 = time.perf_counter()
            raw = list(islice(it, self.recipe.batch_size))
            if not raw:
                return
            staged: list = []  # per row: a Reject, or (row, data, key) still to check for duplicates
            for row in raw:
                counts.rows_read += 1
                if row.error is not None:
                    staged.append(Reject(src.name, None, row.line, Code.UNREADABLE, row.error, value=row.raw))
                    continue
                data, err = check_source_row(row.data, src)
                if err:
                    staged.append(Reject(src.name, self.row_key(src, row, row.data), row.line, Code.SCHEMA,
                                         err, value=_short(row.data)))
                    continue
                staged.append((row, data, self.row_key(src, row, data)))
            dup = iter(seen.add_batch([x[2] for x in staged if not isinstance(x, Reject)]).tolist())
            out = []
            for x in staged:
                if isinstance(x, Reject):
                    reject(x)
                    counts.rows_rejected += 1
                    continue
                row, data, key = x
                if next(dup):
                    reject(Reject(src.name, key, row.line, Code.DUPLICATE_KEY,
                                  f"row key '{key}' already used by an earlier row"))
                    counts.rows_rejected += 1
                    continue
                gval = None if group is None or data.get(group) is None else str(data.get(group))
                own = row.split or hub_split
                split = src.split or (own if keep_own and own else None)
                out.append(CheckedRow(key, row.line, data, split=split,
                                      u=split_unit(seed, src.name, key, group, gval),
                                      group=gval, stratum=None if strat is None or data.get(strat) is None
                                      else str(data.get(strat)), index=index if want_index else None))
                index += 1
            if record:
                self.hashed_rows += sum(r.split is None for r in out)
            self.timings["read"] += time.perf_counter() - t0
            yield out

    def map_chunks(self, src, work_dir: Path, engine, prog: BuildProgress, progress) -> list[Path]:
        """Phase A for one source: every chunk from the cache or the engine, in input order."""
        ctx = self.context(src)
        fp = context_fingerprint(ctx, self._tok_hash) if self.cache is not None else None
        # an engine whose workers see this file system hashes, looks up and stores chunks itself
        store = ((str(self.cache.root), self.cache.read, fp)
                 if self.cache is not None and engine.stores_results else None)

        def jobs():
            for i, rows in enumerate(self.checked_rows(src)):
                job = Job(i, rows)
                if self.cache is not None and store is None:
                    t0 = time.perf_counter()
                    job.key = chunk_key(fp, rows)
                    job.result = self.cache.get(job.key)
                    self.timings["cache"] += time.perf_counter() - t0
                self._rows_in_flight.append(len(rows))
                yield job

        files = []
        t_wait, main_before = time.perf_counter(), self.timings["read"] + self.timings["cache"]
        for job, res in engine.map(ctx, jobs(), store=store):
            # time this thread waited for the engine (reading and cache look-ups run inside
            # engine.map, driven by jobs(), and are counted under their own names)
            main_now = self.timings["read"] + self.timings["cache"]
            self.timings["render+tokenize"] += time.perf_counter() - t_wait - (main_now - main_before)
            hit = isinstance(res, CachedChunk) and res.hit
            if store is not None:  # a result the worker could not store is kept for this build only
                self.cache.note(res.key, hit)
            files.append(self.save_chunk(res, work_dir / f"{src.name}-{job.index:06d}.arrow", src.name,
                                         None if store is not None else job.key))
            prog.rows += self._rows_in_flight.popleft()
            prog.chunks += 1
            prog.cached_chunks += hit
            if self._importer is None:  # a first result: the engine's workers are running
                import threading

                self._importer = threading.Thread(target=_import_for_finalize, name="ftdata-import", daemon=True)
                self._importer.start()
            self._report(prog, progress)
            t_wait, main_before = time.perf_counter(), self.timings["read"] + self.timings["cache"]
        return files

    def save_chunk(self, res: ChunkResult | CachedChunk, path: Path, source: str, key: str | None = None) -> Path:
        """Account for a chunk's result and keep its table on disk (in the cache when on)."""
        t0 = time.perf_counter()
        self.counts[source].examples_candidates += res.candidates
        for rec in res.rejects:
            self.reject(rec)
        if not isinstance(res, CachedChunk):
            stored = self.cache.put(key, res, work_schema()) if self.cache is not None and key else None
            if stored is None:
                with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, work_schema()) as w:
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

    # -- incremental builds ---------------------------------------------------------------
    def source_hashes(self) -> dict:
        out = {}
        for src in self.recipe.sources:
            if src.path is not None:
                out[src.name] = file_hash(resolve_path(self.base, src.path))
            else:
                h = src.hub
                out[src.name] = f"hub:{h.path}:{h.name}:{h.split}:{h.revision}"
        return out

    def fingerprint(self, source_hashes: dict) -> str | None:
        """Hash of every input of the whole build, or None when one cannot be hashed (hub).

        Inputs: ftdata's code, the normalised recipe, source files, template files, the
        tokenizer, and every other file the recipe names (reference sets, chat templates, ...).
        """
        if any(src.hub is not None for src in self.recipe.sources):
            return None
        files = {}
        known = {src.path for src in self.recipe.sources} | set(self.template_hashes)  # hashed already

        def walk(v):
            if isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
            elif isinstance(v, str) and v and v not in known and len(v) < 4096 and "\n" not in v:
                try:
                    p = resolve_path(self.base, v)
                    if p.is_file():
                        files[v] = file_hash(p)
                except (OSError, ValueError):
                    pass

        walk(self.recipe.model_dump(mode="json", exclude={"output"}))
        blob = json.dumps({"code": code_hash(), "recipe": recipe_hash(self.recipe), "sources": source_hashes,
                           "templates": self.template_hashes, "tokenizer": self._tok_hash, "files": files,
                           "max_reject_share": self.recipe.max_reject_share},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def up_to_date(self, target: Path, fp: str | None) -> BuildResult | None:
        """The existing output at ``target`` when it is complete and was built from ``fp``."""
        from ..constants import COMPLETED

        if fp is None or not (target / COMPLETED).exists():
            return None
        try:
            info = json.loads((target / BUILD_INFO).read_text(encoding="utf-8"))
            manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if info.get("fingerprint") != fp:
            return None
        if not all((target / s["file"]).is_file() for lst in manifest.get("shards", {}).values() for s in lst):
            return None
        return BuildResult(target, manifest, info | {"up_to_date": True})

    # -- run ----------------------------------------------------------------------------
    def run(self, target: Path, overwrite: bool, progress, *, num_proc: int = 1, engine: str = "local",
            ray_address: str | None = None, cache: bool = True, force: bool = False,
            skip_unchanged: bool = False) -> BuildResult:
        from collections import deque

        t_start = self._t_start = time.perf_counter()
        check_engine(engine, num_proc, ray_address)
        self._tok_hash = tokenizer_hash(self.tok)
        source_hashes = self.source_hashes()
        fp = self.fingerprint(source_hashes)
        if skip_unchanged and overwrite and not force:
            restore_previous(target)  # a killed build may have left the previous output aside
            done = self.up_to_date(target, fp)
            if done is not None:
                return done
        self.out = OutputDir(target, overwrite)
        eng = None
        maps = MappedFiles()  # this build's mapped phase-A files: no other build sees them
        try:
            self.rejects = RejectsWriter(self.out.tmp / REJECTS)
            work_dir = self.out.tmp / "_work"
            work_dir.mkdir()
            cache_dir, own_cache = resolve_cache_dir(target, getattr(self.recipe, "cache_dir", None), self.base)
            self.cache = ChunkCache(cache_dir, read=not force) if cache else None
            self._meter, self._rows_in_flight = RateMeter(), deque()
            prog = self._prog = BuildProgress("phase A", rows_total=self._count_rows())
            self._report(prog, progress)
            _import_before_fork()
            eng = make_engine(engine, num_proc=num_proc, address=ray_address)
            files = []
            for src in self.recipe.sources:
                files += self.map_chunks(src, work_dir, eng, prog, progress)
            eng.close()
            eng = None
            if self._importer is not None:
                self._importer.join()
            prog.stage_seconds["phase A"] = round(time.perf_counter() - t_start, 3)
            prog.stage = "finalize"
            self._report(prog, progress)
            t0 = time.perf_counter()
            work = open_work(files, maps)
            release = maps.release
            p = plan(work, self.recipe.split, self.recipe.dedup, mixture=self.recipe.mixture, contamination=self.recipe.contamination,
                     templates=self.templates, base=self.base, release=release)
            for rec in p.rejects:
                self.reject(rec)
            self.check_outcome(p, target)
            shards = (write_packed(work, p, self.out.tmp, self.recipe.shard_size, self.recipe.max_length, release)
                      if self.recipe.packing else write_splits(work, p, self.out.tmp, self.recipe.shard_size, release))
            p.info["audit"] = audit_section(work, p, rejects_by_code=self.rejects_by,
                                            special_tokens_mode=self.recipe.special_tokens_in_data, release=release)
            release()
            split_counts, token_stats = split_stats(work, p, release)
            if any(self.truncate.values()):  # only then: outputs without field truncation stay as they were
                for name, cut in field_cut_stats(work, p, release).items():
                    token_stats[name]["field_truncated"] = cut
            with_output, written = rows_with_output(work, p, release)
            del work
            maps.close()
            self.timings["finalize"] += time.perf_counter() - t0
            for name, c in self.counts.items():
                c.examples_written = written.get(name, 0)
                c.rows_with_output = with_output.get(name, 0)
                c.rows_without_output = c.rows_read - c.rows_rejected - c.rows_with_output
            self.rejects.close()
            import shutil

            shutil.rmtree(work_dir)
            write_json(self.out.tmp / "dataset_dict.json", {"splits": p.split_names})
            manifest = self.manifest(shards, source_hashes, split_counts, token_stats, p.info)
            write_json(self.out.tmp / MANIFEST, manifest)
            info = {"ftdata_version": __version__, "created_unix": int(time.time()), "fingerprint": fp,
                    "engine": engine, "num_proc": num_proc,
                    "cache": None if self.cache is None else {
                        "dir": str(self.cache.root), "chunks_reused": self.cache.hits,
                        "chunks_computed": self.cache.misses, "forced": force},
                    "rows": prog.rows, "examples_candidates": prog.examples, "tokens_candidates": prog.tokens,
                    "seconds": {k: round(v, 3) for k, v in self.timings.items()}
                    | {"total": round(time.perf_counter() - t_start, 3)}}
            phase_a = prog.stage_seconds["phase A"]
            info["rates"] = {"phase A rows/s": round(prog.rows / phase_a, 1) if phase_a else None,
                             "phase A tokens/s": round(prog.tokens / phase_a, 1) if phase_a else None,
                             "overall examples/s": round(prog.examples / info["seconds"]["total"], 1)}
            write_json(self.out.tmp / BUILD_INFO, info)
            from ..write.card import write_card

            write_card(self.out.tmp, manifest, self.recipe, self.templates)
            from ..write.report import write_report

            write_report(self.out.tmp, manifest)  # report.html: plots of this build (ftdata/report.py)
            self.out.commit()
            drop_failed(target)  # the rejects of an earlier failed build
        except BaseException as exc:
            maps.close()
            if eng is not None:
                eng.close(wait=False)  # no chunk still running is of use now (Ctrl-C: exit promptly)
            full = no_space_error(exc, self.out, getattr(getattr(self, "cache", None), "root", None))
            self.out.abort()
            if full is not None:  # a full disk or a file-size limit: said plainly, not as a traceback
                raise full from exc
            raise
        if self.cache is not None and own_cache:
            try:
                self.cache.prune()
            except OSError:  # a cache that cannot be tidied is not a failed build
                pass
        prog.stage = "done"
        prog.stage_seconds["finalize"] = round(time.perf_counter() - t_start - phase_a, 3)
        self._report(prog, progress)
        return BuildResult(target, manifest, info)

    def check_outcome(self, p, target: Path) -> None:
        """Fail the build, keeping its rejects beside the output, when the output would be garbage
        (:mod:`ftdata.gate`: a source with no usable row or too many rejects, an empty split or output)."""
        sizes = {name: len(p.order.get(name, ())) for name in p.split_names}
        problems = outcome_problems(self.recipe, self.counts, self.rejects_by_source, self.reject_samples, sizes,
                                    self.hashed_rows, self.base)
        if not problems:
            return
        self.rejects.close()
        sources = {}
        for k, v in self.counts.items():  # rows with output are not counted yet: left out, not shown as 0
            d = v.as_dict() | {"examples_written": v.examples_candidates - v.examples_rejected}
            sources[k] = {x: n for x, n in d.items() if x not in ("rows_with_output", "rows_without_output")}
        kept = keep_failed(target, self.out.tmp, problems, {
            "sources": sources, "splits": sizes,
            "rejects": sum(self.rejects_by.values()), "rejects_by_code": tally(self.rejects_by)})
        where = (f"the rejects are in {kept / REJECTS}" if kept is not None else
                 f"the rejects were not kept: {failed_dir(target)} is not a folder ftdata made")
        raise BuildError(f"build of '{self.recipe.name}' failed, no output written ({target} is left as it was); "
                         f"{where}:\n" + "\n".join(f"  - {x}" for x in problems))

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

    def manifest(self, shards: dict, source_hashes: dict, split_counts: dict, token_stats: dict, extra: dict) -> dict:
        tok = self.tok
        m = {
            "format": OUTPUT_FORMAT,
            "ftdata_version": __version__,
            "name": self.recipe.name,
            "layout": self.recipe.layout,
            "label_convention": LABEL_CONVENTION,
            "ignore_index": IGNORE_INDEX,
            "columns": [f.name for f in output_schema()],
            "seed": self.recipe.seed,
            "max_length": self.recipe.max_length,
            "overflow": self.recipe.overflow,
            "separator": self.recipe.separator,
            "add_eos": self.recipe.add_eos,
            "split": self.recipe.split.model_dump(mode="json"),
            "hashes": {
                "recipe": recipe_hash(self.recipe),
                "recipe_file": self.recipe_file_hash,
                "sources": source_hashes,
                "templates": self.template_hashes,
                "tokenizer": tokenizer_hash(tok),
            },
            "tokenizer": {"name": self.recipe.tokenizer, "eos_token": tok.eos_token, "eos_id": tok.eos_token_id,
                          "bos_token": tok.bos_token, "pad_token": tok.pad_token, "pad_id": tok.pad_token_id,
                          "vocab_size": len(tok)},
            "templates": {s: [{"name": t.name, "id": t.id, "metrics": t.metrics, "file": str(Path(t.file).name),
                               "answer_choices": t.answer_choices, "text_hash": t.text_hash(),
                               "jinja": t.jinja if t.jinja is not None else f"{t.prompt} ||| {t.completion}"}
                              for t in ts] for s, ts in self.templates.items()},
            "license": self.recipe.license,
            "licenses": {src.name: src.license for src in self.recipe.sources},
            "counts": {
                "sources": {k: v.as_dict() for k, v in self.counts.items()},
                "splits": split_counts,
                "rejects": sum(self.rejects_by.values()),
                "rejects_by_code": tally(self.rejects_by),
                "rejects_by_stage": tally(self.rejects_by_stage),
            },
            "tokens": token_stats,
            "shards": shards,
        }
        m.update(extra)
        return m


def accounting_ok(manifest: dict) -> list[str]:
    """Check the manifest's identities; return the ones that fail (empty = all hold).

    Per source: rows_read = rows_with_output + rows_without_output + rows_rejected, and
    examples_candidates = rows_rendered x fanout (the templates each row meets: all of them,
    or one per round-robin / random reference) = examples_written + examples_rejected, where
    examples_rejected is the number of example-level records in rejects.jsonl. A template a
    row is not assigned is not a reject. Across sources: examples written = examples in the
    splits.
    """
    bad = []
    for name, c in manifest["counts"]["sources"].items():
        if c["rows_read"] != c["rows_with_output"] + c["rows_without_output"] + c["rows_rejected"]:
            bad.append(f"{name}: rows_read != with_output + without_output + rejected")
        if c["rows_without_output"] < 0:
            bad.append(f"{name}: negative rows_without_output")
        if "fanout" in c and c["examples_candidates"] != c["rows_rendered"] * c["fanout"]:
            bad.append(f"{name}: candidates {c['examples_candidates']} != rows_rendered {c['rows_rendered']} "
                       f"x fanout {c['fanout']}")
        if c["examples_candidates"] != c["examples_written"] + c["examples_rejected"]:
            bad.append(f"{name}: candidates {c['examples_candidates']} != written {c['examples_written']} "
                       f"+ rejected {c['examples_rejected']}")
    written = sum(c["examples_written"] for c in manifest["counts"]["sources"].values())
    if written != sum(s["examples"] for s in manifest["counts"]["splits"].values()):
        bad.append("examples written != examples in splits")
    return bad
