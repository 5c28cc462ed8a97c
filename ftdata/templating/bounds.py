"""Size bounds on what a template can allocate, checked before each allocation.

The stock sandbox blocks attribute walks and format-string tricks; the checks here also bound
what a template can allocate (see :mod:`ftdata.templating.limits` for the time bound): string
and sequence operators, ``%`` and ``str.format``, string methods, builtin filters that build
large text (wrapped by :func:`limited_filter`), and every ``{{ ... }}`` value
(:func:`check_output`). Every check runs *before* the allocation it guards, because a single
C-level operation such as ``'A' * 10**9`` cannot be interrupted once started.
:class:`ftdata.templating.sandbox.HardenedEnvironment` calls them.
"""

from __future__ import annotations

import re
import string
from typing import Any

from jinja2.filters import make_attrgetter
from jinja2.sandbox import SandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Namespace

from .limits import LimitExceeded, current_limits

_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_CONTAINERS = (str, list, dict, tuple, set, bytes)
_PCT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_FMT_NUMBERS = re.compile(r"\d+")


def too_big(what: str, size: int, limit: int) -> LimitExceeded:
    return LimitExceeded(f"{what} would hold {size:,} characters or items, over the limit of {limit:,} "
                         "(render_limits.max_output_chars)")


def check_len(value: Any, what: str = "a value") -> Any:
    if isinstance(value, _CONTAINERS):
        limit = current_limits().max_output_chars
        if len(value) > limit:
            raise too_big(what, len(value), limit)
    return value


def check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and not isinstance(width, bool):
        limit = current_limits().max_output_chars
        if width > limit:
            raise too_big(what, width, limit)


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


def check_text(value: Any, what: str) -> None:
    """Refuse turning a container into text that would pass the output limit, before it is built."""
    if isinstance(value, _TEXT_CONTAINERS):
        limit = current_limits().max_output_chars
        size = _text_size(value, limit)
        if size > limit:
            raise too_big(f"the text of {what}", size, limit)


def check_output(value: Any) -> Any:
    """The environment's ``finalize``: every ``{{ ... }}`` value passes here before ``str()``."""
    if isinstance(value, _TEXT_CONTAINERS):  # the common case (a string) pays one isinstance
        check_text(value, f"a {type(value).__name__} in the output")
    return value


def _number(digits: str) -> int:
    # int() of thousands of digits is itself slow (and refused past 4300): cap the length first
    return int(digits) if len(digits) < 19 else 10**19


def check_percent_format(fmt: str, args: Any) -> None:
    """Bound ``fmt % args`` before it runs: widths, precisions and ``*`` arguments, then the
    size of the whole result (see :func:`_check_percent_size`)."""
    star = False
    for m in _PCT_SPEC.finditer(fmt):
        for n in m.groups():
            if n == "*":
                star = True
            elif n:
                check_width(_number(n), "a '%' format width")
    if star:
        for a in args if isinstance(args, tuple) else (args,):
            check_width(a, "a '%*' format width")
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
                check_text(args[spec[2:spec.index(")")]], "a '%' format argument")
                piece = spec % args
            else:
                values = tuple(next(positional) for _ in range(spec.count("*") + 1))
                for v in values:
                    check_text(v, "a '%' format argument")
                piece = spec % values
        except (TypeError, ValueError, KeyError, IndexError, OverflowError, RuntimeError):
            return  # StopIteration inside the generator surfaces as RuntimeError
        size += len(piece)
        if size > limit:
            raise too_big("a '%' format", size, limit)


def check_format_spec(fmt: str) -> None:
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
            check_width(_number(n), "a format width")


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
        check_text(obj, "a str.format() field")  # before !r/!s or the spec turn it into text
        return obj, first

    def format_field(self, value: Any, format_spec: str) -> str:
        self.size += len(super().format_field(value, format_spec))
        if self.size > self.limit:
            raise too_big("the result of str.format()", self.size, self.limit)
        return ""

    def check(self, fmt: str, args: tuple, kwargs: Any) -> None:
        literal = self.vformat(fmt, args, kwargs)  # only the literal text is joined
        if self.size + len(literal) > self.limit:
            raise too_big("the result of str.format()", self.size + len(literal), self.limit)


class SizingFormatter(_Sizing, SandboxedFormatter):
    pass


class SizingEscapeFormatter(_Sizing, SandboxedEscapeFormatter):
    """For ``Markup`` format strings, whose fields are escaped (and so grow)."""


