"""One part of a template -- a Jinja source -- from text to rendered string.

A part is parsed, checked statically (:mod:`~ftdata.templating.static`) and compiled under
the compile deadline (:func:`compile_part`); a part of only literal text and bare
``{{ column }}`` references also gets a plain fast path (:func:`plain_pieces`,
:func:`render_plain`). Rendering streams, stopping at the output limit (:func:`stream`), and
an error is traced back to its template line (:func:`template_line`). Row values are escaped
first so that a ``|||`` in the data cannot move the prompt/completion boundary
(:func:`escape_row`, :func:`unescape`). :class:`~ftdata.templating.templates.Template` puts
the parts together.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from ..errors import TemplateError
from .limits import (
    DEFAULT_LIMITS,
    MAX_TEMPLATE_CHARS,
    LimitExceeded,
    RenderLimits,
    RenderTimeout,
    current_limits,
    limited,
)
from .sandbox import make_environment
from .static import static_problems

SEP = "|||"
# promptsource's own placeholder for "|||" inside row values: some corpus templates
# (multi_news) split documents on it, so it must be exactly this string.
_PIPE_ESCAPE = "3ed2dface8203c4c9dfb1a5dc58e41e0"

_ENV = make_environment()


def timeout_message(lim: RenderLimits) -> str:
    return f"rendering took longer than {lim.max_seconds:g} s (render_limits.max_seconds)"


#: names Jinja may resolve to something other than a row column
_JINJA_NAMES = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})


class NotPlain(Exception):  # noqa: N818 - a signal, not an error
    """The plain renderer cannot give this row's output; the Jinja path will."""


def plain_pieces(ast: nodes.Template) -> tuple[tuple[bool, str], ...] | None:
    """A part as ``(is_column, text)`` pieces when it holds only literal text and bare
    ``{{ column }}`` references (most real templates), else None.

    Such a part renders, in Jinja, to the literal text with ``str(value)`` in each reference's
    place; :func:`render_plain` does that without a Jinja context or generator.
    """
    pieces = []
    for node in ast.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                pieces.append((False, child.data))
            elif isinstance(child, nodes.Name) and child.ctx == "load" and child.name not in _JINJA_NAMES:
                pieces.append((True, child.name))
            else:
                return None
    return tuple(pieces)


def render_plain(pieces: tuple[tuple[bool, str], ...], ctx: dict, limit: int) -> str:
    """Render plain pieces from the row; :class:`NotPlain` when a column is missing or the
    output would pass ``limit`` characters (the Jinja path then raises its usual error)."""
    out = []
    for is_column, text in pieces:
        if not is_column:
            out.append(text)
            continue
        if text not in ctx:
            raise NotPlain
        value = ctx[text]
        out.append(value if type(value) is str else str(value))
    if sum(map(len, out)) > limit:
        raise NotPlain
    return "".join(out)


@contextmanager
def compile_deadline(part: str, where: str):
    """Run a block under the compile deadline; a timeout becomes a :class:`TemplateError`."""
    try:
        with limited(DEFAULT_LIMITS, seconds=DEFAULT_LIMITS.compile_seconds):
            yield
    except RenderTimeout:
        raise TemplateError(f"{where}: {part}: compiling took longer than {DEFAULT_LIMITS.compile_seconds:g} s") from None


def parse_part(src: str, part: str, where: str) -> tuple[nodes.Template, list[tuple[int, str]]]:
    """Parse one part and check it statically: ``(ast, problems)``; call under the compile deadline.

    A source over :data:`~ftdata.templating.limits.MAX_TEMPLATE_CHARS` is refused before parsing starts.
    """
    if len(src) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"{where}: {part}: the template source has {len(src):,} characters, over the limit of "
                            f"{MAX_TEMPLATE_CHARS:,} (ftdata.templating.limits.MAX_TEMPLATE_CHARS); shorten it, or put long "
                            "text in a data column and reference it")
    try:
        ast = _ENV.parse(src)
        return ast, static_problems(ast)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: syntax error in {part} line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise TemplateError(f"{where}: {part}: nested too deeply to parse") from None
    except Exception as exc:  # noqa: BLE001 - e.g. an integer literal of thousands of digits
        raise TemplateError(f"{where}: {part}: cannot parse: {type(exc).__name__}: {exc}") from None


def compile_part(src: str, part: str, where: str):
    """Parse, check statically, then compile one part, all under one compile deadline.

    The static check runs before compiling so that nothing a hostile template asks for is
    evaluated, not even by Jinja's compile-time constant folding. Returns the compiled template
    and its :func:`plain_pieces`.
    """
    with compile_deadline(part, where):
        ast, problems = parse_part(src, part, where)
        if problems:
            raise TemplateError(f"{where}: refused: " + "; ".join(f"{part} line {ln}: {msg}" for ln, msg in problems))
        try:
            # from_string without a name: template names never reach generated code (CVE-2024-56201)
            return _ENV.from_string(ast), plain_pieces(ast)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"{where}: syntax error in {part} line {exc.lineno}: {exc.message}") from None
        except Exception as exc:  # noqa: BLE001 - anything Jinja raises while compiling is the template's
            raise TemplateError(f"{where}: {part}: cannot compile: {type(exc).__name__}: {exc}") from None


def stream(tmpl, ctx: dict, part: str) -> str:
    """Render piece by piece, stopping as soon as the output passes the size limit."""
    limit = current_limits().max_output_chars
    out: list[str] = []
    size = 0
    for piece in tmpl.root_render_func(tmpl.new_context(ctx)):
        size += len(piece)
        if size > limit:
            raise LimitExceeded(f"output of {part} passed {limit:,} characters (render_limits.max_output_chars)")
        out.append(piece)
    return "".join(out)


def template_line(exc: BaseException, tmpl=None) -> int | str:
    """The template line where ``exc`` was raised (innermost frame of generated code)."""
    tb = exc.__traceback__
    line: int | str = "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(line, int) and tmpl is not None:
        # generated Python lines map back to template lines through Jinja's debug info
        line = tmpl.get_corresponding_lineno(line)
    return line


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(SEP, _PIPE_ESCAPE) if SEP in value else value
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def escape_row(row: dict) -> dict:
    """A private copy of the row (templates may mutate it) with ``|||`` escaped in values."""
    out = {}
    for k, v in row.items():
        out[k] = _escape(copy.deepcopy(v)) if isinstance(v, (list, dict)) else _escape(v)
    return out


def unescape(text: str) -> str:
    return text.replace(_PIPE_ESCAPE, SEP) if _PIPE_ESCAPE in text else text
