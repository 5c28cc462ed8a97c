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
"""

from __future__ import annotations

import contextvars
import hashlib
import random
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.constants import LOREM_IPSUM_WORDS
from jinja2.filters import make_attrgetter
from jinja2.sandbox import SandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Namespace
from markupsafe import Markup

from .limits import DEFAULT_LIMITS, LimitExceeded, RenderLimits, current_budget, current_limits

# no default generator: one shared by every draw outside a seeded render would make the draw
# depend on what drew before (compile order, thread, worker); such a draw is an error instead
_RNG: contextvars.ContextVar[random.Random | None] = contextvars.ContextVar("ftdata_template_rng",
                                                                           default=None)

_LOREM = LOREM_IPSUM_WORDS.split()

#: Names a template may use that do not come from the row.
HELPER_NAMES = frozenset({"choice", "most_frequent", "zip", "answer_choices", "range", "lipsum",
                          "dict", "cycler", "joiner", "namespace"})


def seeded_rng(seed: int, row_key: str, template_id: str) -> random.Random:
    """A generator seeded from (seed, row key, template id), stable across processes."""
    digest = hashlib.blake2b(f"{seed}\x00{row_key}\x00{template_id}".encode(), digest_size=8)
    return random.Random(int.from_bytes(digest.digest(), "little"))


def _rng() -> random.Random:
    """The generator of the render in progress."""
    rng = _RNG.get()
    if rng is None:
        raise RuntimeError("choice, shuffle, random or lipsum drew outside a render, where no "
                           "generator is seeded; render through Template.render, which seeds one "
                           "from (recipe seed, row key, template id)")
    return rng


def set_rng(rng: random.Random) -> contextvars.Token:
    return _RNG.set(rng)


def reset_rng(token: contextvars.Token) -> None:
    _RNG.reset(token)


def choice(seq: Sequence):
    """promptsource's ``choice``: one element, drawn from the per-render seeded generator."""
    seq = list(seq)
    if not seq:
        raise ValueError("choice() of an empty sequence")
    return _rng().choice(seq)


def most_frequent(items: Sequence) -> list:
    """promptsource's ``most_frequent``: every element tied for the highest count, in first-seen order.

    It returns a list, not one element, because promptsource templates pipe it into
    ``choice`` (``answers.text | most_frequent | choice``) to break ties at random.
    """
    counts = Counter(items)
    if not counts:
        raise ValueError("most_frequent() of an empty sequence")
    ranked = counts.most_common()
    top = ranked[0][1]
    return [item for item, n in ranked if n == top]


def shuffle(seq: Sequence) -> list:
    """Filter: a shuffled copy, drawn from the per-render seeded generator."""
    out = list(seq)
    _rng().shuffle(out)
    return out


# -- hardening --------------------------------------------------------------------------------
# The stock sandbox blocks attribute walks and format-string tricks; the subclass below also
# bounds what a template can allocate (see ftdata.limits for the time bound). Every check runs
# *before* the allocation it guards, because a single C-level operation such as
# ``'A' * 10**9`` cannot be interrupted once started.

_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_CONTAINERS = (str, list, dict, tuple, set, bytes)
_PCT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_FMT_NUMBERS = re.compile(r"\d+")


def _too_big(what: str, size: int, limit: int) -> LimitExceeded:
    return LimitExceeded(f"{what} would hold {size:,} characters or items, over the limit of {limit:,} "
                         "(render_limits.max_output_chars)")


def _check_len(value: Any, what: str = "a value") -> Any:
    if isinstance(value, _CONTAINERS):
        limit = current_limits().max_output_chars
        if len(value) > limit:
            raise _too_big(what, len(value), limit)
    return value


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and not isinstance(width, bool):
        limit = current_limits().max_output_chars
        if width > limit:
            raise _too_big(what, width, limit)


#: types whose ``str()`` holds the text of everything in them: ``[x] * 1000`` is 1,000 items,
#: its text is 1,000 copies of ``x``, built in one C call wherever it is turned into text
_TEXT_CONTAINERS = (list, tuple, dict, set, frozenset, Namespace)


