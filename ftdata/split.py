"""Split assignment by a seeded hash of a stable key.

A row's split depends only on (seed, key) -- never on row order, batch size or process count.
With ``group_by`` the key is the group's value, so every row of a group lands in one split.
Stratified splits (:func:`stratified_splits`) rank the rows of each label value by the same
hash, so each value gets the ratios exactly; they need every row at once (phase B).
"""

from __future__ import annotations

import hashlib

import numpy as np


def unit_hash(seed: int, key: str) -> float:
    """Map (seed, key) to a float in [0, 1), uniformly and stably across processes."""
    d = hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(d, "big") / 2**64


def assign_split(seed: int, key: str, ratios: dict[str, float]) -> str:
    """The split a key falls in; ratios are taken in their given order."""
    return split_for_unit(unit_hash(seed, key), ratios)


def split_for_unit(u: float, ratios: dict[str, float]) -> str:
    """Where a unit hash ``u`` falls in the cumulative ``ratios`` (taken in their given order)."""
    acc = 0.0
    last = None
    for name, r in ratios.items():
        if r <= 0:
            continue
        acc += r
        last = name
        if u < acc:
            return name
    return last  # rounding: u lies in the final sliver


def stratified_splits(u: np.ndarray, strata: np.ndarray, ratios: dict[str, float]) -> np.ndarray:
    """Split index per row so that every stratum gets the ratios exactly (to within one unit).

    Rows with the same ``u`` (the hash of their row key) form one unit and share a split.
    Within a stratum, units are ranked by ``u``; the first ``round(r1 * m)`` go to the first
    split, the next up to ``round((r1 + r2) * m)`` to the second, and so on. The ranking
    depends only on the keys and the seed, never on input order or batch size.

    Args:
        u: unit hash per row (float64 in [0, 1)).
        strata: stratum label per row (object array; None is a stratum of its own).
        ratios: split name -> fraction, in order.

    Returns:
        int array: index into ``[n for n, r in ratios.items() if r > 0]`` per row.
    """
    names = [n for n, r in ratios.items() if r > 0]
    cum = np.cumsum([ratios[n] for n in names])
    n = len(u)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    labels = np.asarray(["\x00" if s is None else str(s) for s in strata], dtype=object)
    _, lab = np.unique(labels, return_inverse=True)
    order = np.lexsort((u, lab))
    us, ls = u[order], lab[order]
    new_unit = np.ones(n, dtype=bool)
    new_unit[1:] = (us[1:] != us[:-1]) | (ls[1:] != ls[:-1])
    unit = np.cumsum(new_unit) - 1
    new_stratum = np.ones(n, dtype=bool)
    new_stratum[1:] = ls[1:] != ls[:-1]
    first_unit = np.maximum.accumulate(np.where(new_stratum, unit, 0))
    rank = unit - first_unit
    units_per_stratum = np.bincount(ls, weights=new_unit).astype(np.int64)
    bounds = np.floor(cum[None, :] * units_per_stratum[:, None] + 0.5).astype(np.int64)  # (strata, splits)
    split = np.minimum((rank[:, None] >= bounds[ls]).sum(axis=1), len(names) - 1)
    out = np.empty(n, dtype=np.int64)
    out[order] = split
    return out
