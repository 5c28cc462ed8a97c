"""Showing tokens with their training state: colour on a terminal, markers when piped."""

from __future__ import annotations

from ..constants import IGNORE_INDEX

GREEN = "\x1b[30;42m"
DIM = "\x1b[2m"
RESET = "\x1b[0m"
OPEN, CLOSE = "«", "»"
LEGEND_PLAIN = f"(trained text is inside {OPEN} {CLOSE}; the rest is context and not trained)"
LEGEND_COLOR = f"({GREEN}trained{RESET}, {DIM}not trained{RESET})"


def segments(tok, ids: list[int], labels: list[int]) -> list[tuple[bool, str]]:
    """Group consecutive tokens by trained state and decode each group as text."""
    out: list[tuple[bool, str]] = []
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or (labels[i] != IGNORE_INDEX) != (labels[start] != IGNORE_INDEX):
            text = tok.decode(ids[start:i], skip_special_tokens=False, clean_up_tokenization_spaces=False)
            out.append((labels[start] != IGNORE_INDEX, text))
            start = i
    return out


def show_tokens(tok, ids: list[int], labels: list[int], color: bool) -> str:
    parts = []
    for trained, text in segments(tok, ids, labels):
        if color:
            parts.append(f"{GREEN if trained else DIM}{text}{RESET}")
        else:
            parts.append(f"{OPEN}{text}{CLOSE}" if trained else text)
    return "".join(parts)


def boundary_line(tok, ids: list[int], labels: list[int]) -> str:
    """The last untrained and first trained token, with ids, to make the boundary visible."""
    first = next((i for i, x in enumerate(labels) if x != IGNORE_INDEX), None)
    if first is None:
        return "no trained token"
    before = f"{tok.decode([ids[first - 1]])!r} (id {ids[first - 1]})" if first > 0 else "(start)"
    after = f"{tok.decode([ids[first]])!r} (id {ids[first]})"
    trained = sum(1 for x in labels if x != IGNORE_INDEX)
    return f"boundary: last context token {before} | first trained token {after}; {trained}/{len(ids)} tokens trained"
