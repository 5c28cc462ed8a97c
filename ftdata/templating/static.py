"""The static check of a parsed template, before anything of it runs.

:func:`static_problems` refuses loading other templates or files, private and
interpreter-internal attribute names, and constant arguments over the render limits.
"""

from __future__ import annotations

from jinja2 import nodes

from .bounds import check_format_spec, check_percent_format
from .limits import DEFAULT_LIMITS, LimitExceeded, RenderLimits

_LOADING_NODES = {nodes.Extends: "extends", nodes.Include: "include", nodes.Import: "import",
                  nodes.FromImport: "from ... import"}
#: attribute names of Python internals that no template needs (the sandbox refuses them too)
_INTERNAL_ATTRS = frozenset({"mro", "func_globals", "func_code", "gi_frame", "gi_code", "cr_frame", "cr_code",
                             "ag_frame", "ag_code", "f_globals", "f_locals", "f_builtins", "f_back", "tb_frame",
                             "co_code"})


def _private(name: str) -> bool:
    return name.startswith("__") or (name.startswith("_") and "__" in name) or name in _INTERNAL_ATTRS


def static_problems(ast: nodes.Template, limits: RenderLimits | None = None) -> list[tuple[int, str]]:
    """Problems found in a parsed template before anything runs: ``(line, message)`` pairs.

    Refused: loading other templates or files; private and interpreter-internal attribute
    names; constant arguments that exceed the limits (huge widths, exponents, ``lipsum`` sizes).
    """
    lim = limits or DEFAULT_LIMITS
    out: list[tuple[int, str]] = []
    for node in ast.find_all(nodes.Node):
        kind = _LOADING_NODES.get(type(node))
        if kind:
            out.append((node.lineno, f"'{{% {kind} %}}' is not allowed: templates cannot load other templates or files"))
        elif isinstance(node, nodes.Getattr) and _private(node.attr):
            out.append((node.lineno, f"attribute '{node.attr}' is not allowed (Python internals are off limits)"))
        elif isinstance(node, (nodes.Getitem, nodes.Filter)):
            for arg in ([node.arg] if isinstance(node, nodes.Getitem) else
                        list(node.args) + [k.value for k in node.kwargs]):
                if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and _private(arg.value) \
                        and (isinstance(node, nodes.Getitem) or node.name in ("attr", "map", "selectattr",
                                                                                "rejectattr", "sort", "groupby",
                                                                                "sum", "unique", "min", "max")):
                    out.append((node.lineno, f"attribute '{arg.value}' is not allowed (Python internals are off limits)"))
        if isinstance(node, nodes.Pow) and isinstance(node.right, nodes.Const) and isinstance(node.right.value, int) \
                and node.right.value > lim.max_int_bits:
            out.append((node.lineno, f"exponent {node.right.value} is too large (render_limits.max_int_bits)"))
        if isinstance(node, (nodes.Filter, nodes.Call)):
            for arg in list(node.args) + [k.value for k in node.kwargs]:
                if isinstance(arg, nodes.Const) and isinstance(arg.value, int) and arg.value > lim.max_output_chars:
                    out.append((node.lineno, f"constant argument {arg.value} is over the output limit of "
                                             f"{lim.max_output_chars:,} (render_limits.max_output_chars)"))
        if isinstance(node, nodes.Const) and isinstance(node.value, str) and "{" in node.value:
            try:
                check_format_spec(node.value)
            except LimitExceeded as exc:
                out.append((node.lineno, str(exc)))
        if isinstance(node, nodes.Mod) and isinstance(node.left, nodes.Const) and isinstance(node.left.value, str):
            try:
                check_percent_format(node.left.value, ())
            except LimitExceeded as exc:
                out.append((node.lineno, str(exc)))
    return sorted(set(out))
