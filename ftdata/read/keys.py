"""A compact set of row keys, for the duplicate-key check on sources of any size.

A Python ``set`` of key strings costs about 100 bytes a key, which makes it the one thing
in reading that grows with the input (100 MB at a million rows). :class:`KeySet` stores a
16-byte BLAKE2b digest per key in sorted NumPy runs (a log-structured merge: a new run per
batch, runs of similar size merged), so a million keys take 16 MB and every lookup is a
vectorised binary search. Two different keys share a 128-bit digest with probability about
``n^2 / 2^129`` -- never, in practice.
"""

from __future__ import annotations

import hashlib

import numpy as np

DIGEST = 16
_DT = np.dtype(f"S{DIGEST}")


def digests(keys: list[str]) -> np.ndarray:
    """One fixed-width digest per key (equal keys, equal digests)."""
    blake2b = hashlib.blake2b
    blob = b"".join([blake2b(k.encode("utf-8", "surrogatepass"), digest_size=DIGEST).digest() for k in keys])
    return np.frombuffer(blob, dtype=_DT) if keys else np.zeros(0, dtype=_DT)


class KeySet:
    """Keys seen so far; :meth:`add_batch` marks which keys of a batch were seen before."""

    def __init__(self):
        self._runs: list[np.ndarray] = []
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _contains(self, d: np.ndarray) -> np.ndarray:
        found = np.zeros(len(d), dtype=bool)
        for run in self._runs:
            i = np.minimum(np.searchsorted(run, d), len(run) - 1)
            found |= run[i] == d
        return found

    def add_batch(self, keys: list[str]) -> np.ndarray:
        """Add ``keys`` in order; return a bool per key: True when an earlier key (in an
        earlier batch or earlier in this one) was equal."""
        d = digests(keys)
        dup = self._contains(d) if self._runs else np.zeros(len(d), dtype=bool)
        if len(d):
            _, first = np.unique(d, return_index=True)
            repeat = np.ones(len(d), dtype=bool)
            repeat[first] = False
            dup |= repeat
            new = np.sort(d[~dup])
            if len(new):
                self._runs.append(new)
                self.size += len(new)
        # merge while the last run is at least half the size of the one before it, so there
        # are O(log n) runs and each key is merged O(log n) times
        while len(self._runs) > 1 and 2 * len(self._runs[-1]) >= len(self._runs[-2]):
            b = self._runs.pop()
            a = self._runs.pop()
            self._runs.append(np.sort(np.concatenate([a, b]), kind="mergesort"))
        return dup
