"""What the studio page shows and edits: drafts, rendered views, tokens, problems.

Plain data, no engine calls: a :class:`Draft` (one template of the file as edited), a
:class:`RenderView` (one draft on one row, with its :class:`Token` pieces), a :class:`Problem`
(an error placed at its part and line, from :func:`problem_of`), the parsing of the editor's
form values, and :func:`row_preview` for the fields panel.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..authoring.yamlwrite import fields
from ..templating.templates import Template

_PART_LINE = re.compile(r"\b(jinja|prompt|completion|answer_choices) line (\d+|\?)")


@dataclass
class Problem:
    """An error to show next to the editor: which part, which line, what."""

    part: str | None
    line: int | None
    message: str


@dataclass
class Token:
    text: str
    ids: list[int]
    trained: bool


@dataclass
class RenderView:
    """What the page shows for one draft on one row."""

    index: int
    key: str
    line: int
    row: dict
    prompt: str | None = None
    completion: str | None = None
    choices: list[str] | None = None
    tokens: list[Token] = field(default_factory=list)        # causal: the sequence; seq2seq: input
    label_tokens: list[Token] = field(default_factory=list)  # seq2seq: the labels
    n_tokens: int = 0
    n_trained: int = 0
    errors: list[Problem] = field(default_factory=list)      # the template does not work
    notice: str | None = None                                # the row is not used (does not apply, too long)


@dataclass
class Draft:
    """One template of the file, as edited in this session."""

    key: str                 # stable within the session (ids and names may be edited)
    template: Template
    origin: int | None       # entry index in the file; None for a new template
    saved: dict | None       # stored fields at load or last save; None for a new template

    @property
    def dirty(self) -> bool:
        return self.saved is None or fields(self.template) != self.saved


def form_flag(value: Any) -> bool | None:
    """A yes/no field of the editor's form: True, False, or None (unset or not a yes/no)."""
    if isinstance(value, bool) or value is None:
        return value
    v = str(value).strip().lower()
    return True if v in ("true", "yes", "1") else False if v in ("false", "no", "0") else None


def form_names(value: Any) -> list[str]:
    """A list field of the editor's form (a list, or comma-separated text), stripped."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def problem_of(exc: Exception) -> Problem:
    """Part and line of a template error message (the engine puts them in the message)."""
    msg = str(exc)
    m = _PART_LINE.search(msg)
    if not m:
        return Problem(None, None, msg)
    line = int(m.group(2)) if m.group(2).isdigit() else None
    return Problem(m.group(1), line, msg[m.end():].lstrip(": ") or msg)


def row_preview(value: Any, limit: int = 4000) -> str:
    """A row value as text for the fields panel."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"
