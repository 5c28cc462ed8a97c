"""Tokenize and mask: one tokenization with offsets, labels from character spans.

Every layout reduces to the same question: given a text and the character spans that the
model must learn to emit, which tokens are trained? The text is tokenized **once** and a token
is trained exactly when it holds a character of a trained span. ``labels`` are unshifted:
``-100`` (:data:`~ftdata.constants.IGNORE_INDEX`) for every untrained position, the token id
otherwise.

* Causal layout: the text is ``prompt + separator + completion``; the one trained span is the
  separator and the completion (the model must emit the separator too). EOS is appended and
  trained.
* Chat layout (:mod:`ftdata.chat`): the text is the tokenizer's own chat template applied to
  the conversation; the trained spans are the assistant turns (content and end-of-turn token).
* Seq2seq layout: ``input_ids`` is the prompt, ``labels`` the completion plus EOS.

A token whose characters start before a trained span and end inside it *straddles* the
boundary: it is trained (it carries completion characters) and flagged, never hidden. Spans are
mapped to tokens with the encoding's own char-to-token map (a constant number of lookups per
span, no per-token Python objects), which keeps masking far below the tokenizer's own cost.

Special-token strings in raw data (``<|im_end|>`` typed by a user) are escaped before
rendering (:class:`Specials`): each becomes one private-use character, so templates and chat
templates cannot mistake it for a control token. Texts holding such a character are encoded in
pieces: the template's text normally, each escaped string as plain text (the backend's
``encode_special_tokens`` switch). Offsets stay in the escaped text's coordinates, where the
spans were computed, so masks stay exact. (Data that itself holds characters of that private-use range,
U+F0000 onwards, would be read as escaped specials.)

The causal layout has a vectorised path (:func:`encode_causal_columns`) for tokenizers whose
tokens are byte strings of the text (byte-level BPE with no normalizer: GPT-2, Llama 3, the
shipped ``ftdata:tiny-bpe``). There a token's place in the text is the running sum of its
ids' byte lengths, so the batch is encoded without offsets (``encode_batch_fast``) and the
labels of the whole batch are a handful of NumPy operations over the concatenated ids.
Each example's byte lengths must add up to its text's; any batch where they do not (an
unknown token, a prefix space, an unusual pre-tokenizer) is encoded again on the reference
path, which also decides for every other tokenizer, and the fast path is not tried again for
that tokenizer. Both paths give the same ids, labels and audit bits (tested).

Every example also gets audit flags (:mod:`ftdata.audit`): straddling tokens, duplicated BOS,
untrained EOS / end-of-turn, prompt tokens that are not a prefix of the joint tokenization,
special-token strings in data.
"""

from __future__ import annotations

import bisect
import copy
import re
from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

import numpy as np

from ..constants import IGNORE_INDEX
from ..errors import BuildError
from ..rejects import Code, Rejection
from .auditbits import DUP_BOS, EOS_UNTRAINED, PROMPT_NOT_PREFIX, SPECIAL_IN_DATA, STRADDLE

#: First private-use code point used to stand for a special-token string found in data.
SENTINEL_BASE = 0xF0000
#: The prompt's last tokens, where the prefix check first looks for a cut (:func:`_cut_token`).
PREFIX_WINDOW = 4
#: Tokens further back the prefix check looks for a cut before it re-encodes the whole prompt.
PREFIX_REACH = 64


#: Why an example whose completion tokenizes to nothing is rejected (every layout).
NO_TRAINED_TOKEN = Rejection(Code.NO_TRAINED_TOKEN, "no trained token (empty completion after tokenization)")


class TooLong(BuildError):
    """An example over ``max_length`` with ``overflow: error``: the build stops.

    Attributes:
        message: what is too long, e.g. ``too long: 300 tokens > max_length 256``.
        index: which example of the batch (set by the batch function, which catches it on its
            way out; the caller, who knows the example's source, line and template, names it
            in its own error).
    """

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.message, self.index = message, index


@dataclass
class Encoded:
    """One tokenized example, or why it was rejected (``reject``: its code and message)."""

    input_ids: list[int] | None = None
    labels: list[int] | None = None
    reject: Rejection | None = None
    truncated: bool = False
    straddle: bool = False
    n_prompt: int = 0  # untrained tokens before the first trained one
    n_trained: int = 0
    flags: int = 0  # audit bits, see ftdata.audit


