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

Every example also gets audit flags (:mod:`ftdata.audit`): straddling tokens, duplicated BOS,
untrained EOS / end-of-turn, prompt tokens that are not a prefix of the joint tokenization,
special-token strings in data.
"""

from __future__ import annotations

import bisect
import copy
import re
from dataclasses import dataclass

from .audit import DUP_BOS, EOS_UNTRAINED, PROMPT_NOT_PREFIX, SPECIAL_IN_DATA, STRADDLE
from .constants import IGNORE_INDEX

#: First private-use code point used to stand for a special-token string found in data.
SENTINEL_BASE = 0xF0000
#: Prompt tokens re-encoded alone for the prefix check (BPE merges are local, so the tail decides).
PREFIX_WINDOW = 4


@dataclass
class Encoded:
    """One tokenized example, or why it was rejected."""

    input_ids: list[int] | None = None
    labels: list[int] | None = None
    reject: str | None = None
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


_SPECIALS: dict[int, tuple[object, Specials]] = {}


def specials_for(backend) -> Specials:
    """The cached :class:`Specials` of a backend (tokenizers are cached by the loader)."""
    hit = _SPECIALS.get(id(backend))
    if hit is None or hit[0] is not backend:
        hit = _SPECIALS[id(backend)] = (backend, Specials(backend))
    return hit[1]


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


def _fit(ids: list[int], labels: list[int], k: int, max_length: int, overflow: str) -> Encoded:
    """Apply the overflow policy; only context before the first trained token is ever cut."""
    n = len(ids)
    if n <= max_length:
        return Encoded(ids, labels, n_prompt=k)
    if overflow == "drop":
        return Encoded(reject=f"too long: {n} tokens > max_length {max_length}")
    if overflow == "error":
        return Encoded(reject=f"ERROR:too long: {n} tokens > max_length {max_length}")
    n_completion = n - k
    if n_completion >= max_length:
        return Encoded(reject=f"completion alone is {n_completion} tokens, no room in max_length {max_length} "
                              "(completions are never cut)")
    keep = max_length - n_completion
    head = (keep + 1) // 2
    tail = keep - head
    # keep the head (instruction, system prompt) and the tail (text right before the answer)
    return Encoded(ids[:head] + ids[k - tail:], labels[:head] + labels[k - tail:], truncated=True, n_prompt=keep)


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
        max_length, overflow: see :func:`_fit`.
        add_special_tokens: let the post-processor add its tokens (off for chat templates,
            which write their own BOS).
        bos_id: BOS id, for the duplicated-BOS check.
        escaped: per text, whether its data held special-token strings.
        prompts: per text, the text before the first trained span, for the prefix audit.
    """
    encs = encode_texts(backend, texts, add_special_tokens=add_special_tokens, escaped=escaped)
    out = [_encode_one(enc, spans[i], eos[i], max_length, overflow, bos_id, escaped is not None and escaped[i],
                       untrained_end[i]) for i, enc in enumerate(encs)]
    if prompts is not None:
        _prefix_check(backend, [(i, e, enc) for i, (e, enc) in enumerate(zip(out, encs)) if e.reject is None],
                      prompts, escaped, len(specials_for(backend).affixes()[0]) if add_special_tokens else 0)
    return out


def _prefix_check(backend, encs_ok: list[tuple[int, Encoded, object]], prompts: list[str],
                  escaped: list[bool] | None, n_lead: int = 0) -> None:
    """Flag examples whose prompt, tokenized alone, is not a prefix of the joint tokens.

    Only the prompt's last :data:`PREFIX_WINDOW` tokens are re-encoded (from the start of that
    window's first token): BPE merges and pre-tokenizer look-aheads act locally, so this is
    where a prompt-alone tokenization can diverge; a straddling token always diverges.
    """
    todo = []
    for i, e, enc in encs_ok:
        if e.straddle:
            e.flags |= PROMPT_NOT_PREFIX
            continue
        k = e.n_prompt  # index of the first trained token (the example is not truncated)
        if e.truncated or not k:
            continue
        j = max(k - PREFIX_WINDOW, n_lead)  # n_lead: the post-processor's leading specials (BOS)
        if j >= k:
            continue
        todo.append((e, prompts[i][enc.token_to_chars(j)[0]:], e.input_ids[j:k], escaped is not None and escaped[i]))
    if not todo:
        return
    if any(t[3] for t in todo):
        tails = encode_texts(backend, [t[1] for t in todo], add_special_tokens=False, escaped=[t[3] for t in todo])
    else:  # no offsets needed: the fast batch call skips building them
        tails = getattr(backend, "encode_batch_fast", backend.encode_batch)([t[1] for t in todo], add_special_tokens=False)
    for (e, _, expected, _), got in zip(todo, tails):
        if list(got.ids) != expected:
            e.flags |= PROMPT_NOT_PREFIX


def encode_causal(backend, prompts: list[str], completions: list[str], *, separator: str,
                  eos_id: int | None, max_length: int, overflow: str, bos_id: int | None = None,
                  escaped: list[bool] | None = None, audit_prefix: bool = True) -> list[Encoded]:
    """Tokenize joined texts once and mask everything outside the completion span."""
    texts = [p + separator + c for p, c in zip(prompts, completions)]
    spans = [[(len(p), len(t))] for p, t in zip(prompts, texts)]
    encs = encode_texts(backend, texts, add_special_tokens=True, escaped=escaped)
    out, ok = [], []
    for i, enc in enumerate(encs):
        e = _encode_one(enc, spans[i], eos_id, max_length, overflow, bos_id, escaped is not None and escaped[i],
                        eos_id is None)
        out.append(e)
        if e.reject is None:
            ok.append((i, e, enc))
    if audit_prefix:
        _prefix_check(backend, ok, prompts, escaped, len(specials_for(backend).affixes()[0]))
    return out


def _encode_one(enc, spans, eos_id, max_length, overflow, bos_id, escaped, untrained_end) -> Encoded:
    ids = enc.ids  # a fresh list on every access: take it once
    labels, n_trained, straddle, k = mask_spans(enc, spans, ids)
    if k is None:
        return Encoded(reject="no trained token (empty completion after tokenization)")
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
    e = _fit(ids, labels, k, max_length, overflow)
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
            out.append(Encoded(reject="no trained token (empty completion after tokenization)"))
            continue
        flags = SPECIAL_IN_DATA if escaped is not None and escaped[i] else 0
        if eos_id is not None and labels[-1] != eos_id:
            labels.append(eos_id)
        elif eos_id is None:
            flags |= EOS_UNTRAINED
        if _dup_bos(ids, bos_id):
            flags |= DUP_BOS
        if len(labels) > max_length:
            out.append(Encoded(reject=f"completion is {len(labels)} tokens > max_length {max_length} "
                                      "(completions are never cut)"))
            continue
        truncated = False
        if len(ids) > max_length:
            if overflow == "drop":
                out.append(Encoded(reject=f"too long: prompt is {len(ids)} tokens > max_length {max_length}"))
                continue
            if overflow == "error":
                out.append(Encoded(reject=f"ERROR:too long: prompt is {len(ids)} tokens > max_length {max_length}"))
                continue
            head = (max_length + 1) // 2
            ids = ids[:head] + ids[len(ids) - (max_length - head):]
            truncated = True
        out.append(Encoded(ids, labels, truncated=truncated, n_prompt=len(ids), n_trained=len(labels), flags=flags))
    return out
