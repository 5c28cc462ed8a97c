"""Near-duplicate detection: MinHash signatures over word shingles, then LSH banding.

Two halves, matching the two build phases:

* phase A (per chunk, in :func:`ftdata.chunk.process_chunk`): :func:`signatures` turns each
  example's text into a ``num_perm``-long MinHash signature (uint32 values, stored as one
  binary value per example). Work is vectorised over the whole chunk with NumPy.
* phase B (over all chunks, in :mod:`ftdata.finalize`): :func:`near_duplicates` buckets the
  signatures by bands, verifies candidate pairs by their estimated Jaccard similarity and
  removes, in a fixed priority order, every example similar to one already kept.

Text is cut into words (``\\w+`` after case folding); a shingle is ``k`` consecutive words.
The template's literal text (what every example of a template shares) is cut out of the
rendered prompt and completion first: otherwise two unrelated short messages wrapped in the
same instruction would look alike. The same shingling serves the contamination report.

Everything is a pure function of the text and fixed constants, so results do not depend on
chunking, input order or process.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

_WORD = re.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant for combining word hashes
_BLOCK = 1 << 15  # shingles per vectorised MinHash block (bounds memory to num_perm * 256 KiB)
_PAIR_FANOUT = 32  # a bucket member is compared with at most this many earlier members


def words(text: str) -> list[str]:
    """Case-folded word tokens of ``text``."""
    return _WORD.findall(text.casefold())


class WordHasher:
    """Stable 64-bit word hashes, cached (a chunk repeats few distinct words)."""

    def __init__(self):
        self._cache: dict[str, int] = {}

    def __call__(self, toks: list[str]) -> np.ndarray:
        cache = self._cache
        out = np.empty(len(toks), dtype=np.uint64)
        for i, w in enumerate(toks):
            h = cache.get(w)
            if h is None:
                h = cache[w] = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
            out[i] = h
        return out


def shingle_hashes(word_hashes: np.ndarray, k: int, short_whole: bool = True) -> np.ndarray:
    """Hashes of every run of ``k`` consecutive words (uint64).

    A text with fewer than ``k`` words gives one shingle of all its words when ``short_whole``
    (near-dup: short texts still compare), else none (contamination: too short to judge).
    """
    n = len(word_hashes)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if n < k:
        if not short_whole:
            return np.zeros(0, dtype=np.uint64)
        k = n
    m = n - k + 1
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * _MIX + word_hashes[j:j + m]
            h ^= h >> np.uint64(29)
    return h


def template_literals(sources: dict[str, str]) -> tuple[list[str], list[str]]:
    """The literal text of a template: (prompt segments, completion segments).

    Read with Jinja's lexer, so only text outside ``{{ }}`` / ``{% %}`` counts; in the
    promptsource form the first ``|||`` separates prompt from completion. Answer choices are
    not literals here: they are the labels and must keep counting.

    Args:
        sources: part name -> Jinja source, as :meth:`ftdata.templates.Template.sources`.
    """
    from jinja2 import Environment

    env = Environment()
    prompt: list[str] = []
    completion: list[str] = []
    for part, src in sources.items():
        if part == "answer_choices":
            continue
        target = completion if part == "completion" else prompt
        try:
            toks = list(env.lex(src))
        except Exception:  # noqa: BLE001 - a template that does not lex has no usable literals
            continue
        for _, kind, value in toks:
            if kind != "data":
                continue
            pieces = value.split("|||")
            for i, seg in enumerate(pieces):
                if i > 0 and part == "jinja":
                    target = completion
                if seg.strip():
                    target.append(seg.strip())
    return prompt, completion


def strip_literals(text: str, segments: list[str]) -> str:
    """``text`` with the first occurrence of each literal segment cut out (the data remains)."""
    for seg in segments:
        text = text.replace(seg, "\n", 1)
    return text


def text_shingles(texts: list[str], k: int, hasher: WordHasher, short_whole: bool = True) -> np.ndarray:
    """Unique shingles of the texts, each text shingled on its own."""
    parts = [shingle_hashes(hasher(words(t)), k, short_whole) for t in texts]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)


def _perms(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # fixed constants (not the recipe seed): signatures must be comparable across builds
    rng = np.random.default_rng(20240611)
    a = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)
    return a, b


def signatures(shingle_sets: list[np.ndarray], num_perm: int) -> list[bytes | None]:
    """MinHash signature (``num_perm`` little-endian uint32) per shingle set; None when empty.

    Each permutation is the multiply-add-shift hash ``((a*x + b) mod 2**64) >> 32`` of the
    shingle's low 32 bits (a universal family; 64-bit wrap-around is what NumPy does anyway).
    """
    a, b = _perms(num_perm)
    out: list[bytes | None] = [None] * len(shingle_sets)
    docs = [i for i, s in enumerate(shingle_sets) if s.size]
    start = 0
    while start < len(docs):
        # a block of whole documents, at most _BLOCK shingles (or one large document)
        end, total = start, 0
        while end < len(docs) and (end == start or total + shingle_sets[docs[end]].size <= _BLOCK):
            total += shingle_sets[docs[end]].size
            end += 1
        block = docs[start:end]
        x = np.concatenate([shingle_sets[i] for i in block]) & np.uint64(0xFFFFFFFF)
        offs = np.cumsum([0] + [shingle_sets[i].size for i in block[:-1]])
        with np.errstate(over="ignore"):
            vals = (a[:, None] * x[None, :] + b[:, None]) >> np.uint64(32)
        mins = np.minimum.reduceat(vals, offs, axis=1).T.astype("<u4")
        for j, i in enumerate(block):
            out[i] = mins[j].tobytes()
        start = end
    return out


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) whose S-curve best separates pairs around ``threshold``.

    Minimises the sum of the false-positive area below the threshold and the false-negative
    area above it (equal weights), as datasketch does.
    """
    s = np.linspace(0.0, 1.0, 1001)
    best, best_err = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        rows = num_perm // bands
        p = 1.0 - (1.0 - s**rows) ** bands
        below, above = s <= threshold, s >= threshold
        err = _area(p[below], s[below]) + _area(1.0 - p[above], s[above])
        if err < best_err - 1e-12:
            best, best_err = (bands, rows), err
    return best


