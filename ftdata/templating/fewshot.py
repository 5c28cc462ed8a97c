"""Few-shot prompts: k solved exemplars before the row's own prompt (in-context learning).

A k-shot prompt is the exemplars, each written ``prompt + separator + completion``, then the
row's prompt, joined by ``shot_separator``::

    <prompt 1> <completion 1>

    <prompt 2> <completion 2>

    <row's prompt>

The build draws exemplars from the **train split only** of the same source and renders them
with the same template, so an exemplar looks exactly like a training example; a row never
serves as its own exemplar, and validation or test rows never appear in any prompt (the
split is the build's own, :func:`ftdata.plan.split.assign_splits`: with ``group_by``, a group held
out by any source of the recipe is never an exemplar). The draw is seeded by (recipe seed,
row key, template id), so builds repeat. Exemplars that would push the example past
``max_length`` are dropped (the row's own prompt and completion come first).

The evaluation stage builds its zero/one/few-shot baselines with :func:`kshot_prompt` and
:func:`fit_exemplars` from (prompt, completion) pairs it already has.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .helpers import seeded_rng

DEFAULT_SHOT_SEPARATOR = "\n\n"

Pair = tuple[str, str]


def kshot_prompt(prompt: str, exemplars: Sequence[Pair], *, separator: str = " ",
                 shot_separator: str = DEFAULT_SHOT_SEPARATOR) -> str:
    """The row's ``prompt`` preceded by solved ``exemplars`` (``(prompt, completion)`` pairs).

    ``separator`` joins each exemplar's prompt and completion (use the recipe's separator so
    exemplars look like training examples); ``shot_separator`` joins the shots.
    """
    shots = [p + separator + c for p, c in exemplars]
    return shot_separator.join([*shots, prompt])


def fit_exemplars(prompt: str, completion: str, exemplars: Sequence[Pair], *,
                  count_tokens: Callable[[str, str], int], max_length: int, separator: str = " ",
                  shot_separator: str = DEFAULT_SHOT_SEPARATOR) -> tuple[list[Pair], list[Pair]]:
    """Keep exemplars, in order, while the whole example still fits ``max_length``.

    Args:
        prompt, completion: the row's own rendered example (never shortened here).
        exemplars: candidate (prompt, completion) pairs, best first.
        count_tokens: ``count_tokens(full_prompt, completion)`` -> tokens of the example.
        max_length: the limit in tokens.

    Returns:
        ``(kept, dropped)``. An exemplar that does not fit is dropped and later (shorter)
        ones are still tried.
    """
    kept: list[Pair] = []
    dropped: list[Pair] = []
    for ex in exemplars:
        trial = [*kept, ex]
        full = kshot_prompt(prompt, trial, separator=separator, shot_separator=shot_separator)
        if count_tokens(full, completion) <= max_length:
            kept = trial
        else:
            dropped.append(ex)
    return kept, dropped


class ExemplarPool:
    """Train rows exemplars are drawn from, bounded in size and independent of row order.

    The pool keeps the ``capacity`` rows with the smallest seeded hash of their key, so the
    same rows are kept whatever order they are offered in and memory stays bounded on large
    sources.
    """

    def __init__(self, seed: int, capacity: int = 2000):
        self.seed = seed
        self.capacity = capacity
        self._heap: list[tuple[int, str, Any]] = []  # max-heap on hash via negation

    def _rank(self, key: str) -> int:
        digest = hashlib.blake2b(f"{self.seed}\x00{key}\x00exemplar".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def offer(self, key: str, row: Any) -> None:
        """Offer one train row (its key and its data)."""
        item = (-self._rank(key), key, row)
        if len(self._heap) < self.capacity:
            heapq.heappush(self._heap, item)
        elif item[:2] > self._heap[0][:2]:
            heapq.heapreplace(self._heap, item)

    def __len__(self) -> int:
        return len(self._heap)

    def rows(self) -> list[tuple[str, Any]]:
        """``(key, row)`` pairs in a fixed order (by rank)."""
        return [(k, r) for _, k, r in sorted(self._heap, key=lambda x: (-x[0], x[1]))]

    def candidates(self, *, seed: int, row_key: str, template_id: str) -> Iterator[tuple[str, Any]]:
        """Pool rows in a seeded order for this (seed, row, template), never the row itself."""
        rows = [kr for kr in self.rows() if kr[0] != row_key]
        seeded_rng(seed, row_key, f"shots\x00{template_id}").shuffle(rows)
        return iter(rows)


def draw_exemplars(pool: ExemplarPool, k: int, *, seed: int, row_key: str, template_id: str,
                   render: Callable[[str, Any], Pair | None], max_tries: int | None = None) -> list[Pair]:
    """Up to ``k`` rendered exemplars for one row and template.

    ``render(key, row)`` returns ``(prompt, completion)`` or ``None`` when the template does not
    apply to that exemplar row (then the next candidate is tried, up to ``max_tries`` rows,
    default ``4 * k``).
    """
    if k <= 0:
        return []
    out: list[Pair] = []
    tries = max_tries if max_tries is not None else 4 * k
    for key, row in pool.candidates(seed=seed, row_key=row_key, template_id=template_id):
        if len(out) == k or tries <= 0:
            break
        tries -= 1
        pair = render(key, row)
        if pair is not None:
            out.append(pair)
    return out
