"""The renderer's prepared context (globals copied once) renders as ``Template.render`` does."""

from __future__ import annotations

import sys

import pytest

from ftdata.templating.chatjinja import (
    ChatRenderer,
    ChatTemplateError,
    _prepared,
    compile_chat_template,
)
from ftdata.testing_chat import TEMPLATES

MSGS = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
#: Uses the globals (namespace, raise_exception, strftime_now), the variables and a loop.
GLOBALS = ("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
           "{{ m.role }}={{ m.content }};{% endfor %}{{ ns.n }}|{{ bos_token }}|{{ tools is none }}|"
           "{{ documents is none }}|{{ add_generation_prompt }}|{{ strftime_now('%Y') | length }}")


def _template_render(r: ChatRenderer, msgs, tools=None, agp=False) -> str:
    """What the renderer rendered before: the compiled template's own render."""
    return compile_chat_template(r.source).render(messages=msgs, tools=tools, documents=None,
                                                  add_generation_prompt=agp, **r.variables)


@pytest.mark.parametrize("source", [GLOBALS] + [TEMPLATES[k][0] for k in sorted(TEMPLATES)])
def test_prepared_context_renders_as_template_render(source):
    r = ChatRenderer(source, {"bos_token": "<s>", "eos_token": "</s>"}, {"enable_thinking": False})
    assert _prepared(source)[2] is not None  # the prepared context is what renders here
    for agp in (False, True):
        assert r.render(MSGS, None, agp) == _template_render(r, MSGS, None, agp)


def test_errors_read_as_before():
    r = ChatRenderer("{% if messages[-1].role != 'user' %}{{ raise_exception('last is ' + messages[-1].role) }}"
                     "{% endif %}ok")
    with pytest.raises(ChatTemplateError) as exc:
        r.render(MSGS)
    assert str(exc.value) == "chat template failed: TemplateError: last is assistant"
    assert r.render(MSGS[:2]) == "ok"
    with pytest.raises(ChatTemplateError, match=r"SecurityError: .*namespace attribute '_x'"):
        ChatRenderer("{% set ns = namespace(_x=1) %}").render(MSGS)


def test_template_kwargs_named_like_a_call_variable_fail_as_before():
    """A ``template_kwargs`` key among messages/tools/documents/add_generation_prompt takes the
    plain ``Template.render`` (not the prepared context), which reports the clash."""
    r = ChatRenderer("{{ tools }}", {}, {"tools": [1]})
    with pytest.raises(ChatTemplateError, match="TypeError: .*multiple values for keyword argument 'tools'"):
        r.render(MSGS)


def test_cloned_context_keeps_no_state_between_renders():
    """Each render gets its own context (cloned from one prototype): a top-level ``set`` of one
    render, or a namespace it changed, is not seen by the next render."""
    source = ("{% if messages[0].content == 'first' %}{% set seen = 'yes' %}{% endif %}"
              "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}"
              "{{ seen is defined }}|{{ ns.n }}")
    r = ChatRenderer(source)
    first = [{"role": "user", "content": "first"}]
    later = [{"role": "user", "content": "later"}, {"role": "assistant", "content": "a"}]
    assert r.render(first) == "True|1" == _template_render(r, first)
    assert r.render(later) == "False|2" == _template_render(r, later)
    assert r.render(first) == "True|1"


def test_cloned_context_is_sandboxed():
    """The sandboxed environment still decides what a template may reach (templates from strangers)."""
    from jinja2.exceptions import SecurityError

    r = ChatRenderer("{{ messages.__class__.__mro__ }}")
    with pytest.raises(ChatTemplateError, match="SecurityError: access to attribute '__class__' of 'list'"):
        r.render(MSGS)
    with pytest.raises(SecurityError):
        compile_chat_template(r.source).render(messages=MSGS)  # as the plain render refuses it
    unsafe = ChatRenderer("{{ messages.append(1) }}")  # immutable sandbox: no mutating a list
    with pytest.raises(ChatTemplateError, match="SecurityError"):
        unsafe.render(MSGS)


def test_a_template_that_does_not_compile_reads_as_before():
    """The compile error is reported at the first render, wrapped as a render failure."""
    with pytest.raises(ChatTemplateError, match=r"^chat template failed: ChatTemplateError: chat template does not "
                                                r"compile: TemplateSyntaxError"):
        ChatRenderer("{% if %}").render(MSGS)


