"""The build: recipe -> compiled directory.

read -> schema check -> (phase A, per chunk: render -> tokenize + mask) ->
(phase B: split -> dedup -> order -> write shards) -> manifest.json, rejects.jsonl, COMPLETED.

Reading, the schema check and row keys run in the workers for a local JSON Lines source
(:mod:`ftdata.build.ranged`: this process only cuts the file into byte ranges) and in this
process for every other source; duplicate keys are found in this process, in input order, either
way (they need one view of the source). Phase A (:mod:`ftdata.build.chunk`) is a pure
function per chunk; phase B (:mod:`ftdata.plan.finalize`) decides over all chunks at once, on
small NumPy columns. Every row read ends up either in the output or in ``rejects.jsonl``
with its stage and reason, and the manifest's counts add up exactly (:func:`~ftdata.write.manifest.accounting_ok`).

Why phase B does not start before the last chunk (issue 20 asked for overlap "where memory
allows"): at DialogSum ×50 with four templates (200k examples, ``--num-proc 2``) phase B took
4.2 CPU-seconds (14.6 s wall on the shared machine) of the build process's 9.8; its one large
cost is writing the shards (gather + write + hash: 1.09 s of its 1.18 s at ×10), and no shard
byte is known before every chunk is in. Each split is ordered by the seeded sort key (``_sort``, a hash: any chunk may
hold a split's first row), exact and near dedup keep the first of equal rows in that order, a
mixture samples over every example of a task, and stratified splits rank every row of a label
value. What could run as chunks arrive -- mapping the work tables (3 ms), the plan's columns,
the audit counts (1 ms), the split statistics (14 ms), rows with output (10 ms) -- is about 2.5%
of phase B, less than the bookkeeping to merge it, so it stays here; the split hash per row is
computed once while reading (:func:`ftdata.plan.split.split_unit`). What overlaps instead, where
memory allows (a work table within :data:`ftdata.write.gather.IN_MEMORY_BYTES`): the shards'
rows are gathered in memory rather than through spill files, and the report's plots are drawn
on a thread while the shards are written (:meth:`Build._plots_ahead`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..config.models import Recipe
from ..config.paths import resolve_path
from ..config.recipe import check_tokenizer, load_recipe, validate_recipe
from ..constants import BUILD_INFO, MANIFEST, REJECTS, __version__
from ..errors import BuildError, ConfigError
from ..plan.chataudit import chat_section
from ..plan.finalize import field_cut_stats, plan, rows_with_output, split_stats, write_splits
from ..plan.gate import drop_failed, failed_dir, keep_failed, outcome_problems
from ..plan.worktable import open_work
from ..read.mapped import MappedFiles
from ..read.row import SourceRow
from ..read.sources import file_hash
from ..rejects import Reject, tally
from ..templating.fewshot import ExemplarPool
from ..templating.renderplan import RenderPlan
from ..templating.selection import Group, RowPlan, choose_ref, truncate_field
from ..templating.templates import Template, load_templates
from ..tokenize.audit import audit_section
from ..tokenize.tokenizer import load_tokenizer, tokenizer_hash
from ..write import manifest as manifest_json
from ..write.manifest import SourceCounts
from ..write.outdir import OutputDir, no_space_error, restore_previous
from ..write.pack import write_packed
from ..write.writer import RejectsWriter, write_json
from . import fingerprint as inputs
from . import rows as row_stream
from .arrowpool import build_memory_pool
from .cache import (
    ChunkCache,
    resolve_cache_dir,
)
from .chunk import CheckedRow, ChunkContext, output_schema
from .engines import check_engine
from .exemplars import exemplar_pool
from .phase_a import PhaseA
from .progress import BuildProgress


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
        progress: called with a :class:`~ftdata.build.progress.BuildProgress` after every chunk and
            at each stage change (rows, rows/s, tokens/s, ETA).
        output: override the recipe's output folder.
        num_proc: worker processes for phase A (1: two threads in this process).
        engine: ``local`` or ``ray`` (see :mod:`ftdata.build.engines`).
        ray_address: Ray cluster to join (``engine="ray"``); None starts Ray locally.
        cache: reuse and store phase-A chunk results (see :mod:`ftdata.build.cache`). ``ftdata build``
            turns it on; a library call leaves no cache folder beside the output unless asked.
        force: recompute every chunk, ignoring cached results (they are still refreshed).
        skip_unchanged: with ``overwrite``, keep an existing complete output that was built
            from exactly the same inputs, code and settings instead of rebuilding it.

    Returns:
        BuildResult with the output path and manifest.
    """
    started = time.perf_counter()  # the build's time counts loading the recipe, tokenizer and templates
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
                 cache=cache, force=force, skip_unchanged=skip_unchanged, started=started)