def _text_size(value: Any, limit: int) -> int:
    """``len(str(value))`` for a container, computed without building the text.

    Counting stops soon after ``limit`` is passed; each distinct string or scalar is measured
    once (``repr`` of one item is small: values are bounded), however often it is referenced.
    """
    measured: dict[int, int] = {}
    open_: set[int] = set()  # containers being measured: Python prints a cycle as [...] or {...}

    def size(v: Any) -> int:  # len(repr(v))
        if not isinstance(v, _TEXT_CONTAINERS):
            n = measured.get(id(v))
            if n is None:
                n = measured[id(v)] = len(repr(v))
            return n
        if isinstance(v, Namespace):
            return len("<Namespace >") + size(v._Namespace__attrs)  # noqa: SLF001 - what its repr prints
        if id(v) in open_:
            return 5
        n = len(v)
        if isinstance(v, (set, frozenset)) and not n:
            total = len(repr(v))
        else:
            total = 2 + 2 * max(0, n - 1) + (len("frozenset()") if isinstance(v, frozenset) else 0) \
                + (1 if isinstance(v, tuple) and n == 1 else 0)
        open_.add(id(v))
        try:
            for item in (v.items() if isinstance(v, dict) else v):
                total += size(item[0]) + 2 + size(item[1]) if isinstance(v, dict) else size(item)
                if total > limit:
                    break
        finally:
            open_.discard(id(v))
        return total

    return size(value)


def _check_text(value: Any, what: str) -> None:
    """Refuse turning a container into text that would pass the output limit, before it is built."""
    if isinstance(value, _TEXT_CONTAINERS):
        limit = current_limits().max_output_chars
        size = _text_size(value, limit)
        if size > limit:
            raise _too_big(f"the text of {what}", size, limit)


def _check_output(value: Any) -> Any:
    """The environment's ``finalize``: every ``{{ ... }}`` value passes here before ``str()``."""
    if isinstance(value, _TEXT_CONTAINERS):  # the common case (a string) pays one isinstance
        _check_text(value, f"a {type(value).__name__} in the output")
    return value


def _number(digits: str) -> int:
    # int() of thousands of digits is itself slow (and refused past 4300): cap the length first
    return int(digits) if len(digits) < 19 else 10**19


def _check_percent_format(fmt: str, args: Any) -> None:
    """Bound ``fmt % args`` before it runs: widths, precisions and ``*`` arguments, then the
    size of the whole result (see :func:`_check_percent_size`)."""
    star = False
    for m in _PCT_SPEC.finditer(fmt):
        for n in m.groups():
            if n == "*":
                star = True
            elif n:
                _check_width(_number(n), "a '%' format width")
    if star:
        for a in args if isinstance(args, tuple) else (args,):
            _check_width(a, "a '%*' format width")
    _check_percent_size(fmt, args)


def _check_percent_size(fmt: str, args: Any) -> None:
    """Refuse ``fmt % args`` whose result would pass the output limit, before it is built.

    ``('%s' * 1000) % ((x,) * 1000)`` is one C call that builds 1,000 copies of ``x``; here each
    conversion is formatted on its own instead (each is small: widths were checked, values are
    bounded and a container's text is measured first) and the sizes are added up, stopping at
    the limit. Where the arguments do not fit the format this gives up: the real operation then
    raises Python's own error.
    """
    limit = current_limits().max_output_chars
    positional = iter(args if isinstance(args, tuple) else (args,))
    specs = [m.group(0) for m in _PCT_SPEC.finditer(fmt)]
    size = len(fmt) - sum(map(len, specs))  # the literal text
    for spec in specs:
        try:
            if spec[-1] == "%":
                piece = "%"
            elif spec[1] == "(":
                _check_text(args[spec[2:spec.index(")")]], "a '%' format argument")
                piece = spec % args
            else:
                values = tuple(next(positional) for _ in range(spec.count("*") + 1))
                for v in values:
                    _check_text(v, "a '%' format argument")
                piece = spec % values
        except (TypeError, ValueError, KeyError, IndexError, OverflowError, RuntimeError):
            return  # StopIteration inside the generator surfaces as RuntimeError
        size += len(piece)
        if size > limit:
            raise _too_big("a '%' format", size, limit)