class Specials:
    """The special-token strings of a tokenizer, and how to keep them literal in data.

    Args:
        backend: a ``tokenizers.Tokenizer``.
    """

    def __init__(self, backend):
        added = backend.get_added_tokens_decoder().values()
        self.strings = sorted({t.content for t in added if t.special}, key=lambda s: (-len(s), s))
        self.rx = re.compile("|".join(map(re.escape, self.strings))) if self.strings else None
        self.to_sentinel = {s: chr(SENTINEL_BASE + i) for i, s in enumerate(self.strings)}
        self.from_sentinel = {v: k for k, v in self.to_sentinel.items()}
        top = chr(SENTINEL_BASE + max(len(self.strings) - 1, 0))
        self.sentinel_rx = re.compile(f"[{chr(SENTINEL_BASE)}-{top}]")
        self.split_rx = re.compile(f"([{chr(SENTINEL_BASE)}-{top}])")
        self.backend = backend
        self._text_backend = None
        self._affixes: tuple[list[int], list[int]] | None = None

    def escape(self, value):
        """``(value, hit)``: strings (also inside lists and dicts) with specials replaced."""
        if self.rx is None:
            return value, False
        if isinstance(value, str):
            if self.rx.search(value) is None:
                return value, False
            return self.rx.sub(lambda m: self.to_sentinel[m.group()], value), True
        if isinstance(value, list):
            out = [self.escape(v) for v in value]
            return ([v for v, _ in out], True) if any(h for _, h in out) else (value, False)
        if isinstance(value, dict):
            out = {k: self.escape(v) for k, v in value.items()}
            return ({k: v for k, (v, _) in out.items()}, True) if any(h for _, h in out.values()) else (value, False)
        return value, False

    def restore(self, text: str) -> str:
        """Undo :meth:`escape` on a rendered text."""
        if text is None or self.rx is None or self.sentinel_rx.search(text) is None:
            return text
        return self.sentinel_rx.sub(lambda m: self.from_sentinel[m.group()], text)

    @property
    def text_backend(self):
        """A copy of the backend that encodes special-token strings as plain text."""
        if self._text_backend is None:
            self._text_backend = copy.deepcopy(self.backend)
            self._text_backend.encode_special_tokens = True
        return self._text_backend

    def affixes(self) -> tuple[list[int], list[int]]:
        """Ids the post-processor puts before and after a text (e.g. BOS), found with a probe."""
        if self._affixes is None:
            with_sp = self.backend.encode("a", add_special_tokens=True).ids
            bare = self.backend.encode("a", add_special_tokens=False).ids
            i = next((j for j in range(len(with_sp) - len(bare) + 1) if with_sp[j:j + len(bare)] == bare), 0)
            self._affixes = (with_sp[:i], with_sp[i + len(bare):])
        return self._affixes


def _per_backend(cache: dict, backend, make):
    """``make(backend)``, computed once per backend object (keyed by id, checked by identity)."""
    hit = cache.get(id(backend))
    if hit is None or hit[0] is not backend:
        hit = cache[id(backend)] = (backend, make(backend))
    return hit[1]


_SPECIALS: dict[int, tuple[object, Specials]] = {}


def specials_for(backend) -> Specials:
    """The cached :class:`Specials` of a backend (tokenizers are cached by the loader)."""
    return _per_backend(_SPECIALS, backend, Specials)


class PieceEncoding:
    """An encoding assembled from pieces, with the ``tokenizers.Encoding`` calls masking uses."""

    def __init__(self, ids: list[int], offsets: list[tuple[int, int]], special: list[int]):
        self._ids, self.offsets, self.special_tokens_mask = ids, offsets, special
        self._starts = [s for s, _ in offsets]

    @property
    def ids(self) -> list[int]:
        return list(self._ids)  # a fresh list, like tokenizers.Encoding.ids

    def char_to_token(self, pos: int):
        """The first token holding character ``pos`` (several may: an escaped string, a split emoji)."""
        found = None
        for k in range(bisect.bisect_right(self._starts, pos) - 1, -1, -1):
            s, e = self.offsets[k]
            if s <= pos < e and not self.special_tokens_mask[k]:
                found = k
            elif s < e <= pos:
                break
        return found

    def token_to_chars(self, k: int):
        return self.offsets[k]


def _encode_pieces(sp: Specials, text: str, add_special_tokens: bool) -> PieceEncoding:
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for piece in sp.split_rx.split(text):
        if not piece:
            continue
        if len(piece) == 1 and piece in sp.from_sentinel:
            enc = sp.text_backend.encode(sp.from_sentinel[piece], add_special_tokens=False)
            ids += enc.ids
            offsets += [(pos, pos + 1)] * len(enc.ids)  # the whole string is one escaped character
        else:
            enc = sp.backend.encode(piece, add_special_tokens=False)
            ids += enc.ids
            offsets += [(pos + s, pos + e) for s, e in enc.offsets]
        pos += len(piece)
    special = [0] * len(ids)
    if add_special_tokens:
        pre, post = sp.affixes()
        ids = pre + ids + post
        offsets = [(0, 0)] * len(pre) + offsets + [(pos, pos)] * len(post)
        special = [1] * len(pre) + special + [1] * len(post)
    return PieceEncoding(ids, offsets, special)


def encode_texts(backend, texts: list[str], *, add_special_tokens: bool, escaped: list[bool] | None = None):
    """Encode texts in one batch; texts holding escaped specials are encoded in pieces."""
    if escaped is None or not any(escaped):
        return backend.encode_batch(texts, add_special_tokens=add_special_tokens)
    sp = specials_for(backend)
    slow = [i for i, t in enumerate(texts) if escaped[i] and sp.sentinel_rx.search(t)]
    if not slow:
        return backend.encode_batch(texts, add_special_tokens=add_special_tokens)
    slow_set = set(slow)
    fast_idx = [i for i in range(len(texts)) if i not in slow_set]
    out = [None] * len(texts)
    for i, e in zip(fast_idx, backend.encode_batch([texts[i] for i in fast_idx], add_special_tokens=add_special_tokens)):
        out[i] = e
    for i in slow:
        out[i] = _encode_pieces(sp, texts[i], add_special_tokens)
    return out


def _first_token(enc, a: int, b: int):
    """Index of the first token holding a character of [a, b), or None."""
    for pos in range(a, b):
        k = enc.char_to_token(pos)
        if k is not None:
            return k
    return None


def _last_token(enc, a: int, b: int, n: int):
    """Index of the last token holding a character of [a, b), or None."""
    for pos in range(b - 1, a - 1, -1):
        k = enc.char_to_token(pos)
        if k is not None:
            # several tokens may share the last character (a byte-split emoji): take them all
            while k + 1 < n:
                c = enc.token_to_chars(k + 1)  # None for a post-processor's special token
                if c is None or not c[0] < min(c[1], b):
                    break
                k += 1
            return k
    return None


