"""Error types. Every user mistake ends in one of these, never a bare traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FtdataError(Exception):
    """Base class for errors shown to the user without a traceback."""


class ConfigError(FtdataError):
    """A recipe or template file has one or more problems.

    Args:
        problems: one line per problem, each naming where (a YAML path or file:line),
            what was expected and what was found.
        source: the file the problems are in.
    """

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"{len(self.problems)} problem(s)" + (f" in {source}" if source else "")
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class TemplateError(FtdataError):
    """A template failed to parse or render."""


class BuildError(FtdataError):
    """The build cannot go on (and leaves no output behind)."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
