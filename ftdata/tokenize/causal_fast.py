"""The vectorised causal path, for tokenizers whose tokens are byte strings of the text.

For byte-level BPE (GPT-2, Llama 3, the shipped ``ftdata:tiny-bpe``) a token's place in the
text is the running sum of its ids' byte lengths (:func:`byte_lengths`),
so the batch is encoded without offsets (``encode_batch_fast``) and the labels of the whole
batch are a handful of NumPy operations over the concatenated ids. Each example's byte lengths
must add up to its text's; any batch where they do not (an unknown token, a prefix space, an
unusual pre-tokenizer) is encoded again on the reference path
(:func:`~ftdata.tokenize.spans.encode_causal`), which also decides for every other tokenizer,
and the fast path is not tried again for that tokenizer. Both paths give the same ids, labels
and audit bits (tested).

A Unicode normalizer (NFC, as Qwen2 has; NFD, NFKC, NFKD, or a sequence of them) leaves a text
that is already in its form unchanged, so the byte lengths still place the tokens: each chunk is
checked (``str.isascii``, else ``unicodedata.is_normalized``) and only a
chunk holding a text the normalizer would change takes the reference path (the tokenizer keeps
the fast path for the next chunk). Any other normalizer keeps the reference path.
"""

from __future__ import annotations

import numpy as np

from ..constants import IGNORE_INDEX
from .auditbits import DUP_BOS, EOS_UNTRAINED, STRADDLE
from .encoded import NO_TRAINED_TOKEN, Columns
from .forms import normal_forms, normalized
from .overflow import fit_to_length
from .pieces import encode_flat
from .prefix import _prefix_check_columns
from .spans import encode_causal
from .specials import _per_backend, specials_for

_BYTE_LENGTHS: dict[int, tuple[object, object, np.ndarray | None]] = {}
#: Backends whose byte lengths once failed to add up: reference path only. A pure per-tokenizer
#: memo (id -> the backend itself, checked by identity as in :func:`ftdata.tokenize.specials._per_backend`, so a new
#: tokenizer that reuses a freed one's id is not taken for it); it changes speed, never output.
_SLOW: dict[int, object] = {}


def fast_table(backend) -> np.ndarray | None:
    """The byte lengths a fast path places ``backend``'s tokens by (:func:`byte_lengths`), or None:
    not a byte-level tokenizer, or one whose byte lengths once failed to add up (:func:`place_tokens`)."""
    return None if _SLOW.get(id(backend)) is backend else byte_lengths(backend)


def unchanged_by_normalizer(backend, texts: list[str], prompts: list[str] | None) -> bool:
    """Whether ``backend``'s Unicode normalizer leaves every text of the chunk, and every prompt
    (the prefix check, :mod:`ftdata.tokenize.prefix`, encodes them alone), as it is: else the
    chunk, this one only, takes the reference path."""
    forms = normal_forms(backend)
    return not forms or (normalized(forms, texts) and (prompts is None or normalized(forms, prompts)))


