"""Contamination report: word n-gram overlap of evaluation data with the train split.

For every example of a held-out split (all splits but ``train``), its prompt and its
completion are cut into word n-grams (as in :mod:`ftdata.plan.neardup`: case-folded ``\\w+``
words, after the template's literal text is cut out, since every example of a template
shares it). The share of an example's n-grams that also occur anywhere in
the train split (prompts or completions) is its overlap. Per split the report counts

* ``checked``: texts with at least one n-gram (shorter texts cannot be judged and are skipped;
  a one-word label completion is never "contaminated"),
* ``any_overlap``: texts sharing at least one n-gram with train,
* ``contaminated``: texts whose overlap is at least ``min_overlap``;

and an example is contaminated when its prompt or its completion is. External evaluation
sets named in the recipe are checked the same way (each configured column is one text).
The train n-grams are held as one sorted NumPy array (8 bytes per distinct n-gram).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from ..errors import BuildError
from ..read.mapped import Release
from ..write.gather import take_rows
from .neardup import WordHasher, shingle_batch, strip_literals

SLICE = 4096


class _Shingler:
    """n-grams of prompts or completions with their template's literal text cut out."""

    def __init__(self, n: int, literals: dict[tuple[str, str], tuple[list[str], list[str]]]):
        self.n = n
        self.hasher = WordHasher()
        self.literals = literals

    def __call__(self, rows: list[dict], part: int) -> tuple[np.ndarray, np.ndarray]:
        """(n-gram hashes, index of the row each belongs to) for the rows' prompts or completions."""
        col = "prompt" if part == 0 else "completion"
        texts = []
        for r in rows:
            lit = self.literals.get((r["source"], r["template"]))
            texts.append(strip_literals(r[col], lit[part]) if lit else r[col])
        return self.texts(texts)

    def texts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return shingle_batch(texts, self.n, self.hasher, short_whole=False)


def _slices(work: pa.Table, idx: np.ndarray, release: Release | None) -> Iterable[list[dict]]:
    cols = work.select(["source", "template", "prompt", "completion"])
    for start in range(0, len(idx), SLICE):
        # no whole-column concat per slice; each chunk's mapped pages are handed back once copied from
        yield take_rows(cols, idx[start:start + SLICE], release).to_pylist()


def _overlap(flat: np.ndarray, doc: np.ndarray, n_docs: int, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(checked, overlap fraction) per text against the sorted train n-grams."""
    sizes = np.bincount(doc, minlength=n_docs)
    if train.size and flat.size:
        pos = np.minimum(np.searchsorted(train, flat), train.size - 1)
        hit = train[pos] == flat
    else:
        hit = np.zeros(flat.size, dtype=bool)
    hits = np.bincount(doc, weights=hit, minlength=n_docs)
    frac = np.divide(hits, sizes, out=np.zeros(n_docs), where=sizes > 0)
    return sizes > 0, frac


def _counts(checked: np.ndarray, frac: np.ndarray, min_overlap: float) -> dict:
    return {"checked": int(checked.sum()), "any_overlap": int((frac > 0).sum()),
            "contaminated": int((frac >= min_overlap).sum())}


def train_ngrams(work: pa.Table, idx: np.ndarray, sh: _Shingler, release: Release | None = None) -> np.ndarray:
    """Sorted unique n-grams of the train examples' prompts and completions."""
    parts = []
    for rows in _slices(work, idx, release):
        parts += [np.unique(sh(rows, 0)[0]), np.unique(sh(rows, 1)[0])]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)


def split_report(work: pa.Table, idx: np.ndarray, train: np.ndarray, sh: _Shingler, min_overlap: float,
                 release: Release | None = None) -> dict:
    """Counts for one held-out split (see the module docstring)."""
    res = {0: ([], []), 1: ([], [])}
    for rows in _slices(work, idx, release):
        for part in (0, 1):
            checked, frac = _overlap(*sh(rows, part), len(rows), train)
            res[part][0].append(checked)
            res[part][1].append(frac)
    (pc, pf), (cc, cf) = ((np.concatenate(c) if c else np.zeros(0, bool), np.concatenate(f) if f else np.zeros(0))
                          for c, f in (res[0], res[1]))
    bad = (pf >= min_overlap) | (cf >= min_overlap)
    n = len(idx)
    return {"examples": n, "prompts": _counts(pc, pf, min_overlap), "completions": _counts(cc, cf, min_overlap),
            "contaminated": int(bad.sum()), "share": round(float(bad.sum()) / n, 6) if n else 0.0}


def eval_set_texts(spec, base: Path) -> list[str]:
    """Texts of an external evaluation set: each configured column of each readable row."""
    from ..config.paths import resolve_path
    from ..read.sources import read_source

    src = SimpleNamespace(name=spec.name, path=spec.path, hub=None, format=spec.format, csv=spec.csv)
    texts = []
    for row in read_source(src, base):
        if row.error is not None or row.data is None:
            continue
        for c in spec.columns:
            v = row.data.get(c)
            if v is not None and str(v).strip():
                texts.append(str(v))
    if not texts:
        raise BuildError(f"contamination eval set '{spec.name}' ({resolve_path(base, spec.path)}): "
                         f"no text found in columns {spec.columns}")
    return texts


def contamination_report(work: pa.Table, order: dict[str, np.ndarray], spec,
                         literals: dict[tuple[str, str], tuple[list[str], list[str]]],
                         base: Path, train_split: str = "train", release: Release | None = None) -> dict:
    """The manifest's ``contamination`` section; raises BuildError above ``spec.fail_above``.

    Args:
        work: phase-B work table.
        order: split -> row indices in the output.
        spec: :class:`ftdata.config.recipe.ContaminationSpec`.
        literals: (source, template name) -> (prompt, completion) literal segments of that template.
        base: folder that evaluation-set paths are relative to.
        train_split: the split the others are compared with.
        release: the build's :meth:`~ftdata.read.mapped.MappedFiles.release` (None: keep pages).
    """
    sh = _Shingler(spec.ngram, literals)
    train_idx = order.get(train_split, np.zeros(0, dtype=np.int64))
    train = train_ngrams(work, train_idx, sh, release)
    out = {"ngram": spec.ngram, "min_overlap": spec.min_overlap, "train_split": train_split,
           "train_ngrams": int(train.size), "fail_above": spec.fail_above, "splits": {}, "eval_sets": {}}
    for name, idx in order.items():
        if name != train_split:
            out["splits"][name] = split_report(work, idx, train, sh, spec.min_overlap, release)
    for ev in spec.eval_sets:
        texts = eval_set_texts(ev, base)
        checked, frac = _overlap(*sh.texts(texts), len(texts), train)
        c = _counts(checked, frac, spec.min_overlap)
        out["eval_sets"][ev.name] = {"texts": len(texts), **c, "share": round(c["contaminated"] / len(texts), 6)}
    if spec.fail_above is not None:
        over = [f"split '{k}': {v['share']:.2%}" for k, v in out["splits"].items() if v["share"] > spec.fail_above]
        over += [f"eval set '{k}': {v['share']:.2%}" for k, v in out["eval_sets"].items() if v["share"] > spec.fail_above]
        if over:
            raise BuildError(f"contamination above fail_above={spec.fail_above:.2%} ({spec.ngram}-gram overlap with "
                             f"'{train_split}' >= {spec.min_overlap:.0%}): " + "; ".join(over)
                             + ". Fix the data or raise contamination.fail_above; no output was written.")
    return out
