"""Tokenize and mask: joint tokenization with offsets, labels by character span.

Causal layout: the text ``prompt + separator + completion`` is tokenized once. A token is
trained exactly when its characters lie in the completion span (the separator counts as part
of the completion, since the model must emit it). ``labels`` are unshifted: ``-100`` for
every untrained position, the token id otherwise; EOS is appended and trained. A token whose
characters start in the prompt and end in the completion *straddles* the boundary: it is
trained (it carries completion characters) and counted, never hidden.

The boundary is found with the encoding's own character-to-token map (a constant number of
lookups per example, no per-token Python objects), which keeps masking far below the
tokenizer's own cost.

Seq2seq layout: ``input_ids`` is the prompt, ``labels`` the completion plus EOS.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import IGNORE_INDEX


@dataclass
class Encoded:
    """One tokenized example, or why it was rejected."""

    input_ids: list[int] | None = None
    labels: list[int] | None = None
    reject: str | None = None
    truncated: bool = False
    straddle: bool = False
    n_prompt: int = 0  # untrained tokens before the completion
    n_trained: int = 0


def _boundary(enc, cstart: int, text_len: int) -> tuple[int, bool]:
    """(index of the first token holding a completion character, whether it straddles).

    Uses the encoding's own char->token map, so no per-token Python objects are created.
    Characters that belong to no token (whitespace some pre-tokenizers drop) are skipped.
    """
    for pos in range(cstart, text_len):
        k = enc.char_to_token(pos)
        if k is not None:
            start = enc.token_to_chars(k)[0]
            return k, start < cstart
    return len(enc.ids), False


def _special_ids(backend) -> frozenset[int]:
    return frozenset(i for i, t in backend.get_added_tokens_decoder().items() if t.special)


def _fit(ids: list[int], labels: list[int], k: int, max_length: int, overflow: str) -> Encoded:
    n = len(ids)
    if n <= max_length:
        return Encoded(ids, labels, n_prompt=k)
    if overflow == "drop":
        return Encoded(reject=f"too long: {n} tokens > max_length {max_length}")
    if overflow == "error":
        return Encoded(reject=f"ERROR:too long: {n} tokens > max_length {max_length}")
    n_completion = n - k
    if n_completion >= max_length:
        return Encoded(reject=f"completion alone is {n_completion} tokens, no room in max_length {max_length} (completions are never cut)")
    keep = max_length - n_completion
    head = (keep + 1) // 2
    tail = keep - head
    ids = ids[:head] + ids[k - tail:]
    labels = labels[:head] + labels[k - tail:]
    return Encoded(ids, labels, truncated=True, n_prompt=keep)


def encode_causal(backend, prompts: list[str], completions: list[str], *, separator: str,
                  eos_id: int | None, max_length: int, overflow: str) -> list[Encoded]:
    """Tokenize joined texts once and mask everything outside the completion span."""
    texts = [p + separator + c for p, c in zip(prompts, completions)]
    encs = backend.encode_batch(texts, add_special_tokens=True)
    special_ids = _special_ids(backend)
    out = []
    for enc, prompt, text in zip(encs, prompts, texts):
        ids = enc.ids
        n = len(ids)
        k, straddle = _boundary(enc, len(prompt), len(text))
        # trailing specials added by a post-processor (e.g. an EOS some tokenizers append)
        # are untrained, except the EOS we would append ourselves, which is trained.
        end = n
        if n and ids[-1] in special_ids:
            mask = enc.special_tokens_mask
            while end > k and mask[end - 1]:
                end -= 1
        labels = [IGNORE_INDEX] * k + ids[k:end] + [IGNORE_INDEX] * (n - end)
        n_trained = end - k
        if eos_id is not None:
            if end < n and ids[end] == eos_id:
                labels[end] = eos_id
            else:
                ids.append(eos_id)
                labels.append(eos_id)
            n_trained += 1
        if end <= k:
            out.append(Encoded(reject="no trained token (empty completion after tokenization)"))
            continue
        e = _fit(ids, labels, k, max_length, overflow)
        e.straddle = straddle
        e.n_trained = n_trained
        out.append(e)
    return out


def encode_seq2seq(backend, prompts: list[str], completions: list[str], *, eos_id: int | None,
                   max_length: int, overflow: str) -> list[Encoded]:
    """Prompt -> input_ids, completion (+EOS) -> labels; labels are never cut."""
    encs_p = backend.encode_batch(prompts, add_special_tokens=True)
    encs_c = backend.encode_batch(completions, add_special_tokens=False)
    out = []
    for ep, ec in zip(encs_p, encs_c):
        ids = list(ep.ids)
        labels = list(ec.ids)
        if eos_id is not None and (not labels or labels[-1] != eos_id):
            labels.append(eos_id)
        if not labels:
            out.append(Encoded(reject="no trained token (empty completion after tokenization)"))
            continue
        if len(labels) > max_length:
            out.append(Encoded(reject=f"completion is {len(labels)} tokens > max_length {max_length} (completions are never cut)"))
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
        out.append(Encoded(ids, labels, truncated=truncated, n_prompt=len(ids), n_trained=len(labels)))
    return out
