"""The chat masking engine on real conversations (DialogSum speaker turns) with synthetic tool
calls and reasoning, for templates in current families' styles (ftdata.testing_chat).

Each template has an oracle here, written from the template's text: the string each trained
turn must train and the text just before it. The engine's spans must be exactly those strings'
places; the labels must train exactly the tokens that hold their characters; decoded, the
trained runs are the intended text. The one-render marker search must give exactly the spans of
the per-part diff (the method before it) on every template.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from ftdata.constants import IGNORE_INDEX
from ftdata.templating.chat import ChatError, ChatPolicy, render_chat, trained_turns
from ftdata.templating.chatjinja import renderer_for
from ftdata.testing_chat import (
    TEMPLATES,
    TOOLS,
    dialogsum_conversations,
    named_tokenizer,
    trained_runs,
    with_tools,
)
from ftdata.tokenize.spans import encode_spans
from ftdata.tokenize.specials import specials_for

from tests.conftest import shared

TOOL_TEMPLATES = ("qwen3_style", "llama31_style", "harmony_style")


@cache
def conversations(n: int = 40) -> tuple:
    path = shared("dialogsum", "dialogsum.dev.jsonl")
    plain = dialogsum_conversations(path, n, system="Answer as Person2.")
    return tuple(plain), tuple(with_tools(c, seed) for seed, c in enumerate(plain))


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    d = tmp_path_factory.mktemp("chat_toks")
    return {name: named_tokenizer(d / name, name) for name in TEMPLATES}


def _last(msgs, role):
    return max((i for i, m in enumerate(msgs) if m["role"] == role), default=-1)


# --- oracles: (text before the trained part, trained text) per trained turn ---------------------

def oracle_chatml(msgs, i, pol):
    return "<|im_start|>assistant\n", msgs[i]["content"] + "<|im_end|>"


def oracle_llama3(msgs, i, pol):
    return "<|end_header_id|>\n\n", msgs[i]["content"].strip() + "<|eot_id|>"


def oracle_qwen3(msgs, i, pol):
    m = msgs[i]
    content, r = m["content"], m.get("reasoning_content") or ""
    calls = "".join(("\n" if k or content else "") + '<tool_call>\n{"name": "' + c["function"]["name"]
                    + '", "arguments": ' + json.dumps(c["function"]["arguments"], ensure_ascii=False) + "}\n</tool_call>"
                    for k, c in enumerate(m.get("tool_calls") or []))
    body = content + calls + "<|im_end|>"
    if i > _last(msgs, "user") and (i == len(msgs) - 1 or r):
        block = "<think>\n" + r.strip("\n") + "\n</think>\n\n"
        if (pol.reasoning == "train") if r else (pol.empty_think == "train"):
            return "<|im_start|>assistant\n", block + body
        return "</think>\n\n", body
    return "<|im_start|>assistant\n", body


def oracle_llama31(msgs, i, pol):
    m = msgs[i]
    if m.get("tool_calls"):
        f = m["tool_calls"][0]["function"]
        return "<|end_header_id|>\n\n", ('{"name": "' + f["name"] + '", "parameters": '
                                         + json.dumps(f["arguments"], ensure_ascii=False) + "}<|eot_id|>")
    return "<|end_header_id|>\n\n", m["content"].strip() + "<|eot_id|>"


def oracle_harmony(msgs, i, pol):
    m, g = msgs[i], "<|start|>assistant"
    blocks = []
    if m.get("reasoning_content") and i > _last(msgs, "user") and pol.reasoning == "train":
        blocks.append("<|channel|>analysis<|message|>" + m["reasoning_content"] + "<|end|>")
    analysis_masked = m.get("reasoning_content") and i > _last(msgs, "user") and pol.reasoning == "mask"
    for c in m.get("tool_calls") or []:
        blocks.append("<|channel|>commentary to=functions." + c["function"]["name"] + " <|constrain|>json<|message|>"
                      + json.dumps(c["function"]["arguments"], ensure_ascii=False) + "<|call|>")
    if m["content"] or not m.get("tool_calls"):
        blocks.append("<|channel|>final<|message|>" + m["content"] + ("<|return|>" if i == len(msgs) - 1 else "<|end|>"))
    return ("<|end|>" + g if analysis_masked else g), g.join(blocks)


ORACLES = {"chatml": oracle_chatml, "llama3": oracle_llama3, "qwen3_style": oracle_qwen3,
           "llama31_style": oracle_llama31, "harmony_style": oracle_harmony}


def intended_spans(text, msgs, chosen, oracle, pol):
    """Where the oracle's strings are in the render, in order."""
    spans, at = [], 0
    for i in chosen:
        before, trained = oracle(msgs, i, pol)
        j = text.find(before + trained, at)
        assert j >= 0, (i, before + trained, text[at:])
        spans.append((j + len(before), j + len(before) + len(trained)))
        at = spans[-1][1]
    return spans