def check_int_op(op: str, left: Any, right: Any) -> None:
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    bits = current_limits().max_int_bits
    if op == "**" and right > 0:
        if right * max(1, abs(left).bit_length() - 1) > bits or right > bits:
            if abs(left) > 1:
                raise LimitExceeded(f"{left} ** {right} is larger than {bits} bits (render_limits.max_int_bits)")
    elif op == "*" and abs(left).bit_length() + abs(right).bit_length() > bits:
        raise LimitExceeded(f"a product larger than {bits} bits (render_limits.max_int_bits)")


def check_seq_op(op: str, left: Any, right: Any) -> None:
    if op == "*":
        seq, n = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(seq, _CONTAINERS) and isinstance(n, int):
            limit = current_limits().max_output_chars
            if len(seq) * n > limit:
                raise too_big(f"repeating a {type(seq).__name__} {n:,} times", len(seq) * n, limit)
    elif op == "+" and isinstance(left, _CONTAINERS) and isinstance(right, _CONTAINERS):
        limit = current_limits().max_output_chars
        if len(left) + len(right) > limit:
            raise too_big(f"joining two {type(left).__name__}s", len(left) + len(right), limit)
    elif op == "%" and isinstance(left, str):
        check_percent_format(left, right)


def check_str_method(name: str, s: str, args: tuple, kwargs: dict) -> None:
    limit = current_limits().max_output_chars
    if name in _WIDTH_METHODS and args:
        check_width(args[0], f"str.{name}()")
    elif name == "expandtabs":
        size = (args[0] if args and isinstance(args[0], int) else 8) * max(1, s.count("\t")) + len(s)
        if size > limit:
            raise too_big("str.expandtabs()", size, limit)
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
        raise too_big(what, size, limit)


def _check_replace(s: str, old: str, new: str) -> None:
    hits = len(s) + 1 if not old else s.count(old)
    size = len(s) + hits * (len(new) - len(old))
    limit = current_limits().max_output_chars
    if size > limit:
        raise too_big("replace()", size, limit)


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
            raise too_big("the sum filter", len(out), limit)
    return out if kind is list else tuple(out)


#: builtin filters that turn their value into text (``soft_str``, ``repr``, JSON) first
TEXT_FILTERS = frozenset({"capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower",
                           "pprint", "replace", "safe", "string", "striptags", "title", "tojson", "trim",
                           "truncate", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr"})


def limited_filter(name: str, func):
    """Wrap a builtin filter that can build large text (from a width, or from its value as
    text) with a size check that runs first."""

    # filters such as join take Jinja's eval context first; keep that calling convention
    passes = getattr(func, "jinja_pass_arg", None) is not None

    def wrapper(*all_args, **kwargs):
        lead, (value, *args) = (all_args[:1], all_args[1:]) if passes else ((), all_args)
        if name in TEXT_FILTERS and isinstance(value, _TEXT_CONTAINERS):
            check_text(value, f"the value of the {name} filter")
        if name in ("center", "indent"):
            width = kwargs.get("width", args[0] if args else 0)
            lines = str(value).count("\n") + 1 if name == "indent" else 1
            if isinstance(width, int) and not isinstance(width, bool):
                check_width(width * lines, f"the {name} filter")
        elif name == "format":
            check_percent_format(str(value), kwargs or tuple(args))
        elif name == "replace" and len(args) >= 2:
            _check_replace(str(value), str(args[0]), str(args[1]))
        elif name in ("batch", "slice") and args:
            check_width(args[0], f"the {name} filter")
        elif name == "sum":
            attribute = kwargs.get("attribute", args[0] if args else None)
            start = kwargs.get("start", args[1] if len(args) > 1 else 0)
            if type(start) in (list, tuple):
                items = value if attribute is None else map(make_attrgetter(lead[0], attribute), value)
                return check_len(_sum_sequences(items, start), "the result of the sum filter")
        elif name == "join" and hasattr(value, "__len__"):
            sep = args[0] if args else kwargs.get("d", "")
            if len(args) > 1 or "attribute" in kwargs:  # items are attributes of the values
                check_width(len(str(sep)) * len(value), "the join filter")
            else:
                _check_joined(str(sep), value, "the join filter")
        return check_len(func(*lead, value, *args, **kwargs), f"the result of the {name} filter")

    wrapper.__name__ = f"limited_{name}"
    if passes:
        wrapper.jinja_pass_arg = func.jinja_pass_arg  # type: ignore[attr-defined]
    return wrapper
