"""A process-wide setting held while any build (or engine) that wants it runs.

Builds may run at once in one process (the studio, a notebook's threads), and a setting of the
whole process (Arrow's default memory pool, :mod:`~ftdata.build.arrowpool`; the tokenizer's
``TOKENIZERS_PARALLELISM``, :mod:`~ftdata.build.engines.local`) must not be undone by the first
one to finish while another still relies on it. :class:`Held` counts its holders: the first
:meth:`~Held.enter` applies the setting, the last :meth:`~Held.leave` undoes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Held:
    """A setting applied by the first holder in and undone by the last one out.

    Args:
        apply: applies the setting and returns how to undo it, or None when there is nothing to
            apply (the user chose otherwise, or it is already so); called with the lock held.
    """

    def __init__(self, apply: Callable[[], Callable[[], None] | None]):
        self._apply = apply
        self._lock = threading.Lock()
        self._depth = 0
        self._undo: Callable[[], None] | None = None

    def enter(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._undo = self._apply()
            self._depth += 1

    def leave(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._undo is not None:
                undo, self._undo = self._undo, None
                undo()

    @contextmanager
    def held(self) -> Iterator[None]:
        """:meth:`enter` for the duration of the ``with`` block, :meth:`leave` after it, whatever happens."""
        self.enter()
        try:
            yield
        finally:
            self.leave()