class Build(PhaseA):
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
        # and so does a raw-text source read from its column 'text'
        per_row = 1 if recipe.conversations else None
        self.counts = {s.name: SourceCounts(templates=len(self.templates[s.name]),
                                            fanout=per_row or self.row_plans[s.name].fanout
                                            or int(recipe.layout == "text")) for s in recipe.sources}
        self.rejects_by: Counter = Counter()
        #: a chat build's shards carry the conversation and its tools (JSON text)
        self.chat_on = recipe.chat_on
        self.rejects_by_stage: Counter = Counter()
        # per source: reject code -> records, and the first record of each code (ftdata.plan.gate)
        self.rejects_by_source: dict[str, Counter] = {s.name: Counter() for s in recipe.sources}
        self.reject_samples: dict[str, dict[str, Reject]] = {s.name: {} for s in recipe.sources}
        self.hashed_rows = 0  # rows whose split comes from the ratios
        self._importer = None  # the thread of _import_for_finalize, once started
        self.source_file_hashes: dict = {}  # source name -> its file's sha256 (run), for worker-read slices
        self.timings: Counter = Counter()
        #: source name -> why its CSV/TSV file is read whole here, not in ranges by the workers
        self.not_cut: dict[str, str] = {}
        self._ahead = None  # the report's plots drawn while the shards are written (_plots_ahead)

    # -- helpers ------------------------------------------------------------------------
    @property
    def has_references(self) -> bool:
        """A template names reference columns: the splits get a ``references`` column."""
        return any(t.references for ts in self.templates.values() for t in ts)

    def context(self, src) -> ChunkContext:
        r = self.recipe
        return ChunkContext(source=src.name, task=src.task_name, templates=self.templates[src.name],
                            tokenizer=r.tokenizer, tokenizer_base=str(self.base), layout=r.layout,
                            separator=r.separator, max_length=r.max_length, overflow=r.overflow,
                            add_eos=r.add_eos, seed=r.seed,
                            near_dup=(r.dedup.shingle_size, r.dedup.num_perm) if r.dedup.near else None,
                            chat=r.chat.model_dump() if self.chat_on else None,
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
        """The train rows of ``src`` few-shot exemplars are drawn from
        (:mod:`~ftdata.build.exemplars`)."""
        return exemplar_pool(self.checked_rows(src, record=False), self.recipe.split.ratios,
                             self.recipe.seed, self.tok)

    def reject(self, rec: Reject) -> None:
        d = rec.as_dict()
        if rec.value is not None:
            d["value"] = row_stream.short(rec.value)
        self.rejects.write(d)
        self.rejects_by[rec.code] += 1
        self.rejects_by_stage[rec.stage] += 1
        self.rejects_by_source[rec.source][rec.code] += 1
        self.reject_samples[rec.source].setdefault(rec.code, rec)
        if not rec.stage.whole_row:
            self.counts[rec.source].examples_rejected += 1

    def row_key(self, src, row: SourceRow, data: dict) -> str:
        return row_stream.row_key(src, row, data)

    def wants_index(self, src) -> bool:
        """The rows of ``src`` need their running index (round-robin template choice): the build
        process reads them, numbering them in order (never the workers, see :mod:`ftdata.build.ranged`)."""
        rows = self.row_plans.get(src.name)
        return rows is not None and any(g.mode == "round_robin" for g in rows.groups)

    def checked_rows(self, src, record: bool = True, reject: Callable[[Reject], None] | None = None
                     ) -> Iterator[list[CheckedRow]]:
        """Read a source in order; schema-check it; yield batches of CheckedRow
        (:func:`~ftdata.build.rows.checked_rows`). ``record=False`` reads silently (no counts,
        no rejects), for the few-shot exemplar pass. ``reject``: where the rejects of reading go
        (default: written at once); phase A hands them to each batch's chunk."""
        counts = self.counts[src.name] if record else SourceCounts()
        reject = (reject or self.reject) if record else (lambda rec: None)
        for batch in row_stream.checked_rows(src, self.recipe, self.base, counts=counts,
                                             reject=reject, want_index=self.wants_index(src),
                                             timings=self.timings):
            if record:
                self.hashed_rows += sum(r.split is None for r in batch)
            yield batch

    def source_hashes(self) -> dict:
        return inputs.source_hashes(self.recipe, self.base)

    def fingerprint(self, source_hashes: dict) -> str | None:
        """Hash of every input of the whole build (:func:`~ftdata.build.fingerprint.fingerprint`)."""
        return inputs.fingerprint(self.recipe, self.base, source_hashes, self.template_hashes,
                                  self._tok_hash)

    def up_to_date(self, target: Path, fp: str | None) -> BuildResult | None:
        """The existing output at ``target`` when it is complete and was built from ``fp``."""
        found = inputs.up_to_date(target, fp)
        if found is None:
            return None
        manifest, info = found
        return BuildResult(target, manifest, info | {"up_to_date": True})

    # -- run ----------------------------------------------------------------------------
    def run(self, target: Path, overwrite: bool, progress, *, num_proc: int = 1, engine: str = "local",
            ray_address: str | None = None, cache: bool = True, force: bool = False,
            skip_unchanged: bool = False, started: float | None = None) -> BuildResult:
        """The whole life cycle: phase A, phase B (plan and write), the commit; on any failure
        the output is left as it was. ``started``: the ``time.perf_counter()`` the build's time
        counts from (default: now). Arrow allocates from jemalloc meanwhile (:mod:`~ftdata.build.arrowpool`)."""
        with build_memory_pool():
            return self._run(target, overwrite, progress, num_proc=num_proc, engine=engine,
                             ray_address=ray_address, cache=cache, force=force, skip_unchanged=skip_unchanged,
                             started=started)

    def _run(self, target: Path, overwrite: bool, progress, *, num_proc: int, engine: str,
             ray_address: str | None, cache: bool, force: bool, skip_unchanged: bool,
             started: float | None) -> BuildResult:
        t_start = self._t_start = time.perf_counter()
        self._started = t_start if started is None else started
        check_engine(engine, num_proc, ray_address)
        self._tok_hash = tokenizer_hash(self.tok)
        source_hashes = self.source_hashes()
        self.source_file_hashes = source_hashes
        fp = self.fingerprint(source_hashes)
        if skip_unchanged and overwrite and not force:
            restore_previous(target)  # a killed build may have left the previous output aside
            done = self.up_to_date(target, fp)
            if done is not None:
                return done
        self.out = OutputDir(target, overwrite)
        self._eng = None
        maps = MappedFiles()  # this build's mapped phase-A files: no other build sees them
        try:
            self.rejects = RejectsWriter(self.out.tmp / REJECTS)
            work_dir = self.out.tmp / "_work"
            work_dir.mkdir()
            cache_dir, own_cache = resolve_cache_dir(target, getattr(self.recipe, "cache_dir", None), self.base)
            self.cache = ChunkCache(cache_dir, read=not force) if cache else None
            prog = self.phase_a(work_dir, engine, num_proc, ray_address, progress)
            p, shards, split_counts, token_stats = self._phase_b(self._files, maps, target)
            manifest = self._write_manifest(work_dir, p, shards, source_hashes, split_counts,
                                            token_stats)
            info = self._commit(target, manifest, lambda: self._build_info(fp, engine, num_proc, force))
        except BaseException as exc:
            maps.close()
            if self._ahead is not None:
                self._ahead.wait()  # the report's plots, drawn while the shards were written: < 1 s
            if self._eng is not None:
                self._eng.close(wait=False)  # no chunk still running is of use now (Ctrl-C: exit promptly)
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
        phase_a = prog.stage_seconds["phase A"]
        prog.stage_seconds["finalize"] = round(time.perf_counter() - t_start - phase_a, 3)
        self._report(prog, progress)
        return BuildResult(target, manifest, info)

    def _phase_b(self, files: list[Path], maps: MappedFiles, target: Path):
        """Phase B over every chunk at once: the plan (split, dedup, mixture, contamination), the
        outcome check, the shards, the audit and the statistics; the counts of rows and examples
        with output. Returns (plan, shards, split counts, token statistics)."""
        t0 = time.perf_counter()
        work = open_work(files, maps)
        release = maps.release
        r = self.recipe
        p = plan(work, r.split, r.dedup, mixture=r.mixture, contamination=r.contamination,
                 templates=self.templates, base=self.base, release=release)
        for rec in p.rejects:
            self.reject(rec)
        self.check_outcome(p, target)
        self._ahead = self._plots_ahead(work, p)
        text = r.layout == "text"  # raw text is always packed, long documents cut into pieces
        shards = (write_packed(work, p, self.out.tmp, r.shard_size, r.max_length, release, cut=text)
                  if r.packing or text else write_splits(work, p, self.out.tmp, r.shard_size, release,
                                                          references=self.has_references))
        p.info["audit"] = audit_section(work, p, rejects_by_code=self.rejects_by,
                                        special_tokens_mode=r.special_tokens_in_data,
                                        release=release)
        if self.chat_on:  # only chat builds get the section: other manifests stay as they were
            p.info["chat"] = chat_section(work, p, release)
        release()
        split_counts, token_stats = split_stats(work, p, release)
        # only then: outputs without field truncation stay as they were
        if any(self.truncate.values()):
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
        return p, shards, split_counts, token_stats

    def _plots_ahead(self, work, p):
        """The report's plots of the per-example statistics, drawn on a thread while this one
        writes the shards (:class:`~ftdata.write.report.PlotsAhead`), where memory allows: a work
        table within :data:`~ftdata.write.gather.IN_MEMORY_BYTES` (its pages stay mapped while the
        thread reads it), rows not packed, matplotlib installed. None otherwise: the report draws
        them after phase B, as before."""
        import importlib.util

        import numpy as np

        from ..write.gather import fits_in_memory

        r = self.recipe
        if (r.packing or r.layout == "text" or not fits_in_memory(work)
                or importlib.util.find_spec("matplotlib") is None):
            return None
        from ..write.report import PlotsAhead

        return PlotsAhead(work, {n: p.order.get(n, np.zeros(0, dtype=np.int64)) for n in p.split_names},
                          r.layout == "seq2seq", r.max_length)

    def _write_manifest(self, work_dir: Path, p, shards: dict, source_hashes: dict,
                        split_counts: dict, token_stats: dict) -> dict:
        """Close the rejects, drop the work folder, write dataset_dict.json and the manifest."""
        self.rejects.close()
        import shutil

        shutil.rmtree(work_dir)
        write_json(self.out.tmp / "dataset_dict.json", {"splits": p.split_names})
        manifest = self.manifest(shards, source_hashes, split_counts, token_stats, p.info)
        write_json(self.out.tmp / MANIFEST, manifest)
        return manifest

    def _build_info(self, fp: str | None, engine: str, num_proc: int, force: bool) -> dict:
        """build_info.json: version, fingerprint, engine, cache use, sizes, timings and rates."""
        prog = self._prog
        info = {"ftdata_version": __version__, "created_unix": int(time.time()), "fingerprint": fp,
                "engine": engine, "num_proc": num_proc,
                "cache": None if self.cache is None else {
                    "dir": str(self.cache.root), "chunks_reused": self.cache.hits,
                    "chunks_computed": self.cache.misses, "forced": force},
                "rows": prog.rows, "examples_candidates": prog.examples,
                "tokens_candidates": prog.tokens,
                "seconds": {k: round(v, 3) for k, v in self.timings.items()}
                | {"total": round(time.perf_counter() - self._started, 3)}}
        phase_a = prog.stage_seconds["phase A"]
        info["rates"] = {"phase A rows/s": round(prog.rows / phase_a, 1) if phase_a else None,
                         "phase A tokens/s": round(prog.tokens / phase_a, 1) if phase_a else None,
                         "overall examples/s":
                             round(prog.examples / info["seconds"]["total"], 1)}
        if self.not_cut:
            info["read_in_build_process"] = dict(self.not_cut)
        return info

    def _commit(self, target: Path, manifest: dict, build_info: Callable[[], dict]) -> dict:
        """The dataset card, the report and ``build_info.json``, then the output renamed into place.

        ``build_info`` gives build_info.json; it is read once, when the report's plots are drawn,
        so that its total time (the time ``ftdata build`` prints) counts them and the report
        shows that same number. Returns it.
        """
        from ..write.card import write_card

        write_card(self.out.tmp, manifest, self.recipe, self.templates)
        from ..write.report import write_report

        info: dict = {}

        def once() -> dict:
            if not info:
                info.update(build_info())
            return info

        # report.html: plots of this build (ftdata.write.report)
        write_report(self.out.tmp, manifest, tokenizer=self.tok.backend_tokenizer, build_info=once,
                     ahead=self._ahead)
        write_json(self.out.tmp / BUILD_INFO, once())
        self.out.commit()
        drop_failed(target)  # the rejects of an earlier failed build
        return info

    def check_outcome(self, p, target: Path) -> None:
        """Fail the build, keeping its rejects beside the output, when the output would be garbage
        (:mod:`ftdata.plan.gate`: a source with no usable row or too many rejects, an empty split or output)."""
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

    def manifest(self, shards: dict, source_hashes: dict, split_counts: dict, token_stats: dict,
                 extra: dict) -> dict:
        """The manifest (:func:`~ftdata.write.manifest.manifest`)."""
        hashes = {"recipe_file": self.recipe_file_hash, "sources": source_hashes,
                  "templates": self.template_hashes}
        return manifest_json.manifest(
            self.recipe, self.tok,
            columns=[f.name for f in output_schema(self.chat_on, self.has_references and not self.recipe.packing)],
            hashes=hashes,
            templates=self.templates, counts=self.counts, rejects_by=self.rejects_by,
            rejects_by_stage=self.rejects_by_stage, split_counts=split_counts,
            token_stats=token_stats, shards=shards, extra=extra)
