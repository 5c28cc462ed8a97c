"""render_chat's fast path for plain conversations (chat._plain_example) gives exactly the
example of the general path: every field (text, spans, untrained end, appended EOS, prompt,
completion, parity, fallback), or the same error with the same code and message.

Conversations: real DialogSum dialogues (with and without a system prompt) and hypothesis-made
ones whose contents hold what breaks a marker render (the markers' own private-use characters,
special-token text, empty think blocks, whitespace a template trims, empty texts); templates:
every one of ftdata.testing_chat (ChatML, Llama-3-style with trim, the rewriting one that falls
back, Qwen3-, Llama-3.1- and Harmony-style, one without end-of-turn tokens) and one whose turns end
with EOS; policies: every
value of train_on, end_of_turn, empty_think and parity, and the user role trained too.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftdata.templating import chat as chat_mod
from ftdata.templating.chat import _MARK_BASE, ChatError, ChatPolicy, render_chat
from ftdata.templating.chatjinja import renderer_for
from ftdata.testing_chat import (
    TEMPLATES,
    TOOLS,
    chat_tokenizer,
    dialogsum_conversations,
    named_tokenizer,
)
from ftdata.tokenize.specials import specials_for

from tests.conftest import shared

#: Turns that end with the tokenizer's EOS (``end_of_turn: eos`` finds it), the generation prompt trimmed.
EOS_TURNS = ("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] | trim }}{{ eos_token }}\n{% endfor %}"
             "{% if add_generation_prompt %}[assistant] {% endif %}")
NAMES = sorted(TEMPLATES) + ["eos_turns"]

POLICIES = [ChatPolicy(train_on=on, end_of_turn=eot, empty_think=et, parity=par, train_roles=roles)
            for on, eot, et, par, roles in [
                ("last", "eot", "mask", "last", ("assistant",)),
                ("all", "eot", "train", "all", ("assistant",)),
                ("all", "eos", "mask", "off", ("assistant",)),
                ("last", "none", "train", "all", ("assistant",)),
                ("all", "eot", "mask", "all", ("assistant", "user")),
            ]]
POLICIES += [dataclasses.replace(p, add_eos=False) for p in POLICIES[:2]]  # eot without an appended EOS


@pytest.fixture(scope="module")
def setups(tmp_path_factory):
    d = tmp_path_factory.mktemp("chat_fast_toks")
    out = {}
    for name in NAMES:
        tok = named_tokenizer(d / name, name) if name in TEMPLATES else chat_tokenizer(d / name, EOS_TURNS)
        out[name] = (tok, renderer_for(tok), specials_for(tok.backend_tokenizer).strings)
    return out


def _outcome(tok, renderer, specials, msgs, policy, tools, fast):
    try:
        return render_chat(tok, msgs, specials=specials, policy=policy, tools=tools, renderer=renderer, fast=fast)
    except ChatError as exc:
        return ("error", exc.code, str(exc))
    except Exception as exc:  # noqa: BLE001 - malformed input fails alike on both paths
        return ("crash", type(exc).__name__, str(exc))


class _Counted:
    """Counts the fast path's answers (an example, or None: handed to the general path)."""

    def __init__(self, monkeypatch):
        self.taken = self.handed = 0
        real = chat_mod._plain_example

        def counted(*args, **kwargs):
            ex = real(*args, **kwargs)
            if ex is None:
                self.handed += 1
            else:
                self.taken += 1
            return ex

        monkeypatch.setattr(chat_mod, "_plain_example", counted)


def _same(setup, msgs, policy, tools=None):
    tok, renderer, specials = setup
    fast = _outcome(tok, renderer, specials, msgs, policy, tools, True)
    general = _outcome(tok, renderer, specials, msgs, policy, tools, False)
    assert fast == general, (msgs, policy)
    return fast


@pytest.mark.parametrize("name", NAMES)
def test_dialogsum_fast_path_is_the_general_path(setups, name, monkeypatch):
    path = shared("dialogsum", "dialogsum.dev.jsonl")
    convos = dialogsum_conversations(path, 60) + dialogsum_conversations(path, 60, system="Answer as Person2.")
    # drafts in the assistant texts: the rewriting template cuts them from past turns (its marker check fails)
    convos += [[{**m, "content": f"<think>draft {j}</think> " + m["content"]} if m["role"] == "assistant" else m
                for j, m in enumerate(c)] for c in convos[:20]]
    counted = _Counted(monkeypatch)
    errors = 0
    for policy in POLICIES:
        for msgs in convos:
            errors += isinstance(_same(setups[name], msgs, policy), tuple)
        if name in ("qwen3_style", "llama31_style", "harmony_style"):  # tool schemas, no tool calls
            for msgs in convos[:10]:
                _same(setups[name], msgs, policy, TOOLS)
    assert counted.taken + counted.handed > 0
    if name == "rewriting":  # the drafted conversations of multiple turns, with train_on: all
        assert counted.handed >= 10
    else:
        assert counted.taken >= len(POLICIES) * len(convos) * 0.9 - errors


_TRICKY = st.sampled_from([
    "hello", " padded ", "\n", "", "   ", "<|im_end|>", "<|im_start|>assistant\n", "<|eot_id|>", "</s>",
    "<think>\n\n</think>\n\n", "<think></think>", "<|channel|>final<|message|>", "<|end|>", "<|return|>",
    chr(_MARK_BASE), chr(_MARK_BASE + 1), chr(_MARK_BASE + 3), chr(0x10FFFD), "user", "assistant", "{{ x }}",
    "é ü 你好", "\t", "a\nb",
])
_CONTENT = st.lists(_TRICKY, max_size=4).map("".join)
_MESSAGE = st.tuples(st.sampled_from(["user", "assistant", "system"]), _CONTENT)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(turns=st.lists(_MESSAGE, min_size=1, max_size=6), name=st.sampled_from(NAMES),
       policy=st.sampled_from(POLICIES), keys_reversed=st.booleans())
def test_tricky_conversations_fast_path_is_the_general_path(setups, turns, name, policy, keys_reversed):
    msgs = [{"content": c, "role": r} if keys_reversed else {"role": r, "content": c} for r, c in turns]
    _same(setups[name], msgs, policy)


def test_fast_path_taken_and_declined(setups, monkeypatch):
    """The fast path answers a plain conversation and leaves others (reasoning, weight, markers in
    the data) to the general path, which gives the same example."""
    counted = _Counted(monkeypatch)
    plain = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    _same(setups["chatml"], plain, POLICIES[0])
    assert (counted.taken, counted.handed) == (1, 0)
    _same(setups["chatml"], [plain[0], {**plain[1], "content": "a" + chr(_MARK_BASE) + "b"}], POLICIES[0])
    assert (counted.taken, counted.handed) == (1, 1)
    _same(setups["qwen3_style"], [plain[0], {**plain[1], "reasoning_content": "think"}], POLICIES[0])
    _same(setups["chatml"], [plain[0], {**plain[1], "weight": 1}], POLICIES[0])
    # a null role: plain_messages drops it (the general path then fails on the message), not plain here
    assert _same(setups["chatml"], [{"role": None, "content": "x"}, *plain], POLICIES[1])[0] == "crash"
    assert (counted.taken, counted.handed) == (1, 1)  # not plain: the fast path is not asked
