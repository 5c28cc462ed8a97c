"""The prefix audit: whether a prompt, tokenized alone, is a prefix of its joint tokenization.

The verdict (:func:`_prefix_verdicts`) re-encodes only a tail of each prompt, cut at a
whitespace edge of the joint tokens (:func:`_cut_token`); the reference path finds the cut
from character offsets (:func:`_prefix_check`), the vectorised causal path from byte positions,
many examples at once (:func:`_prefix_check_columns`, :func:`_window_cuts`). Examples found
not to be a prefix get :data:`~ftdata.tokenize.auditbits.PROMPT_NOT_PREFIX`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .auditbits import PROMPT_NOT_PREFIX
from .pieces import _ids_of, encode_flat
from .specials import _per_backend, encode_texts

if TYPE_CHECKING:
    from .encoded import Columns, Encoded


#: The prompt's last tokens, where the prefix check first looks for a cut (:func:`_cut_token`).
PREFIX_WINDOW = 4
#: Tokens further back the prefix check looks for a cut before it re-encodes the whole prompt.
PREFIX_REACH = 64


def _prefix_check(backend, encs_ok: list[tuple[int, Encoded, object]], prompts: list[str],
                  escaped: list[bool] | None, n_lead: int = 0, kept: dict | None = None) -> None:
    """Flag examples whose prompt, tokenized alone, is not a prefix of the joint tokens.

    What "prefix" means, and how it is decided, is :func:`_prefix_verdicts`; here token starts
    are character positions (the encoding's offsets). Truncated examples are not checked (their
    tokens are no longer the joint tokenization). ``kept``: see :func:`_prefix_verdicts`.
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
        j, c = _cut_char(enc.token_to_chars, p, n_lead, k)
        tail = p[c:] if j > n_lead else None
        checks.append(PrefixCheck(p, tail, e.input_ids, n_lead, j, k, escaped is not None and escaped[i]))
        targets.append(e)
    for e, bad in zip(targets, _prefix_verdicts(backend, checks, kept)):
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


def _cut_char(chars, text: str, lo: int, k: int) -> tuple[int, int]:
    """:func:`_cut_token` on character offsets, ``start(t) = chars(t)[0]`` and ``edge(c) =
    _space_edge(text, c)``, with both inlined (the reference path calls it once per example):
    written as :func:`_cut_token` with those two as closures it took 5.3 µs a call against 3.4
    (CPU, 4,000 DialogSum prompts with the shipped tokenizer), so it stays a copy that
    tests/unit/tokenize/test_prefix_shortcuts.py keeps in agreement.

    Returns:
        The cut token and the character where it starts (0 when the cut is ``lo``).
    """
    n = len(text)
    first = max(k - PREFIX_WINDOW, lo + 1)
    if first < k:
        before = chars(first - 1)[0]
        for j in range(first, k):
            s = chars(j)[0]
            # _space_edge holds only where one of the two characters is a space: test that first
            if before < s and 0 < s < n and (text[s] == " " or text[s - 1] == " ") and _space_edge(text, s):
                return j, s
            before = s
    j = first - 1
    s = chars(j)[0] if j > lo else 0
    stop = max(first - 1 - PREFIX_REACH, lo)
    while j > stop:
        before = chars(j - 1)[0]
        if before < s and 0 < s < n and (text[s] == " " or text[s - 1] == " ") and _space_edge(text, s):
            return j, s
        j, s = j - 1, before
    return lo, 0


class PrefixCheck(NamedTuple):
    """One example for :func:`_prefix_verdicts`: the prompt's ids are ``ids[lo:k]`` (a list or an
    array); ``tail`` (None: no cut, the whole prompt) should encode to ``ids[j:k]``; ``escaped``:
    the texts hold escaped special-token strings (:class:`~ftdata.tokenize.specials.Specials`)."""

    prompt: str
    tail: str | None
    ids: object
    lo: int
    j: int
    k: int
    escaped: bool


#: Most texts :func:`_prefix_verdicts` keeps between calls, and the longest it keeps (characters).
KEPT_TEXTS, KEPT_CHARS = 1 << 14, 256


def kept_tails(backend) -> dict:
    """The tails :func:`_prefix_verdicts` keeps for a backend between chunks, kept per backend
    object (the loader caches tokenizers and nothing changes one once loaded)."""
    return _per_backend(_KEPT, backend, lambda _: {})


_KEPT: dict[int, tuple[object, object, dict]] = {}


def _prefix_verdicts(backend, checks: list[PrefixCheck], kept: dict | None = None) -> list[bool]:
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
    mostly end alike), and with ``kept`` once per process: a chat prompt's tail is its last user
    message's last words and the generation prompt, which repeat across chunks.

    Args:
        backend: a ``tokenizers.Tokenizer``.
        checks: one :class:`PrefixCheck` per example.
        kept: ids of texts encoded by earlier calls for this backend (:func:`kept_tails`), read
            and added to (texts up to :data:`KEPT_CHARS` characters, emptied past
            :data:`KEPT_TEXTS` texts); None: encode every distinct text.

    Returns:
        Per check, True when the prompt is not a prefix.
    """
    memo: dict[tuple[str, bool], list[int]] = {}

    def encode(texts: list[tuple[str, bool]]) -> list[list[int]]:
        new = [t for t in dict.fromkeys(texts) if t not in memo]
        if kept:
            for t in new:
                ids = kept.get(t)  # one lookup: a build thread may empty ``kept`` meanwhile
                if ids is not None:
                    memo[t] = ids
            new = [t for t in new if t not in memo]
        if not new:
            return [memo[t] for t in texts]
        if any(esc for _, esc in new):
            got = [list(e.ids) for e in encode_texts(backend, [t for t, _ in new], add_special_tokens=False,
                                                      escaped=[e for _, e in new])]
        elif hasattr(backend, "encode_batch_fast"):  # no offsets needed: by pieces where a plan applies
            got = _ids_of(*encode_flat(backend, [t for t, _ in new]))
        else:
            got = [list(e.ids) for e in backend.encode_batch([t for t, _ in new], add_special_tokens=False)]
        memo.update(zip(new, got))
        if kept is not None:
            if len(kept) + len(new) > KEPT_TEXTS:
                kept.clear()
            kept.update((t, memo[t]) for t in new if len(t[0]) <= KEPT_CHARS)
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


def _char_start(data: bytes, b: int) -> int:
    """The start of the UTF-8 character holding byte ``b``."""
    while 0 < b < len(data) and data[b] & 0xC0 == 0x80:
        b -= 1
    return b


def _prefix_check_columns(backend, cols: Columns, n_prompt: np.ndarray, prompts: list[str], pbytes: list[bytes],
                          cum: np.ndarray, toff: np.ndarray, n_lead: int, kept: dict | None = None) -> None:
    """:func:`_prefix_check` on columns: token starts are byte positions into the prompt
    (``cum[j]``: the chunk-wide byte where token ``j`` of the chunk's encodings starts).
    ``kept``: see :func:`_prefix_verdicts`."""
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
    for i, bad in zip(todo.tolist(), _prefix_verdicts(backend, checks, kept)):
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
