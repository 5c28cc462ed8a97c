"""Token ids of ASCII text from its pre-tokenized pieces, each distinct piece encoded once.

A byte-level BPE tokenizer (GPT-2, Llama 3, Qwen2, the shipped ``ftdata:tiny-bpe``) encodes a
text in four steps: it splits out its added tokens (``<|im_start|>`` ...), cuts the rest into
pieces with one regular expression (the pre-tokenizer), maps each piece's bytes to the
byte-level alphabet, and runs BPE on each piece alone. A piece's ids therefore depend on the
piece and nothing else, and a corpus repeats its pieces (words with their leading space) over
and over: a process that remembers each piece's ids (:class:`PiecePlan`) encodes a text with
one ``re.findall`` and one dictionary lookup per piece. On the plain benchmark's texts that is
about a quarter of the CPU time of ``encode_batch_fast``, which also builds each token's string,
offsets and masks in a Python object the build never reads.

Only what is shown to be the same takes this path:

* the text is ASCII (``str.isascii``: a flag CPython keeps), so the pattern's Unicode classes
  (``\\p{L}``, ``\\p{N}``, ``\\s``) are exact ASCII classes (:func:`ascii_pattern` rewrites the
  pattern for Python's ``re``; a pattern using anything it does not know gets no plan), and any
  Unicode-form normalizer (NFC, as Qwen2 has) leaves the text as it is;
* the tokenizer splits out its special tokens (``encode_special_tokens`` off, as it is by
  default) and neither truncates nor pads (transformers may set both on it per call: a plan is
  made again whenever these, its added tokens, normalizer, pre-tokenizer or dropout change);
* the pre-tokenizer is ``ByteLevel`` with its own (GPT-2) pattern, or a ``Split`` by a pattern
  (``Isolated``) followed by ``ByteLevel`` without one (Qwen2, Llama 3), neither adding a prefix
  space; the model is BPE without dropout;
* added tokens are split out as the tokenizer does (those matched on the raw text first, then
  those matched on the normalized text; the longest match at the leftmost place); a text that
  holds one is handled only when no added token strips or matches single words, else encoded by
  the tokenizer, as is every non-ASCII text.

Each piece's ids come from the tokenizer's own BPE model (``model.tokenize``). A plan is made
only after encoding a set of probe texts (every ASCII character, contractions, runs of spaces,
newlines and digits, every added token in context) both ways with equal ids; each batch then
checks one text against the tokenizer, and any difference ends the plan for that tokenizer
(the batch is encoded by the tokenizer). The remembered pieces are bounded
(:data:`MAX_PIECES`).
"""

from __future__ import annotations

import json
import re
from itertools import chain

import numpy as np

from .forms import normal_forms
from .specials import _per_backend

#: Pieces a plan remembers before it starts over (a few hundred bytes each).
MAX_PIECES = 1 << 17
#: The pattern tokenizers' ``ByteLevel`` pre-tokenizer splits by when ``use_regex`` is on (GPT-2's).
BYTE_LEVEL_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
#: ASCII whitespace as the pre-tokenizers' ``\s`` takes it (Unicode White_Space: not U+001C-F,
#: which Python's ``\s`` also takes).
_SPACE = r"\t\n\x0b\x0c\r\x20"
#: Inside a character class / standing alone, for ASCII text.
_CLASSES = {r"\p{L}": ("A-Za-z", "[A-Za-z]"), r"\p{N}": ("0-9", "[0-9]"), r"\s": (_SPACE, f"[{_SPACE}]"),
            r"\S": (None, f"[^{_SPACE}]")}
#: Escapes that mean the same in Oniguruma and Python's ``re``.
_SAME = {r"\r", r"\n", r"\t"}


#: Groups whose meaning Oniguruma (Ruby syntax, as tokenizers uses it) and Python's ``re`` share:
#: non-capturing, lookahead, and case-insensitive (``re.findall`` would return a capturing
#: group's text, and ``(?m)`` is dot-all in Oniguruma but multi-line in ``re``).
_GROUPS = ("(?:", "(?=", "(?!", "(?i:")


