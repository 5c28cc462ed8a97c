"""A tokenizer's chat template compiled once and called with plain message dicts.

``tokenizer.apply_chat_template`` recompiles nothing (transformers caches the compiled
template) but converts and normalises every message object on every call, and a build calls
it several times per conversation. :class:`ChatRenderer` compiles the template once per build
(and once per worker: it is picklable and recompiles lazily) and renders with exactly the
inputs ``apply_chat_template`` gives the template, so the text is the same string:

* the environment: jinja2's ``ImmutableSandboxedEnvironment`` (templates come from strangers)
  with ``trim_blocks`` and ``lstrip_blocks``, the ``loopcontrols`` extension, and a
  ``{% generation %}`` tag that renders its body (templates written for assistant masks parse);
* the helpers chat templates call, written here: ``raise_exception`` (an error with the
  template's message), ``tojson`` (``json.dumps`` without HTML escaping, with ``indent``,
  ``separators``, ``sort_keys``), ``strftime_now`` (the current time; a template that prints it
  renders a different text every day, which the train/serve parity check reports), and a
  ``namespace`` that refuses names starting with ``_``;
* the variables: ``messages`` (keys whose value is None dropped; a message with
  ``reasoning_content`` / ``thinking`` / ``reasoning`` gets both ``thinking`` and
  ``reasoning_content``, as templates read either), ``tools``, ``documents`` (None),
  ``add_generation_prompt``, the tokenizer's special tokens (``bos_token``, ``eos_token``, ...)
  and the recipe's ``chat.template_kwargs`` (which win over the special tokens).

``tests/unit/templating/test_chat_render.py`` checks the equality with ``apply_chat_template``
on every template in :mod:`ftdata.testing_chat`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

#: Names a message's reasoning may come under; the first found is passed under the first two.
REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")


class ChatTemplateError(Exception):
    """The chat template failed to compile or to render (the message says how)."""


def _raise_exception(message):
    from jinja2.exceptions import TemplateError

    raise TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # Jinja's own tojson escapes <, >, & for HTML; chat templates expect plain JSON
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt):
    return datetime.now().strftime(fmt)


@functools.lru_cache(maxsize=16)
def compile_chat_template(source: str):
    """The compiled template (cached per process: one compile per template and worker)."""
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(Extension):
        """``{% generation %}...{% endgeneration %}`` renders its body (masks come from spans here)."""

        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller):
            return caller()

    class Namespace(jinja2.utils.Namespace):
        """``namespace()`` refusing ``_`` names (no walk to interpreter internals through it)."""

        def __init__(*args, **kwargs):  # noqa: N805 - Jinja's Namespace takes self through *args too
            self, rest = args[0], args[1:]
            attrs = dict(*rest, **kwargs)
            for name in attrs:
                Namespace._check(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name, value):
            Namespace._check(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check(name):
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(f"chat template: namespace attribute {name!r} starts with '_'")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["namespace"] = Namespace
    try:
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise ChatTemplateError(f"chat template does not compile: {type(exc).__name__}: {exc}") from None


#: The variables every render passes (a template_kwargs key among them: the plain Template.render,
#: which reports the clash as before).
_CALL_KEYS = frozenset({"messages", "tools", "documents", "add_generation_prompt"})


#: What jinja2 3.1's ``Context.__init__`` sets (and its ``EvalContext``): a context is cloned from a
#: prototype only when the prototype has exactly these, else built by ``new_context`` per render.
_CONTEXT_ATTRS = frozenset({"parent", "vars", "environment", "eval_ctx", "exported_vars", "name", "globals_keys",
                            "blocks"})
_EVAL_ATTRS = frozenset({"environment", "autoescape", "volatile"})


def _context_maker(tpl, globals_: dict):
    """``make(parent) -> Context``: the context ``new_context`` builds for ``Template.render``
    (``shared=True``: the dict given is the parent), cloned from one prototype built by
    ``new_context`` itself: its fixed attributes (environment, name, the set of global names)
    shared, its per-render state new (``vars``, ``exported_vars``, the block lists, the
    evaluation context). Building a context was a third of a short render. None where this
    jinja2 lacks ``new_context`` (the plain ``Template.render`` then).

    Returned as :class:`_Maker`: ``make(parent)``, and ``fresh(ctx)``, which says whether a
    context a render has finished with is again as ``make`` built it, its variables (top-level
    ``set``) emptied: then the next render may take it (:meth:`ChatRenderer._render_function`).
    ``fresh`` is None (contexts never reused) for another jinja2's context, and for a template
    with blocks (their lists are per render)."""
    try:
        from jinja2.runtime import new_context
    except ImportError:  # pragma: no cover - jinja2 3.x has it
        return None

    make = functools.partial(new_context, tpl.environment, tpl.name, tpl.blocks, shared=True, globals=globals_)
    proto = make({})
    if set(vars(proto)) != _CONTEXT_ATTRS or set(vars(proto.eval_ctx)) != _EVAL_ATTRS:  # pragma: no cover
        return _Maker(make, None)  # another jinja2's Context: built as it builds it, never reused
    cls, ev_cls = type(proto), type(proto.eval_ctx)
    fixed = {k: v for k, v in vars(proto).items() if k in ("environment", "name", "globals_keys")}
    ev_fixed = dict(vars(proto.eval_ctx))
    blocks = tpl.blocks
    new = object.__new__

    def clone(parent: dict):  # the instance dicts filled in place (keyword update was a third of it)
        ctx, ev = new(cls), new(ev_cls)
        ev.__dict__.update(ev_fixed)
        d = ctx.__dict__
        d.update(fixed)
        d["parent"], d["vars"], d["exported_vars"], d["eval_ctx"] = parent, {}, set(), ev
        d["blocks"] = {k: [v] for k, v in blocks.items()} if blocks else {}
        return ctx

    def fresh(ctx) -> bool:
        d = ctx.__dict__
        if len(d) != len(_CONTEXT_ATTRS) or d["eval_ctx"].__dict__ != ev_fixed:
            return False  # an attribute added, or the evaluation context left changed
        if d["vars"]:
            d["vars"].clear()
        if d["exported_vars"]:
            d["exported_vars"].clear()
        return True

    return _Maker(clone, None if blocks else fresh)


class _Maker(NamedTuple):
    """:func:`_context_maker`'s result: ``make(parent)``, and ``fresh(ctx)`` or None (never reused)."""

    make: Callable
    fresh: Callable | None