def mask_spans(enc, spans: list[tuple[int, int]], ids: list[int] | None = None) -> tuple[list[int], int, bool, int | None]:
    """Labels for ``enc`` training exactly the tokens that hold characters of ``spans``.

    Args:
        enc: a ``tokenizers.Encoding`` (or :class:`PieceEncoding`).
        spans: trained character spans.
        ids: ``enc.ids`` if the caller has it (each access builds a new list).

    Returns:
        ``(labels, n_trained, straddle, first_trained_index)``.
    """
    ids = enc.ids if ids is None else ids
    labels = [IGNORE_INDEX] * len(ids)
    n_trained, straddle, first = 0, False, None
    for a, b in spans:
        k1 = _first_token(enc, a, b)
        if k1 is None:
            continue
        k2 = _last_token(enc, a, b, len(ids))
        if enc.token_to_chars(k1)[0] < a or enc.token_to_chars(k2)[1] > b:
            straddle = True
        labels[k1:k2 + 1] = ids[k1:k2 + 1]
        n_trained += k2 + 1 - k1
        first = k1 if first is None else min(first, k1)
    return labels, n_trained, straddle, first


def fit_to_length(ids: list[int], labels: list[int] | None, k: int, max_length: int, overflow: str,
                  what: str = "", index: int | None = None) -> Encoded:
    """The overflow policy (the recipe's ``overflow``), the one place it is written, for every layout.

    A sequence longer than ``max_length`` is rejected (``drop``), fails the build (``error``),
    or loses tokens from the middle of its context (``truncate_prompt``): the head (instruction,
    system prompt) and the tail (the text right before the answer) are kept, half each. Only
    context before the first trained token is ever cut; completions never are. The causal and
    chat layouts (reference and vectorised paths) and the seq2seq encoder side all call this.

    Args:
        ids: the sequence's token ids.
        labels: labels aligned with ``ids``, or None (the seq2seq encoder side has none).
        k: index of the first trained token (``len(ids)`` when the whole sequence is context).
        max_length: the recipe's ``max_length``.
        overflow: ``drop``, ``error`` or ``truncate_prompt``.
        what: words naming the measured part in a reject (``"prompt is "`` for seq2seq).
        index: which example of its batch (named by :class:`TooLong`), where the caller knows.

    Returns:
        The (possibly shortened) example, with ``n_prompt`` its untrained tokens before the
        first trained one, or one with ``reject`` set.

    Raises:
        TooLong: the example is over ``max_length`` and ``overflow`` is ``error``.
    """
    n = len(ids)
    if n <= max_length:
        return Encoded(ids, labels, n_prompt=k)
    if overflow in ("drop", "error"):
        return _too_long(f"too long: {what}{n} tokens > max_length {max_length}", overflow, index)
    n_completion = n - k
    if n_completion >= max_length:
        return Encoded(reject=Rejection(Code.TOO_LONG, f"completion alone is {n_completion} tokens, no room in "
                                                       f"max_length {max_length} (completions are never cut)"))
    keep = max_length - n_completion
    head = (keep + 1) // 2
    tail = keep - head
    # keep the head (instruction, system prompt) and the tail (text right before the answer)
    return Encoded(ids[:head] + ids[k - tail:], None if labels is None else labels[:head] + labels[k - tail:],
                   truncated=True, n_prompt=keep)


def _too_long(message: str, overflow: str, index: int | None = None) -> Encoded:
    """An over-long example under ``overflow: drop`` (a reject) or ``error`` (raises :class:`TooLong`)."""
    if overflow == "error":
        raise TooLong(message, index)
    return Encoded(reject=Rejection(Code.TOO_LONG, message))


def _dup_bos(ids: list[int], bos_id: int | None) -> bool:
    return bos_id is not None and len(ids) > 1 and ids[0] == bos_id and ids[1] == bos_id


def encode_spans(backend, texts: list[str], spans: list[list[tuple[int, int]]], *, eos: list[int | None],
                 untrained_end: list[bool], max_length: int, overflow: str, add_special_tokens: bool = True,
                 bos_id: int | None = None, escaped: list[bool] | None = None,
                 prompts: list[str] | None = None) -> list[Encoded]:
    """Tokenize each text once and train exactly the tokens of its spans (plus an appended EOS).

    Args:
        backend: a ``tokenizers.Tokenizer``.
        texts: full texts (escaped, see :class:`Specials`).
        spans: per text, the trained character spans ``[(start, end), ...]``.
        eos: per text, the EOS id to append and train, or None.
        untrained_end: per text, whether a trained span ends without EOS / end-of-turn.
        max_length, overflow: see :func:`fit_to_length`.
        add_special_tokens: let the post-processor add its tokens (off for chat templates,
            which write their own BOS).
        bos_id: BOS id, for the duplicated-BOS check.
        escaped: per text, whether its data held special-token strings.
        prompts: per text, the text before the first trained span, for the prefix audit.
    """
    encs = encode_texts(backend, texts, add_special_tokens=add_special_tokens, escaped=escaped)
    out: list[Encoded] = []
    try:
        for i, enc in enumerate(encs):
            out.append(_encode_one(enc, spans[i], eos[i], max_length, overflow, bos_id,
                                   escaped is not None and escaped[i], untrained_end[i]))
    except TooLong as exc:
        exc.index = len(out)
        raise
    if prompts is not None:
        _prefix_check(backend, [(i, e, enc) for i, (e, enc) in enumerate(zip(out, encs)) if e.reject is None],
                      prompts, escaped, len(specials_for(backend).affixes()[0]) if add_special_tokens else 0)
    return out


