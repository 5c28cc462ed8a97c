"""Which templates a recipe uses, and which of them each row meets.

Two steps, both plain functions of their arguments:

1. :func:`choose` narrows a file's templates by name, by id and by metadata (only templates
   that perform the dataset's ``original_task``, only templates naming one of some metrics).
   A selector that matches nothing is an error with a did-you-mean, never an empty build.
2. :class:`RowPlan` decides, for each row, which of the chosen templates render it. Each
   template reference of a source is a *group* with a mode:

   * ``all``: every template renders every row (promptsource's usual fan-out);
   * ``round_robin``: one template per row, in turn (row ``i`` meets template ``i mod n``,
     ``i`` counting the source's rows that reach rendering, in file order);
   * ``random``: one template per row, drawn from a generator seeded by
     (recipe seed, row key, group), so a row meets the same template in every build whatever
     the row order or batch size.

   A row meets ``fanout`` templates in total (the sum over groups of ``n`` for ``all`` and 1
   otherwise). The build's accounting uses it: ``rows_rendered x fanout`` example candidates,
   each written or rejected. A template a row is *not* assigned is not a reject.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError, did_you_mean
from .templates import Template

Mode = Literal["all", "round_robin", "random"]
MODES: tuple[str, ...] = ("all", "round_robin", "random")


def choose(templates: list[Template], *, names: list[str] | None = None, ids: list[str] | None = None,
           original_task: bool | None = None, metrics: list[str] | None = None,
           file: str = "<templates>") -> list[Template]:
    """Narrow ``templates`` by the given selectors (all of them must hold).

    Args:
        templates: the templates of one file, in file order.
        names: template names or ids, kept in the order given; ``None`` keeps all.
        ids: template ids only; ``None`` keeps all.
        original_task: ``True`` keeps only templates whose metadata says they perform the
            dataset's original task; ``False`` only the others; ``None`` does not filter.
        metrics: keep templates naming at least one of these metrics (case-insensitive).
        file: the file name used in error messages.

    Returns:
        The chosen templates (order: ``names``/``ids`` order when given, else file order).

    Raises:
        ConfigError: a name or id matches no template, or the selectors leave nothing.
    """
    problems: list[str] = []
    out = list(templates)
    for label, wanted, index in (
        ("named", names, {t.name: t for t in templates} | {t.id: t for t in templates}),
        ("with id", ids, {t.id: t for t in templates}),
    ):
        if wanted is None:
            continue
        picked = []
        for w in wanted:
            if w in index:
                if index[w] in out and index[w] not in picked:
                    picked.append(index[w])
            else:
                pool = [t.name for t in templates] if label == "named" else [t.id for t in templates]
                problems.append(f"{file}: no template {label} '{w}'{did_you_mean(w, pool)}")
        out = picked
    if original_task is not None:
        out = [t for t in out if bool(t.original_task) == original_task]
    if metrics is not None:
        wanted_m = {m.lower() for m in metrics}
        out = [t for t in out if wanted_m & {m.lower() for m in t.metrics}]
    if not problems and not out:
        known = sorted({m for t in templates for m in t.metrics})
        problems.append(
            f"{file}: no template matches the selection (names={names}, ids={ids}, "
            f"original_task={original_task}, metrics={metrics}); metrics in this file: {', '.join(known) or 'none'}")
    if problems:
        raise ConfigError(problems, file)
    return out


def choose_ref(templates: list[Template], ref, file: str) -> list[Template]:
    """:func:`choose` with the selectors of a recipe's template reference (``TemplateRef``)."""
    return choose(templates, names=ref.names, ids=ref.ids, original_task=ref.original_task,
                  metrics=ref.metrics, file=file)


def truncate_field(template: Template, ref=None) -> str | None:
    """The field to shorten for ``template``: the reference's ``truncate``, else the template's own."""
    if ref is not None and getattr(ref, "truncate", None):
        return ref.truncate
    value = template.extra.get("truncate")
    return str(value) if value else None


@dataclass
class Group:
    """The templates of one template reference and how rows meet them."""

    templates: list[Template]
    mode: Mode = "all"

    @property
    def fanout(self) -> int:
        if not self.templates:
            return 0
        return len(self.templates) if self.mode == "all" else 1


class RowPlan:
    """Assigns templates to the rows of one source (see the module docstring).

    Args:
        groups: one group per template reference of the source.
        seed: the recipe seed (``random`` mode draws from it).
    """

    def __init__(self, groups: list[Group], seed: int = 0):
        for g in groups:
            if g.mode not in MODES:
                raise ValueError(f"unknown template mode '{g.mode}'; expected one of {', '.join(MODES)}")
        self.groups = groups
        self.seed = seed

    @property
    def templates(self) -> list[Template]:
        """Every template any row may meet, in group order."""
        return [t for g in self.groups for t in g.templates]

    @property
    def fanout(self) -> int:
        """How many templates each row meets."""
        return sum(g.fanout for g in self.groups)

    def for_row(self, index: int, row_key: str) -> list[Template]:
        """The templates row number ``index`` (0-based, among rendered rows) with key ``row_key`` meets."""
        out: list[Template] = []
        for gi, g in enumerate(self.groups):
            if not g.templates:
                continue
            if g.mode == "all":
                out.extend(g.templates)
            elif g.mode == "round_robin":
                out.append(g.templates[index % len(g.templates)])
            else:
                out.append(g.templates[_draw(self.seed, row_key, gi, len(g.templates))])
        return out


def _draw(seed: int, row_key: str, group: int, n: int) -> int:
    digest = hashlib.blake2b(f"{seed}\x00{row_key}\x00template-choice\x00{group}".encode(), digest_size=8)
    return random.Random(int.from_bytes(digest.digest(), "little")).randrange(n)
