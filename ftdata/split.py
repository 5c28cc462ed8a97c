"""Split assignment by a seeded hash of a stable key.

A row's split depends only on (seed, key) -- never on row order, batch size or process count.
With ``group_by`` the key is the group's value, so every row of a group lands in one split.
"""

from __future__ import annotations

import hashlib


def unit_hash(seed: int, key: str) -> float:
    """Map (seed, key) to a float in [0, 1), uniformly and stably across processes."""
    d = hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(d, "big") / 2**64


def assign_split(seed: int, key: str, ratios: dict[str, float]) -> str:
    """The split a key falls in; ratios are taken in their given order."""
    u = unit_hash(seed, key)
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
