"""The vectorised chat path: :func:`~ftdata.tokenize.spans.encode_spans` as :class:`Columns`.

A chat example is a rendered conversation and the character spans it trains (the assistant
turns). For a byte-level tokenizer (the tokenizers :func:`~ftdata.tokenize.causal_fast.byte_lengths`
knows) the chunk's texts are encoded without offsets and every token placed by the byte
lengths of its id (:func:`~ftdata.tokenize.causal_fast.place_tokens`); the spans become byte
ranges, and the tokens each one trains are two binary searches over the chunk's token
boundaries, done for every span of the chunk at once. The labels of the whole chunk are then
one pass over a NumPy array: no Python list per token and no per-example lookups, so a
32-turn conversation costs no more per token than a 2-turn one.

It gives what the reference path gives for every example it keeps (tested on every chat template
of the tests; a rejected example's ``n_trained`` and audit flags may differ, and the chunk drops it
before they are read): a token
is trained when it holds a byte of a span (the first and last such tokens bound it, as the
reference's char-to-token lookups do: the bytes of one character split over several tokens
all train), it straddles when it starts before the span or ends after it, ``n_trained`` adds
each span's tokens, and the EOS, the overflow policy (:func:`~ftdata.tokenize.overflow.fit_to_length`
for the over-long examples alone) and the audit bits are the reference's. Texts holding escaped
special-token strings, tokenizers that are not byte-level, and chunks a Unicode normalizer would
change take the reference path, as in :mod:`~ftdata.tokenize.causal_fast`.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from ..constants import IGNORE_INDEX
from .auditbits import EOS_UNTRAINED, STRADDLE
from .causal_fast import (
    _fit_columns,
    dup_bos_flags,
    fast_table,
    place_tokens,
    unchanged_by_normalizer,
)
from .encoded import NO_TRAINED_TOKEN, Columns
from .prefix import _prefix_check_columns
from .spans import encode_spans


def encode_spans_columns(backend, texts: list[str], spans: list[list[tuple[int, int]]], *, eos: list[int | None],
                         untrained_end: list[bool], max_length: int, overflow: str, bos_id: int | None = None,
                         escaped: list[bool] | None = None, prompts: list[str] | None = None,
                         kept_tails: dict | None = None) -> Columns:
    """:func:`~ftdata.tokenize.spans.encode_spans` (``add_special_tokens=False``: chat templates
    write their own BOS) as :class:`Columns`, vectorised where the tokenizer allows it.
    Arguments as there."""
    if escaped is None or not any(escaped):
        cols = _spans_fast(backend, texts, spans, eos, untrained_end, max_length, overflow, bos_id, prompts,
                           kept_tails)
        if cols is not None:
            return cols
    return Columns.from_encoded(encode_spans(backend, texts, spans, eos=eos, untrained_end=untrained_end,
                                             max_length=max_length, overflow=overflow, add_special_tokens=False,
                                             bos_id=bos_id, escaped=escaped, prompts=prompts,
                                             kept_tails=kept_tails))


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _byte_spans(texts: list[str], spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray]:
    """Every span of the chunk as ``(example, [start, end) in bytes of its text)``: ``ex`` (n,)
    and ``ab`` (n, 2). ASCII texts (most) need no conversion."""
    count = np.fromiter(map(len, spans), dtype=np.int64, count=len(spans))
    ex = np.repeat(np.arange(len(spans), dtype=np.int64), count)
    ab = np.fromiter(chain.from_iterable(chain.from_iterable(spans)), dtype=np.int64,
                     count=2 * int(count.sum())).reshape(-1, 2)
    first = np.zeros(len(spans) + 1, dtype=np.int64)
    np.cumsum(count, out=first[1:])
    for i, t in enumerate(texts):
        if not t.isascii() and count[i]:
            ab[first[i]:first[i + 1]] = _to_bytes(t, ab[first[i]:first[i + 1]])
    return ex, ab


def _to_bytes(text: str, chars: np.ndarray) -> np.ndarray:
    """Character positions of ``text`` as UTF-8 byte positions: the text between consecutive
    positions is encoded once (linear in the text, however many turns it has)."""
    at, pos, out = 0, 0, {}
    for c in sorted(set(chars.ravel().tolist())):
        pos += len(text[at:c].encode("utf-8"))
        out[c], at = pos, c
    return np.vectorize(out.__getitem__, otypes=[np.int64])(chars)


def _spans_fast(backend, texts, spans, eos, untrained_end, max_length, overflow, bos_id, prompts,
                kept_tails) -> Columns | None:
    """The byte-length path of :func:`encode_spans_columns`; None when it does not apply."""
    blen_of = fast_table(backend)
    if blen_of is None or not unchanged_by_normalizer(backend, texts, prompts):
        return None
    n_ex = len(texts)
    t_len = np.fromiter(map(_utf8_len, texts), dtype=np.int64, count=n_ex)
    placed = place_tokens(backend, blen_of, texts, t_len)
    if placed is None:
        return None
    flat, n, toff, cum = placed
    ex, ab = _byte_spans(texts, spans)
    live = ab[:, 1] > ab[:, 0]  # an empty span trains nothing
    ex, ab = ex[live], ab[live]
    base = cum[toff[:-1]][ex]
    ga, gb = base + ab[:, 0], base + ab[:, 1]
    k1 = np.searchsorted(cum[1:], ga, side="right")  # the first token ending past the span's start
    k2 = np.searchsorted(cum[:-1], gb, side="left") - 1  # the last token starting before its end
    span_straddle = (cum[k1] < ga) | (cum[k2 + 1] > gb)
    # per example: tokens trained (each span's count added, as the reference does), first trained, straddle
    n_trained = np.bincount(ex, weights=k2 + 1 - k1, minlength=n_ex).astype(np.int64)
    first = np.full(n_ex, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, ex, k1)
    none_trained = first == np.iinfo(np.int64).max
    k = np.where(none_trained, n, first - toff[:-1])
    straddle = np.zeros(n_ex, dtype=bool)
    straddle[ex[span_straddle]] = True
    # trained tokens: +1 at each span's first token, -1 after its last, summed along the chunk
    step = np.zeros(flat.size + 1, dtype=np.int32)
    np.add.at(step, k1, 1)
    np.add.at(step, k2 + 1, -1)
    trained = np.cumsum(step[:-1]) > 0
    has_eos = np.fromiter((e is not None for e in eos), dtype=bool, count=n_ex)
    out_n = n + has_eos
    off = np.zeros(n_ex + 1, dtype=np.int64)
    np.cumsum(out_n, out=off[1:])
    if has_eos.any():
        own = np.ones(int(off[-1]), dtype=bool)
        at_eos = off[1:][has_eos] - 1
        own[at_eos] = False
        eos_ids = np.fromiter((e for e in eos if e is not None), dtype=np.int32, count=int(has_eos.sum()))
        ids = np.empty(int(off[-1]), dtype=np.int32)
        ids[own] = flat
        ids[at_eos] = eos_ids
        labels = np.full(ids.size, IGNORE_INDEX, dtype=np.int32)
        labels[own] = np.where(trained, flat, np.int32(IGNORE_INDEX))
        labels[at_eos] = eos_ids
    else:
        ids = flat
        labels = np.where(trained, flat, np.int32(IGNORE_INDEX)).astype(np.int32, copy=False)
    n_trained += has_eos
    ends = np.fromiter(untrained_end, dtype=bool, count=n_ex)
    flags = np.where(straddle, STRADDLE, 0) | np.where(ends, EOS_UNTRAINED, 0)
    flags |= dup_bos_flags(ids, off, out_n, bos_id)
    cols = Columns(ids, labels, off, n_trained.astype(np.int32), straddle, np.zeros(n_ex, dtype=bool),
                   flags.astype(np.uint8), [None] * n_ex)
    for i in np.flatnonzero(none_trained):
        cols.reject[i] = NO_TRAINED_TOKEN
    long = np.flatnonzero(~none_trained & (out_n > max_length))
    if long.size:
        cols = _fit_columns(cols, long, k, max_length, overflow)
    if prompts is not None:
        pbytes = [p.encode("utf-8") for p in prompts]
        _prefix_check_columns(backend, cols, k, prompts, pbytes, cum, toff, 0, kept_tails)
    return cols
