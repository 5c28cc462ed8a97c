"""Chat policies (recipe ``chat:`` fields) and the train/serve parity check, in render_chat and
through whole builds (manifest ``chat`` section, ``ftdata inspect``, the report)."""

from __future__ import annotations

import json

import datasets
import pytest
from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.config.models import ChatSpec
from ftdata.templating.chat import ChatError, ChatPolicy, render_chat
from ftdata.testing_chat import (
    CHATML,
    HARMONY_SPECIALS,
    HARMONY_STYLE,
    QWEN3_STYLE,
    QWEN_TOKENS,
    chat_tokenizer,
    trained_runs,
)

from tests.conftest import write_jsonl, write_recipe

CONVO = [{"role": "system", "content": "Sys."}, {"role": "user", "content": "Hi"},
         {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"},
         {"role": "assistant", "content": "Goodbye"}]


def spans_text(ce):
    return [ce.text[a:b] for a, b in ce.spans]


@pytest.fixture(scope="module")
def chatml(tmp_path_factory):
    return chat_tokenizer(tmp_path_factory.mktemp("chatml"), CHATML)


def _sp(tok):
    from ftdata.tokenize.specials import specials_for
    return specials_for(tok.backend_tokenizer).strings


def test_weight_overrides_train_on(chatml):
    msgs = [dict(m) for m in CONVO]
    msgs[4]["weight"] = 0
    msgs[2]["weight"] = 1
    ce = render_chat(chatml, msgs, specials=_sp(chatml), policy=ChatPolicy(train_on="last"))
    assert spans_text(ce) == ["Hello<|im_end|>"]
    msgs[2]["weight"] = 0
    with pytest.raises(ChatError, match="no turn to train") as exc:
        render_chat(chatml, msgs, specials=_sp(chatml), policy=ChatPolicy(train_on="all"))
    assert exc.value.code.value == "no_trained_token"


def test_train_roles(chatml):
    pol = ChatPolicy(train_on="all", train_roles=("user", "assistant"))
    ce = render_chat(chatml, CONVO, specials=_sp(chatml), policy=pol)
    assert spans_text(ce) == ["Hi<|im_end|>", "Hello<|im_end|>", "Bye<|im_end|>", "Goodbye<|im_end|>"]
    assert "user" not in "".join(spans_text(ce)) and "assistant" not in "".join(spans_text(ce))
    users = render_chat(chatml, CONVO, specials=_sp(chatml), policy=ChatPolicy(train_on="all", train_roles=("user",)))
    assert spans_text(users) == ["Hi<|im_end|>", "Bye<|im_end|>"]


def test_end_of_turn_policies(chatml):
    sp = _sp(chatml)
    eot = render_chat(chatml, CONVO, specials=sp, policy=ChatPolicy(train_on="all"))
    assert spans_text(eot) == ["Hello<|im_end|>", "Goodbye<|im_end|>"] and not eot.untrained_end
    eos = render_chat(chatml, CONVO, specials=sp, policy=ChatPolicy(train_on="all", end_of_turn="eos"))
    # EOS is not the template's <|im_end|>: the earlier turn ends untrained; the last trains the rest and EOS
    assert spans_text(eos) == ["Hello", "Goodbye<|im_end|>\n"] and eos.append_eos and eos.untrained_end
    none = render_chat(chatml, CONVO, specials=sp, policy=ChatPolicy(train_on="all", end_of_turn="none"))
    assert spans_text(none) == ["Hello", "Goodbye"] and none.untrained_end and not none.append_eos
    last = render_chat(chatml, CONVO, specials=sp, policy=ChatPolicy(train_on="last", end_of_turn="eos"))
    assert spans_text(last) == ["Goodbye<|im_end|>\n"] and last.append_eos and not last.untrained_end


def test_reasoning_and_empty_think_policies(tmp_path):
    tok = chat_tokenizer(tmp_path / "q", QWEN3_STYLE, tokens=QWEN_TOKENS)
    sp = _sp(tok)
    msgs = [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1", "reasoning_content": "r1"},
            {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2", "reasoning_content": "r2"}]
    train = render_chat(tok, msgs, specials=sp, policy=ChatPolicy(train_on="all"))
    # past reasoning is dropped by the template; the last turn's is trained with its tags
    assert spans_text(train) == ["A1<|im_end|>", "<think>\nr2\n</think>\n\nA2<|im_end|>"]
    mask = render_chat(tok, msgs, specials=sp, policy=ChatPolicy.from_spec({"train_on": "all", "reasoning": "mask"}))
    assert spans_text(mask) == ["A1<|im_end|>", "A2<|im_end|>"]
    del msgs[3]["reasoning_content"]  # the template prints an empty think block on the last turn
    assert spans_text(render_chat(tok, msgs, specials=sp)) == ["A2<|im_end|>"]
    et = render_chat(tok, msgs, specials=sp, policy=ChatPolicy(empty_think="train"))
    assert spans_text(et) == ["<think>\n\n</think>\n\nA2<|im_end|>"]


def test_channels(tmp_path):
    tok = chat_tokenizer(tmp_path / "h", HARMONY_STYLE, HARMONY_SPECIALS)
    msgs = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A", "thinking": "think"}]
    both = render_chat(tok, msgs, specials=_sp(tok), policy=ChatPolicy.from_spec({"channels": ["analysis", "final"]}))
    assert spans_text(both) == ["<|channel|>analysis<|message|>think<|end|><|start|>assistant"
                                "<|channel|>final<|message|>A<|return|>"]
    final = render_chat(tok, msgs, specials=_sp(tok), policy=ChatPolicy.from_spec({"channels": ["final"]}))
    assert spans_text(final) == ["<|channel|>final<|message|>A<|return|>"]
    assert not final.parity_mismatch and not both.parity_mismatch


def test_policy_fields_are_validated():
    from pydantic import ValidationError

    for bad, where in [({"channels": ["analysis"]}, "must include 'final'"),
                       ({"channels": ["final"], "reasoning": "train"}, "contradicts channels"),
                       ({"train_roles": ["bot"]}, "train_roles"), ({"train_roles": []}, "train_roles"),
                       ({"end_of_turn": "eom"}, "end_of_turn"), ({"template_kwargs": {"tools": 1}}, "may not set tools"),
                       ({"parity": "some"}, "parity")]:
        with pytest.raises(ValidationError, match=where):
            ChatSpec(**bad)


# a template that marks the latest user message: a render of a prefix marks another one
LATEST = ("{% set ns = namespace(u=-1) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.u = loop.index0 %}"
          "{% endif %}{% endfor %}{% for m in messages %}<|im_start|>{{ m.role }}{% if loop.index0 == ns.u %} (latest)"
          "{% endif %}{{ '\\n' + m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
          "{% endif %}")


def test_parity_check(tmp_path, chatml):
    tok = chat_tokenizer(tmp_path / "latest", LATEST)
    sp = _sp(tok)
    assert not render_chat(tok, CONVO, specials=sp, policy=ChatPolicy(train_on="all")).parity_mismatch
    assert render_chat(tok, CONVO, specials=sp, policy=ChatPolicy(train_on="all", parity="all")).parity_mismatch
    assert not render_chat(tok, CONVO, specials=sp, policy=ChatPolicy(train_on="all", parity="off")).parity_mismatch
    assert not render_chat(chatml, CONVO, specials=sp, policy=ChatPolicy(train_on="all", parity="all")).parity_mismatch


def _build(tmp_path, template, rows, chat, **kw):
    tok = chat_tokenizer(tmp_path / "tok", template)
    write_jsonl(tmp_path / "rows.jsonl", rows)
    r = {"name": "chat", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id", "templates": []}],
         "split": {"ratios": {"train": 1.0}}, "tokenizer": str(tmp_path / "tok"), "max_length": 512,
         "chat": {"messages_column": "messages", **chat}, **kw}
    res = compile_recipe(write_recipe(tmp_path, r))
    return tok, res, datasets.load_from_disk(str(res.output), keep_in_memory=True)["train"].sort("row_key")


def test_build_counts_parity_per_template_in_manifest_inspect_and_report(tmp_path):
    rows = [{"id": str(i), "messages": CONVO[:4] + [{"role": "assistant", "content": f"Bye {i}"}]} for i in range(3)]
    rows.append({"id": "9", "messages": CONVO[1:3]})  # one assistant turn: its serving prompt is the same
    tok, res, train = _build(tmp_path, LATEST, rows, {"train_on": "all", "parity": "all", "train_roles": ["assistant"]})
    chat = res.manifest["chat"]
    assert chat["templates"]["messages"] == {"examples": 4, "parity_mismatch": 3, "span_fallback": 0}
    assert chat["parity"] == "all" and chat["totals"]["parity_mismatch"] == 3
    from ftdata.cli.app import main
    out = CliRunner().invoke(main, ["inspect", str(res.output), "-n", "1"])
    assert out.exit_code == 0, out.output
    assert "chat checks" in out.output and "messages" in out.output.split("chat checks")[1].splitlines()[2]
    js = json.loads(CliRunner().invoke(main, ["inspect", str(res.output), "-n", "0", "--json"]).output)
    assert js["manifest"]["chat"]["totals"]["parity_mismatch"] == 3
    assert "Chat checks" in (res.output / "report.html").read_text()


def test_build_end_of_turn_none_is_audited(tmp_path):
    tok, res, train = _build(tmp_path, CHATML, [{"id": "1", "messages": CONVO}], {"train_on": "all", "end_of_turn": "none"})
    assert trained_runs(tok, train[0]["input_ids"], train[0]["labels"]) == ["Hello", "Goodbye"]
    assert res.manifest["audit"]["totals"]["eos_untrained"] == 1
    assert res.manifest["chat"]["templates"]["messages"]["parity_mismatch"] == 0


def test_build_template_kwargs_reach_the_template(tmp_path):
    msgs = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    tok, res, train = _build(tmp_path, QWEN3_STYLE, [{"id": "1", "messages": msgs}],
                             {"template_kwargs": {"enable_thinking": False}})
    # the empty think block is part of the serving prompt: masked, and parity holds
    assert trained_runs(tok, train[0]["input_ids"], train[0]["labels"]) == ["A<|im_end|>"]
    assert res.manifest["chat"]["totals"]["parity_mismatch"] == 0


def test_openai_tool_calls_and_reasoning_build_end_to_end(tmp_path):
    """An OpenAI-format JSONL (string arguments, tools column, reasoning, weight) through a whole
    build: the tool calls train with their assistant turn, and the export's weights name the
    turns the masks train (one rule)."""
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]

    def convo(answer, weight=None):
        call = {"role": "assistant", "content": None, "reasoning_content": "Need the tool.",
                "tool_calls": [{"id": "c1", "type": "function",
                                "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}
        return [{"role": "system", "content": "Sys."}, {"role": "user", "content": "Weather in Paris?"},
                call if weight is None else {**call, "weight": weight},
                {"role": "tool", "tool_call_id": "c1", "content": "15C"},
                {"role": "assistant", "content": answer, "thinking": "Report it."}]

    tok = chat_tokenizer(tmp_path / "tok", QWEN3_STYLE, tokens=QWEN_TOKENS)
    # different answers: exact dedup would otherwise keep one of the two
    write_jsonl(tmp_path / "rows.jsonl", [{"id": "1", "messages": convo("15C and sunny."), "tools": tools},
                                         {"id": "2", "messages": convo("Sunny, 15C.", weight=0), "tools": tools}])
    r = {"name": "chat", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id", "templates": []}],
         "split": {"ratios": {"train": 1.0}}, "tokenizer": str(tmp_path / "tok"), "max_length": 512,
         "chat": {"format": "openai", "train_on": "all"}}
    res = compile_recipe(write_recipe(tmp_path, r))
    train = datasets.load_from_disk(str(res.output), keep_in_memory=True)["train"].sort("row_key")
    call = '<think>\nNeed the tool.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>'
    answer = "<think>\nReport it.\n</think>\n\n{}<|im_end|>"
    got = [trained_runs(tok, e["input_ids"], e["labels"]) for e in train]
    assert got == [[call, answer.format("15C and sunny.")], [answer.format("Sunny, 15C.")]]
    # the tokens are the template's render of the stored conversation with its tools
    stored = json.loads(train[0]["messages"])
    assert stored[2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert json.loads(train[0]["tools"]) == tools
    assert "get_weather" in tok.decode(train[0]["input_ids"]).split("<|im_start|>user")[0]  # the tools reached the template
    assert res.manifest["chat"]["train_on"] == "all" and res.manifest["chat"]["totals"]["examples"] == 2
    # the export marks the same turns trained as the masks
    from ftdata.consume.export import export
    export(res.output, "openai-jsonl", tmp_path / "oa")
    rows = [json.loads(line) for line in (tmp_path / "oa" / "train.jsonl").read_text().splitlines()]
    weights = sorted([m.get("weight") for m in row["messages"] if m["role"] == "assistant"] for row in rows)
    assert weights == [[0, 1], [1, 1]]
