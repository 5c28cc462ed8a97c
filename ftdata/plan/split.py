"""Split assignment by a seeded hash of a stable key: the one split rule of a build.

A row's split depends only on (seed, split key) -- never on row order, batch size, process
count, or (with ``group_by``) the source that read the row. :func:`split_unit` says what the
split key of a row is and hashes it; :func:`assign_splits` turns those hashes into split
names. The build (phase A and :mod:`ftdata.plan.finalize`), the few-shot exemplar pools and the
tests all call these two, so the rule is written once.

With ``group_by`` the key is the group's value alone, so every row of a group lands in one
split across the whole recipe, whatever source or template produced it. Stratified splits
(:func:`stratified_splits`) rank the rows of each label value by the same hash, so each value
gets the ratios exactly; they need every row at once (phase B).
"""

from __future__ import annotations

import hashlib

import numpy as np


def unit_hash(seed: int, key: str) -> float:
    """Map (seed, key) to a float in [0, 1), uniformly and stably across processes."""
    return unit_hashes(seed, [key])[0]


def unit_hashes(seed: int, keys: list[str]) -> list[float]:
    """:func:`unit_hash` of each key (one comprehension: a build hashes every row)."""
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    return [from_bytes(blake2b(f"{seed}\x00{k}".encode(), digest_size=8).digest(), "big") / 2**64 for k in keys]


def split_unit(seed: int, source: str, row_key: str, group_by: str | None = None,
               group: str | None = None) -> float:
    """Unit hash of a row's split key; rows with the same unit hash share a split.

    Args:
        seed: the recipe's seed.
        source: the source the row was read from.
        row_key: the row's key within its source.
        group_by: the recipe's ``split.group_by`` column, or None.
        group: the row's value in that column (None: missing).

    Returns:
        With ``group_by``: the hash of the group value alone -- not of the source -- so rows that
        share it land in one split across the whole recipe; rows without a value (missing or
        empty) are one group. Otherwise the hash of the row key within its source (a key names a
        row of its own source only: line 5 of two files are different rows).
    """
    return split_units(seed, source, [row_key], group_by, [group])[0]


def split_units(seed: int, source: str, row_keys: list[str], group_by: str | None = None,
                groups: list[str | None] | None = None) -> list[float]:
    """:func:`split_unit` of many rows of one source at once (``groups``: each row's group
    value, read with ``group_by`` only)."""
    if group_by is not None:
        return unit_hashes(seed, [g or "" for g in groups])
    return unit_hashes(seed, [f"{source}\x00{k}" for k in row_keys])


def assign_splits(fixed: np.ndarray, u: np.ndarray, ratios: dict[str, float]) -> np.ndarray:
    """Split name per row (object array): its fixed split, else where its unit hash falls.

    Args:
        fixed: split fixed before hashing (a source's own split) per row, or None.
        u: unit hash per row (:func:`split_unit`).
        ratios: split name -> fraction, taken in their given order; splits with a fraction of
            0 get no hashed rows, and a hash in the rounding sliver past the last cumulative
            bound goes to the last split.
    """
    names = [n for n, r in ratios.items() if r > 0]
    bounds = np.cumsum([ratios[n] for n in names])
    u = np.asarray(u, dtype=np.float64)
    idx = np.minimum(np.searchsorted(bounds, u, side="right"), len(names) - 1)
    hashed = np.asarray(names, dtype=object)[idx] if names else np.full(len(u), None, dtype=object)
    fixed = np.asarray(fixed, dtype=object)
    return np.where(fixed == None, hashed, fixed)  # noqa: E711 (elementwise, not identity)


def stratified_splits(u: np.ndarray, strata: np.ndarray, ratios: dict[str, float]) -> np.ndarray:
    """Split index per row so that every stratum gets the ratios exactly (to within one unit).

    Rows with the same ``u`` (the hash of their split key, :func:`split_unit`) form one unit
    and share a split.
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
