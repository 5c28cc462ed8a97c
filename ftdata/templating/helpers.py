"""The names a template may call besides its row, and the seeded generator they draw from.

promptsource's ``choice`` and ``most_frequent``, the ``random``, ``choice`` and ``shuffle``
filters, and a bounded ``lipsum``. Randomness draws from a generator that the caller seeds per
render from (recipe seed, row key, template id) (:func:`seeded_rng`, :func:`set_rng`,
:func:`reset_rng`), so builds repeat; a draw outside a seeded render is an error.
"""

from __future__ import annotations

import contextvars
import hashlib
import random
from collections import Counter
from collections.abc import Sequence

from jinja2 import pass_context
from jinja2.constants import LOREM_IPSUM_WORDS

from .bounds import check_width

# no default generator: one shared by every draw outside a seeded render would make the draw
# depend on what drew before (compile order, thread, worker); such a draw is an error instead
_RNG: contextvars.ContextVar[random.Random | None] = contextvars.ContextVar("ftdata_template_rng",
                                                                           default=None)

_LOREM = LOREM_IPSUM_WORDS.split()

#: Names a template may use that do not come from the row.
HELPER_NAMES = frozenset({"choice", "most_frequent", "zip", "answer_choices", "range", "lipsum",
                          "dict", "cycler", "joiner", "namespace"})


def seeded_rng(seed: int, row_key: str, template_id: str) -> random.Random:
    """A generator seeded from (seed, row key, template id), stable across processes."""
    digest = hashlib.blake2b(f"{seed}\x00{row_key}\x00{template_id}".encode(), digest_size=8)
    return random.Random(int.from_bytes(digest.digest(), "little"))


def _rng() -> random.Random:
    """The generator of the render in progress."""
    rng = _RNG.get()
    if rng is None:
        raise RuntimeError("choice, shuffle, random or lipsum drew outside a render, where no "
                           "generator is seeded; render through Template.render, which seeds one "
                           "from (recipe seed, row key, template id)")
    return rng


def set_rng(rng: random.Random) -> contextvars.Token:
    return _RNG.set(rng)


def reset_rng(token: contextvars.Token) -> None:
    _RNG.reset(token)


def choice(seq: Sequence):
    """promptsource's ``choice``: one element, drawn from the per-render seeded generator."""
    seq = list(seq)
    if not seq:
        raise ValueError("choice() of an empty sequence")
    return _rng().choice(seq)


def most_frequent(items: Sequence) -> list:
    """promptsource's ``most_frequent``: every element tied for the highest count, in first-seen order.

    It returns a list, not one element, because promptsource templates pipe it into
    ``choice`` (``answers.text | most_frequent | choice``) to break ties at random.
    """
    counts = Counter(items)
    if not counts:
        raise ValueError("most_frequent() of an empty sequence")
    ranked = counts.most_common()
    top = ranked[0][1]
    return [item for item, n in ranked if n == top]


def shuffle(seq: Sequence) -> list:
    """Filter: a shuffled copy, drawn from the per-render seeded generator."""
    out = list(seq)
    _rng().shuffle(out)
    return out


def lipsum(n: int = 5, html: bool = False, min: int = 20, max: int = 100) -> str:  # noqa: A002 - Jinja's names
    """Jinja's ``lipsum`` with bounded size, drawn from the per-render seeded generator."""
    check_width(n * max * 12, "lipsum()")
    if min < 1 or max < min:
        raise ValueError("lipsum() needs 1 <= min <= max")
    rng = _rng()
    paras = []
    for _ in range(n):
        words = [rng.choice(_LOREM) for _ in range(rng.randrange(min, max + 1))]
        paras.append((" ".join(words)).capitalize() + ".")
    return "\n".join(f"<p>{p}</p>" for p in paras) if html else "\n\n".join(paras)


# The filters take the render context (unused) because Jinja never folds such a filter into a
# constant at compile time: ``['a', 'b'] | random`` would otherwise draw once, when compiling,
# for every row (Jinja's own ``random`` filter takes the context for the same reason).
@pass_context
def random_filter(_context, seq: Sequence):
    """The ``random`` and ``choice`` filters, drawn from the per-render seeded generator."""
    return choice(seq)


@pass_context
def shuffle_filter(_context, seq: Sequence) -> list:
    """The ``shuffle`` filter, drawn from the per-render seeded generator."""
    return shuffle(seq)
