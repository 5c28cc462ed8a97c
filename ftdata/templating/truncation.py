"""Token-aware truncation of one named field, so a whole example fits ``max_length``.

promptsource cuts *every* variable at 2,048 characters whatever the model; ftdata instead
lets a template (``truncate: dialogue``) or a recipe's template reference name the one long
field to shorten, and shortens it by tokens, only as much as needed:

1. render the row and count the example's tokens;
2. if it is too long by ``excess`` tokens, tokenize the field on its own and cut it at the
   character offset where its ``len - excess`` th token ends (cutting at a token boundary of
   the field's own text, so no half characters or broken words appear);
3. render again with the shorter value and count again; the field's tokens in context may
   differ slightly from its tokens alone, so repeat a few rounds until it fits.

The completion is never shortened: if cutting the field changes the completion, the field
is used by the completion and the example is refused instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_ROUNDS = 6


@dataclass
class FieldFit:
    """The outcome of :func:`fit_field`."""

    prompt: str | None = None
    completion: str | None = None
    choices: list[str] | None = None
    cut_tokens: int = 0  # tokens removed from the field (0: it fitted as it was)
    cut_chars: int = 0  # characters removed from the end of the field
    error: str | None = None


def fit_field(row: dict[str, Any], field: str, *, render: Callable[[dict], tuple[str, str, list[str] | None]],
              count_tokens: Callable[[str, str], int], token_ends: Callable[[str], list[int]],
              max_length: int, rendered: tuple[str, str, list[str] | None] | None = None) -> FieldFit:
    """Shorten ``row[field]`` by tokens until the rendered example fits ``max_length``.

    Args:
        row: the row (not modified).
        field: the column to shorten; it must hold a string.
        render: ``render(row) -> (prompt, completion, choices)`` (may raise; not caught here).
        count_tokens: ``count_tokens(prompt, completion)`` -> tokens of the whole example.
        token_ends: ``token_ends(text)`` -> end character offset of each token of ``text``.
        max_length: the limit in tokens.
        rendered: the result of ``render(row)`` if the caller already has it.

    Returns:
        A :class:`FieldFit`: the rendered example that fits, or ``error`` saying why not.
    """
    prompt, completion, choices = rendered if rendered is not None else render(row)
    n = count_tokens(prompt, completion)
    if n <= max_length:
        return FieldFit(prompt, completion, choices)
    text = row.get(field)
    if not isinstance(text, str):
        return FieldFit(error=f"cannot shorten field '{field}': expected a string, found {type(text).__name__}")
    ends = token_ends(text)
    keep = len(ends)
    # probe with the field cut to its first token: a changed completion means the completion
    # uses the field, and it is refused before any real cutting
    try:
        probe = render(dict(row, **{field: text[: ends[0]] if ends else ""}))[1]
    except Exception as exc:  # noqa: BLE001 - a template failing on the shorter text cannot be shortened
        return FieldFit(error=f"cannot shorten field '{field}': rendering the shortened row failed: {exc}")
    if probe != completion:
        return FieldFit(error=f"field '{field}' is used by the completion; completions are never shortened")
    for _ in range(MAX_ROUNDS):
        keep -= max(1, n - max_length)
        if keep <= 0:
            return FieldFit(error=f"example is {n} tokens > max_length {max_length} even with field '{field}' "
                                  "cut to nothing")
        short = dict(row)
        short[field] = text[: ends[keep - 1]]
        p2, c2, ch2 = render(short)
        if c2 != completion:
            return FieldFit(error=f"field '{field}' is used by the completion; completions are never shortened")
        n = count_tokens(p2, c2)
        if n <= max_length:
            return FieldFit(p2, c2, ch2, cut_tokens=len(ends) - keep, cut_chars=len(text) - ends[keep - 1])
    return FieldFit(error=f"example still {n} tokens > max_length {max_length} after shortening field '{field}'")


def tokenizer_functions(backend, *, separator: str, layout: str, add_eos: bool):
    """``(count_tokens, token_ends)`` for a ``tokenizers.Tokenizer``, matching the build's layout.

    Causal: the joined text ``prompt + separator + completion`` plus EOS. Seq2seq: the
    prompt's tokens (the completion is a separate sequence and is never cut).
    """
    eos = 1 if add_eos else 0

    def count_tokens(prompt: str, completion: str) -> int:
        if layout == "seq2seq":
            return len(backend.encode(prompt, add_special_tokens=True).ids)
        return len(backend.encode(prompt + separator + completion, add_special_tokens=True).ids) + eos

    def token_ends(text: str) -> list[int]:
        enc = backend.encode(text, add_special_tokens=False)
        ends: list[int] = []
        for s, e in enc.offsets:
            if e > s and (not ends or e > ends[-1]):
                ends.append(e)
        return ends

    return count_tokens, token_ends