POLICIES = [ChatPolicy(train_on="all"), ChatPolicy(train_on="last"),
            ChatPolicy(train_on="all", reasoning="mask"), ChatPolicy(train_on="all", empty_think="train")]


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_masks_train_exactly_the_intended_text(toks, name):
    tok = toks[name]
    backend = tok.backend_tokenizer
    sp = specials_for(backend).strings
    plain, tooled = conversations()
    convos = tooled if name in TOOL_TEMPLATES else plain
    tools = TOOLS if name in TOOL_TEMPLATES else None
    r = renderer_for(tok)
    checked = 0
    for pol in POLICIES:
        for msgs in convos:
            ce = render_chat(tok, msgs, specials=sp, policy=pol, tools=tools, renderer=r)
            chosen = trained_turns(msgs, pol)
            want = intended_spans(ce.text, msgs, chosen, ORACLES[name], pol)
            assert ce.spans == want
            assert not ce.fallback and not ce.untrained_end and not ce.append_eos
            # nothing of a system / user / tool message is trained
            for m in msgs:
                if m["role"] != "assistant" and m["content"]:
                    j = ce.text.find(m["content"])
                    assert not any(a < j + len(m["content"]) and j < b for a, b in ce.spans)
            enc = encode_spans(backend, [ce.text], [ce.spans], eos=[None], untrained_end=[False], max_length=100_000,
                               overflow="error", add_special_tokens=False)[0]
            full = backend.encode(ce.text, add_special_tokens=False)
            trained = [k for k, lab in enumerate(enc.labels) if lab != IGNORE_INDEX]
            # a token is trained exactly when it holds a character of an intended span
            holds = [k for k, (a, b) in enumerate(full.offsets) if any(a < e and s < b for s, e in want)]
            assert trained == holds
            assert trained_runs(tok, enc.input_ids, enc.labels) == [ce.text[a:b] for a, b in want]
            checked += 1
    assert checked == len(POLICIES) * len(convos)


REWRITE_CONVOS = [[{"role": "system", "content": "You think first."},
                   {"role": "user", "content": "First question?"},
                   {"role": "assistant", "content": "<think>draft one</think> Answer one."},
                   {"role": "user", "content": "Second question?"},
                   {"role": "assistant", "content": "<think>draft two</think> Answer two."}]]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_marker_render_gives_the_per_part_diff_spans(toks, name):
    """Both span methods agree on every template, real conversations, every policy; the marker
    render is trusted (no fallback) except where a template cuts a marked part."""
    tok = toks[name]
    sp = specials_for(tok.backend_tokenizer).strings
    plain, tooled = conversations()
    convos = list(tooled if name in TOOL_TEMPLATES else plain)
    if name == "rewriting":
        convos += REWRITE_CONVOS
    tools = TOOLS if name in TOOL_TEMPLATES else None
    r = renderer_for(tok)
    fallbacks = compared = 0
    pols = POLICIES + [ChatPolicy(train_on="all", end_of_turn="eos"), ChatPolicy(train_on="all", end_of_turn="none")]
    for pol in pols:
        for msgs in convos:
            try:
                want = render_chat(tok, msgs, specials=sp, policy=pol, tools=tools, renderer=r, method="diff")
            except ChatError:
                with pytest.raises(ChatError):
                    render_chat(tok, msgs, specials=sp, policy=pol, tools=tools, renderer=r)
                continue
            got = render_chat(tok, msgs, specials=sp, policy=pol, tools=tools, renderer=r)
            assert (got.text, got.spans, got.untrained_end, got.append_eos, got.prompt, got.completion) == \
                   (want.text, want.spans, want.untrained_end, want.append_eos, want.prompt, want.completion)
            fallbacks += got.fallback
            compared += 1
    assert compared >= len(convos) * 5
    # the rewriting template cuts '<think>...' out of past turns: that conversation falls back when
    # its past turn is trained (train_on: all), no other one
    assert fallbacks == (sum(p.train_on == "all" for p in pols) if name == "rewriting" else 0)


def test_rewriting_template_falls_back_and_matches(toks):
    tok = toks["rewriting"]
    sp = specials_for(tok.backend_tokenizer).strings
    ce = render_chat(tok, REWRITE_CONVOS[0], specials=sp, policy=ChatPolicy(train_on="all"))
    assert ce.fallback
    assert [ce.text[a:b] for a, b in ce.spans] == ["Answer one.<|im_end|>",
                                                   "<think>draft two</think> Answer two.<|im_end|>"]