@functools.lru_cache(maxsize=16)
def _prepared(source: str):
    """``(template, its globals as a plain dict, context maker)``: the context
    ``Template.render`` builds (``jinja2.runtime.new_context``, the globals first, then the
    variables; see :func:`_context_maker`), without reading the globals' ChainMap on every
    call. The context maker is None where it cannot be made (the plain ``Template.render`` then)."""
    tpl = compile_chat_template(source)
    if tpl.environment.is_async:  # pragma: no cover - our environment is synchronous
        return tpl, None, None
    globals_ = dict(tpl.globals)
    return tpl, globals_, _context_maker(tpl, globals_)


def plain_messages(messages: list[dict]) -> list[dict]:
    """Messages as the template sees them: None values dropped, reasoning under both names.

    ``weight`` is ftdata's per-message training switch, not message content: it is dropped.
    """
    out = []
    for m in messages:
        if len(m) == 2 and m.get("content") is not None and m.get("role") is not None:
            out.append(m)  # {role, content}: already as the template sees it (templates cannot change it)
            continue
        m = {k: v for k, v in m.items() if v is not None and k != "weight"}
        reasoning = next((m[k] for k in REASONING_KEYS if m.get(k) is not None), None)
        if reasoning is not None:
            m = {"thinking": reasoning, **m, "reasoning_content": reasoning}
        out.append(m)
    return out


