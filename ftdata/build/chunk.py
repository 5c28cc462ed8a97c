"""Phase A of a build: render and tokenize one chunk of checked rows.

:func:`process_chunk` is a pure function of its inputs (a picklable :class:`ChunkContext`
and a list of :class:`CheckedRow`), so the same code runs in the build process, in a process
pool, or on a distributed engine, and its output can be cached by content. It returns an
Arrow table of candidate examples (the output columns plus internal ``_``-prefixed columns
that phase B uses to split, deduplicate and order) and the example-level rejects.

The work schema (:func:`work_schema`) is the output columns (:func:`output_schema`) plus these
internal columns (:data:`INTERNAL`), which are dropped before the shards are written. Every
internal column, what it holds, and which phase-B step reads it:

=============== ========== ============================================ ========================
column          type       holds                                        read by (phase B)
=============== ========== ============================================ ========================
``_line``       int64      the row's line (record number) in its source rejects (``_records``)
``_split``      string     split fixed in phase A (source split), else  ``plan``: fixed splits
                           null
``_u``          float64    unit hash of the split key (row key or group ``plan``: ratio and
                           value), in [0, 1)                            stratified splits
``_stratum``    string     the row's ``split.stratify_by`` value / null ``plan``: stratify
``_group``      string     the row's ``split.group_by`` value / null    nothing yet (``_u``
                                                                        already hashes it)
``_dedup``      binary(16) BLAKE2b of normalised (prompt, completion)   ``dedup_rows``
``_sort``       uint64     seeded hash of (source, row key, template)   ``plan``: order in a
                                                                        split, dedup survivor
``_len``        int32      tokens in ``input_ids``                      ``split_stats``, pack,
                                                                        cache
``_trained``    int32      trained tokens (labels not ``IGNORE_INDEX``) ``split_stats``
``_truncated``  bool       ``overflow: truncate_prompt`` cut the prompt ``split_stats``
``_straddle``   bool       a trained token starts before the completion ``split_stats``
``_audit``      uint8      boundary-audit bits (:mod:`ftdata.tokenize.audit`)    ``audit_section``
``_minhash``    binary     MinHash signature (near dedup on), or null   ``near_dedup``
``_cut_tokens`` int32      tokens removed from the template's           ``field_cut_stats``
                           ``truncate`` field (0: not shortened)
``_cut_chars``  int32      characters removed from that field           ``field_cut_stats``
``_chat``       uint8      chat checks: 1 train/serve parity mismatch,  ``chat_section``
                           2 spans from the per-part diff (fallback)
``_references`` list<str>  the template's reference columns' values     ``write_splits``: written
                           (:meth:`Template.reference_values`), or null  as ``references`` when a
                                                                        template names any
=============== ========== ============================================ ========================

(``plan``, ``dedup_rows``, ``near_dedup``, ``split_stats``, ``field_cut_stats`` and ``_records``
are in :mod:`ftdata.plan.finalize`; ``audit_section`` in :mod:`ftdata.tokenize.audit`;
``chat_section`` in :mod:`ftdata.plan.chataudit`.)

Nothing else in the package defines an internal column; a new one is added to
:data:`INTERNAL` and to this table.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..constants import CHAT_JSON_COLUMNS, TEXT_COLUMN
from ..errors import BuildError
from ..rejects import Code, Reject
from ..templating.templates import DoesNotApply, Template, TemplateError, from_jinja
from ..tokenize.auditbits import SPECIAL_IN_DATA
from ..tokenize.causal_fast import encode_causal_columns
from ..tokenize.encoded import Columns
from ..tokenize.overflow import TooLong
from ..tokenize.prefix import kept_tails
from ..tokenize.seq2seq import encode_seq2seq
from ..tokenize.spans_fast import encode_spans_columns
from ..tokenize.specials import specials_for
from ..tokenize.tokenizer import load_tokenizer

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
    ("_audit", pa.uint8()),       # boundary-audit bits (ftdata.tokenize.audit)
    ("_minhash", pa.binary()),    # MinHash signature for near-dup detection, or null (off / no text)
    ("_cut_tokens", pa.int32()),  # tokens removed from the template's truncate field (0: not shortened)
    ("_cut_chars", pa.int32()),   # characters removed from that field
    ("_chat", pa.uint8()),        # chat checks (ftdata.plan.chataudit): parity mismatch, span fallback
    ("_references", pa.list_(pa.string())),  # reference answers (template `references`), or null
])


#: Columns a chat build adds: the conversation as rendered (internal format, see
#: :mod:`ftdata.templating.conversation`) and its tool schemas, each as JSON text -- never an
#: Arrow struct, whose one inferred type cannot hold arguments of different shapes.
CHAT_COLUMNS = [(name, pa.string()) for name in CHAT_JSON_COLUMNS]

#: The column a build adds when a template names reference columns (``references``).
REFERENCES_COLUMN = ("references", pa.list_(pa.string()))


def output_schema(chat: bool = False, references: bool = False) -> pa.Schema:
    """Columns of a compiled split (both layouts; see the package docstring); a chat build
    adds :data:`CHAT_COLUMNS`, a build whose templates name reference columns ``references``."""
    return pa.schema(_BASE_COLUMNS + (CHAT_COLUMNS if chat else []) + ([REFERENCES_COLUMN] if references else []))


_BASE_COLUMNS = [
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
]


def work_schema(chat: bool = False) -> pa.Schema:
    return pa.schema(list(output_schema(chat)) + list(INTERNAL))


@dataclass(slots=True)
class CheckedRow:
    """A row that passed reading and the schema check, with its stable key."""

    key: str
    line: int
    data: dict
    split: str | None = None      # fixed split, when known in phase A
    u: float = 0.0
    stratum: str | None = None
    group: str | None = None
    index: int | None = None      # position among the source's checked rows (round-robin templates only)


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
    near_dup: tuple[int, int] | None = None  # (shingle size, num_perm) when near-dup detection is on
    chat: dict | None = None  # ChatSpec as a dict when the chat layout is on
    special_tokens_in_data: str = "text"  # text | control
    render_plan: object | None = None  # ftdata.templating.renderplan.RenderPlan: templates per row, field cut, few-shot


@dataclass(slots=True)
class Rendered:
    """One rendered example on its way from rendering to tokenizing (phase A)."""

    row: CheckedRow
    template: Template
    prompt: str | None       # None for a messages-column row until the chat render gives it
    completion: str | None   # likewise
    choices: list[str] | None
    messages: list[dict] | None = None  # the conversation (chat layout; from a messages column or the pair)
    tools: list[dict] | None = None     # its tool schemas, passed to the chat template
    chat_bits: int = 0  # the chat checks' bits (the ``_chat`` column)


@dataclass
class ChunkResult:
    table: pa.Table
    rejects: list[Reject]
    candidates: int
    key: str | None = None  # cache key, when a worker computed it (ftdata.build.cache.cached_process)
    read: object | None = None  # a chunk its worker read: its ftdata.build.rows.RangeRead


def dedup_text(prompt: str, completion: str) -> str:
    """Normalised text for exact dedup: case-folded, whitespace collapsed."""
    return " ".join(prompt.casefold().split()) + "\x00" + " ".join(completion.casefold().split())


def sort_key(seed: int, source: str, row_key: str, template: str) -> int:
    d = hashlib.blake2b(f"{seed}\x00{source}\x00{row_key}\x00{template}".encode(), digest_size=8).digest()
    return int.from_bytes(d, "big")


def render_rows(ctx: ChunkContext, rows: list[CheckedRow], backend=None, cuts: dict | None = None):
    """Render the templates each row meets (every template, unless ``ctx.render_plan`` picks
    one per row; it may also shorten a field and add few-shot exemplars, using ``backend``).
    Returns (kept [:class:`Rendered`], rejects, n); ``cuts``, when given, gets
    ``(row key, template id) -> (tokens, characters)`` removed from each shortened field."""
    kept, rejects, n = [], [], 0
    rp = ctx.render_plan
    for row in rows:
        for t in ctx.templates if rp is None else rp.templates_for(row.index, row.key):
            n += 1
            try:
                prompt, completion, choices = t.render(row.data, seed=ctx.seed, row_key=row.key)
                if rp is not None:
                    prompt, completion, choices, cut = rp.finish(t, row.data, row.key,
                                                                 (prompt, completion, choices), backend)
                    if cut is not None and cuts is not None:
                        cuts[(row.key, t.id)] = cut
            except DoesNotApply as exc:
                rejects.append(Reject(ctx.source, row.key, row.line, Code.DOES_NOT_APPLY, str(exc), t.name, row.split))
                continue
            except TemplateError as exc:
                rejects.append(Reject(ctx.source, row.key, row.line, Code.RENDER_ERROR, str(exc), t.name, row.split))
                continue
            if choices and completion not in choices:  # a label the template cannot score: misread or unmapped data
                rejects.append(Reject(ctx.source, row.key, row.line, Code.NOT_AN_ANSWER_CHOICE,
                                      f"completion is not one of the template's answer_choices "
                                      f"{', '.join(map(repr, choices[:10]))}{', ...' if len(choices) > 10 else ''}",
                                      t.name, row.split, value=completion))
                continue
            kept.append(Rendered(row, t, prompt, completion, choices))
    return kept, rejects, n


def escape_rows(ctx: ChunkContext, sp, rows: list[CheckedRow]) -> tuple[list[CheckedRow], set[str]]:
    """Rows with special-token strings in their data escaped (text mode), and which rows had any."""
    import dataclasses

    out, hits = [], set()
    for row in rows:
        data, hit = sp.escape(row.data)
        if hit:
            hits.add(row.key)
            if ctx.special_tokens_in_data == "text":
                row = dataclasses.replace(row, data=data)
        out.append(row)
    return out, hits


@functools.cache
def _messages_template() -> Template:
    """The template standing for a messages column (compiled once; rendering never changes it)."""
    return from_jinja("{{ messages }} ||| {{ messages }}", name="messages")


def messages_rows(ctx: ChunkContext, rows: list[CheckedRow]):
    """Chat layout from a messages column: one example per row, template name ``messages``."""
    from ..templating.conversation import ConversationError, conversation
    t = _messages_template()
    kept, rejects = [], []
    for row in rows:
        try:
            msgs, tools = conversation(row.data, ctx.chat)
        except ConversationError as exc:
            rejects.append(Reject(ctx.source, row.key, row.line, exc.code, str(exc), t.name, row.split))
            continue
        kept.append(Rendered(row, t, None, None, None, msgs, tools))
    return kept, rejects, len(rows)


#: No length limit while a raw-text document is tokenized (packing cuts it into max_length pieces).
_UNLIMITED = 2**31 - 1


@functools.cache
def _text_template() -> Template:
    """The template standing for a text column (compiled once; rendering never changes it)."""
    return from_jinja("{{ text }} ||| {{ text }}", name="text")


def text_rows(ctx: ChunkContext, rows: list[CheckedRow]):
    """Text layout from the column ``text``: one document per row, template name ``text``."""
    t = _text_template()
    kept, rejects = [], []
    for row in rows:
        value = row.data.get(TEXT_COLUMN)
        if not isinstance(value, str) or not value.strip():
            found = "no column 'text'" if value is None else f"an empty or non-text value ({type(value).__name__})"
            rejects.append(Reject(ctx.source, row.key, row.line, Code.DOES_NOT_APPLY,
                                  f"layout text reads the column 'text' of a source without templates; found {found} "
                                  "(rename the text column to 'text', or give the source a template)", t.name,
                                  row.split))
            continue
        kept.append(Rendered(row, t, "", value.strip(), None))
    return kept, rejects, len(rows)


def as_documents(ctx: ChunkContext, kept: list[Rendered]) -> list[Rendered]:
    """Text layout from templates: prompt, separator and completion make one document, all trained."""
    import dataclasses

    return [dataclasses.replace(k, prompt="", completion=k.prompt + ctx.separator + k.completion, choices=None)
            for k in kept]


def tokenize_kept(ctx: ChunkContext, tok, kept: list, hits: set[str]):
    """Tokenize and mask rendered examples; see :mod:`ftdata.tokenize.spans`.

    Returns ``(items, cols, rejects)``: the kept :class:`Rendered` examples (prompt and
    completion filled in, specials restored), their tokens as :class:`~ftdata.tokenize.encoded.Columns`
    (aligned with ``items``), and the rejects.
    """
    from ..templating.chat import ChatError, messages_from_pair, render_chat
    from ..templating.conversation import ConversationError, tools_from_value

    backend = tok.backend_tokenizer
    sp = specials_for(backend)
    eos = tok.eos_token_id if ctx.add_eos else None
    escaped = [k.row.key in hits for k in kept]
    text_mode = ctx.special_tokens_in_data == "text"
    rejects: list[Reject] = []
    if ctx.chat:
        renderer, policy, method = _chat_setup(ctx, tok)
        if policy.end_of_turn != "eot":  # the policy, not add_eos, decides whether EOS is appended
            eos = tok.eos_token_id
        ok, ok_escaped, chats = [], [], []
        strings, system, tools_column = sp.strings, ctx.chat.get("system"), ctx.chat.get("tools_column")
        for k, esc in zip(kept, escaped):
            msgs, tools = k.messages, k.tools
            try:
                if msgs is None:  # a rendered template's pair: its conversation, its tools column
                    msgs = messages_from_pair(k.prompt, k.completion, system)
                    if tools_column:
                        tools = tools_from_value(k.row.data.get(tools_column), tools_column)
                ce = render_chat(tok, msgs, specials=strings, policy=policy, tools=tools, renderer=renderer,
                                 method=method)
            except (ChatError, ConversationError) as exc:
                row = k.row
                rejects.append(Reject(ctx.source, row.key, row.line, exc.code, str(exc), k.template.name, row.split))
                continue
            if k.messages is not None:  # a messages-column row: its prompt and completion from the render
                k.prompt, k.completion = ce.prompt, ce.completion
            k.messages, k.tools, k.chat_bits = msgs, tools, ce.bits  # this chunk's own example: filled in place
            ok.append(k)
            ok_escaped.append(esc)
            chats.append(ce)
        kept, escaped = ok, ok_escaped
    try:
        if ctx.chat:
            cols = encode_spans_columns(
                backend, [ce.text for ce in chats], [ce.spans for ce in chats],
                eos=[eos if ce.append_eos else None for ce in chats], untrained_end=[ce.untrained_end for ce in chats],
                max_length=ctx.max_length, overflow=ctx.overflow, bos_id=tok.bos_token_id,
                escaped=escaped if text_mode else None, prompts=[ce.text[:ce.spans[0][0]] for ce in chats],
                kept_tails=kept_tails(backend))
        elif ctx.layout == "text":  # every token trained: an empty prompt, no separator, no length limit
            cols = encode_causal_columns(backend, [""] * len(kept), [k.completion for k in kept], separator="",
                                         eos_id=eos, max_length=_UNLIMITED, overflow="drop", bos_id=tok.bos_token_id,
                                         escaped=escaped if text_mode else None)
        elif ctx.layout == "causal":
            cols = encode_causal_columns(backend, [k.prompt for k in kept], [k.completion for k in kept],
                                         separator=ctx.separator, eos_id=eos, max_length=ctx.max_length,
                                         overflow=ctx.overflow, bos_id=tok.bos_token_id,
                                         escaped=escaped if text_mode else None)
        else:
            cols = Columns.from_encoded(encode_seq2seq(
                backend, [k.prompt for k in kept], [k.completion for k in kept], eos_id=eos,
                max_length=ctx.max_length, overflow=ctx.overflow, bos_id=tok.bos_token_id,
                escaped=escaped if text_mode else None))
    except TooLong as exc:  # overflow: error stops the build at the first example over max_length
        row, t = kept[exc.index].row, kept[exc.index].template
        raise BuildError(f"source '{ctx.source}' line {row.line} (key {row.key}), template '{t.name}': "
                         f"{exc.message} (overflow: error)") from None
    items = []
    for i, (k, esc, why) in enumerate(zip(kept, escaped, cols.reject)):
        if why is not None:  # a Rejection: (code, message)
            row = k.row
            rejects.append(Reject(ctx.source, row.key, row.line, why.code, why.message, k.template.name, row.split))
            continue
        if not esc:
            items.append(k)  # nothing to restore: the example as rendered
            continue
        row, t, prompt, completion, choices = k.row, k.template, k.prompt, k.completion, k.choices
        msgs, tools = k.messages, k.tools
        cols.flags[i] |= SPECIAL_IN_DATA
        prompt, completion = sp.restore(prompt), sp.restore(completion)
        if choices:
            choices = [sp.restore(x) for x in choices]
        msgs, tools = _restored(sp, msgs), _restored(sp, tools)
        items.append(Rendered(row, t, prompt, completion, choices, msgs, tools, k.chat_bits))
    if len(items) < len(cols):
        cols = cols.take(np.fromiter((w is None for w in cols.reject), dtype=bool, count=len(cols)))
    return items, cols, rejects


def _restored(sp, value):
    """``value`` (a conversation or tools list) with every escaped string restored."""
    if isinstance(value, str):
        return sp.restore(value)
    if isinstance(value, list):
        return [_restored(sp, v) for v in value]
    if isinstance(value, dict):
        return {k: _restored(sp, v) for k, v in value.items()}
    return value


def _chat_columns(items: list[Rendered]) -> dict[str, pa.Array]:
    """``messages`` and ``tools`` as JSON text (see :data:`CHAT_COLUMNS`)."""
    from ..templating.conversation import dumps

    return {"messages": pa.array([dumps(x.messages) for x in items], pa.string()),
            "tools": pa.array([None if x.tools is None else dumps(x.tools) for x in items], pa.string())}
def _chat_setup(ctx: ChunkContext, tok):
    """The chat template compiled once (per process), the policy, and the span method
    (``FTDATA_CHAT_SPANS=diff`` forces the per-part diff: a benchmark's "before")."""
    import os

    from ..templating.chat import ChatPolicy
    from ..templating.chatjinja import ChatTemplateError, renderer_for

    try:
        renderer = renderer_for(tok, ctx.chat.get("template"), ctx.chat.get("template_kwargs"))
    except ChatTemplateError as exc:
        raise BuildError(f"source '{ctx.source}': {exc}") from None
    method = "diff" if os.environ.get("FTDATA_CHAT_SPANS") == "diff" else "auto"
    return renderer, ChatPolicy.from_spec(ctx.chat, ctx.add_eos), method


def process_chunk(ctx: ChunkContext, rows: list[CheckedRow]) -> ChunkResult:
    """Render and tokenize a chunk; see the module docstring."""
    tok = load_tokenizer(ctx.tokenizer, None if ctx.tokenizer_base is None else Path(ctx.tokenizer_base))
    rows, hits = escape_rows(ctx, specials_for(tok.backend_tokenizer), rows)
    cuts: dict[tuple[str, str], tuple[int, int]] = {}
    if ctx.chat and ctx.chat.get("messages_column"):
        kept, rejects, n = messages_rows(ctx, rows)
    elif ctx.layout == "text" and not ctx.templates:
        kept, rejects, n = text_rows(ctx, rows)
    else:
        kept, rejects, n = render_rows(ctx, rows, tok.backend_tokenizer, cuts)
        if ctx.layout == "text":
            kept = as_documents(ctx, kept)
    items, cols, tok_rejects = tokenize_kept(ctx, tok, kept, hits)
    rejects += tok_rejects
    rws, tpls = [x.row for x in items], [x.template for x in items]
    prompts, completions, choices = [x.prompt for x in items], [x.completion for x in items], [x.choices for x in items]
    names = [t.name for t in tpls]
    keys = [r.key for r in rws]
    offsets = pa.array(cols.offsets.astype(np.int32))
    table = pa.table({
        "input_ids": pa.ListArray.from_arrays(offsets, pa.array(cols.ids)),
        "attention_mask": pa.ListArray.from_arrays(offsets, pa.array(np.ones(cols.ids.size, dtype=np.int8))),
        "labels": pa.ListArray.from_arrays(offsets if cols.label_offsets is None
                                           else pa.array(cols.label_offsets.astype(np.int32)), pa.array(cols.labels)),
        "source": pa.array([ctx.source] * len(items), pa.string()),
        "task": pa.array([ctx.task] * len(items), pa.string()),
        "template": pa.array(names, pa.string()),
        "row_key": pa.array(keys, pa.string()),
        "prompt": pa.array(prompts, pa.string()),
        "completion": pa.array(completions, pa.string()),
        "answer_choices": pa.array(choices, pa.list_(pa.string())),
        **(_chat_columns(items) if ctx.chat else {}),
        "_line": pa.array([r.line for r in rws], pa.int64()),
        "_split": pa.array([r.split for r in rws], pa.string()),
        "_u": pa.array([r.u for r in rws], pa.float64()),
        "_stratum": pa.array([r.stratum for r in rws], pa.string()),
        "_group": pa.array([r.group for r in rws], pa.string()),
        "_dedup": pa.array([hashlib.blake2b(dedup_text(p, c).encode(), digest_size=16).digest()
                            for p, c in zip(prompts, completions)], pa.binary(16)),
        "_sort": pa.array([sort_key(ctx.seed, ctx.source, k, t) for k, t in zip(keys, names)], pa.uint64()),
        "_len": pa.array(cols.lengths.astype(np.int32)),
        "_trained": pa.array(cols.n_trained),
        "_truncated": pa.array(cols.truncated),
        "_straddle": pa.array(cols.straddle),
        "_audit": pa.array(cols.flags),
        "_minhash": pa.array(_minhashes(ctx, list(zip(tpls, prompts, completions))), pa.binary()),
        **_cut_columns(cuts, keys, [t.id for t in tpls]),
        "_chat": pa.array([x.chat_bits for x in items], pa.uint8()),
        "_references": pa.array(_references(items, hits, specials_for(tok.backend_tokenizer)),
                                pa.list_(pa.string())),
    }, schema=work_schema(bool(ctx.chat)))
    return ChunkResult(table, rejects, n)


def _references(items: list, hits: set[str], sp) -> list[list[str] | None]:
    """Each example's reference answers (its template's ``references`` columns), or None when the
    template names none; special-token strings escaped in the row are restored, as in the prompt."""
    out = []
    for x in items:
        if not x.template.references:
            out.append(None)
            continue
        refs = x.template.reference_values(x.row.data)
        out.append([sp.restore(r) for r in refs] if x.row.key in hits else refs)
    return out


def _cut_columns(cuts: dict, keys: list[str], ids: list[str]) -> dict[str, pa.Array]:
    """``_cut_tokens`` and ``_cut_chars`` per example (zeros where no field was shortened)."""
    cut = np.zeros((len(keys), 2), dtype=np.int32)
    if cuts:
        for i, k in enumerate(zip(keys, ids)):
            cut[i] = cuts.get(k, (0, 0))
    return {"_cut_tokens": pa.array(cut[:, 0]), "_cut_chars": pa.array(cut[:, 1])}


def _minhashes(ctx: ChunkContext, items: list[tuple[Template, str, str]]) -> list[bytes | None]:
    """Near-dup signatures of (template, prompt, completion), the template's literal text cut out."""
    if ctx.near_dup is None:
        return [None] * len(items)
    from ..plan.neardup import (
        WordHasher,
        shingle_batch,
        signatures,
        strip_literals,
        template_literals,
    )

    k, num_perm = ctx.near_dup
    literals: dict[str, tuple[list[str], list[str]]] = {}
    texts = []
    for t, prompt, completion in items:
        if t.name not in literals:
            literals[t.name] = template_literals(t.sources())
        lp, lc = literals[t.name]
        texts += [strip_literals(prompt, lp), strip_literals(completion, lc)]
    hashes, text_of = shingle_batch(texts, k, WordHasher())
    order = np.argsort(text_of, kind="stable")  # group each example's two texts together
    return signatures(hashes[order], text_of[order] // 2, len(items), num_perm)