def _prefix_check(backend, encs_ok: list[tuple[int, Encoded, object]], prompts: list[str],
                  escaped: list[bool] | None, n_lead: int = 0) -> None:
    """Flag examples whose prompt, tokenized alone, is not a prefix of the joint tokens.

    What "prefix" means, and how it is decided, is :func:`_prefix_verdicts`; here token starts
    are character positions (the encoding's offsets). Truncated examples are not checked (their
    tokens are no longer the joint tokenization).
    """
    checks, targets = [], []
    for i, e, enc in encs_ok:
        if e.straddle:
            e.flags |= PROMPT_NOT_PREFIX
            continue
        k = e.n_prompt  # index of the first trained token (the example is not truncated)
        if e.truncated or k <= n_lead:  # n_lead: the post-processor's leading specials (BOS)
            continue
        p = prompts[i]
        j = _cut_token(lambda t, enc=enc: enc.token_to_chars(t)[0], n_lead, k, lambda c, p=p: _space_edge(p, c))
        tail = p[enc.token_to_chars(j)[0]:] if j > n_lead else None
        checks.append(PrefixCheck(p, tail, e.input_ids, n_lead, j, k, escaped is not None and escaped[i]))
        targets.append(e)
    for e, bad in zip(targets, _prefix_verdicts(backend, checks)):
        if bad:
            e.flags |= PROMPT_NOT_PREFIX


def _is_space(ch: str) -> bool:
    """Whitespace as pre-tokenizers split on it (Unicode White_Space; ``isspace`` also takes U+001C-F)."""
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def _space_edge(text: str, c: int) -> bool:
    """Whether character ``c`` of ``text`` starts or follows a space that borders non-whitespace.

    Where the reference path may cut a prompt for the prefix check. The space itself (U+0020),
    not any whitespace: it is what Metaspace and ``add_prefix_space`` tokenizers mark a word
    start with, so a tail cut there reads as a word start in the middle of the text does (a
    tail cut after a newline would get a marker that the joint text lacks there).
    """
    if not 0 < c < len(text):
        return False
    a, b = text[c - 1], text[c]
    return (b == " " and not _is_space(a)) or (a == " " and not _is_space(b))


def _space_edge_bytes(data: bytes, b: int) -> bool:
    """Whether UTF-8 ``data`` turns from whitespace to non-whitespace, or back, at byte ``b``.

    Where the byte-level path may cut a prompt for the prefix check: its tokenizers add no
    word-start marker, so any whitespace edge will do, and the blank line before a template's
    last words (``"\\n\\nSummary:"``) lets most prompts of a template share one tail.
    """
    if not 0 < b < len(data):
        return False
    x, y = data[b - 1], data[b]
    if x < 0x80 and y < 0x80:  # two ASCII characters: no decoding (most cuts)
        return (x in _ASCII_SPACE) != (y in _ASCII_SPACE)
    if y & 0xC0 == 0x80:  # inside a character
        return False
    before = data[_char_start(data, b - 1):b].decode("utf-8")
    return _is_space(before) != _is_space(data[b:b + 4].decode("utf-8", "ignore")[:1])


_ASCII_SPACE = frozenset(b"\t\n\x0b\x0c\r ")  # the ASCII characters _is_space takes


def _cut_token(start, lo: int, k: int, edge) -> int:
    """The token where the prefix check's re-encoded tail of the prompt starts.

    Args:
        start: ``start(t)``, where token ``t`` starts in the text.
        lo, k: the prompt's tokens are ``lo`` (after the post-processor's leading tokens) to
            ``k`` (the first trained token).
        edge: ``edge(pos)``, whether the text may be cut at ``pos``.

    Returns:
        The first token starting at an edge (and not sharing its start with the token before,
        as the bytes of one character may) among the prompt's last :data:`PREFIX_WINDOW`, or
        else the last such token up to :data:`PREFIX_REACH` further back; ``lo`` (the whole
        prompt) when there is none.
    """
    first = max(k - PREFIX_WINDOW, lo + 1)
    for j in range(first, k):
        s = start(j)
        if start(j - 1) < s and edge(s):
            return j
    j, s = first - 1, start(first - 1) if first - 1 > lo else 0
    while j > max(first - 1 - PREFIX_REACH, lo):
        before = start(j - 1)
        if before < s and edge(s):
            return j
        j, s = j - 1, before
    return lo


class PrefixCheck(NamedTuple):
    """One example for :func:`_prefix_verdicts`: the prompt's ids are ``ids[lo:k]`` (a list or an
    array); ``tail`` (None: no cut, the whole prompt) should encode to ``ids[j:k]``; ``escaped``:
    the texts hold escaped special-token strings (:class:`Specials`)."""

    prompt: str
    tail: str | None
    ids: object
    lo: int
    j: int
    k: int
    escaped: bool


