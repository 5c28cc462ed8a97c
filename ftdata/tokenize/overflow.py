"""The overflow policy (the recipe's ``overflow``), written once for every layout and path:
:func:`fit_to_length` drops, fails (:class:`TooLong`) or cuts the middle of the context.
"""

from __future__ import annotations

from ..errors import BuildError
from ..rejects import Code, Rejection
from .encoded import Encoded


class TooLong(BuildError):
    """An example over ``max_length`` with ``overflow: error``: the build stops.

    Attributes:
        message: what is too long, e.g. ``too long: 300 tokens > max_length 256``.
        index: which example of the batch (set by the batch function, which catches it on its
            way out; the caller, who knows the example's source, line and template, names it
            in its own error).
    """

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.message, self.index = message, index


def fit_to_length(ids: list[int], labels: list[int] | None, k: int, max_length: int, overflow: str,
                  what: str = "", index: int | None = None) -> Encoded:
    """The overflow policy (the recipe's ``overflow``), the one place it is written, for every layout.

    A sequence longer than ``max_length`` is rejected (``drop``), fails the build (``error``),
    or loses tokens from the middle of its context (``truncate_prompt``): the head (instruction,
    system prompt) and the tail (the text right before the answer) are kept, half each. Only
    context before the first trained token is ever cut; completions never are. The causal and
    chat layouts (reference and vectorised paths) and the seq2seq encoder side all call this.

    Args:
        ids: the sequence's token ids.
        labels: labels aligned with ``ids``, or None (the seq2seq encoder side has none).
        k: index of the first trained token (``len(ids)`` when the whole sequence is context).
        max_length: the recipe's ``max_length``.
        overflow: ``drop``, ``error`` or ``truncate_prompt``.
        what: words naming the measured part in a reject (``"prompt is "`` for seq2seq).
        index: which example of its batch (named by :class:`TooLong`), where the caller knows.

    Returns:
        The (possibly shortened) example, with ``n_prompt`` its untrained tokens before the
        first trained one, or one with ``reject`` set.

    Raises:
        TooLong: the example is over ``max_length`` and ``overflow`` is ``error``.
    """
    n = len(ids)
    if n <= max_length:
        return Encoded(ids, labels, n_prompt=k)
    if overflow in ("drop", "error"):
        return _too_long(f"too long: {what}{n} tokens > max_length {max_length}", overflow, index)
    n_completion = n - k
    if n_completion >= max_length:
        return Encoded(reject=Rejection(Code.TOO_LONG, f"completion alone is {n_completion} tokens, no room in "
                                                       f"max_length {max_length} (completions are never cut)"))
    keep = max_length - n_completion
    head = (keep + 1) // 2
    tail = keep - head
    # keep the head (instruction, system prompt) and the tail (text right before the answer)
    return Encoded(ids[:head] + ids[k - tail:], None if labels is None else labels[:head] + labels[k - tail:],
                   truncated=True, n_prompt=keep)


def _too_long(message: str, overflow: str, index: int | None = None) -> Encoded:
    """An over-long example under ``overflow: drop`` (a reject) or ``error`` (raises :class:`TooLong`)."""
    if overflow == "error":
        raise TooLong(message, index)
    return Encoded(reject=Rejection(Code.TOO_LONG, message))
