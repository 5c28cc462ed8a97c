"""The Jinja sandbox every template renders in.

Templates may come from strangers, so they render in jinja2's ``SandboxedEnvironment``
(attribute walks such as ``__class__`` and ``format`` string tricks are blocked) with
``StrictUndefined`` (a misspelt column is an error, never an empty string). The mutable
sandbox is used, not the immutable one, because real promptsource templates build lists
with ``.append``; each render gets its own copy of the row so nothing leaks between renders.

Randomness inside a template (``choice``, the ``shuffle`` filter) draws from a generator that
the caller seeds per render from (recipe seed, row key, template id), so builds repeat.
"""

from __future__ import annotations

import contextvars
import hashlib
import random
from collections import Counter
from collections.abc import Sequence

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

_RNG: contextvars.ContextVar[random.Random] = contextvars.ContextVar(
    "ftdata_template_rng", default=random.Random(0)
)

#: Names a template may use that do not come from the row.
HELPER_NAMES = frozenset({"choice", "most_frequent", "zip", "answer_choices", "range", "lipsum",
                          "dict", "cycler", "joiner", "namespace"})


def seeded_rng(seed: int, row_key: str, template_id: str) -> random.Random:
    """A generator seeded from (seed, row key, template id), stable across processes."""
    digest = hashlib.blake2b(f"{seed}\x00{row_key}\x00{template_id}".encode(), digest_size=8)
    return random.Random(int.from_bytes(digest.digest(), "little"))


def set_rng(rng: random.Random) -> contextvars.Token:
    return _RNG.set(rng)


def reset_rng(token: contextvars.Token) -> None:
    _RNG.reset(token)


def choice(seq: Sequence):
    """promptsource's ``choice``: one element, drawn from the per-render seeded generator."""
    seq = list(seq)
    if not seq:
        raise ValueError("choice() of an empty sequence")
    return _RNG.get().choice(seq)


def most_frequent(items: Sequence):
    """promptsource's ``most_frequent``: the most common element (first seen wins ties)."""
    counts = Counter(items)
    if not counts:
        raise ValueError("most_frequent() of an empty sequence")
    return counts.most_common(1)[0][0]


def shuffle(seq: Sequence) -> list:
    """Filter: a shuffled copy, drawn from the per-render seeded generator."""
    out = list(seq)
    _RNG.get().shuffle(out)
    return out


def make_environment() -> SandboxedEnvironment:
    """Build the sandboxed environment shared by builds, previews, lint and the studio."""
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.update({"choice": choice, "most_frequent": most_frequent, "zip": zip})
    env.filters.update({"choice": choice, "shuffle": shuffle, "most_frequent": most_frequent})
    return env