def _prefix_verdicts(backend, checks: list[PrefixCheck]) -> list[bool]:
    """Which prompts, tokenized alone, are **not** a prefix of their joint tokenization.

    The prompt is a prefix when its ids, tokenized alone without the post-processor's tokens,
    equal the joint ids from after the post-processor's leading tokens (BOS) up to the first
    trained token: exactly what inference on the bare prompt, and masking by the prompt's token
    count, would see. A token that holds prompt and completion characters (a merge across the
    boundary) is trained, so such a prompt is never a prefix; its caller flags it without this.

    Tokenizing every prompt again would cost about as much as the joint tokenization, so only a
    tail is, cut where the joint tokens have a whitespace edge (:func:`_cut_token`). Pre-tokenizers
    of every common family (byte-level and Llama 3 regexes, Metaspace, BERT, whitespace) split
    there and models (BPE, Unigram, WordPiece) encode each piece on its own, so the tokens before
    the cut do not depend on what follows it; the tail ends where the prompt does, so it sees the
    prompt's own end. A tail's first token may differ by a prefix marker alone (a Metaspace or
    ``add_prefix_space`` tokenizer adds one to a text that does not start with a space, a
    ``Prepend`` normalizer to every text): a tail that starts with a space is also tried
    without it. Every tail that still differs is decided by the whole prompt tokenized alone, so
    no example is flagged by the shortcut. Distinct tails are encoded once (a template's prompts
    mostly end alike).

    Args:
        backend: a ``tokenizers.Tokenizer``.
        checks: one :class:`PrefixCheck` per example.

    Returns:
        Per check, True when the prompt is not a prefix.
    """
    memo: dict[tuple[str, bool], list[int]] = {}

    def encode(texts: list[tuple[str, bool]]) -> list[list[int]]:
        new = [t for t in dict.fromkeys(texts) if t not in memo]
        if any(esc for _, esc in new):
            encs = encode_texts(backend, [t for t, _ in new], add_special_tokens=False, escaped=[e for _, e in new])
        else:  # no offsets needed: the fast batch call skips building them
            encs = getattr(backend, "encode_batch_fast", backend.encode_batch)([t for t, _ in new],
                                                                               add_special_tokens=False)
        memo.update(zip(new, (list(e.ids) for e in encs)))
        return [memo[t] for t in texts]

    def ids_of(ids, a: int, b: int) -> list[int]:
        part = ids[a:b]
        return part.tolist() if hasattr(part, "tolist") else list(part)

    bad = [False] * len(checks)
    left = []  # tails that differ
    for i, got in enumerate(encode([(c.tail if c.tail is not None else c.prompt, c.escaped) for c in checks])):
        c = checks[i]
        if got != ids_of(c.ids, c.lo if c.tail is None else c.j, c.k):
            if c.tail is None:
                bad[i] = True  # that was the whole prompt
            else:
                left.append(i)
    spaced = [i for i in left if checks[i].tail.startswith(" ")]
    marker = {i for i, got in zip(spaced, encode([(checks[i].tail[1:], checks[i].escaped) for i in spaced]))
              if got == ids_of(checks[i].ids, checks[i].j, checks[i].k)}
    left = [i for i in left if i not in marker]
    for i, got in zip(left, encode([(checks[i].prompt, checks[i].escaped) for i in left])):
        bad[i] = got != ids_of(checks[i].ids, checks[i].lo, checks[i].k)
    return bad


def encode_causal(backend, prompts: list[str], completions: list[str], *, separator: str,
                  eos_id: int | None, max_length: int, overflow: str, bos_id: int | None = None,
                  escaped: list[bool] | None = None, audit_prefix: bool = True) -> list[Encoded]:
    """Tokenize joined texts once and mask everything outside the completion span."""
    texts = [p + separator + c for p, c in zip(prompts, completions)]
    spans = [[(len(p), len(t))] for p, t in zip(prompts, texts)]
    encs = encode_texts(backend, texts, add_special_tokens=True, escaped=escaped)
    out, ok = [], []
    try:
        for i, enc in enumerate(encs):
            e = _encode_one(enc, spans[i], eos_id, max_length, overflow, bos_id, escaped is not None and escaped[i],
                            eos_id is None)
            out.append(e)
            if e.reject is None:
                ok.append((i, e, enc))
    except TooLong as exc:
        exc.index = len(out)
        raise
    if audit_prefix:
        _prefix_check(backend, ok, prompts, escaped, len(specials_for(backend).affixes()[0]))
    return out


def _encode_one(enc, spans, eos_id, max_length, overflow, bos_id, escaped, untrained_end) -> Encoded:
    ids = enc.ids  # a fresh list on every access: take it once
    labels, n_trained, straddle, k = mask_spans(enc, spans, ids)
    if k is None:
        return Encoded(reject=NO_TRAINED_TOKEN)
    flags = (STRADDLE if straddle else 0) | (SPECIAL_IN_DATA if escaped else 0) | (EOS_UNTRAINED if untrained_end else 0)
    if eos_id is not None:
        if ids and ids[-1] == eos_id and enc.special_tokens_mask[-1]:
            labels[-1] = eos_id  # a post-processor's EOS: train it rather than add a second
        else:
            ids.append(eos_id)
            labels.append(eos_id)
        n_trained += 1
    if _dup_bos(ids, bos_id):
        flags |= DUP_BOS
    e = fit_to_length(ids, labels, k, max_length, overflow)
    e.straddle, e.n_trained, e.flags = straddle, n_trained, flags
    return e


def encode_seq2seq(backend, prompts: list[str], completions: list[str], *, eos_id: int | None,
                   max_length: int, overflow: str, bos_id: int | None = None,
                   escaped: list[bool] | None = None) -> list[Encoded]:
    """Prompt -> input_ids, completion (+EOS) -> labels; labels are never cut."""
    encs_p = encode_texts(backend, prompts, add_special_tokens=True, escaped=escaped)
    encs_c = encode_texts(backend, completions, add_special_tokens=False, escaped=escaped)
    out = []
    for i, (ep, ec) in enumerate(zip(encs_p, encs_c)):
        ids = list(ep.ids)
        labels = list(ec.ids)
        if not labels:
            out.append(Encoded(reject=NO_TRAINED_TOKEN))
            continue
        flags = SPECIAL_IN_DATA if escaped is not None and escaped[i] else 0
        if eos_id is not None and labels[-1] != eos_id:
            labels.append(eos_id)
        elif eos_id is None:
            flags |= EOS_UNTRAINED
        if _dup_bos(ids, bos_id):
            flags |= DUP_BOS
        if len(labels) > max_length:
            out.append(Encoded(reject=Rejection(Code.TOO_LONG, f"completion is {len(labels)} tokens > max_length "
                                                               f"{max_length} (completions are never cut)")))
            continue
        fit = fit_to_length(ids, None, len(ids), max_length, overflow, what="prompt is ", index=i)
        if fit.reject is not None:
            out.append(fit)
            continue
        out.append(Encoded(fit.input_ids, labels, truncated=fit.truncated, n_prompt=len(fit.input_ids),
                           n_trained=len(labels), flags=flags))
    return out


