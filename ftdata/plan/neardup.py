"""Near-duplicate detection: MinHash signatures over word shingles, then LSH banding.

Two halves, matching the two build phases:

* phase A (per chunk, in :func:`ftdata.build.chunk.process_chunk`): :func:`signatures` turns each
  example's text into a ``num_perm``-long MinHash signature (uint32 values, stored as one
  binary value per example). Work is vectorised over the whole chunk with NumPy.
* phase B (over all chunks, in :mod:`ftdata.plan.finalize`): :func:`near_duplicates` buckets the
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
_PAIR_FANOUT = 4  # a bucket member is compared with the bucket's first (highest-priority) members
_VERIFY_SLICE = 1 << 16  # candidate pairs verified at a time


def words(text: str) -> list[str]:
    """Case-folded word tokens of ``text``."""
    return _WORD.findall(text.casefold())


class WordHasher:
    """Stable 64-bit word hashes, cached (a chunk repeats few distinct words)."""

    def __init__(self):
        self._cache: dict[str, int] = {}

    def _new(self, w: str) -> int:
        h = self._cache[w] = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
        return h

    def __call__(self, toks: list[str]) -> np.ndarray:
        get, new = self._cache.get, self._new
        return np.fromiter((get(w) or new(w) for w in toks), dtype=np.uint64, count=len(toks))


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
        sources: part name -> Jinja source, as :meth:`ftdata.templating.templates.Template.sources`.
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
    flat, _ = shingle_batch(texts, k, hasher, short_whole)
    return np.unique(flat)


def shingle_batch(texts: list[str], k: int, hasher: WordHasher,
                  short_whole: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Shingles of many texts at once: (hashes, index of the text each belongs to).

    Same shingles as :func:`shingle_hashes` per text (repeats kept), computed over all texts
    in a few NumPy passes instead of a few per text.
    """
    toks = [words(t) for t in texts]
    lens = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
    w = hasher([x for t in toks for x in t])
    ends = np.cumsum(lens)
    starts = ends - lens
    out_h, out_d = [], []
    if w.size >= k:
        m = w.size - k + 1
        h = np.zeros(m, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(k):
                h = h * _MIX + w[j:j + m]
                h ^= h >> np.uint64(29)
        text_of = np.repeat(np.arange(len(toks)), lens)[:m]
        ok = np.arange(m) + k <= ends[text_of]  # the shingle stays inside its text
        out_h.append(h[ok])
        out_d.append(text_of[ok])
    if short_whole:
        for i in np.nonzero((lens > 0) & (lens < k))[0].tolist():
            out_h.append(shingle_hashes(w[starts[i]:ends[i]], k, True))
            out_d.append(np.full(1, i, dtype=np.int64))
    if not out_h:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_h), np.concatenate(out_d)


def _perms(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # fixed constants (not the recipe seed): signatures must be comparable across builds
    rng = np.random.default_rng(20240611)
    a = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)
    return a, b


def signatures(hashes: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int) -> list[bytes | None]:
    """MinHash signature (``num_perm`` little-endian uint32) per document; None when it has no shingle.

    Args:
        hashes: shingle hashes of all documents, concatenated (repeats are harmless).
        doc: the document of each shingle (non-decreasing).
        n_docs: number of documents.
        num_perm: signature length.

    Each permutation is the multiply-add-shift hash ``((a*x + b) mod 2**64) >> 32`` of the
    shingle's low 32 bits (a universal family; 64-bit wrap-around is what NumPy does anyway).
    """
    a, b = _perms(num_perm)
    mins = np.full((n_docs, num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    x = hashes & np.uint64(0xFFFFFFFF)
    for lo in range(0, x.size, _BLOCK):  # bounded memory: num_perm x _BLOCK values at a time
        xb, db = x[lo:lo + _BLOCK], doc[lo:lo + _BLOCK]
        with np.errstate(over="ignore"):
            vals = a[:, None] * xb[None, :] + b[:, None]  # the >> 32 is monotonic: applied after the min
        first = np.ones(db.size, dtype=bool)
        first[1:] = db[1:] != db[:-1]
        at = np.nonzero(first)[0]
        ids = db[at]
        mins[ids] = np.minimum(mins[ids], np.minimum.reduceat(vals, at, axis=1).T)
    has = np.zeros(n_docs, dtype=bool)
    has[doc] = True
    sig = (mins >> np.uint64(32)).astype("<u4")
    return [sig[i].tobytes() if has[i] else None for i in range(n_docs)]


def lsh_params(threshold: float, num_perm: int, recall: float = 0.95) -> tuple[int, int]:
    """(bands, rows): the most selective banding that still finds a pair at ``threshold``.

    A pair of similarity ``s`` becomes a candidate with probability ``1 - (1 - s**rows)**bands``.
    We take the largest ``rows`` (fewest chance candidates) whose probability at the threshold
    is at least ``recall``; pairs above the threshold are found even more surely. Candidates
    are verified by their estimated similarity, so a chance candidate costs one comparison,
    while a missed pair would leave a duplicate.
    """
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


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
    num_perm = sigs.shape[1]
    idx = np.nonzero(valid)[0]
    if idx.size < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    bands, rows = lsh_params(threshold, num_perm)
    sub, sc, rk = sigs[idx], scope[idx].astype(np.uint64), rank[idx]
    m = idx.size
    found = []
    with np.errstate(over="ignore"):
        for band in range(bands):
            key = sc * _MIX + np.uint64(band + 1)
            for c in range(band * rows, (band + 1) * rows):
                key = key * _MIX + sub[:, c].astype(np.uint64)
                key ^= key >> np.uint64(31)
            order = np.lexsort((rk, key))
            ks = key[order]
            new = np.ones(m, dtype=bool)
            new[1:] = ks[1:] != ks[:-1]
            start = np.maximum.accumulate(np.where(new, np.arange(m), 0))
            pos = np.arange(m) - start  # position inside the bucket (bucket sorted by rank)
            for j in range(min(_PAIR_FANOUT, int(pos.max()))):
                sel = pos > j
                # pair code: earlier * m + later (earlier has the lower rank)
                found.append(order[start[sel] + j].astype(np.int64) * m + order[sel])
    empty = np.zeros(0, dtype=np.int64)
    if not found:
        return empty, empty, np.zeros(0)
    codes = np.unique(np.concatenate(found))
    earlier, later = codes // m, codes % m
    sim = np.empty(codes.size)
    for a in range(0, codes.size, _VERIFY_SLICE):  # bounded memory: slice x num_perm booleans
        b = a + _VERIFY_SLICE
        sim[a:b] = (sub[earlier[a:b]] == sub[later[a:b]]).mean(axis=1)
    ok = sim >= threshold
    earlier, later, sim = earlier[ok], later[ok], sim[ok]
    # decide in rank order of the later row: its earlier partners are already final
    order = np.lexsort((rk[earlier], rk[later]))
    removed = np.zeros(m, dtype=bool)
    dup, keep, score = [], [], []
    for e, lt, s in zip(earlier[order].tolist(), later[order].tolist(), sim[order].tolist()):
        if removed[lt] or removed[e]:
            continue
        removed[lt] = True
        dup.append(lt)
        keep.append(e)
        score.append(s)
    return idx[np.asarray(dup, dtype=np.int64)], idx[np.asarray(keep, dtype=np.int64)], np.asarray(score)