def _check_format_spec(fmt: str) -> None:
    """Bound ``fmt.format(...)``: no nested fields in specs, no huge widths or precisions."""
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error itself
    for _literal, field_name, spec, _conv in parsed:
        if field_name is None or not spec:
            continue
        if "{" in spec:
            raise LimitExceeded("nested replacement fields in a format spec are not allowed in templates")
        for n in _FMT_NUMBERS.findall(spec):
            _check_width(_number(n), "a format width")


class _Sizing:
    """A sandboxed formatter that builds nothing: it adds up the length each replacement field
    would have and stops as soon as the total passes the output limit.

    ``('{0}' * 40000).format('x' * 40000)`` would otherwise build 1.6 GB in one join that no
    deadline can interrupt. Fields are resolved by the sandbox's own ``get_field`` (so the same
    attribute rules apply) and each is formatted on its own, which is small: widths were checked,
    values are bounded and a container's text is measured before it is built.
    """

    def __init__(self, env: SandboxedEnvironment, limit: int, **kwargs: Any):
        super().__init__(env, **kwargs)
        self.limit, self.size = limit, 0

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        obj, first = super().get_field(field_name, args, kwargs)
        _check_text(obj, "a str.format() field")  # before !r/!s or the spec turn it into text
        return obj, first

    def format_field(self, value: Any, format_spec: str) -> str:
        self.size += len(super().format_field(value, format_spec))
        if self.size > self.limit:
            raise _too_big("the result of str.format()", self.size, self.limit)
        return ""

    def check(self, fmt: str, args: tuple, kwargs: Any) -> None:
        literal = self.vformat(fmt, args, kwargs)  # only the literal text is joined
        if self.size + len(literal) > self.limit:
            raise _too_big("the result of str.format()", self.size + len(literal), self.limit)


class _SizingFormatter(_Sizing, SandboxedFormatter):
    pass


class _SizingEscapeFormatter(_Sizing, SandboxedEscapeFormatter):
    """For ``Markup`` format strings, whose fields are escaped (and so grow)."""


def _check_int_op(op: str, left: Any, right: Any) -> None:
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    bits = current_limits().max_int_bits
    if op == "**" and right > 0:
        if right * max(1, abs(left).bit_length() - 1) > bits or right > bits:
            if abs(left) > 1:
                raise LimitExceeded(f"{left} ** {right} is larger than {bits} bits (render_limits.max_int_bits)")
    elif op == "*" and abs(left).bit_length() + abs(right).bit_length() > bits:
        raise LimitExceeded(f"a product larger than {bits} bits (render_limits.max_int_bits)")


def _check_seq_op(op: str, left: Any, right: Any) -> None:
    if op == "*":
        seq, n = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(seq, _CONTAINERS) and isinstance(n, int):
            limit = current_limits().max_output_chars
            if len(seq) * n > limit:
                raise _too_big(f"repeating a {type(seq).__name__} {n:,} times", len(seq) * n, limit)
    elif op == "+" and isinstance(left, _CONTAINERS) and isinstance(right, _CONTAINERS):
        limit = current_limits().max_output_chars
        if len(left) + len(right) > limit:
            raise _too_big(f"joining two {type(left).__name__}s", len(left) + len(right), limit)
    elif op == "%" and isinstance(left, str):
        _check_percent_format(left, right)


def _check_str_method(name: str, s: str, args: tuple, kwargs: dict) -> None:
    limit = current_limits().max_output_chars
    if name in _WIDTH_METHODS and args:
        _check_width(args[0], f"str.{name}()")
    elif name == "expandtabs":
        size = (args[0] if args and isinstance(args[0], int) else 8) * max(1, s.count("\t")) + len(s)
        if size > limit:
            raise _too_big("str.expandtabs()", size, limit)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _check_replace(s, args[0], args[1])
    elif name == "join" and args and hasattr(args[0], "__len__"):
        _check_joined(s, args[0], "str.join()")