def ascii_pattern(pattern: str) -> re.Pattern | None:
    """``pattern`` (Oniguruma, as tokenizers compiles it) for ASCII-only text in Python's ``re``:
    its Unicode classes become the ASCII characters they hold. None when it holds anything the
    two engines may read differently and this does not rewrite: an escape other than those in
    :data:`_CLASSES` and :data:`_SAME` or an escaped punctuation character (``\\d``, ``\\w``,
    ``\\p{Lu}``, ``\\A``, ``\\S`` inside a class), a group not in :data:`_GROUPS`, ``^`` or
    ``$`` outside a class (line anchors in Oniguruma, text anchors in ``re``), a class
    intersection (``&&``) or nested class, an interval followed by ``+`` or ``?``
    (``{1,3}+`` is possessive in ``re`` since 3.11, repeated in Oniguruma; ``{3}?`` is lazy in
    ``re``, optional in Oniguruma), or a pattern that can match empty text anywhere
    (:func:`_without_lookaheads`); or when Python cannot compile it."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            esc = pattern[i:i + 5] if pattern.startswith(("\\p{",), i) else pattern[i:i + 2]
            if esc in _CLASSES:
                inside, alone = _CLASSES[esc]
                if in_class and inside is None:
                    return None
                out.append(inside if in_class else alone)
            elif esc in _SAME or (len(esc) == 2 and not esc[1].isalnum() and esc[1].isascii()):
                out.append(esc)
            else:
                return None
            i += len(esc)
            continue
        if in_class:
            if ch == "[" or pattern.startswith("&&", i):  # Oniguruma's set syntax, which re does not share
                return None
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern.startswith("[^", i):
                out.append("[")
                ch = "^"
                i += 1
            if pattern.startswith("]", i + 1):  # a leading ] is a literal in both
                return None
        elif ch in "^$" or (ch == "(" and not pattern.startswith(_GROUPS, i)) or pattern.startswith(("}+", "}?"), i):
            return None
        out.append(ch)
        i += 1
    try:
        compiled = re.compile("".join(out))
    except re.error:
        return None
    if compiled.groups or re.compile(_without_lookaheads("".join(out))).match("") is not None:
        return None
    return compiled


def _without_lookaheads(pattern: str) -> str:
    """``pattern`` (as :func:`ascii_pattern` writes it) with every lookahead group removed. It
    matches the empty text if any branch of ``pattern`` can match empty text *somewhere*:
    with anchors and word boundaries refused, lookaheads are the only parts that depend on
    what is around a match, and removing them only lets more match. An empty match is where
    the engines part (Oniguruma skips a character after one, ``re.findall`` keeps it)."""
    out, depth, skip_from, i, in_class = [], 0, None, 0, False
    while i < len(pattern):
        ch = pattern[i]
        step = 2 if ch == "\\" else 1
        if not in_class and ch == "(":
            depth += 1
            if skip_from is None and pattern.startswith(("(?=", "(?!"), i):
                skip_from = depth
        elif not in_class and ch == ")":
            depth -= 1
            if skip_from is not None and depth < skip_from:
                skip_from = None
                i += 1
                continue
        elif ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        if skip_from is None:
            out.append(pattern[i:i + step])
        i += step
    return "".join(out)


def _byte_alphabet() -> list[str]:
    """The byte-level alphabet: the character each byte is written as (printable Latin-1 bytes
    as themselves, the other bytes as U+0100 onwards, in byte order)."""
    keep = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(0x100 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


_ASCII_TO_ALPHABET = dict(enumerate(_byte_alphabet()[:128]))


def _splitter(spec: dict) -> re.Pattern | None:
    """The piece pattern of a pre-tokenizer's JSON, rewritten for ASCII; None when not one
    this module knows (see the module docstring)."""
    kind = spec.get("type")
    if kind == "ByteLevel" and spec.get("use_regex", True) and not spec.get("add_prefix_space"):
        return ascii_pattern(BYTE_LEVEL_PATTERN)
    if kind == "Sequence":
        parts = spec.get("pretokenizers") or []
        if len(parts) == 2:
            split, byte_level = parts
            if (split.get("type") == "Split" and split.get("behavior") == "Isolated" and not split.get("invert")
                    and "Regex" in (split.get("pattern") or {}) and byte_level.get("type") == "ByteLevel"
                    and not byte_level.get("use_regex", True) and not byte_level.get("add_prefix_space")):
                return ascii_pattern(split["pattern"]["Regex"])
    return None


def _alternation(contents: list[str]) -> re.Pattern | None:
    """The leftmost, then longest, match of any of ``contents`` (their longest first), as the
    one group of the pattern (``split`` keeps what it matched)."""
    contents = sorted({c for c in contents if c}, key=len, reverse=True)
    return re.compile("(" + "|".join(map(re.escape, contents)) + ")") if contents else None


class PiecePlan:
    """How to encode ASCII texts piece by piece for one tokenizer (see the module docstring)."""

    def __init__(self, backend, pieces: re.Pattern):
        self.backend = backend
        self.model = backend.model
        self.findall = pieces.findall
        self.cache: dict = {}
        self.live = True
        added = backend.get_added_tokens_decoder()
        self.added_ids = {t.content: i for i, t in added.items()}
        self.any_added = _alternation([t.content for t in added.values()])
        #: the two passes of added tokens (raw text, then normalized); None: texts holding any go to the tokenizer
        self.passes = None
        if all(not (t.single_word or t.lstrip or t.rstrip) for t in added.values()):
            self.passes = [p for p in (_alternation([t.content for t in added.values() if not t.normalized]),
                                       _alternation([t.content for t in added.values() if t.normalized])) if p]
        #: each added token as its piece ``(id,)``
        self.token_piece = {c: (i,) for c, i in self.added_ids.items()}

    def _miss(self, piece) -> list[int]:
        """A piece's ids from the tokenizer's model (an added token, ``(id,)``: itself), remembered."""
        ids = list(piece) if type(piece) is tuple else [t.id for t in self.model.tokenize(piece.translate(_ASCII_TO_ALPHABET))]
        self.cache[piece] = ids
        return ids

    def _split_added(self, text: str) -> list:
        """A text's pieces, its added tokens as ``(id,)``: each pass splits the text left by the
        passes before it (``re.split``: text, token, text, ..., text), and the last pass's text
        is cut into pieces as it is split (one pass, ChatML's case: no list of segments)."""
        token, findall, last = self.token_piece, self.findall, self.passes[-1]
        segments: list = [text]
        for pattern in self.passes[:-1]:
            nxt: list = []
            for seg in segments:
                if type(seg) is tuple:
                    nxt.append(seg)
                    continue
                parts = pattern.split(seg)
                for k in range(0, len(parts) - 1, 2):
                    nxt += (parts[k], token[parts[k + 1]])
                nxt.append(parts[-1])
            segments = nxt
        out: list = []
        for seg in segments:
            if type(seg) is tuple:
                out.append(seg)
                continue
            parts = last.split(seg)
            out += findall(parts[0])
            for k in range(1, len(parts), 2):
                out.append(token[parts[k]])
                out += findall(parts[k + 1])
        return out

    def pieces(self, text: str) -> list | None:
        """The text's pieces, or None: the tokenizer encodes it."""
        if not text.isascii():
            return None
        if self.any_added is None:
            return self.findall(text)
        if self.passes is None:  # a text holding an added token that strips or matches single words
            return self.findall(text) if self.any_added.search(text) is None else None
        return self._split_added(text)

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """Every text's ids, concatenated (int32), each text's count, and the first text
        encoded by pieces (-1: none was). The pieces of the whole batch are looked up in one
        pass; texts the tokenizer encodes are put in their places afterwards."""
        if len(self.cache) > MAX_PIECES:
            self.cache.clear()
        get, miss, pieces = self.cache.get, self._miss, self.pieces
        flat: list = []
        counts: list[int] = []
        slow: list[int] = []
        for i, t in enumerate(texts):
            ps = pieces(t)
            if ps is None:
                slow.append(i)
                counts.append(0)
            else:
                flat += ps
                counts.append(len(ps))
        lists = [get(p) or miss(p) for p in flat]
        first = 0 if texts else -1
        if slow:  # each text the tokenizer encodes: its ids as one more list, in its place
            encs = self.backend.encode_batch_fast([texts[i] for i in slow], add_special_tokens=False)
            slow_ids = dict(zip(slow, (e.ids for e in encs)))
            parts: list = []
            at = 0
            for i, c in enumerate(counts):
                ids = slow_ids.get(i)
                if ids is None:
                    parts += lists[at:at + c]
                    at += c
                else:
                    parts.append(ids)
                    counts[i] = 1
            lists = parts
            first = next((i for i in range(len(texts)) if i not in slow_ids), -1)
        cum = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)), out=cum[1:])
        ends = np.cumsum(np.array(counts, dtype=np.int64))
        n = np.diff(cum[ends], prepend=0)
        out = np.fromiter(chain.from_iterable(lists), dtype=np.int32, count=int(cum[-1]))
        return out, n, first