# -- columnar results and the vectorised causal path ------------------------------------------

@dataclass
class Columns:
    """Tokenized examples as flat arrays: what phase A writes, without a Python list per example.

    Example ``i`` owns ``ids[offsets[i]:offsets[i + 1]]`` and the same slice of ``labels``
    (``label_offsets`` instead, in the seq2seq layout, where labels are the completion alone);
    a rejected example has its reason in ``reject[i]`` and its slices (empty or not) mean nothing.
    """

    ids: np.ndarray        # int32, every example's input_ids concatenated
    labels: np.ndarray     # int32, aligned with ids unless label_offsets is set
    offsets: np.ndarray    # int64, n + 1
    n_trained: np.ndarray  # int32
    straddle: np.ndarray   # bool
    truncated: np.ndarray  # bool
    flags: np.ndarray      # uint8, audit bits
    reject: list          # per example: a Rejection (code, message), or None
    label_offsets: np.ndarray | None = None  # int64, n + 1; None: labels follow offsets

    def __len__(self) -> int:
        return len(self.reject)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def label_bounds(self) -> np.ndarray:
        return self.offsets if self.label_offsets is None else self.label_offsets

    @classmethod
    def from_encoded(cls, encs: list[Encoded]) -> Columns:
        """The columns of per-example results (a rejected one contributes no tokens)."""
        ids = [e.input_ids or [] for e in encs]
        labels = [e.labels or [] for e in encs]
        offsets, label_offsets = _bounds(ids), _bounds(labels)
        return cls(np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=int(offsets[-1])),
                   np.fromiter(chain.from_iterable(labels), dtype=np.int32, count=int(label_offsets[-1])),
                   offsets, np.array([e.n_trained for e in encs], dtype=np.int32),
                   np.array([e.straddle for e in encs], dtype=bool), np.array([e.truncated for e in encs], dtype=bool),
                   np.array([e.flags for e in encs], dtype=np.uint8), [e.reject for e in encs],
                   None if np.array_equal(offsets, label_offsets) else label_offsets)

    def example(self, i: int) -> Encoded:
        """Example ``i`` as an :class:`Encoded` (for tests and the rare per-example fix-up)."""
        if self.reject[i] is not None:
            return Encoded(reject=self.reject[i])
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        la, lb = int(self.label_bounds[i]), int(self.label_bounds[i + 1])
        return Encoded(self.ids[a:b].tolist(), self.labels[la:lb].tolist(), truncated=bool(self.truncated[i]),
                       straddle=bool(self.straddle[i]), n_trained=int(self.n_trained[i]), flags=int(self.flags[i]))

    def take(self, keep: np.ndarray) -> Columns:
        """The examples where the boolean mask ``keep`` is set, in order."""
        ids, offsets = _take_slices(self.ids, self.offsets, keep)
        if self.label_offsets is None:
            labels, label_offsets = self.labels[np.repeat(keep, self.lengths)], None
        else:
            labels, label_offsets = _take_slices(self.labels, self.label_offsets, keep)
        return Columns(ids, labels, offsets, self.n_trained[keep], self.straddle[keep], self.truncated[keep],
                       self.flags[keep], [r for r, k in zip(self.reject, keep) if k], label_offsets)


def _bounds(lists: list[list[int]]) -> np.ndarray:
    """Offsets (n + 1) of concatenated lists."""
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)), out=offsets[1:])
    return offsets