def _check_joined(sep: str, items: Any, what: str) -> None:
    """Refuse ``sep.join(items)`` (items as text) whose result would pass the output limit."""
    limit = current_limits().max_output_chars
    size = len(sep) * max(0, len(items) - 1)
    measured: dict[int, int] = {}
    for item in items if size <= limit else ():
        n = measured.get(id(item))
        if n is None:
            n = measured[id(item)] = len(item) if isinstance(item, str) else (
                _text_size(item, limit) if isinstance(item, _TEXT_CONTAINERS) else len(str(item)))
        size += n
        if size > limit:
            break
    if size > limit:
        raise _too_big(what, size, limit)


def _check_replace(s: str, old: str, new: str) -> None:
    hits = len(s) + 1 if not old else s.count(old)
    size = len(s) + hits * (len(new) - len(old))
    limit = current_limits().max_output_chars
    if size > limit:
        raise _too_big("replace()", size, limit)


def _sum_sequences(items: Any, start: list | tuple) -> list | tuple:
    """``sum(items, start)`` for a list or tuple ``start``, in linear time.

    The builtin copies the partial result at every step: ``([[1]] * 10**6)|sum(start=[])`` is
    one C call of about 5 * 10**11 copies that no deadline can interrupt. This extends one list
    instead (a Python loop, so the deadline applies) and stops once it passes the output limit;
    from the first item of another type on, the builtin goes on (same result, same error).
    """
    kind, limit = type(start), current_limits().max_output_chars
    out = list(start)
    rest = iter(items)
    for item in rest:
        if not isinstance(item, kind):
            return sum(rest, kind(out) + item)
        out.extend(item)
        if len(out) > limit:
            raise _too_big("the sum filter", len(out), limit)
    return out if kind is list else tuple(out)