def _probes(backend) -> list[str]:
    """ASCII texts a plan must encode exactly as the tokenizer does before it is used."""
    chars = [chr(c) for c in range(128)]
    words = ["I'm", "DON'T", "it's", "'s", "'ll", "you've", "'re'", "x'd", "Hello", "world", "a", "Z"]
    seps = [" ", "  ", "   ", "\n", "\n\n", " \n", "\t", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x7f", "\x00", ""]
    probes = list(chars)
    probes += [a + b for a in chars for b in ("a", " ", "1", "\n", "'", ".")]
    probes += [f"{s}{w}{t}" for w in words for s in seps for t in (seps[0], seps[3], seps[-1])]
    probes += [f"{w}{s}" for w in words for s in seps]
    probes += ["1", "12", "123", "1234", "12345678", "3.14", "1,000", " 42", "x1y2", "a1b", "A-Z", "...", "?!"]
    probes += ["Summary:\n\n#Person1#: Hi, Mr. Smith.  I'm Doctor Hawkins.\n   Why are you here today?\n",
               "  leading and trailing  ", "tab\tseparated\tvalues\t", "\r\n\r\nwindows\r\n", "end with space "]
    added = sorted(t.content for t in backend.get_added_tokens_decoder().values() if t.content.isascii())
    for a in added:
        probes += [a, f"x{a}y", f" {a} ", f"{a}{a}", f"\n{a}\nuser\nHi there{a}\n", f"'{a}'s"]
    return probes


def _make_plan(backend) -> PiecePlan | None:
    spec = json.loads(backend.to_str())
    model = spec.get("model") or {}
    if (model.get("type") != "BPE" or model.get("dropout") or normal_forms(backend) is None
            or backend.encode_special_tokens  # special tokens read as text: not reproduced
            or backend.truncation or backend.padding):  # the tokenizer's own cut and fill
        return None
    pieces = _splitter(spec.get("pre_tokenizer") or {})
    if pieces is None:
        return None
    plan = PiecePlan(backend, pieces)
    probes = _probes(backend)
    flat, n, _ = plan.encode(probes)
    if _ids_of(flat, n) != [e.ids for e in backend.encode_batch_fast(probes, add_special_tokens=False)]:
        return None
    plan.cache.clear()
    return plan


def _state(backend) -> tuple:
    """What a plan depends on that can change on a loaded tokenizer in place (transformers sets
    truncation and padding on its backend per call; ``add_tokens``, ``encode_special_tokens``,
    a new normalizer or pre-tokenizer, the model's dropout): about a microsecond."""
    norm, pre = backend.normalizer, backend.pre_tokenizer
    return (backend.truncation, backend.padding, backend.encode_special_tokens, backend.get_vocab_size(True),
            norm and norm.__getstate__(), pre and pre.__getstate__(), getattr(backend.model, "dropout", None))


_PLANS: dict[int, tuple[object, object, PiecePlan | None]] = {}


def piece_plan(backend) -> PiecePlan | None:
    """The backend's :class:`PiecePlan`, made once per backend object and made again when the
    backend changed (:func:`_state`); None when its pipeline is not one this module reproduces,
    or its probes or a check differed."""
    plan = _per_backend(_PLANS, backend, _make_plan, _state(backend))
    return plan if plan is not None and plan.live else None


def _ids_of(flat: np.ndarray, n: np.ndarray) -> list[list[int]]:
    """Each text's ids out of :func:`encode_flat`'s ``(flat, n)`` (one ``tolist``, then slices)."""
    ids = flat.tolist()
    return [ids[e - k:e] for e, k in zip(np.cumsum(n).tolist(), n.tolist())]


def encode_flat(backend, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``backend.encode_batch_fast(texts, add_special_tokens=False)`` as every text's ids
    concatenated (int32) and each text's count: by pieces where a :class:`PiecePlan` applies
    (the first text it encodes checked against the tokenizer), else by the tokenizer."""
    plan = piece_plan(backend) if texts else None
    if plan is not None:
        flat, n, first = plan.encode(texts)
        if first < 0:
            return flat, n
        at = int(n[:first].sum())  # that one text's ids: not the whole batch split (a hot path)
        if flat[at:at + n[first]].tolist() == backend.encode(texts[first], add_special_tokens=False).ids:
            return flat, n
        plan.live = False
    encs = backend.encode_batch_fast(texts, add_special_tokens=False)
    n = np.fromiter(map(len, encs), dtype=np.int64, count=len(texts))
    flat = np.fromiter(chain.from_iterable(e.ids for e in encs), dtype=np.int32, count=int(n.sum()))
    return flat, n
