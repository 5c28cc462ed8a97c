"""The chat template compiled once renders exactly what ``apply_chat_template`` renders."""

from __future__ import annotations

import pickle

import pytest

from ftdata.templating.chatjinja import (
    ChatRenderer,
    ChatTemplateError,
    plain_messages,
    renderer_for,
)
from ftdata.testing_chat import TEMPLATES, TOOLS, named_tokenizer

CONVO = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Find 'cat' & <b>dog</b>."},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": {"q": "cat \"x\" é", "n": 2}}}]},
    {"role": "tool", "tool_call_id": "c1", "name": "lookup", "content": '{"ok": true}'},
    {"role": "assistant", "content": "  Found it.  ", "reasoning_content": "look at result", "weight": 1},
    {"role": "user", "content": "Thanks", "extra": None},
    {"role": "assistant", "content": "Welcome.", "thinking": "polite"},
]
PLAIN = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
         {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye"}]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_renders_equal_apply_chat_template(tmp_path, name):
    tok = named_tokenizer(tmp_path / "tok", name)
    tools_ok = name in ("qwen3_style", "llama31_style", "harmony_style")
    cases = [(PLAIN, None, {})]
    if tools_ok:
        cases += [(CONVO, TOOLS, {}), (CONVO, None, {}), (CONVO, TOOLS, {"enable_thinking": False}),
                  (CONVO, TOOLS, {"reasoning_effort": "high"})]
    for msgs, tools, kw in cases:
        r = renderer_for(tok, template_kwargs=kw)
        for agp in (False, True):
            for cut in range(1, len(msgs) + 1):
                want = tok.apply_chat_template(
                    [{k: v for k, v in m.items() if k != "weight"} for m in msgs[:cut]],
                    tools=tools, tokenize=False, add_generation_prompt=agp, **kw)
                assert r.render(plain_messages(msgs[:cut]), tools, agp) == want


def test_template_kwargs_reach_the_template(tmp_path):
    tok = named_tokenizer(tmp_path / "tok", "qwen3_style")
    off = renderer_for(tok, template_kwargs={"enable_thinking": False}).render(PLAIN[:1], None, True)
    on = renderer_for(tok).render(PLAIN[:1], None, True)
    assert off == on + "<think>\n\n</think>\n\n"
    tok = named_tokenizer(tmp_path / "h", "harmony_style")
    assert "Reasoning: high" in renderer_for(tok, template_kwargs={"reasoning_effort": "high"}).render(PLAIN)


def test_helpers_and_sandbox():
    r = ChatRenderer("{{ raise_exception('no ' + messages[0].role) }}")
    with pytest.raises(ChatTemplateError, match="TemplateError: no user"):
        r.render(PLAIN)
    assert ChatRenderer("{{ {'a': '<&>'} | tojson }}").render(PLAIN) == '{"a": "<&>"}'  # no HTML escaping
    assert ChatRenderer("{{ [1] | tojson(indent=2) }}").render(PLAIN) == "[\n  1\n]"
    assert len(ChatRenderer("{{ strftime_now('%Y-%m-%d') }}").render(PLAIN)) == 10
    assert ChatRenderer("{% generation %}x{{ 1 }}{% endgeneration %}").render(PLAIN) == "x1"
    with pytest.raises(ChatTemplateError, match="SecurityError"):
        ChatRenderer("{% set ns = namespace(_x=1) %}").render(PLAIN)
    with pytest.raises(ChatTemplateError):  # the immutable sandbox: no list.append
        ChatRenderer("{% set l = [] %}{{ l.append(1) }}").render(PLAIN)
    with pytest.raises(ChatTemplateError, match="SecurityError|undefined"):
        ChatRenderer("{{ messages.__class__.__mro__ }}").render(PLAIN)
    with pytest.raises(ChatTemplateError, match="does not compile"):
        ChatRenderer("{% for %}").render(PLAIN)


def test_renderer_pickles_without_its_compiled_template(tmp_path):
    tok = named_tokenizer(tmp_path / "tok", "chatml")
    r = renderer_for(tok)
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.render(PLAIN) == r.render(PLAIN) and r2.variables["eos_token"] == tok.eos_token


def test_plain_messages_drop_none_and_weight_and_alias_reasoning():
    out = plain_messages([{"role": "assistant", "content": "a", "weight": 0, "name": None, "reasoning": "r"}])
    assert out == [{"thinking": "r", "role": "assistant", "content": "a", "reasoning": "r", "reasoning_content": "r"}]


def test_render_chat_reads_what_to_train_from_the_policy_only(tmp_path):
    """``render_chat``'s legacy ``train_on`` / ``add_eos`` keywords (a second way to say what the
    policy says, used by no caller outside tests) are gone; the policy gives the same spans."""
    import inspect

    from ftdata.templating.chat import ChatPolicy, render_chat
    from ftdata.tokenize.specials import specials_for

    params = inspect.signature(render_chat).parameters
    assert "train_on" not in params and "add_eos" not in params
    tok = named_tokenizer(tmp_path / "tok", "chatml")
    sp = specials_for(tok.backend_tokenizer).strings
    last = render_chat(tok, PLAIN, specials=sp, policy=ChatPolicy(train_on="last", add_eos=True))
    every = render_chat(tok, PLAIN, specials=sp, policy=ChatPolicy(train_on="all", add_eos=False))
    assert [last.text[a:b] for a, b in last.spans] == ["Goodbye<|im_end|>"]
    assert [every.text[a:b] for a, b in every.spans] == ["Hello<|im_end|>", "Goodbye<|im_end|>"]
    with pytest.raises(TypeError, match="train_on"):
        render_chat(tok, PLAIN, specials=sp, train_on="all")