def test_a_finished_context_is_taken_again_with_no_state_left():
    """The next render takes the context the last one finished with (its variables emptied): a
    ``set`` at the top level, a failed render, a namespace, none of it reaches the next render."""
    source = ("{% if messages[0].content == 'first' %}{% set seen = 'yes' %}{% endif %}"
              "{% if messages[0].content == 'fail' %}{{ raise_exception('no') }}{% endif %}"
              "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}"
              "{{ seen is defined }}|{{ ns.n }}|{{ add_generation_prompt }}")
    r = ChatRenderer(source)
    assert _prepared(source)[2].fresh is not None  # a context is reused for this template
    first = [{"role": "user", "content": "first"}]
    later = [{"role": "user", "content": "later"}, {"role": "assistant", "content": "a"}]
    fail = [{"role": "user", "content": "fail"}]
    for _ in range(3):
        assert r.render(first) == "True|1|False" == _template_render(r, first)
        with pytest.raises(ChatTemplateError, match="TemplateError: no"):
            r.render(fail)
        assert r.render(later, None, True) == "False|2|True" == _template_render(r, later, None, True)


@pytest.mark.parametrize("source", [
    "{% autoescape true %}{{ messages[0].content }}{% endautoescape %}|{{ messages[0].content }}",
    "{% block head %}[{{ messages[0].role }}]{% endblock %}{{ messages[0].content }}",
    "{% macro show(m) %}{{ m.role }}:{{ m.content }}{% endmacro %}{% for m in messages %}{{ show(m) }};{% endfor %}",
])
def test_reused_contexts_render_as_template_render(source):
    """Templates that change the evaluation context for a while, have blocks or macros render
    the same conversation after conversation as ``Template.render`` does."""
    r = ChatRenderer(source)
    convs = [[{"role": "user", "content": f"<b>{i}</b> & more"}] for i in range(5)]
    for msgs in convs + convs:
        assert r.render(msgs) == _template_render(r, msgs)
    if "block" in source:
        assert _prepared(source)[2].fresh is None  # block lists are per render: never reused


def test_threads_share_a_renderer():
    """Renders of one renderer on several threads at once each get a context of their own."""
    import threading

    r = ChatRenderer("{% for m in messages %}{{ m.role }}={{ m.content }};{% endfor %}{{ add_generation_prompt }}")
    bad = []

    def work(t: int) -> None:
        for i in range(400):
            msgs = [{"role": "user", "content": f"{t}-{i}"}, {"role": "assistant", "content": str(i * t)}]
            agp = i % 2 == 0
            if r.render(msgs, None, agp) != f"user={t}-{i};assistant={i * t};{agp}":
                bad.append((t, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch inside renders
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert bad == []


def test_caller_raises_the_error_asked_for():
    """``caller(error)``: the render as one function, failing with ``error`` and render's message."""

    class Failed(Exception):
        pass

    r = ChatRenderer("{{ raise_exception('stop at ' + messages[0].role) }}")
    with pytest.raises(Failed) as exc:
        r.caller(Failed)(MSGS)
    assert str(exc.value) == "chat template failed: TemplateError: stop at system"
    with pytest.raises(Failed, match=r"^chat template failed: ChatTemplateError: chat template does not compile"):
        ChatRenderer("{% if %}").caller(Failed)(MSGS)
    ok = ChatRenderer("{{ messages | length }}|{{ tools | length }}|{{ add_generation_prompt }}")
    assert ok.caller(Failed)(MSGS, True, tools=[{"name": "f"}]) == "3|1|True"


def test_a_conversation_with_nothing_to_train_is_that_before_the_template_is_compiled():
    """The "no turn to train" check comes before the template's first render, so it is what such
    a row is rejected for even when the template does not compile (as before the render became
    the renderer's own function)."""
    from ftdata.rejects import Code
    from ftdata.templating.chat import ChatError, ChatPolicy, render_chat

    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "weight": 0}]
    with pytest.raises(ChatError, match="no turn to train") as exc:
        render_chat(None, msgs, specials=[], policy=ChatPolicy(), renderer=ChatRenderer("{% if %}"))
    assert exc.value.code == Code.NO_TRAINED_TOKEN
    with pytest.raises(ChatError, match="does not compile") as exc:
        render_chat(None, msgs[:1] + [{"role": "assistant", "content": "yo"}], specials=[], policy=ChatPolicy(),
                    renderer=ChatRenderer("{% if %}"))
    assert exc.value.code == Code.CHAT_TEMPLATE