#: builtin filters that turn their value into text (``soft_str``, ``repr``, JSON) first
_TEXT_FILTERS = frozenset({"capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower",
                           "pprint", "replace", "safe", "string", "striptags", "title", "tojson", "trim",
                           "truncate", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr"})


def _limited_filter(name: str, func):
    """Wrap a builtin filter that can build large text (from a width, or from its value as
    text) with a size check that runs first."""

    # filters such as join take Jinja's eval context first; keep that calling convention
    passes = getattr(func, "jinja_pass_arg", None) is not None

    def wrapper(*all_args, **kwargs):
        lead, (value, *args) = (all_args[:1], all_args[1:]) if passes else ((), all_args)
        if name in _TEXT_FILTERS and isinstance(value, _TEXT_CONTAINERS):
            _check_text(value, f"the value of the {name} filter")
        if name in ("center", "indent"):
            width = kwargs.get("width", args[0] if args else 0)
            lines = str(value).count("\n") + 1 if name == "indent" else 1
            if isinstance(width, int) and not isinstance(width, bool):
                _check_width(width * lines, f"the {name} filter")
        elif name == "format":
            _check_percent_format(str(value), kwargs or tuple(args))
        elif name == "replace" and len(args) >= 2:
            _check_replace(str(value), str(args[0]), str(args[1]))
        elif name in ("batch", "slice") and args:
            _check_width(args[0], f"the {name} filter")
        elif name == "sum":
            attribute = kwargs.get("attribute", args[0] if args else None)
            start = kwargs.get("start", args[1] if len(args) > 1 else 0)
            if type(start) in (list, tuple):
                items = value if attribute is None else map(make_attrgetter(lead[0], attribute), value)
                return _check_len(_sum_sequences(items, start), "the result of the sum filter")
        elif name == "join" and hasattr(value, "__len__"):
            sep = args[0] if args else kwargs.get("d", "")
            if len(args) > 1 or "attribute" in kwargs:  # items are attributes of the values
                _check_width(len(str(sep)) * len(value), "the join filter")
            else:
                _check_joined(str(sep), value, "the join filter")
        return _check_len(func(*lead, value, *args, **kwargs), f"the result of the {name} filter")

    wrapper.__name__ = f"limited_{name}"
    if passes:
        wrapper.jinja_pass_arg = func.jinja_pass_arg  # type: ignore[attr-defined]
    return wrapper


def lipsum(n: int = 5, html: bool = False, min: int = 20, max: int = 100) -> str:  # noqa: A002 - Jinja's names
    """Jinja's ``lipsum`` with bounded size, drawn from the per-render seeded generator."""
    _check_width(n * max * 12, "lipsum()")
    if min < 1 or max < min:
        raise ValueError("lipsum() needs 1 <= min <= max")
    rng = _rng()
    paras = []
    for _ in range(n):
        words = [rng.choice(_LOREM) for _ in range(rng.randrange(min, max + 1))]
        paras.append((" ".join(words)).capitalize() + ".")
    return "\n".join(f"<p>{p}</p>" for p in paras) if html else "\n\n".join(paras)


# The filters take the render context (unused) because Jinja never folds such a filter into a
# constant at compile time: ``['a', 'b'] | random`` would otherwise draw once, when compiling,
# for every row (Jinja's own ``random`` filter takes the context for the same reason).
@pass_context
def _random_filter(_context, seq: Sequence):
    """The ``random`` and ``choice`` filters, drawn from the per-render seeded generator."""
    return choice(seq)


@pass_context
def _shuffle_filter(_context, seq: Sequence) -> list:
    """The ``shuffle`` filter, drawn from the per-render seeded generator."""
    return shuffle(seq)


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
        _check_int_op(operator, left, right)
        _check_seq_op(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def ftdata_concat(self, parts: tuple) -> str:
        for p in parts:
            _check_text(p, "a '~' operand")
        strs = [p if isinstance(p, str) else str(p) for p in parts]
        total = sum(map(len, strs))
        limit = current_limits().max_output_chars
        if total > limit:
            raise _too_big("a '~' concatenation", total, limit)
        return "".join(strs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        return _check_len(super().getattr(obj, attribute), f"attribute '{attribute}'")

    def wrap_str_format(self, value: Any):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__
        is_map = value.__name__ == "format_map"

        def checked(*args, **kwargs):
            _check_format_spec(fmt)
            if not is_map or (len(args) == 1 and not kwargs):  # else format_map raises TypeError itself
                limit = current_limits().max_output_chars
                sizer = (_SizingEscapeFormatter(self, limit, escape=fmt.escape) if isinstance(fmt, Markup)
                         else _SizingFormatter(self, limit))
                sizer.check(fmt, *(((), args[0]) if is_map else (args, kwargs)))
            return _check_len(wrapped(*args, **kwargs), "the result of str.format()")

        return checked

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - mirrors SandboxedEnvironment.call
        budget = current_budget()
        if budget is not None:
            budget.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _check_str_method(getattr(__obj, "__name__", ""), owner, args, kwargs)
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if isinstance(owner, (list, dict, set)):
            _check_len(owner, f"a {type(owner).__name__} built with .{getattr(__obj, '__name__', '?')}()")
        return _check_len(result, "a call's result")


def make_environment() -> HardenedEnvironment:
    """Build the sandboxed environment shared by builds, previews, lint and the studio.

    No loader is set, so ``include``/``import``/``extends`` have nothing to read even if the
    static check in :func:`static_problems` were bypassed. ``optimized=False`` keeps Jinja's
    optimizer from evaluating expressions at compile time.
    """
    env = HardenedEnvironment(undefined=StrictUndefined, autoescape=False, optimized=False, loader=None,
                              finalize=_check_output)
    env.globals.update({"choice": choice, "most_frequent": most_frequent, "zip": zip, "lipsum": lipsum})
    for name in sorted(_TEXT_FILTERS | {"batch", "slice", "join", "sum"}):
        env.filters[name] = _limited_filter(name, env.filters[name])
    env.filters.update({"choice": _random_filter, "shuffle": _shuffle_filter,
                        "most_frequent": most_frequent, "random": _random_filter})
    return env


# -- static check -----------------------------------------------------------------------------

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
                _check_format_spec(node.value)
            except LimitExceeded as exc:
                out.append((node.lineno, str(exc)))
        if isinstance(node, nodes.Mod) and isinstance(node.left, nodes.Const) and isinstance(node.left.value, str):
            try:
                _check_percent_format(node.left.value, ())
            except LimitExceeded as exc:
                out.append((node.lineno, str(exc)))
    return sorted(set(out))