def _area(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2) if x.size > 1 else 0.0


def near_duplicates(sigs: np.ndarray, valid: np.ndarray, scope: np.ndarray, rank: np.ndarray,
                    threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy near-duplicate removal.

    Args:
        sigs: (n, num_perm) uint32 signatures.
        valid: rows that take part (kept so far and with a signature).
        scope: int64 id; only rows with the same id are compared (same task and template).
        rank: priority of each row (lower is kept first); all distinct.
        threshold: estimated Jaccard similarity at or above which two rows are near-duplicates.

    Returns:
        (removed rows, the kept row each one duplicates, their estimated similarity). A row is
        removed when it is similar to a row of lower rank that is itself kept.
    """
    n, num_perm = sigs.shape
    idx = np.nonzero(valid)[0]
    empty = np.zeros(0, dtype=np.int64)
    if idx.size < 2:
        return empty, empty, np.zeros(0)
    bands, rows = lsh_params(threshold, num_perm)
    sub, sc, rk = sigs[idx].astype(np.uint64), scope[idx].astype(np.uint64), rank[idx]
    earlier, later = [], []
    with np.errstate(over="ignore"):
        for band in range(bands):
            key = sc * _MIX + np.uint64(band + 1)
            for c in range(band * rows, (band + 1) * rows):
                key = key * _MIX + sub[:, c]
                key ^= key >> np.uint64(31)
            order = np.lexsort((rk, key))
            ks = key[order]
            new = np.ones(order.size, dtype=bool)
            new[1:] = ks[1:] != ks[:-1]
            start = np.maximum.accumulate(np.where(new, np.arange(order.size), 0))
            pos = np.arange(order.size) - start  # position inside the bucket
            for j in range(min(_PAIR_FANOUT, int(pos.max()))):
                m = pos > j
                earlier.append(order[start[m] + j])
                later.append(order[m])
    if not earlier:
        return empty, empty, np.zeros(0)
    pairs = np.unique(np.stack([np.concatenate(earlier), np.concatenate(later)], axis=1), axis=0)
    sim = (sub[pairs[:, 0]] == sub[pairs[:, 1]]).mean(axis=1)
    ok = sim >= threshold
    pairs, sim = pairs[ok], sim[ok]
    # decide in rank order of the later row: its earlier partners are already final
    order = np.lexsort((rk[pairs[:, 0]], rk[pairs[:, 1]]))
    removed = np.zeros(idx.size, dtype=bool)
    dup, keep, score = [], [], []
    for e, lt, s in zip(pairs[order, 0].tolist(), pairs[order, 1].tolist(), sim[order].tolist()):
        if removed[lt] or removed[e]:
            continue
        removed[lt] = True
        dup.append(lt)
        keep.append(e)
        score.append(s)
    return idx[np.asarray(dup, dtype=np.int64)], idx[np.asarray(keep, dtype=np.int64)], np.asarray(score)