class ChatRenderer:
    """One chat template and its fixed variables, compiled once (see the module docstring).

    Args:
        source: the Jinja chat template.
        special_tokens: the tokenizer's ``special_tokens_map`` (``bos_token``, ``eos_token``, ...).
        template_kwargs: the recipe's ``chat.template_kwargs`` (``enable_thinking``, ...).
    """

    def __init__(self, source: str, special_tokens: dict | None = None, template_kwargs: dict | None = None):
        self.source = source
        self.variables = {**(special_tokens or {}), **(template_kwargs or {})}
        self.generation_prompts: dict = {}  # kept by ftdata.templating.chat (per opening's roles)
        self._calls: dict = {}  # error class -> (the variables it was made for, the render function)

    def __getstate__(self):  # the compiled template stays behind; a worker compiles its own
        return {"source": self.source, "variables": self.variables}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.generation_prompts, self._calls = {}, {}

    def render(self, messages: list[dict], tools: list[dict] | None = None, add_generation_prompt: bool = False) -> str:
        """The conversation as the template prints it (messages already plain, see :func:`plain_messages`).

        Raises:
            ChatTemplateError: the template raised or returned something that is not text.
        """
        return self.caller()(messages, add_generation_prompt, tools)

    def caller(self, error: type[Exception] = ChatTemplateError) -> Callable:
        """``render(messages, add_generation_prompt=False, tools=None) -> str``: :meth:`render`
        as one function, for a caller that renders each conversation several times
        (:func:`ftdata.templating.chat.render_chat`), raising ``error`` with :meth:`render`'s
        message where the template fails (the template compiled at the first call)."""
        fast = self._calls.get(error)
        if fast is None or fast[0] is not self.variables:
            try:
                fast = self._calls[error] = (self.variables, self._render_function(error))
            except Exception as exc:  # noqa: BLE001 - the compile error, reported as a render's
                raise error(_failed(exc)) from None
        return fast[1]

    def _render_function(self, error: type[Exception]):
        """``render(messages, add_generation_prompt, tools) -> str`` for this template and these
        variables: what ``Template.render`` does, with the template's globals and the fixed
        variables merged once (building the context from the globals' ChainMap was half of a
        short render), the context cloned (:func:`_context_maker`) and taken again by the next
        render once this one has finished with it, its variables emptied (cloning and filling a
        context was half of a 2-message render: 6.9 -> 3.6 µs for three renders)."""
        tpl, parent, maker = _prepared(self.source)
        variables = self.variables
        if maker is None or not _CALL_KEYS.isdisjoint(variables):
            def plain(messages, add_generation_prompt=False, tools=None):  # Template.render reports the clash
                try:
                    return tpl.render(messages=messages, tools=tools, documents=None,
                                      add_generation_prompt=add_generation_prompt, **variables)
                except Exception as exc:  # noqa: BLE001 - a stranger's template may raise anything
                    raise error(_failed(exc)) from None
            return plain
        base = {**parent, **variables}
        root, concat, env = tpl.root_render_func, tpl.environment.concat, tpl.environment
        make, fresh = maker
        free: list = []  # contexts no render holds (list.pop and append: one thread at a time each)

        def render(messages, add_generation_prompt=False, tools=None):
            try:
                ctx = free.pop()
            except IndexError:  # none free: this is the first render, or the others are under way
                ctx = make({**base})
            p = ctx.parent
            p["messages"], p["tools"], p["documents"], p["add_generation_prompt"] = (
                messages, tools, None, add_generation_prompt)
            try:
                out = concat(root(ctx))
            except Exception:  # noqa: BLE001 - a stranger's template may raise anything; reported per example
                try:
                    env.handle_exception()  # as Template.render: the traceback rewritten, then raised
                except Exception as exc:  # noqa: BLE001
                    raise error(_failed(exc)) from None
            if fresh is not None and fresh(ctx):
                free.append(ctx)
            return out

        return render


def _failed(exc: Exception) -> str:
    """The message of a render that failed with ``exc``."""
    return f"chat template failed: {type(exc).__name__}: {exc}"


def renderer_for(tok, template: str | None = None, template_kwargs: dict | None = None) -> ChatRenderer:
    """The renderer of ``template`` (default: the tokenizer's own chat template) for ``tok``.

    A tokenizer with several named templates uses ``default`` (``tool_use`` is not picked by
    the presence of tools: one build renders every conversation with one template).
    """
    source = template if template is not None else getattr(tok, "chat_template", None)
    if isinstance(source, dict):
        if "default" not in source:
            raise ChatTemplateError(f"the tokenizer has several chat templates ({', '.join(sorted(source))}) "
                                    "and none named 'default'; set chat.template")
        source = source["default"]
    if not isinstance(source, str):
        raise ChatTemplateError("the tokenizer has no chat template; set chat.template")
    special = {k: v for k, v in tok.special_tokens_map.items()}
    return ChatRenderer(source, special, template_kwargs)
