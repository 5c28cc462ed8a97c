"""from_openai's fast path for plain {role, content} messages agrees with the full checks; dumps'
cached C encoder writes what the JSON encoder writes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.templating.chatjinja import plain_messages
from ftdata.templating.conversation import ConversationError, dumps, from_openai


class _Slow(dict):
    """A message the fast path does not take (it takes exact dicts only): the full checks run."""


def _outcome(value, system):
    try:
        return from_openai(value, "messages", system)
    except ConversationError as exc:
        return ("error", exc.code, str(exc))


_ROLE = st.sampled_from(["system", "developer", "user", "assistant", "tool", "bot", "", 3, None])
_CONTENT = st.one_of(st.sampled_from(["", "hi", " x "]), st.none(), st.integers(),
                     st.just([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]))
_MESSAGE = st.one_of(
    st.fixed_dictionaries({"role": _ROLE, "content": _CONTENT}),
    st.fixed_dictionaries({"role": _ROLE, "content": _CONTENT}, optional={
        "weight": st.sampled_from([0, 1, 2, None]), "name": st.sampled_from(["f", None]),
        "tool_call_id": st.sampled_from(["c1", None]), "reasoning_content": st.sampled_from(["r", None]),
        "tool_calls": st.just([{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}])}),
    st.fixed_dictionaries({"content": _CONTENT}), st.sampled_from(["text", None, 5]))


@settings(max_examples=400, deadline=None)
@given(value=st.lists(_MESSAGE, max_size=5), system=st.sampled_from([None, "", "sys"]))
def test_fast_path_agrees_with_full_checks(value, system):
    slow = [_Slow(m) if isinstance(m, dict) else m for m in value]
    got, want = _outcome(value, system), _outcome(slow, system)
    assert got == want
    if not isinstance(got, tuple):
        assert [type(m) for m in got] == [dict] * len(got)
        assert plain_messages(got) == plain_messages([_Slow(m) for m in got])  # its fast path too


def test_both_paths_are_taken():
    plain = [{"role": "developer", "content": "s"}, {"role": "user", "content": "q"},
             {"role": "assistant", "content": "a"}]
    out = from_openai(plain, "messages")
    assert out == [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                   {"role": "assistant", "content": "a"}]
    assert all(a is not b for a, b in zip(out, plain))  # the input is never handed on
    assert plain_messages(out)[2] is out[2]  # already plain: not copied
    weighted = plain_messages([{"role": "assistant", "content": "a", "weight": 1}])
    assert weighted == [{"role": "assistant", "content": "a"}]
    assert _outcome([{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}], None) == (
        "error", _outcome([_Slow(role="user", content="q"), _Slow(role="assistant", content="")], None)[1],
        "column 'messages'[1]: an assistant turn with neither content nor a tool call")


_TURN = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "tool"])},
                              optional={"weight": st.sampled_from([0, 1, None, False, True, 2])})


@settings(max_examples=400, deadline=None)
@given(messages=st.lists(_TURN, max_size=6), train_on=st.sampled_from(["last", "all"]),
       train_roles=st.sampled_from([("assistant",), ("assistant", "user"), ("tool",)]))
def test_trained_turns_fast_path_agrees_with_the_rule(messages, train_on, train_roles):
    from ftdata.templating.conversation import trained_turns

    # the general path: a weight key on every message (None overrides nothing) takes the fast path away
    general = [{**m, "weight": m.get("weight")} for m in messages]
    assert trained_turns(messages, train_on, train_roles) == trained_turns(general, train_on, train_roles)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                     lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                     max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_dumps_writes_what_json_dumps_wrote(value):
    """The stored JSON text is byte for byte what ``json.dumps`` with the same arguments writes."""
    import json

    from ftdata.templating.conversation import dumps

    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                     max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(value=_JSON)
def test_dumps_is_the_json_encoders_text(value):
    """dumps (the C encoder made once) writes exactly what the JSON encoder it stands for writes
    (NaN and infinities included, non-ASCII as is, key order kept)."""
    assert dumps(value) == json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode(value)
