"""What tokenizing an example yields: :class:`Encoded` (one example) and :class:`Columns` (a batch
as flat arrays), and the reject shared by every layout when nothing is trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

from ..rejects import Code, Rejection

#: Why an example whose completion tokenizes to nothing is rejected (every layout).
NO_TRAINED_TOKEN = Rejection(Code.NO_TRAINED_TOKEN, "no trained token (empty completion after tokenization)")


@dataclass
class Encoded:
    """One tokenized example, or why it was rejected (``reject``: its code and message)."""

    input_ids: list[int] | None = None
    labels: list[int] | None = None
    reject: Rejection | None = None
    truncated: bool = False
    straddle: bool = False
    n_prompt: int = 0  # untrained tokens before the first trained one
    n_trained: int = 0
    flags: int = 0  # audit bits, see ftdata.tokenize.audit


@dataclass
class Columns:
    """Tokenized examples as flat arrays: what phase A writes, without a Python list per example.

    Example ``i`` owns ``ids[offsets[i]:offsets[i + 1]]`` and the same slice of ``labels``
    (``label_offsets`` instead, in the seq2seq layout, where labels are the completion alone);
    a rejected example has its reason in ``reject[i]`` and its slices (empty or not) mean nothing.
    """

    ids: np.ndarray        # int32, every example's input_ids concatenated
    labels: np.ndarray     # int32, aligned with ids unless label_offsets is set
    offsets: np.ndarray    # int64, n + 1
    n_trained: np.ndarray  # int32
    straddle: np.ndarray   # bool
    truncated: np.ndarray  # bool
    flags: np.ndarray      # uint8, audit bits
    reject: list          # per example: a Rejection (code, message), or None
    label_offsets: np.ndarray | None = None  # int64, n + 1; None: labels follow offsets

    def __len__(self) -> int:
        return len(self.reject)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def label_bounds(self) -> np.ndarray:
        return self.offsets if self.label_offsets is None else self.label_offsets

    @classmethod
    def from_encoded(cls, encs: list[Encoded]) -> Columns:
        """The columns of per-example results (a rejected one contributes no tokens)."""
        ids = [e.input_ids or [] for e in encs]
        labels = [e.labels or [] for e in encs]
        offsets, label_offsets = _bounds(ids), _bounds(labels)
        return cls(np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=int(offsets[-1])),
                   np.fromiter(chain.from_iterable(labels), dtype=np.int32, count=int(label_offsets[-1])),
                   offsets, np.array([e.n_trained for e in encs], dtype=np.int32),
                   np.array([e.straddle for e in encs], dtype=bool), np.array([e.truncated for e in encs], dtype=bool),
                   np.array([e.flags for e in encs], dtype=np.uint8), [e.reject for e in encs],
                   None if np.array_equal(offsets, label_offsets) else label_offsets)

    def example(self, i: int) -> Encoded:
        """Example ``i`` as an :class:`Encoded` (for tests and the rare per-example fix-up)."""
        if self.reject[i] is not None:
            return Encoded(reject=self.reject[i])
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        la, lb = int(self.label_bounds[i]), int(self.label_bounds[i + 1])
        return Encoded(self.ids[a:b].tolist(), self.labels[la:lb].tolist(), truncated=bool(self.truncated[i]),
                       straddle=bool(self.straddle[i]), n_trained=int(self.n_trained[i]), flags=int(self.flags[i]))

    def take(self, keep: np.ndarray) -> Columns:
        """The examples where the boolean mask ``keep`` is set, in order."""
        ids, offsets = _take_slices(self.ids, self.offsets, keep)
        if self.label_offsets is None:
            labels, label_offsets = self.labels[np.repeat(keep, self.lengths)], None
        else:
            labels, label_offsets = _take_slices(self.labels, self.label_offsets, keep)
        return Columns(ids, labels, offsets, self.n_trained[keep], self.straddle[keep], self.truncated[keep],
                       self.flags[keep], [r for r, k in zip(self.reject, keep) if k], label_offsets)


def _bounds(lists: list[list[int]]) -> np.ndarray:
    """Offsets (n + 1) of concatenated lists."""
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)), out=offsets[1:])
    return offsets


def _take_slices(flat: np.ndarray, offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The slices of ``flat`` where ``keep`` is set, and their new offsets."""
    lengths = np.diff(offsets)
    out = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[keep], out=out[1:])
    return flat[np.repeat(keep, lengths)], out