def _take_slices(flat: np.ndarray, offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The slices of ``flat`` where ``keep`` is set, and their new offsets."""
    lengths = np.diff(offsets)
    out = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[keep], out=out[1:])
    return flat[np.repeat(keep, lengths)], out


_BYTE_LENGTHS: dict[int, tuple[object, np.ndarray | None]] = {}
#: Backends whose byte lengths once failed to add up: reference path only. A pure per-tokenizer
#: memo (id -> the backend itself, checked by identity as in :func:`_per_backend`, so a new
#: tokenizer that reuses a freed one's id is not taken for it); it changes speed, never output.
_SLOW: dict[int, object] = {}


def byte_lengths(backend) -> np.ndarray | None:
    """UTF-8 bytes of text each token id stands for, or None when tokens are not byte strings.

    Byte-level vocabularies (``ByteLevel`` decoder, no normalizer) write every byte as one
    character of a fixed 256-character alphabet, so a vocabulary token's byte length is its
    string length; an added token matches its content, so it stands for that content's bytes.
    A vocabulary entry outside the alphabet gets -1 (an encoding holding it is not trusted).
    """
    return _per_backend(_BYTE_LENGTHS, backend, _byte_lengths)


def _byte_lengths(backend) -> np.ndarray | None:
    lengths = None
    # offsets trimmed by the post-processor (RoBERTa-style) move the reference path's spans off
    # the bytes: such tokenizers keep the reference path
    trims = "trim_offsets=True" in repr(backend.post_processor)
    if backend.normalizer is None and type(backend.decoder).__name__ == "ByteLevel" and not trims:
        from tokenizers.pre_tokenizers import ByteLevel

        alphabet = set(ByteLevel.alphabet())
        vocab = backend.get_vocab(with_added_tokens=True)
        lengths = np.full(max(vocab.values(), default=-1) + 1, -1, dtype=np.int64)
        for token, i in vocab.items():
            if alphabet.issuperset(token):
                lengths[i] = len(token)
        for i, added in backend.get_added_tokens_decoder().items():
            if i < len(lengths):
                lengths[i] = len(added.content.encode("utf-8"))
    return lengths


def _char_start(data: bytes, b: int) -> int:
    """The start of the UTF-8 character holding byte ``b``."""
    while 0 < b < len(data) and data[b] & 0xC0 == 0x80:
        b -= 1
    return b


def encode_causal_columns(backend, prompts: list[str], completions: list[str], *, separator: str,
                          eos_id: int | None, max_length: int, overflow: str, bos_id: int | None = None,
                          escaped: list[bool] | None = None) -> Columns:
    """:func:`encode_causal` as :class:`Columns`, vectorised where the tokenizer allows it."""
    if escaped is None or not any(escaped):
        cols = _causal_fast(backend, prompts, completions, separator, eos_id, max_length, overflow, bos_id)
        if cols is not None:
            return cols
    return Columns.from_encoded(encode_causal(backend, prompts, completions, separator=separator, eos_id=eos_id,
                                              max_length=max_length, overflow=overflow, bos_id=bos_id,
                                              escaped=escaped))


def _causal_fast(backend, prompts, completions, separator, eos_id, max_length, overflow, bos_id) -> Columns | None:
    """The byte-length path of :func:`encode_causal_columns`; None when it does not apply."""
    blen_of = None if _SLOW.get(id(backend)) is backend else byte_lengths(backend)
    if blen_of is None:
        return None
    n_ex = len(prompts)
    pbytes = [p.encode("utf-8") for p in prompts]
    sep_b = len(separator.encode("utf-8"))
    p_len = np.fromiter(map(len, pbytes), dtype=np.int64, count=n_ex)
    t_len = p_len + sep_b + np.fromiter((len(c.encode("utf-8")) for c in completions), dtype=np.int64, count=n_ex)
    encs = backend.encode_batch_fast([p + separator + c for p, c in zip(prompts, completions)],
                                     add_special_tokens=False)
    parts = [np.array(e.ids, dtype=np.int32) for e in encs]
    del encs
    n = np.fromiter(map(len, parts), dtype=np.int64, count=n_ex)
    toff = np.zeros(n_ex + 1, dtype=np.int64)
    np.cumsum(n, out=toff[1:])
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    del parts
    try:
        blen = blen_of[flat]
    except IndexError:  # an id the vocabulary table does not cover
        _SLOW[id(backend)] = backend
        return None
    cum = np.zeros(flat.size + 1, dtype=np.int64)  # cum[j]: bytes before token j, chunk-wide
    np.cumsum(blen, out=cum[1:])
    base = cum[toff[:-1]]  # where each example's first token starts
    if ((blen_of.min(initial=0) < 0 and (blen < 0).any())
            or not np.array_equal(cum[toff[1:]] - base, t_len)):
        _SLOW[id(backend)] = backend  # this tokenizer's tokens are not plain byte strings of the text
        return None
    del blen
    # a token is trained when it ends past the prompt (holds a byte of the separator or the
    # completion); token ends only grow within an example, so the untrained ones are the first k
    # of it: those ending at or before base + p_len, found by one binary search per example
    thr = base + p_len
    k = np.searchsorted(cum[1:], thr, side="right") - toff[:-1]
    np.clip(k, 0, n, out=k)
    none_trained = k == n
    first = np.minimum(toff[:-1] + k, max(flat.size - 1, 0))
    # the first trained token straddles when it starts inside the prompt
    straddle = ~none_trained & (cum[first] < thr) if flat.size else np.zeros(n_ex, dtype=bool)

    # the post-processor's tokens around each text, and the EOS (a post-processor EOS is trained)
    pre, post = specials_for(backend).affixes()
    train_post_eos = eos_id is not None and bool(post) and post[-1] == eos_id
    append_eos = eos_id is not None and not train_post_eos
    after = len(post) + int(append_eos)
    out_n = n + len(pre) + after
    off = np.zeros(n_ex + 1, dtype=np.int64)
    np.cumsum(out_n, out=off[1:])
    # each example is [pre][its tokens][post][EOS]: masks over the output from run lengths
    runs = np.empty(3 * n_ex, dtype=np.int64)
    runs[0::3], runs[1::3], runs[2::3] = len(pre), n, after
    middle = np.tile(np.array([False, True, False]), n_ex)  # the second run of each example
    if len(pre) or after:
        ids = np.empty(int(off[-1]), dtype=np.int32)
        own = np.repeat(middle, runs)
        ids[own] = flat
        ids[~own] = np.tile(np.array(pre + post + ([eos_id] if append_eos else []), dtype=np.int32), n_ex)
        del own
    else:
        ids = flat
    runs[0::3] += k  # trained: the example's tokens after its first k
    runs[1::3] -= k
    labels = np.where(np.repeat(middle, runs), ids, np.int32(IGNORE_INDEX)).astype(np.int32, copy=False)
    if eos_id is not None:
        labels[off[1:] - 1] = eos_id
    n_trained = (n - k + (eos_id is not None)).astype(np.int32)
    flags = np.where(straddle, STRADDLE, 0) | (EOS_UNTRAINED if eos_id is None else 0)
    if bos_id is not None:
        two = out_n > 1
        last = max(ids.size - 1, 0)
        heads = np.minimum(off[:-1], last)  # clamped: an example may have no token at all
        if ids.size:
            flags |= np.where(two & (ids[heads] == bos_id) & (ids[np.minimum(heads + 1, last)] == bos_id), DUP_BOS, 0)
    cols = Columns(ids, labels, off, n_trained, straddle, np.zeros(n_ex, dtype=bool), flags.astype(np.uint8),
                   [None] * n_ex)
    n_prompt = k + len(pre)
    for i in np.flatnonzero(none_trained):
        cols.reject[i] = NO_TRAINED_TOKEN
    long = np.flatnonzero(~none_trained & (out_n > max_length))
    if long.size:
        cols = _fit_columns(cols, long, n_prompt, max_length, overflow)
    _prefix_check_columns(backend, cols, n_prompt, prompts, pbytes, cum, toff, len(pre))
    return cols


def _fit_columns(cols: Columns, long: np.ndarray, n_prompt: np.ndarray, max_length: int, overflow: str) -> Columns:
    """Apply the overflow policy (:func:`fit_to_length`) to the over-long examples ``long``; rebuild the arrays."""
    encs = [cols.example(i) for i in range(len(cols))]
    for i in long:
        e = encs[i]
        fitted = fit_to_length(e.input_ids, e.labels, int(n_prompt[i]), max_length, overflow, index=int(i))
        if fitted.reject is None:
            fitted.straddle, fitted.n_trained, fitted.flags = e.straddle, e.n_trained, e.flags
        encs[i] = fitted
    return Columns.from_encoded(encs)


def _prefix_check_columns(backend, cols: Columns, n_prompt: np.ndarray, prompts: list[str], pbytes: list[bytes],
                          cum: np.ndarray, toff: np.ndarray, n_lead: int) -> None:
    """:func:`_prefix_check` on columns: token starts are byte positions into the prompt
    (``cum[j]``: the chunk-wide byte where token ``j`` of the chunk's encodings starts)."""
    alive = np.fromiter((r is None for r in cols.reject), dtype=bool, count=len(cols))
    cols.flags[alive & cols.straddle] |= PROMPT_NOT_PREFIX  # cut or not, as the reference does
    ok = alive & ~cols.truncated
    todo = np.flatnonzero(ok & ~cols.straddle & (n_prompt > n_lead))
    if not todo.size:
        return
    cut, cut_byte = _window_cuts(n_prompt[todo], toff[todo] - n_lead, cum, [pbytes[i] for i in todo.tolist()], n_lead)
    checks = []
    for i, t0, a, k, j, b in zip(todo.tolist(), (toff[todo] - n_lead).tolist(), cols.offsets[todo].tolist(),
                                 n_prompt[todo].tolist(), cut.tolist(), cut_byte.tolist()):
        pb = pbytes[i]
        if j < 0:  # no whitespace edge in the window, or one the vectorised test cannot tell
            b0 = int(cum[t0 + n_lead])

            def start(t, t0=t0, b0=b0):  # byte where the example's token t starts, from its text's start
                return int(cum[t0 + t]) - b0

            j = _cut_token(start, n_lead, k, lambda b, pb=pb: _space_edge_bytes(pb, b))
            b = start(j)
        tail = pb[b:].decode("utf-8") if j > n_lead else None
        checks.append(PrefixCheck(prompts[i], tail, cols.ids, a + n_lead, a + j, a + k, False))
    for i, bad in zip(todo.tolist(), _prefix_verdicts(backend, checks)):
        if bad:
            cols.flags[i] |= PROMPT_NOT_PREFIX


_SPACE_BYTE = np.zeros(256, dtype=bool)
_SPACE_BYTE[list(_ASCII_SPACE)] = True


def _window_cuts(k: np.ndarray, t0: np.ndarray, cum: np.ndarray, pbytes: list[bytes],
                 n_lead: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_cut_token`'s forward search over the window, for many examples at once.

    Args:
        k: per example, its first trained token.
        t0: per example, the chunk-wide index of its token 0 (``cum[t0 + t]``: where its token
            ``t`` starts, for ``t >= n_lead``).
        cum, n_lead: see :func:`_prefix_check_columns`.
        pbytes: per example, its prompt's UTF-8 bytes.

    Returns:
        Per example the cut token and the byte where it starts, or -1 where the Python search
        must decide: no edge in the window, or a non-ASCII character before the first edge
        (:func:`_space_edge_bytes` decodes those).
    """
    m = len(pbytes)
    buf = np.frombuffer(b"".join(pbytes), dtype=np.uint8)
    if not buf.size:  # only empty prompts (zero-length tokens before the completion)
        return np.full(m, -1), np.full(m, -1)
    plen = np.fromiter(map(len, pbytes), dtype=np.int64, count=m)
    pofs = np.zeros(m, dtype=np.int64)
    np.cumsum(plen[:-1], out=pofs[1:])
    j = np.maximum(k[:, None] + np.arange(-PREFIX_WINDOW, 0), n_lead + 1)  # the window, forward
    inside = j < k[:, None]
    j = np.minimum(j, k[:, None] - 1)  # within the example (a clamped candidate is not inside)
    base = cum[t0 + n_lead][:, None]
    s, before = cum[t0[:, None] + j] - base, cum[t0[:, None] + j - 1] - base
    inside &= (before < s) & (s > 0) & (s < plen[:, None])
    at = np.minimum(pofs[:, None] + np.maximum(s, 1), buf.size - 1)  # clamped: read only where inside
    x, y = buf[at - 1], buf[at]
    ascii_pair = (x < 0x80) & (y < 0x80)
    edge = inside & ascii_pair & (_SPACE_BYTE[x] != _SPACE_BYTE[y])
    hit = edge | (inside & ~ascii_pair)
    rows = np.arange(m)
    first = hit.argmax(axis=1)
    found = edge[rows, first]  # the first candidate that may be an edge is one
    return np.where(found, j[rows, first], -1), np.where(found, s[rows, first], -1)