def byte_lengths(backend) -> np.ndarray | None:
    """UTF-8 bytes of text each token id stands for, or None when tokens are not byte strings.

    Byte-level vocabularies (``ByteLevel`` decoder, no normalizer but Unicode forms) write every byte as one
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
    if normal_forms(backend) is not None and type(backend.decoder).__name__ == "ByteLevel" and not trims:
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


def encode_causal_columns(backend, prompts: list[str], completions: list[str], *, separator: str,
                          eos_id: int | None, max_length: int, overflow: str, bos_id: int | None = None,
                          escaped: list[bool] | None = None) -> Columns:
    """:func:`~ftdata.tokenize.spans.encode_causal` as :class:`Columns`, vectorised where the tokenizer allows it."""
    if escaped is None or not any(escaped):
        cols = _causal_fast(backend, prompts, completions, separator, eos_id, max_length, overflow, bos_id)
        if cols is not None:
            return cols
    return Columns.from_encoded(encode_causal(backend, prompts, completions, separator=separator, eos_id=eos_id,
                                              max_length=max_length, overflow=overflow, bos_id=bos_id,
                                              escaped=escaped))


def _causal_fast(backend, prompts, completions, separator, eos_id, max_length, overflow, bos_id) -> Columns | None:
    """The byte-length path of :func:`encode_causal_columns`; None when it does not apply."""
    blen_of = fast_table(backend)
    if blen_of is None:
        return None
    texts = [p + separator + c for p, c in zip(prompts, completions)]
    if not unchanged_by_normalizer(backend, texts, prompts):
        return None
    pbytes = [p.encode("utf-8") for p in prompts]
    p_len = np.fromiter(map(len, pbytes), dtype=np.int64, count=len(prompts))
    sep_b = len(separator.encode("utf-8"))
    t_len = p_len + sep_b + np.fromiter((len(c.encode("utf-8")) for c in completions), dtype=np.int64,
                                        count=len(completions))
    placed = place_tokens(backend, blen_of, texts, t_len)
    if placed is None:
        return None
    flat, n, toff, cum = placed
    k, none_trained, straddle = _first_trained(flat, n, toff, cum, p_len)
    # the post-processor's tokens around each text, and the EOS (a post-processor EOS is trained)
    pre, post = specials_for(backend).affixes()
    cols, out_n = _assemble(flat, n, k, straddle, pre, post, eos_id, bos_id)
    n_prompt = k + len(pre)
    for i in np.flatnonzero(none_trained):
        cols.reject[i] = NO_TRAINED_TOKEN
    long = np.flatnonzero(~none_trained & (out_n > max_length))
    if long.size:
        cols = _fit_columns(cols, long, n_prompt, max_length, overflow)
    _prefix_check_columns(backend, cols, n_prompt, prompts, pbytes, cum, toff, len(pre))
    return cols


def dup_bos_flags(ids: np.ndarray, off: np.ndarray, out_n: np.ndarray, bos_id: int | None) -> np.ndarray | int:
    """:data:`DUP_BOS` for each example (``ids[off[i]:off[i + 1]]``, ``out_n[i]`` tokens) that
    starts with two BOS tokens; 0 when there is no BOS (or no token)."""
    if bos_id is None or not ids.size:
        return 0
    last = ids.size - 1
    heads = np.minimum(off[:-1], last)  # clamped: an example may have no token at all
    return np.where((out_n > 1) & (ids[heads] == bos_id) & (ids[np.minimum(heads + 1, last)] == bos_id), DUP_BOS, 0)


def place_tokens(backend, blen_of: np.ndarray, texts: list[str],
                 t_len: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Encode ``texts`` (no post-processor tokens) without offsets and place every token by its
    byte length; ``t_len``: each text's UTF-8 length.

    Returns:
        ``(flat, n, toff, cum)``: every example's ids concatenated (int32), its token count, its
        first token's index in ``flat`` (n + 1 offsets), and ``cum[j]``, the bytes before token
        ``j``, chunk-wide; None when the byte lengths do not add up to the texts' (an id the
        table does not cover or marks -1, or a text whose tokens are not its bytes): then
        ``backend`` keeps the reference path (:func:`fast_table`).
    """
    n_ex = len(texts)
    flat, n = encode_flat(backend, texts)
    toff = np.zeros(n_ex + 1, dtype=np.int64)
    np.cumsum(n, out=toff[1:])
    try:
        blen = blen_of[flat]
    except IndexError:  # an id the vocabulary table does not cover
        blen = None
    if blen is not None:
        cum = np.zeros(flat.size + 1, dtype=np.int64)  # cum[j]: bytes before token j, chunk-wide
        np.cumsum(blen, out=cum[1:])
        base = cum[toff[:-1]]  # where each example's first token starts
        if not ((blen_of.min(initial=0) < 0 and (blen < 0).any())
                or not np.array_equal(cum[toff[1:]] - base, t_len)):
            return flat, n, toff, cum
    _SLOW[id(backend)] = backend  # this tokenizer's tokens are not plain byte strings of the text
    return None


def _first_trained(flat: np.ndarray, n: np.ndarray, toff: np.ndarray, cum: np.ndarray,
                   p_len: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per example: its first trained token ``k``, whether none is trained, whether it straddles.

    A token is trained when it ends past the prompt (holds a byte of the separator or the
    completion); token ends only grow within an example, so the untrained ones are the first k
    of it: those ending at or before base + p_len, found by one binary search per example.
    """
    base = cum[toff[:-1]]  # where each example's first token starts
    thr = base + p_len
    k = np.searchsorted(cum[1:], thr, side="right") - toff[:-1]
    np.clip(k, 0, n, out=k)
    none_trained = k == n
    first = np.minimum(toff[:-1] + k, max(flat.size - 1, 0))
    # the first trained token straddles when it starts inside the prompt
    straddle = ~none_trained & (cum[first] < thr) if flat.size else np.zeros(len(n), dtype=bool)
    return k, none_trained, straddle


def _assemble(flat: np.ndarray, n: np.ndarray, k: np.ndarray, straddle: np.ndarray, pre: list[int],
              post: list[int], eos_id: int | None, bos_id: int | None) -> tuple[Columns, np.ndarray]:
    """The batch's columns: each example is ``[pre][its tokens][post][EOS]``, its tokens after the
    first ``k`` trained, and EOS; returns them with each example's token count."""
    n_ex = len(n)
    train_post_eos = eos_id is not None and bool(post) and post[-1] == eos_id
    append_eos = eos_id is not None and not train_post_eos
    after = len(post) + int(append_eos)
    out_n = n + len(pre) + after
    off = np.zeros(n_ex + 1, dtype=np.int64)
    np.cumsum(out_n, out=off[1:])
    # masks over the output from run lengths
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
    flags |= dup_bos_flags(ids, off, out_n, bos_id)
    cols = Columns(ids, labels, off, n_trained, straddle, np.zeros(n_ex, dtype=bool), flags.astype(np.uint8),
                   [None] * n_ex)
    return cols, out_n


def _fit_columns(cols: Columns, long: np.ndarray, n_prompt: np.ndarray, max_length: int, overflow: str) -> Columns:
    """Apply the overflow policy (:func:`~ftdata.tokenize.overflow.fit_to_length`) to the over-long examples ``long``; rebuild the arrays."""
    encs = [cols.example(i) for i in range(len(cols))]
    for i in long:
        e = encs[i]
        fitted = fit_to_length(e.input_ids, e.labels, int(n_prompt[i]), max_length, overflow, index=int(i))
        if fitted.reject is None:
            fitted.straddle, fitted.n_trained, fitted.flags = e.straddle, e.n_trained, e.flags
        encs[i] = fitted
    return Columns.from_encoded(encs)
