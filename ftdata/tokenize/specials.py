"""Special-token strings in data, kept literal: escaping, sentinels, and encoding escaped texts.

Special-token strings in raw data (``<|im_end|>`` typed by a user) are escaped before
rendering (:class:`Specials`): each becomes one private-use character, so templates and chat
templates cannot mistake it for a control token. Texts holding such a character are encoded in
pieces (:func:`encode_texts`): the template's text normally, each escaped string as plain text
(the backend's ``encode_special_tokens`` switch). Offsets stay in the escaped text's
coordinates, where the spans were computed, so masks stay exact. (Data that itself holds
characters of that private-use range, U+F0000 onwards, would be read as escaped specials.)
"""

from __future__ import annotations

import bisect
import copy
import re

from ..templating.specialsrx import SpecialsRx

#: First private-use code point used to stand for a special-token string found in data.
SENTINEL_BASE = 0xF0000


class Specials:
    """The special-token strings of a tokenizer, and how to keep them literal in data.

    Args:
        backend: a ``tokenizers.Tokenizer``.
    """

    def __init__(self, backend):
        added = backend.get_added_tokens_decoder().values()
        self.strings = sorted({t.content for t in added if t.special}, key=lambda s: (-len(s), s))
        self.rx = SpecialsRx.of(self.strings).first if self.strings else None  # longest first
        firsts = {s[:1] for s in self.strings}
        self._first = firsts.pop() if len(firsts) == 1 and "" not in firsts else None  # every special's first character
        self.to_sentinel = {s: chr(SENTINEL_BASE + i) for i, s in enumerate(self.strings)}
        self.from_sentinel = {v: k for k, v in self.to_sentinel.items()}
        top = chr(SENTINEL_BASE + max(len(self.strings) - 1, 0))
        self.sentinel_rx = re.compile(f"[{chr(SENTINEL_BASE)}-{top}]")
        self.split_rx = re.compile(f"([{chr(SENTINEL_BASE)}-{top}])")
        self.backend = backend
        self._text_backend = None
        self._affixes: tuple[list[int], list[int]] | None = None

    def escape(self, value):
        """``(value, hit)``: strings (also inside lists and dicts) with specials replaced
        (``value`` itself when nothing needed escaping)."""
        if self.rx is None or not self.found_in(value):
            return value, False
        return self._escape(value)

    def found_in(self, value) -> bool:
        """Whether a string in ``value`` (or inside its lists and dicts' values) holds a special.

        The cheap pre-check of :meth:`escape`: it builds nothing and stops at the first hit,
        and when every special starts with one character (``<``) a string without it is not
        searched further.
        """
        if self.rx is None:
            return False
        search, first, stack = self.rx.search, self._first, [value]
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                if (first is None or first in v) and search(v) is not None:
                    return True
            elif isinstance(v, list):
                stack.extend(v)
            elif isinstance(v, dict):
                stack.extend(v.values())
        return False

    def _escape(self, value):
        if isinstance(value, str):
            if self.rx.search(value) is None:
                return value, False
            return self.rx.sub(lambda m: self.to_sentinel[m.group()], value), True
        if isinstance(value, list):
            out = [self._escape(v) for v in value]
            return ([v for v, _ in out], True) if any(h for _, h in out) else (value, False)
        if isinstance(value, dict):
            out = {k: self._escape(v) for k, v in value.items()}
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


def _per_backend(cache: dict, backend, make, state: object = None):
    """``make(backend)``, computed once per backend object (keyed by id, checked by identity),
    and again whenever ``state`` (what the result depends on that can change on the object in
    place) differs from the last call's."""
    hit = cache.get(id(backend))
    if hit is None or hit[0] is not backend or hit[1] != state:
        hit = cache[id(backend)] = (backend, state, make(backend))
    return hit[2]


_SPECIALS: dict[int, tuple[object, object, Specials]] = {}


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
