"""What a recipe asks of rendering beyond "every template on every row".

A :class:`RenderPlan` travels with a chunk (it is picklable) and is consulted by the render
step of phase A (:func:`ftdata.build.chunk.render_rows`) for every row and template:

1. which templates the row meets (:class:`ftdata.templating.selection.RowPlan`: all, round robin or
   random);
2. after rendering, token-aware truncation of the template's named field
   (:mod:`ftdata.templating.truncation`) when the example is longer than ``max_length``;
3. then ``shots`` few-shot exemplars from the source's train rows (:mod:`ftdata.templating.fewshot`),
   as many as still fit.

Anything that goes wrong in steps 2 and 3 leaves the plainly rendered example as it was,
so the recipe's ``overflow`` rule still decides about a too-long example downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .fewshot import (
    DEFAULT_SHOT_SEPARATOR,
    ExemplarPool,
    draw_exemplars,
    fit_exemplars,
    kshot_prompt,
)
from .selection import RowPlan
from .templates import DoesNotApply, Template, TemplateError
from .truncation import fit_field, tokenizer_functions


@dataclass
class RenderPlan:
    """Per-source rendering options (see the module docstring)."""

    rows: RowPlan
    truncate: dict[str, str] = field(default_factory=dict)  # template id -> field to shorten
    shots: int = 0
    shot_separator: str = DEFAULT_SHOT_SEPARATOR
    pool: ExemplarPool | None = None
    separator: str = " "
    layout: str = "causal"
    add_eos: bool = True
    max_length: int = 1024
    seed: int = 0
    _fns: Any = field(default=None, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self):  # tokenizer closures and caches stay in the process that made them
        state = dict(self.__dict__)
        state["_fns"], state["_cache"] = None, {}
        return state

    def templates_for(self, index: int, row_key: str) -> list[Template]:
        """The templates the row number ``index`` (0-based) with key ``row_key`` meets."""
        return self.rows.for_row(index, row_key)

    @property
    def active(self) -> bool:
        """Whether :meth:`finish` can change anything."""
        return bool(self.truncate) or (self.shots > 0 and self.pool is not None and len(self.pool) > 0)

    def _tokens(self, backend):
        if self._fns is None:
            self._fns = tokenizer_functions(backend, separator=self.separator, layout=self.layout,
                                            add_eos=self.add_eos)
        return self._fns

    def _fits_surely(self, prompt: str, completion: str) -> bool:
        # a byte-level tokenizer never makes more tokens than bytes (+ a few specials), so short
        # examples skip the extra tokenization
        n = len(prompt.encode()) + len(self.separator.encode()) + 4
        n += 0 if self.layout == "seq2seq" else len(completion.encode())
        return n <= self.max_length

    def finish(self, t: Template, data: dict, row_key: str, rendered: tuple[str, str, list[str] | None],
               backend) -> tuple[str, str, list[str] | None, tuple[int, int] | None]:
        """Apply field truncation and few-shot exemplars to one rendered example.

        Returns:
            ``(prompt, completion, choices, cut)``: ``cut`` is ``(tokens, characters)`` removed from
            the named field when it was shortened, else None (counted in the manifest).
        """
        if not self.active:
            return (*rendered, None)
        count, ends = self._tokens(backend)
        prompt, completion, choices = rendered
        cut = None
        fld = self.truncate.get(t.id)
        if fld and not self._fits_surely(prompt, completion):
            def render(row):
                return t.render(row, seed=self.seed, row_key=row_key)

            try:
                fit = fit_field(data, fld, render=render, count_tokens=count, token_ends=ends,
                                max_length=self.max_length, rendered=rendered)
            except (DoesNotApply, TemplateError):
                fit = None
            if fit is not None and fit.error is None:
                prompt, completion, choices = fit.prompt, fit.completion, fit.choices
                cut = (fit.cut_tokens, fit.cut_chars) if fit.cut_tokens else None
        if self.shots > 0 and self.pool is not None and len(self.pool):
            exemplars = draw_exemplars(self.pool, self.shots, seed=self.seed, row_key=row_key, template_id=t.id,
                                       render=lambda key, row: self._exemplar(t, key, row))
            kept, _ = fit_exemplars(prompt, completion, exemplars, count_tokens=count, max_length=self.max_length,
                                    separator=self.separator, shot_separator=self.shot_separator)
            prompt = kshot_prompt(prompt, kept, separator=self.separator, shot_separator=self.shot_separator)
        return prompt, completion, choices, cut

    def _exemplar(self, t: Template, key: str, row: dict) -> tuple[str, str] | None:
        ck = (t.id, key)
        if ck not in self._cache:
            try:
                p, c, _ = t.render(row, seed=self.seed, row_key=key)
                self._cache[ck] = (p, c)
            except (DoesNotApply, TemplateError):
                self._cache[ck] = None
        return self._cache[ck]
