"""Conversation input (ftdata.templating.conversation): OpenAI and ShareGPT rows and a tools
column become the one internal message list; each broken rule is its own reject code, with a
message that names the message index and field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ftdata.config.models import ChatSpec
from ftdata.rejects import Code
from ftdata.templating.chat import ChatError, messages_from_value
from ftdata.templating.conversation import (
    ConversationError,
    conversation,
    dumps,
    from_openai,
    from_sharegpt,
    loads,
    tools_from_value,
)

WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def _chat(**kw) -> dict:
    return ChatSpec(**kw).model_dump()


def test_openai_tool_calls_tool_messages_weight_and_reasoning():
    value = [
        {"role": "developer", "content": "Use tools."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in "}, {"type": "text", "text": "Paris?"}]},
        {"role": "assistant", "content": None, "thinking": "I should call the tool.", "weight": 0,
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                        {"id": "c2", "function": {"name": "get_weather", "arguments": {"city": "Lyon"}}}]},
        {"role": "tool", "tool_call_id": "c2", "name": "get_weather", "content": "12C"},
        {"role": "tool", "tool_call_id": "c1", "content": "15C"},
        {"role": "assistant", "content": "15C in Paris.", "reasoning_content": "Read the result.", "weight": 1,
         "refusal": None},
    ]
    out = from_openai(value, "messages")
    assert out == [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "reasoning_content": "I should call the tool.", "weight": 0,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                        {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Lyon"}}}]},
        {"role": "tool", "content": "12C", "tool_call_id": "c2", "name": "get_weather"},
        {"role": "tool", "content": "15C", "tool_call_id": "c1"},
        {"role": "assistant", "content": "15C in Paris.", "reasoning_content": "Read the result.", "weight": 1},
    ]


def test_sharegpt_function_call_observation_and_tools_string():
    row = {"conversations": [
        {"from": "human", "value": "Weather in Paris and Lyon?"},
        {"from": "function_call", "value": json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}},
                                                        {"name": "get_weather", "arguments": "Lyon"}])},
        {"from": "observation", "value": "15C"},
        {"from": "gpt", "value": "Paris 15C."}],
        "tools": json.dumps([WEATHER])}
    msgs, tools = conversation(row, _chat(format="sharegpt", system="Be short."))
    assert msgs == [
        {"role": "system", "content": "Be short."},
        {"role": "user", "content": "Weather in Paris and Lyon?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"type": "function", "function": {"name": "get_weather", "arguments": "Lyon"}}]},  # as written
        {"role": "tool", "content": "15C"},
        {"role": "assistant", "content": "Paris 15C."}]
    assert tools == [{"type": "function", "function": WEATHER}]  # a bare schema is wrapped


def test_auto_detects_the_format_and_the_column_defaults_follow_it():
    oa = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    sg = [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]
    assert conversation({"messages": oa}, _chat(format="auto"))[0] == oa
    assert conversation({"messages": sg}, _chat(format="auto"))[0] == oa
    assert conversation({"conversations": sg}, _chat(format="sharegpt"))[0] == oa
    # a ShareGPT row's own system column wins over the recipe's system message
    assert conversation({"conversations": sg, "system": "Row."}, _chat(format="sharegpt", system="Recipe."))[0][0] \
        == {"role": "system", "content": "Row."}
    assert conversation({"conversations": sg, "system": ""}, _chat(format="sharegpt", system="Recipe."))[0][0] \
        == {"role": "system", "content": "Recipe."}
    assert conversation({"chat": sg}, _chat(messages_column="chat"))[0] == oa  # the column alone: auto
    assert ChatSpec(format="sharegpt").messages_column == "conversations"
    assert ChatSpec(format="openai").messages_column == "messages"
    assert ChatSpec().messages_column is None  # no format, no column: templates make the pair
    # tools: the 'tools' column when the row has one, or the one named; empty means none
    assert conversation({"messages": oa, "tools": []}, _chat(format="openai"))[1] is None
    assert conversation({"messages": oa, "fns": [WEATHER]}, _chat(format="openai", tools_column="fns"))[1] \
        == [{"type": "function", "function": WEATHER}]


def test_messages_from_value_delegates_and_keeps_its_error_type():
    with pytest.raises(ChatError, match=r"column 'm'\[1\]\.role: 'robot' is not one of") as e:
        messages_from_value([{"role": "user", "content": "q"}, {"role": "robot", "content": "a"}], "m", None)
    assert e.value.code == Code.UNKNOWN_ROLE
    assert messages_from_value([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "m", "s")[0] \
        == {"role": "system", "content": "s"}


ONE_CALL = {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]}
Q = {"role": "user", "content": "q"}
A = {"role": "assistant", "content": "a"}


@pytest.mark.parametrize(("value", "code", "where"), [
    ([Q, {"role": "robot", "content": "a"}, A], Code.UNKNOWN_ROLE, r"\[1\]\.role: 'robot'"),
    ([Q, {"role": "tool", "content": "r"}, A], Code.TOOL_WITHOUT_CALL, r"\[1\]: a tool message with no"),
    ([Q, ONE_CALL, {"role": "tool", "tool_call_id": "c9", "content": "r"}, A], Code.TOOL_WITHOUT_CALL,
     r"\[2\]\.tool_call_id: 'c9' names no earlier"),
    ([Q, ONE_CALL, {"role": "tool", "tool_call_id": "c1", "content": "r"}, {"role": "tool", "tool_call_id": "c1",
                                                                            "content": "again"}, A],
     Code.TOOL_WITHOUT_CALL, r"\[3\]\.tool_call_id: 'c1'"),  # a call is answered once
    ([Q, {"role": "assistant", "content": ""}], Code.EMPTY_ASSISTANT_TURN, r"\[1\]: an assistant turn with neither"),
    ([Q, {"role": "assistant", "content": None, "tool_calls": []}], Code.EMPTY_ASSISTANT_TURN, r"\[1\]"),
    ([Q, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": "{'a': 1}"}}]}],
     Code.BAD_TOOL_ARGUMENTS, r"\[1\]\.tool_calls\[0\]\.function\.arguments: not valid JSON"),
    ([Q, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f"}}]}],
     Code.BAD_TOOL_ARGUMENTS, r"\[1\]\.tool_calls\[0\]\.function\.arguments: missing"),
    ([Q, {**A, "weight": 2}], Code.BAD_WEIGHT, r"\[1\]\.weight: expected 0 or 1, found 2"),
    ([Q, {**A, "weight": "1"}], Code.BAD_WEIGHT, r"\[1\]\.weight: expected 0 or 1, found '1'"),
    ([Q, {**A, "weight": True}], Code.BAD_WEIGHT, r"\[1\]\.weight"),
    ([{**Q, "weight": 1}, A], Code.BAD_WEIGHT, r"\[0\]\.weight: only an assistant turn"),
    ([Q], Code.BAD_MESSAGES, r": no assistant turn"),
    ("text", Code.BAD_MESSAGES, r": expected a non-empty list"),
    ([Q, {"role": "assistant", "content": 3}], Code.BAD_MESSAGES, r"\[1\]\.content: expected a string"),
    ([Q, {"role": "assistant", "content": "", "tool_calls": [{"function": {"arguments": "{}"}}]}],
     Code.BAD_MESSAGES, r"\[1\]\.tool_calls\[0\]\.function\.name"),
    ([{**Q, "tool_calls": []}, A], Code.BAD_MESSAGES, r"\[0\]\.tool_calls: only an assistant"),
])
def test_openai_rule_breaks_are_rejects_with_their_own_code(value, code, where):
    with pytest.raises(ConversationError, match=r"column 'messages'" + where) as e:
        from_openai(value, "messages")
    assert e.value.code == code


@pytest.mark.parametrize(("value", "code", "where"), [
    ([{"from": "human", "value": "q"}, {"from": "bot", "value": "a"}], Code.UNKNOWN_ROLE, r"\[1\]\.from: 'bot'"),
    ([{"from": "human", "value": "q"}, {"from": "observation", "value": "r"}, {"from": "gpt", "value": "a"}],
     Code.TOOL_WITHOUT_CALL, r"\[1\]: a tool message"),
    ([{"from": "human", "value": "q"}, {"from": "gpt", "value": ""}], Code.EMPTY_ASSISTANT_TURN, r"\[1\]"),
    ([{"from": "human", "value": "q"}, {"from": "function_call", "value": "get_weather(Paris)"}],
     Code.BAD_TOOL_ARGUMENTS, r"\[1\]\.value: not valid JSON"),
    ([{"from": "human", "value": "q"}, {"from": "function_call", "value": '{"name": "f"}'}],
     Code.BAD_TOOL_ARGUMENTS, r"\[1\]\.value\.arguments: missing"),
    ([{"from": "human", "value": "q"}, {"from": "gpt"}], Code.BAD_MESSAGES, r"\[1\]\.value: expected a string"),
])
def test_sharegpt_rule_breaks_are_rejects_with_their_own_code(value, code, where):
    with pytest.raises(ConversationError, match=r"column 'conversations'" + where) as e:
        from_sharegpt(value, "conversations")
    assert e.value.code == code


@pytest.mark.parametrize("value", ["[{", {"name": "f"}, [{"description": "no name"}], [{"type": "x", "function": WEATHER}]])
def test_bad_tools_value(value):
    with pytest.raises(ConversationError, match=r"column 'tools'") as e:
        tools_from_value(value, "tools")
    assert e.value.code == Code.BAD_TOOLS


def test_stored_text_round_trips_mixed_argument_shapes():
    shapes = ["plain string", 42, -1.5e-07, {"a": {"b": [1, {"c": None}]}}, [1, "two", [3.0]], True, None, "é\u2028"]
    msgs = [Q] + [{"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "f", "arguments": json.dumps(s, ensure_ascii=False)}}]} for s in shapes] + [A]
    out = from_openai(msgs, "messages")
    assert [m["tool_calls"][0]["function"]["arguments"] for m in out[1:-1]] == shapes
    text = dumps(out)
    assert loads(text) == out and dumps(loads(text)) == text
    assert loads(None) is None


def test_readme_worked_examples_convert():
    """The README's "Chat data" examples: each recipe snippet reads its data line."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Chat data", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(yaml|json)\n(.*?)```", section, re.S)
    pairs = [(yaml.safe_load(a[1]), json.loads(b[1])) for a, b in zip(blocks, blocks[1:])
             if a[0] == "yaml" and b[0] == "json"]
    assert len(pairs) == 2
    got = [conversation(row, ChatSpec(**recipe["chat"]).model_dump()) for recipe, row in pairs]
    (oa, oa_tools), (sg, sg_tools) = got
    assert oa[0] == {"role": "system", "content": "You are a weather assistant."}
    assert oa[2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"} and oa[2]["weight"] == 0
    assert sg[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert oa_tools == sg_tools


def test_struct_rows_with_null_keys_read_like_clean_ones():
    """Parquet / Hub sources give every message every key of the column's struct, null where absent."""
    import pyarrow as pa

    clean = [{"role": "user", "content": "q"},
             {"role": "assistant", "content": None, "tool_calls": [
                 {"id": "c1", "function": {"name": "f", "arguments": "{\"a\": 1}"}},
                 {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "2"}}]},
             {"role": "tool", "tool_call_id": "c1", "content": "r"},
             {"role": "assistant", "content": "done", "weight": 1}]
    structs = pa.array([clean]).to_pylist()[0]  # what a struct column reads back as
    assert structs[0]["tool_calls"] is None and structs[0]["weight"] is None and structs[3]["tool_call_id"] is None
    assert structs[1]["tool_calls"][0]["type"] is None
    assert from_openai(structs, "messages") == from_openai(clean, "messages")
