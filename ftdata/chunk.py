"""Phase A of a build: render and tokenize one chunk of checked rows.

:func:`process_chunk` is a pure function of its inputs (a picklable :class:`ChunkContext`
and a list of :class:`CheckedRow`), so the same code runs in the build process, in a process
pool, or on a distributed engine, and its output can be cached by content. It returns an
Arrow table of candidate examples (the output columns plus internal ``_``-prefixed columns
that phase B uses to split, deduplicate and order) and the example-level rejects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pyarrow as pa

from .masking import encode_causal, encode_seq2seq
from .templates import DoesNotApply, Template, TemplateError
from .tokenizer import load_tokenizer

#: Internal columns carried from phase A to phase B (dropped before writing).
INTERNAL = pa.schema([
    ("_line", pa.int64()),        # source line of the row
    ("_split", pa.string()),      # split fixed in phase A (source split or hashed ratio), or null
    ("_u", pa.float64()),         # unit hash of the split key (row key or group value)
    ("_stratum", pa.string()),    # value of the stratify column, or null
    ("_group", pa.string()),      # value of the group column, or null
    ("_dedup", pa.binary(16)),    # hash of normalised (prompt, completion)
    ("_sort", pa.uint64()),       # order within a split: hash of (seed, source, row key, template)
    ("_len", pa.int32()),
    ("_trained", pa.int32()),
    ("_truncated", pa.bool_()),
    ("_straddle", pa.bool_()),
])


def output_schema() -> pa.Schema:
    """Columns of a compiled split (both layouts; see the package docstring)."""
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


def work_schema() -> pa.Schema:
    return pa.schema(list(output_schema()) + list(INTERNAL))


@dataclass
class CheckedRow:
    """A row that passed reading and the schema check, with its stable key."""

    key: str
    line: int
    data: dict
    split: str | None = None      # fixed split, when known in phase A
    u: float = 0.0
    stratum: str | None = None
    group: str | None = None


@dataclass
class ChunkContext:
    """Everything phase A needs, picklable (templates recompile lazily in a worker)."""

    source: str
    task: str
    templates: list[Template]
    tokenizer: str
    tokenizer_base: str | None
    layout: str
    separator: str
    max_length: int
    overflow: str
    add_eos: bool
    seed: int
    normalize_dedup: bool = True
    extra: dict = field(default_factory=dict)


@dataclass
class Reject:
    source: str
    row_key: str | None
    line: int
    stage: str
    code: str
    reason: str
    template: str | None = None
    split: str | None = None
    value: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None or k in ("row_key",)}


@dataclass
class ChunkResult:
    table: pa.Table
    rejects: list[Reject]
    candidates: int


def dedup_text(prompt: str, completion: str) -> str:
    """Normalised text for exact dedup: case-folded, whitespace collapsed."""
    return " ".join(prompt.casefold().split()) + "\x00" + " ".join(completion.casefold().split())


def sort_key(seed: int, source: str, row_key: str, template: str) -> int:
    d = hashlib.blake2b(f"{seed}\x00{source}\x00{row_key}\x00{template}".encode(), digest_size=8).digest()
    return int.from_bytes(d, "big")


def _offsets(lists: list[list[int]]) -> np.ndarray:
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int32, count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def int_lists(lists: list[list[int]], dtype=np.int32) -> pa.Array:
    """A list<int> Arrow array built from one flat buffer (much faster than nested pa.array)."""
    offsets = _offsets(lists)
    flat = np.fromiter(chain.from_iterable(lists), dtype=dtype, count=int(offsets[-1]))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))


def ones_like(lists: list[list[int]]) -> pa.Array:
    offsets = _offsets(lists)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.ones(int(offsets[-1]), dtype=np.int8)))


def render_rows(ctx: ChunkContext, rows: list[CheckedRow]):
    """Render every template on every row. Returns (kept [(row, template, p, c, choices)], rejects, n)."""
    kept, rejects, n = [], [], 0
    for row in rows:
        for t in ctx.templates:
            n += 1
            try:
                prompt, completion, choices = t.render(row.data, seed=ctx.seed, row_key=row.key)
            except DoesNotApply as exc:
                rejects.append(Reject(ctx.source, row.key, row.line, "render", "does_not_apply", str(exc), t.name, row.split))
                continue
            except TemplateError as exc:
                rejects.append(Reject(ctx.source, row.key, row.line, "render", "render_error", str(exc), t.name, row.split))
                continue
            kept.append((row, t, prompt, completion, choices))
    return kept, rejects, n


def process_chunk(ctx: ChunkContext, rows: list[CheckedRow]) -> ChunkResult:
    """Render and tokenize a chunk; see the module docstring."""
    kept, rejects, n = render_rows(ctx, rows)
    tok = load_tokenizer(ctx.tokenizer, None if ctx.tokenizer_base is None else __import__("pathlib").Path(ctx.tokenizer_base))
    eos = tok.eos_token_id if ctx.add_eos else None
    prompts = [k[2] for k in kept]
    completions = [k[3] for k in kept]
    if ctx.layout == "causal":
        encs = encode_causal(tok.backend_tokenizer, prompts, completions, separator=ctx.separator, eos_id=eos,
                             max_length=ctx.max_length, overflow=ctx.overflow)
    else:
        encs = encode_seq2seq(tok.backend_tokenizer, prompts, completions, eos_id=eos,
                              max_length=ctx.max_length, overflow=ctx.overflow)
    items = []
    for (row, t, prompt, completion, choices), e in zip(kept, encs):
        if e.reject is not None:
            if e.reject.startswith("ERROR:"):
                from .errors import BuildError

                raise BuildError(f"source '{ctx.source}' line {row.line} (key {row.key}), template '{t.name}': "
                                 f"{e.reject[6:]} (overflow: error)")
            code = "too_long" if "max_length" in e.reject else "no_trained_token"
            rejects.append(Reject(ctx.source, row.key, row.line, "tokenize", code, e.reject, t.name, row.split))
            continue
        items.append((row, t, prompt, completion, choices, e))
    ids = [it[5].input_ids for it in items]
    table = pa.table({
        "input_ids": int_lists(ids),
        "attention_mask": ones_like(ids),
        "labels": int_lists([it[5].labels for it in items]),
        "source": pa.array([ctx.source] * len(items), pa.string()),
        "task": pa.array([ctx.task] * len(items), pa.string()),
        "template": pa.array([it[1].name for it in items], pa.string()),
        "row_key": pa.array([it[0].key for it in items], pa.string()),
        "prompt": pa.array([it[2] for it in items], pa.string()),
        "completion": pa.array([it[3] for it in items], pa.string()),
        "answer_choices": pa.array([it[4] for it in items], pa.list_(pa.string())),
        "_line": pa.array([it[0].line for it in items], pa.int64()),
        "_split": pa.array([it[0].split for it in items], pa.string()),
        "_u": pa.array([it[0].u for it in items], pa.float64()),
        "_stratum": pa.array([it[0].stratum for it in items], pa.string()),
        "_group": pa.array([it[0].group for it in items], pa.string()),
        "_dedup": pa.array([hashlib.blake2b(dedup_text(it[2], it[3]).encode(), digest_size=16).digest()
                            for it in items], pa.binary(16)),
        "_sort": pa.array([sort_key(ctx.seed, ctx.source, it[0].key, it[1].name) for it in items], pa.uint64()),
        "_len": pa.array([len(x) for x in ids], pa.int32()),
        "_trained": pa.array([it[5].n_trained for it in items], pa.int32()),
        "_truncated": pa.array([it[5].truncated for it in items], pa.bool_()),
        "_straddle": pa.array([it[5].straddle for it in items], pa.bool_()),
    }, schema=work_schema())
    return ChunkResult(table, rejects, n)
