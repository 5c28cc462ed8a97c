"""The regular expressions of one tokenizer's special-token strings, compiled once per list.

:class:`SpecialsRx` is the one place they are compiled: :class:`ftdata.tokenize.specials.Specials`
escapes specials found in data with :attr:`SpecialsRx.first`, and the chat turn search
(:mod:`ftdata.templating.chat`) asks it where turns open and close.
"""

from __future__ import annotations

import re


class SpecialsRx:
    """One tokenizer's specials (longest first) as the escaping and the turn search ask about them,
    each question one C-level call however many specials there are (Llama 3: 256), not a Python
    loop over them. Kept per specials list (:attr:`Specials.strings
    <ftdata.tokenize.specials.Specials.strings>`, the same list for every row of a build)."""

    _KEPT: dict[int, SpecialsRx] = {}

    def __init__(self, specials: list[str]):
        self.specials = specials
        self.all = tuple(specials)  # for str.endswith: does a text end with any of them
        alt = "|".join(map(re.escape, specials)) if specials else "(?!)"
        self.first = re.compile(alt)  # alternation tries them in order: the first that matches wins
        # all the whitespace, then a special: the lookahead takes every whitespace character and
        # the backreference consumes exactly those, so the match never gives one back to a special
        # that starts with whitespace (an atomic group, which Python 3.10's re lacks; \s is str.isspace)
        self.closing = re.compile(rf"(?=(\s*))\1({alt})")

    @classmethod
    def of(cls, specials: list[str]) -> SpecialsRx:
        kept = cls._KEPT.get(id(specials))
        if kept is None or kept.specials is not specials:
            if len(cls._KEPT) > 16:
                cls._KEPT.clear()
            kept = cls._KEPT[id(specials)] = cls(specials)
        return kept
