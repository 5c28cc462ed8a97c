"""The build: recipe -> compiled directory. Orchestrates the stages, one batch at a time.

read -> schema check -> render -> example checks -> split -> tokenize + mask -> write.
Every row read ends up either in the output or in ``rejects.jsonl`` with its stage and reason;
the manifest's counts add up exactly (see :func:`accounting_ok`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import __version__
from .constants import BUILD_INFO, IGNORE_INDEX, LABEL_CONVENTION, MANIFEST, REJECTS
from .errors import BuildError, ConfigError
from .masking import encode_causal, encode_seq2seq
from .recipe import Recipe, load_recipe, parse_recipe, recipe_hash, resolve_path
from .schema import check_row
from .sources import SourceRow, file_hash, read_source
from .split import assign_split
from .templates import DoesNotApply, Template, TemplateError, load_templates, select
from .tokenizer import load_tokenizer, tokenizer_hash
from .writer import OutputDir, RejectsWriter, SplitWriter, write_json

VALUE_CHARS = 200


def schema_for(layout: str) -> pa.Schema:
    """Arrow schema of a compiled split (see the package docstring for the columns)."""
    return pa.schema([
        ("input_ids", pa.list_(pa.int32())),
        ("attention_mask", pa.list_(pa.int8())),
        ("labels", pa.list_(pa.int32())),
        ("source", pa.string()),
        ("task", pa.string()),
        ("template", pa.string()),
        ("row_key", pa.string()),
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("answer_choices", pa.list_(pa.string())),
    ])


def _short(value, n: int = VALUE_CHARS) -> str:
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return s if len(s) <= n else s[: n - 1] + "…"


def _batched(it: Iterable, n: int) -> Iterator[list]:
    it = iter(it)
    while batch := list(islice(it, n)):
        yield batch


def _offsets(lists: list[list[int]]) -> np.ndarray:
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int32, count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _int_lists(lists: list[list[int]], dtype) -> pa.Array:
    """list<int> Arrow array built from one flat buffer (much faster than nested pa.array)."""
    offsets = _offsets(lists)
    flat = np.fromiter(chain.from_iterable(lists), dtype=dtype, count=int(offsets[-1]))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))


def _ones_like(lists: list[list[int]]) -> pa.Array:
    offsets = _offsets(lists)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.ones(int(offsets[-1]), dtype=np.int8)))


@dataclass
class Candidate:
    source: str
    task: str
    template: Template
    row_key: str
    line: int
    split: str
    prompt: str
    completion: str
    choices: list[str] | None


@dataclass
class SourceCounts:
    rows_read: int = 0
    rows_rejected: int = 0
    rows_with_output: int = 0
    rows_without_output: int = 0
    templates: int = 0
    examples_written: int = 0
    examples_rejected: int = 0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["rows_rendered"] = self.rows_read - self.rows_rejected
        d["fanout"] = self.templates
        d["examples_candidates"] = d["rows_rendered"] * self.templates
        return d


@dataclass
class BuildResult:
    """What a build produced: the output folder and its manifest."""

    output: Path
    manifest: dict
    build_info: dict = field(default_factory=dict)


class _Stats:
    def __init__(self):
        self.lengths: dict[str, list[int]] = defaultdict(list)
        self.trained: Counter = Counter()
        self.truncated: Counter = Counter()
        self.straddle: Counter = Counter()
        self.by_task: dict[str, Counter] = defaultdict(Counter)
        self.by_template: dict[str, Counter] = defaultdict(Counter)
        self.task_tokens: dict[str, Counter] = defaultdict(Counter)
        self.task_trained: dict[str, Counter] = defaultdict(Counter)

    def token_stats(self, split: str) -> dict:
        lens = np.asarray(self.lengths.get(split, []), dtype=np.int64)
        total = int(lens.sum()) if lens.size else 0
        out = {"examples": int(lens.size), "tokens": total, "trained_tokens": int(self.trained[split]),
               "supervised_fraction": round(self.trained[split] / total, 6) if total else 0.0,
               "truncated": int(self.truncated[split]), "straddling_boundary": int(self.straddle[split])}
        if lens.size:
            out["length"] = {"min": int(lens.min()), "p50": float(np.percentile(lens, 50)),
                             "p90": float(np.percentile(lens, 90)), "p99": float(np.percentile(lens, 99)),
                             "max": int(lens.max()), "mean": round(float(lens.mean()), 3)}
        return out


def compile_recipe(recipe: str | Path | Recipe | dict, *, overwrite: bool = False, base: Path | None = None,
                   progress: Callable[[int, int], None] | None = None, output: str | Path | None = None) -> BuildResult:
    """Compile a recipe into a compiled directory.

    Args:
        recipe: path to a recipe YAML, a parsed dict, or a :class:`Recipe`.
        overwrite: replace an existing output.
        base: folder that relative paths in a dict/Recipe are resolved against (default cwd).
        progress: called as ``progress(rows_done, examples_written)`` after every batch.
        output: override the recipe's output folder.

    Returns:
        BuildResult with the output path and manifest.
    """
    recipe_file_hash = None
    if isinstance(recipe, (str, Path)):
        rpath = Path(recipe)
        recipe_obj, base = load_recipe(rpath)
        recipe_file_hash = file_hash(rpath)
    else:
        recipe_obj = recipe if isinstance(recipe, Recipe) else parse_recipe(recipe)
        base = Path(base or Path.cwd()).resolve()
        from .recipe import check_recipe

        problems = check_recipe(recipe_obj, base, "<recipe>")
        if problems:
            raise ConfigError(problems, "<recipe>")
    return _Build(recipe_obj, base, recipe_file_hash).run(
        Path(output).resolve() if output else recipe_obj.output_dir(base), overwrite, progress)


class _Build:
    def __init__(self, recipe: Recipe, base: Path, recipe_file_hash: str | None):
        self.r = recipe
        self.base = base
        self.recipe_file_hash = recipe_file_hash
        self.tok = load_tokenizer(recipe.tokenizer, base)
        self.backend = self.tok.backend_tokenizer
        self.eos_id = self.tok.eos_token_id if recipe.add_eos else None
        if recipe.add_eos and self.eos_id is None:
            raise BuildError(f"tokenizer '{recipe.tokenizer}' has no EOS token; set add_eos: false or pick another tokenizer")
        self.schema = schema_for(recipe.layout)
        self.templates: dict[str, list[Template]] = {}
        self.template_hashes: dict[str, str] = {}
        for src in recipe.sources:
            chosen = []
            for ref in src.templates:
                tp = resolve_path(base, ref.file)
                chosen += select(load_templates(tp), ref.names, str(tp))
                self.template_hashes[str(Path(ref.file))] = file_hash(tp)
            self.templates[src.name] = chosen
        self.counts = {s.name: SourceCounts(templates=len(self.templates[s.name])) for s in recipe.sources}
        self.stats = _Stats()
        self.rejects_by: Counter = Counter()
        self.rejects_by_stage: Counter = Counter()
        self.seen_examples: dict[bytes, str] = {}
        self.timings: Counter = Counter()

    # -- stages -------------------------------------------------------------------------
    def _reject(self, src, key, line, stage, code, reason, value=None, template=None, split=None):
        rec = {"source": src, "row_key": key, "line": line, "stage": stage, "code": code, "reason": reason}
        if template is not None:
            rec["template"] = template
        if split is not None:
            rec["split"] = split
        if value is not None:
            rec["value"] = _short(value)
        self.rejects.write(rec)
        self.rejects_by[code] += 1
        self.rejects_by_stage[stage] += 1

    def _row_key(self, src, row: SourceRow, data: dict) -> str:
        if src.key == "@line":
            return str(row.line)
        if src.key:
            return str(data.get(src.key))
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def _render_batch(self, src, rows: list[SourceRow], seen_keys: dict) -> list[Candidate]:
        counts = self.counts[src.name]
        cands: list[Candidate] = []
        for row in rows:
            counts.rows_read += 1
            if row.error is not None:
                self._reject(src.name, None, row.line, "read", "unreadable", row.error, row.raw)
                counts.rows_rejected += 1
                continue
            data = {src.rename.get(k, k): v for k, v in row.data.items()} if src.rename else row.data
            data, err = check_row(data, src.columns)
            if err:
                self._reject(src.name, self._row_key(src, row, row.data), row.line, "schema", "schema", err,
                             row.data)
                counts.rows_rejected += 1
                continue
            key = self._row_key(src, row, data)
            if key in seen_keys:
                self._reject(src.name, key, row.line, "key", "duplicate_key",
                             f"row key '{key}' already used by line {seen_keys[key]}", data.get(src.key) if src.key else None)
                counts.rows_rejected += 1
                continue
            seen_keys[key] = row.line
            if src.split:
                split = src.split
            elif src.key is None and row.split:
                split = row.split
            else:
                group = self.r.split.group_by
                split = assign_split(self.r.seed, f"{src.name}\x00{data.get(group)}" if group else f"{src.name}\x00{key}",
                                     self.r.split.ratios)
            for t in self.templates[src.name]:
                try:
                    prompt, completion, choices = t.render(data, seed=self.r.seed, row_key=key)
                except DoesNotApply as exc:
                    self._reject(src.name, key, row.line, "render", "does_not_apply", str(exc), template=t.name, split=split)
                    continue
                except TemplateError as exc:
                    self._reject(src.name, key, row.line, "render", "render_error", str(exc), template=t.name, split=split)
                    continue
                if self.r.dedup:
                    h = hashlib.blake2b(f"{prompt}\x00{completion}".encode(), digest_size=16).digest()
                    first = self.seen_examples.get(h)
                    if first is not None:
                        self._reject(src.name, key, row.line, "dedup", "duplicate",
                                     f"exact duplicate of example {first}", template=t.name, split=split)
                        continue
                    self.seen_examples[h] = f"{src.name}/{key}/{t.name}"
                cands.append(Candidate(src.name, src.task_name, t, key, row.line, split, prompt, completion, choices))
        return cands

    def _tokenize(self, cands: list[Candidate]):
        prompts = [c.prompt for c in cands]
        completions = [c.completion for c in cands]
        if self.r.layout == "causal":
            return encode_causal(self.backend, prompts, completions, separator=self.r.separator,
                                 eos_id=self.eos_id, max_length=self.r.max_length, overflow=self.r.overflow)
        return encode_seq2seq(self.backend, prompts, completions, eos_id=self.eos_id,
                              max_length=self.r.max_length, overflow=self.r.overflow)

    def _write(self, cands: list[Candidate], encs, row_examples: Counter) -> None:
        by_split: dict[str, list[tuple[Candidate, object]]] = defaultdict(list)
        for c, e in zip(cands, encs):
            if e.reject is not None:
                if e.reject.startswith("ERROR:"):
                    raise BuildError(f"source '{c.source}' line {c.line} (key {c.row_key}), template '{c.template.name}': "
                                     f"{e.reject[6:]} (overflow: error)")
                self._reject(c.source, c.row_key, c.line, "tokenize", "too_long" if "max_length" in e.reject else "no_trained_token",
                             e.reject, template=c.template.name, split=c.split)
                self.counts[c.source].examples_rejected += 1
                continue
            by_split[c.split].append((c, e))
            row_examples[(c.source, c.row_key)] += 1
        for split, items in by_split.items():
            ids = [e.input_ids for _, e in items]
            labels = [e.labels for _, e in items]
            st = self.stats
            for c, e in items:
                n = len(e.input_ids)
                trained = e.n_trained
                st.lengths[split].append(n)
                st.trained[split] += trained
                st.truncated[split] += e.truncated
                st.straddle[split] += e.straddle
                st.by_task[split][c.task] += 1
                st.by_template[split][c.template.name] += 1
                st.task_tokens[split][c.task] += n
                st.task_trained[split][c.task] += trained
                self.counts[c.source].examples_written += 1
            table = pa.table({
                "input_ids": _int_lists(ids, np.int32),
                "attention_mask": _ones_like(ids),
                "labels": _int_lists(labels, np.int32),
                "source": pa.array([c.source for c, _ in items], type=pa.string()),
                "task": pa.array([c.task for c, _ in items], type=pa.string()),
                "template": pa.array([c.template.name for c, _ in items], type=pa.string()),
                "row_key": pa.array([c.row_key for c, _ in items], type=pa.string()),
                "prompt": pa.array([c.prompt for c, _ in items], type=pa.string()),
                "completion": pa.array([c.completion for c, _ in items], type=pa.string()),
                "answer_choices": pa.array([c.choices for c, _ in items], type=pa.list_(pa.string())),
            }, schema=self.schema)
            self._writer(split).write(table)

    def _writer(self, split: str) -> SplitWriter:
        if split not in self.writers:
            self.writers[split] = SplitWriter(self.out.tmp / split, self.schema, self.r.shard_size)
        return self.writers[split]

    # -- run ----------------------------------------------------------------------------
    def run(self, target: Path, overwrite: bool, progress) -> BuildResult:
        t_start = time.perf_counter()
        self.out = OutputDir(target, overwrite)
        self.writers: dict[str, SplitWriter] = {}
        try:
            self.rejects = RejectsWriter(self.out.tmp / REJECTS)
            for split in self.r.split.ratios:
                self._writer(split)
            rows_done = 0
            source_hashes = {}
            for src in self.r.sources:
                if src.path is not None:
                    source_hashes[src.name] = file_hash(resolve_path(self.base, src.path))
                else:
                    source_hashes[src.name] = f"hub:{src.hub.path}:{src.hub.name}:{src.hub.split}:{src.hub.revision}"
                seen_keys: dict[str, int] = {}
                row_examples: Counter = Counter()
                it = read_source(src, self.base, self.r.batch_size)
                while True:
                    t0 = time.perf_counter()
                    rows = list(islice(it, self.r.batch_size))
                    t1 = time.perf_counter()
                    self.timings["read"] += t1 - t0
                    if not rows:
                        break
                    cands = self._render_batch(src, rows, seen_keys)
                    t2 = time.perf_counter()
                    self.timings["render"] += t2 - t1
                    encs = self._tokenize(cands)
                    t3 = time.perf_counter()
                    self.timings["tokenize"] += t3 - t2
                    self._write(cands, encs, row_examples)
                    self.timings["write"] += time.perf_counter() - t3
                    rows_done += len(rows)
                    if progress:
                        progress(rows_done, sum(c.examples_written for c in self.counts.values()))
                c = self.counts[src.name]
                c.rows_with_output = len(row_examples)
                c.rows_without_output = c.rows_read - c.rows_rejected - c.rows_with_output
                c.examples_rejected = c.templates * (c.rows_read - c.rows_rejected) - c.examples_written
            self.rejects.close()
            shards = {split: w.close(split) for split, w in self.writers.items()}
            write_json(self.out.tmp / "dataset_dict.json", {"splits": list(self.writers)})
            manifest = self._manifest(shards, source_hashes)
            write_json(self.out.tmp / MANIFEST, manifest)
            info = {"ftdata_version": __version__, "created_unix": int(time.time()),
                    "seconds": {k: round(v, 3) for k, v in self.timings.items()}
                    | {"total": round(time.perf_counter() - t_start, 3)}}
            write_json(self.out.tmp / BUILD_INFO, info)
            from .card import write_card

            write_card(self.out.tmp, manifest, self.r, self.templates)
            self.out.commit()
        except BaseException:
            self.out.abort()
            raise
        return BuildResult(target, manifest, info)

    def _manifest(self, shards: dict, source_hashes: dict) -> dict:
        st = self.stats
        splits = {}
        for split in self.writers:
            splits[split] = {
                "examples": sum(s["rows"] for s in shards[split]),
                "tasks": dict(sorted(st.by_task[split].items())),
                "templates": dict(sorted(st.by_template[split].items())),
                "task_tokens": {t: {"tokens": st.task_tokens[split][t], "trained_tokens": st.task_trained[split][t]}
                                for t in sorted(st.task_tokens[split])},
            }
        tok = self.tok
        return {
            "format": "ftdata-compiled/1",
            "ftdata_version": __version__,
            "name": self.r.name,
            "layout": self.r.layout,
            "label_convention": LABEL_CONVENTION,
            "ignore_index": IGNORE_INDEX,
            "columns": [f.name for f in self.schema],
            "seed": self.r.seed,
            "max_length": self.r.max_length,
            "overflow": self.r.overflow,
            "separator": self.r.separator,
            "add_eos": self.r.add_eos,
            "split": self.r.split.model_dump(mode="json"),
            "hashes": {
                "recipe": recipe_hash(self.r),
                "recipe_file": self.recipe_file_hash,
                "sources": source_hashes,
                "templates": self.template_hashes,
                "tokenizer": tokenizer_hash(tok),
            },
            "tokenizer": {"name": self.r.tokenizer, "eos_token": tok.eos_token, "eos_id": tok.eos_token_id,
                          "bos_token": tok.bos_token, "pad_token": tok.pad_token, "pad_id": tok.pad_token_id,
                          "vocab_size": len(tok)},
            "templates": {s: [{"name": t.name, "id": t.id, "metrics": t.metrics, "file": str(Path(t.file).name),
                               "answer_choices": t.answer_choices, "text_hash": t.text_hash(),
                               "jinja": t.jinja if t.jinja is not None else f"{t.prompt} ||| {t.completion}"}
                              for t in ts] for s, ts in self.templates.items()},
            "license": self.r.license,
            "counts": {
                "sources": {k: v.as_dict() for k, v in self.counts.items()},
                "splits": splits,
                "rejects": sum(self.rejects_by.values()),
                "rejects_by_code": dict(sorted(self.rejects_by.items())),
                "rejects_by_stage": dict(sorted(self.rejects_by_stage.items())),
            },
            "tokens": {split: st.token_stats(split) for split in self.writers},
            "shards": shards,
        }


def accounting_ok(manifest: dict) -> list[str]:
    """Check the manifest's identities; return the ones that fail (empty = all hold)."""
    bad = []
    for name, c in manifest["counts"]["sources"].items():
        if c["rows_read"] != c["rows_with_output"] + c["rows_without_output"] + c["rows_rejected"]:
            bad.append(f"{name}: rows_read != with_output + without_output + rejected")
        if c["examples_candidates"] != c["examples_written"] + c["examples_rejected"]:
            bad.append(f"{name}: candidates != written + rejected")
    written = sum(c["examples_written"] for c in manifest["counts"]["sources"].values())
    if written != sum(s["examples"] for s in manifest["counts"]["splits"].values()):
        bad.append("examples written != examples in splits")
    return bad
