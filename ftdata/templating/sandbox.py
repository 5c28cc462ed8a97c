"""The Jinja sandbox every template renders in.

Templates may come from strangers, so they render in jinja2's ``SandboxedEnvironment``
(attribute walks such as ``__class__`` and ``format`` string tricks are blocked) with
``StrictUndefined`` (a misspelt column is an error, never an empty string). The mutable
sandbox is used, not the immutable one, because real promptsource templates build lists
with ``.append``; each render gets its own copy of the row so nothing leaks between renders.

Randomness inside a template (the ``choice`` function; the ``random``, ``choice`` and
``shuffle`` filters; ``lipsum``) draws from a generator that the caller seeds per render from
(recipe seed, row key, template id), so builds repeat. Nothing draws outside a seeded render:
Jinja would evaluate a filter on constant arguments once, at compile time
(``['a', 'b'] | random``), so the random filters take the render context, which keeps them out
of that folding.

This module owns the environment (:class:`HardenedEnvironment`, :func:`make_environment`); the
template helpers and their generator are :mod:`~ftdata.templating.helpers`, the size checks
:mod:`~ftdata.templating.bounds`, the check before a template runs
:mod:`~ftdata.templating.static`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from .bounds import (
    TEXT_FILTERS,
    SizingEscapeFormatter,
    SizingFormatter,
    check_format_spec,
    check_int_op,
    check_len,
    check_output,
    check_seq_op,
    check_str_method,
    check_text,
    limited_filter,
    too_big,
)
from .helpers import choice, lipsum, most_frequent, random_filter, shuffle_filter
from .limits import current_budget, current_limits


class _CodeGenerator(CodeGenerator):
    """Routes ``a ~ b`` through :meth:`HardenedEnvironment.ftdata_concat` (size-checked)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's visitor name
        self.write("environment.ftdata_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class HardenedEnvironment(SandboxedEnvironment):
    """The sandbox plus size checks on every operation that can allocate without bound."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        check_int_op(operator, left, right)
        check_seq_op(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def ftdata_concat(self, parts: tuple) -> str:
        for p in parts:
            check_text(p, "a '~' operand")
        strs = [p if isinstance(p, str) else str(p) for p in parts]
        total = sum(map(len, strs))
        limit = current_limits().max_output_chars
        if total > limit:
            raise too_big("a '~' concatenation", total, limit)
        return "".join(strs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        return check_len(super().getattr(obj, attribute), f"attribute '{attribute}'")

    def wrap_str_format(self, value: Any):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__
        is_map = value.__name__ == "format_map"

        def checked(*args, **kwargs):
            check_format_spec(fmt)
            if not is_map or (len(args) == 1 and not kwargs):  # else format_map raises TypeError itself
                limit = current_limits().max_output_chars
                sizer = (SizingEscapeFormatter(self, limit, escape=fmt.escape) if isinstance(fmt, Markup)
                         else SizingFormatter(self, limit))
                sizer.check(fmt, *(((), args[0]) if is_map else (args, kwargs)))
            return check_len(wrapped(*args, **kwargs), "the result of str.format()")

        return checked

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - mirrors SandboxedEnvironment.call
        budget = current_budget()
        if budget is not None:
            budget.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            check_str_method(getattr(__obj, "__name__", ""), owner, args, kwargs)
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if isinstance(owner, (list, dict, set)):
            check_len(owner, f"a {type(owner).__name__} built with .{getattr(__obj, '__name__', '?')}()")
        return check_len(result, "a call's result")


def make_environment() -> HardenedEnvironment:
    """Build the sandboxed environment shared by builds, previews, lint and the studio.

    No loader is set, so ``include``/``import``/``extends`` have nothing to read even if the
    static check in :func:`ftdata.templating.static.static_problems` were bypassed. ``optimized=False`` keeps Jinja's
    optimizer from evaluating expressions at compile time.
    """
    env = HardenedEnvironment(undefined=StrictUndefined, autoescape=False, optimized=False, loader=None,
                              finalize=check_output)
    env.globals.update({"choice": choice, "most_frequent": most_frequent, "zip": zip, "lipsum": lipsum})
    for name in sorted(TEXT_FILTERS | {"batch", "slice", "join", "sum"}):
        env.filters[name] = limited_filter(name, env.filters[name])
    env.filters.update({"choice": random_filter, "shuffle": shuffle_filter,
                        "most_frequent": most_frequent, "random": random_filter})
    return env
