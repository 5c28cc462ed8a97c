"""Tokenize and mask, the reference path: one tokenization with offsets, labels from character spans.

Every layout reduces to the same question: given a text and the character spans that the
model must learn to emit, which tokens are trained? The text is tokenized **once** and a token
is trained exactly when it holds a character of a trained span. ``labels`` are unshifted:
``-100`` (:data:`~ftdata.constants.IGNORE_INDEX`) for every untrained position, the token id
otherwise.

* Causal layout (:func:`encode_causal`): the text is ``prompt + separator + completion``; the
  one trained span is the separator and the completion (the model must emit the separator too).
  EOS is appended and trained. Byte-level tokenizers take the vectorised equivalent,
  :mod:`~ftdata.tokenize.causal_fast`.
* Chat layout (:mod:`ftdata.templating.chat`, through :func:`encode_spans`): the text is the
  tokenizer's own chat template applied to the conversation; the trained spans are the
  assistant turns (content and end-of-turn token). Byte-level tokenizers take the vectorised
  equivalent, :mod:`~ftdata.tokenize.spans_fast`.
* Seq2seq layout: :mod:`~ftdata.tokenize.seq2seq`.

A token whose characters start before a trained span and end inside it *straddles* the
boundary: it is trained (it carries completion characters) and flagged, never hidden. Spans are
mapped to tokens with the encoding's own char-to-token map (a constant number of lookups per
span, no per-token Python objects), which keeps masking far below the tokenizer's own cost.
Texts holding escaped special-token strings are encoded by :mod:`~ftdata.tokenize.specials`.

Every example also gets audit flags (:mod:`ftdata.tokenize.audit`): straddling tokens,
duplicated BOS, untrained EOS / end-of-turn, prompt tokens that are not a prefix of the joint
tokenization (:mod:`~ftdata.tokenize.prefix`), special-token strings in data.
"""

from __future__ import annotations

from ..constants import IGNORE_INDEX
from .auditbits import DUP_BOS, EOS_UNTRAINED, SPECIAL_IN_DATA, STRADDLE
from .encoded import NO_TRAINED_TOKEN, Encoded
from .overflow import TooLong, fit_to_length
from .prefix import _prefix_check
from .specials import encode_texts, specials_for


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
        enc: a ``tokenizers.Encoding`` (or :class:`~ftdata.tokenize.specials.PieceEncoding`).
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


def dup_bos(ids: list[int], bos_id: int | None) -> bool:
    """Whether ``ids`` start with BOS twice (a template's BOS and the post-processor's)."""
    return bos_id is not None and len(ids) > 1 and ids[0] == bos_id and ids[1] == bos_id


def encode_spans(backend, texts: list[str], spans: list[list[tuple[int, int]]], *, eos: list[int | None],
                 untrained_end: list[bool], max_length: int, overflow: str, add_special_tokens: bool = True,
                 bos_id: int | None = None, escaped: list[bool] | None = None,
                 prompts: list[str] | None = None, kept_tails: dict | None = None) -> list[Encoded]:
    """Tokenize each text once and train exactly the tokens of its spans (plus an appended EOS).

    Args:
        backend: a ``tokenizers.Tokenizer``.
        texts: full texts (escaped, see :class:`~ftdata.tokenize.specials.Specials`).
        spans: per text, the trained character spans ``[(start, end), ...]``.
        eos: per text, the EOS id to append and train, or None.
        untrained_end: per text, whether a trained span ends without EOS / end-of-turn.
        max_length, overflow: see :func:`~ftdata.tokenize.overflow.fit_to_length`.
        add_special_tokens: let the post-processor add its tokens (off for chat templates,
            which write their own BOS).
        bos_id: BOS id, for the duplicated-BOS check.
        escaped: per text, whether its data held special-token strings.
        prompts: per text, the text before the first trained span, for the prefix audit.
        kept_tails: the prefix audit's texts kept between calls (:func:`~ftdata.tokenize.prefix.kept_tails`).
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
                      prompts, escaped, len(specials_for(backend).affixes()[0]) if add_special_tokens else 0,
                      kept_tails)
    return out


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
    if dup_bos(ids, bos_id):
        flags |= DUP_BOS
    e = fit_to_length(ids, labels, k, max_length, overflow)
    e.straddle, e.n_trained, e.flags = straddle, n_trained, flags
    return e
