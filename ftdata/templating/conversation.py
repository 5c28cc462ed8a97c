"""Conversation input: OpenAI ``messages``, ShareGPT ``conversations`` and a ``tools`` column,
converted to the one internal message list that chat templates receive.

The internal format (what :func:`conversation` returns and the chat template gets as
``messages=`` and ``tools=``)::

    message: {"role": "system" | "user" | "assistant" | "tool",
              "content": str,                       # "" for an assistant turn with only tool calls
              "reasoning_content": str,             # optional, assistant (input: reasoning_content or thinking)
              "tool_calls": [{"id": str (optional), "type": "function",
                              "function": {"name": str, "arguments": <parsed JSON value>}}],
              "tool_call_id": str, "name": str,     # optional, tool
              "weight": 0 | 1}                      # optional, assistant (0 = do not train)
    tools: [{"type": "function", "function": {...JSON schema...}}] or None

Input formats:

* ``openai``: a list of ``{role, content, ...}``; roles ``system`` (``developer`` is read as
  ``system``), ``user``, ``assistant``, ``tool``. ``content`` is a string, a list of
  ``{"type": "text", "text": ...}`` parts (joined), or null on an assistant turn with tool
  calls. ``function.arguments`` is a JSON string (OpenAI) or already a JSON value.
* ``sharegpt``: a list of ``{from, value}``; ``from`` is ``human`` / ``gpt`` / ``system`` /
  ``function_call`` / ``observation`` (``user`` / ``assistant`` / ``tool`` are read as the same).
  A non-empty ``system`` column of the row is its system message (else the recipe's).
  A ``function_call`` value is the JSON of ``{"name", "arguments"}`` or a list of them (parallel
  calls; ``arguments`` is taken as written there, a string staying a string); it becomes an
  assistant turn with ``tool_calls``. An ``observation`` becomes a tool message.
* ``auto``: ``openai`` when the messages carry ``role``, ``sharegpt`` when they carry ``from``.

A tools value is a list of tool schemas or the JSON text of one (LLaMA-Factory stores it as a
string); a bare function schema ``{"name", "description", "parameters"}`` is wrapped as
``{"type": "function", "function": {...}}``.

Keys a message carries beyond the ones above are left out, and a key whose value is null counts
as absent (a Parquet or Hub source stores messages as Arrow structs, which give every message
every key). Every problem raises
:class:`ConversationError` with its own reject code and a message that names
the message index and field.

Stored form: the shards of a chat build carry the conversation as JSON text (:func:`dumps`:
one string per row, never an Arrow struct, so rows whose tool arguments differ in shape share
one column type); :func:`loads` gives the list back.
"""

from __future__ import annotations

import json
from typing import Any

from ..config.models import CONVERSATION_COLUMN
from ..read.jsonfmt import parse_json_object
from ..rejects import Code

FORMATS = ("openai", "sharegpt", "auto")
#: Default tools column: read when the row has it (a conversation build only).
DEFAULT_TOOLS_COLUMN = "tools"

_OPENAI_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
                 "tool": "tool"}
#: The roles whose {role, content} message :func:`from_openai` takes as it is (a tool message
#: answers a call: the full checks).
_PLAIN_ROLES = {k: v for k, v in _OPENAI_ROLES.items() if v != "tool"}
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system", "function_call": "function_call", "observation": "tool", "tool": "tool"}


class ConversationError(Exception):
    """A conversation or tools value breaks a rule; ``code`` is its reject code."""

    def __init__(self, message: str, code: Code = Code.BAD_MESSAGES):
        super().__init__(message)
        self.code = code


#: One encoder for :func:`dumps` (``json.dumps`` with arguments builds one per call: half its time).
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: Its C function, made once (``JSONEncoder.encode`` makes it again on every call: half of a short
#: conversation's encoding); without the cycle check, as a value parsed from JSON or Arrow has no
#: cycle. None where this Python has no C encoder.
_C_DUMPS = (None if json.encoder.c_make_encoder is None else
            json.encoder.c_make_encoder(None, _DUMPS.default, json.encoder.encode_basestring, None, ":", ",",
                                        False, False, True))


def dumps(value: Any) -> str:
    """The stored JSON text of a conversation or tools value (key order kept, UTF-8 as is)."""
    if _C_DUMPS is None or isinstance(value, str):  # a bare string: what JSONEncoder.encode does for one
        return _DUMPS.encode(value)
    return "".join(_C_DUMPS(value, 0))


def loads(text: str | None) -> Any:
    """The value :func:`dumps` stored (None stays None)."""
    return None if text is None else json.loads(text)


def _bad(code: Code, where: str, what: str) -> ConversationError:
    return ConversationError(f"{where}: {what}", code)


def _text(value, where: str, *, allow_none: bool = False) -> str | None:
    """A message's text: a string, or OpenAI content parts of type text (joined)."""
    if isinstance(value, str):
        return value
    if value is None and allow_none:
        return None
    if isinstance(value, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                       and isinstance(p.get("text"), str) for p in value):
        return "".join(p["text"] for p in value)
    raise _bad(Code.BAD_MESSAGES, where, f"expected a string (or a list of {{type: text, text}} parts), "
                                          f"found {_short(value)}")


def _short(value) -> str:
    s = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return s if len(s) <= 80 else s[:77] + "..."


def _arguments(value, where: str):
    """Tool-call arguments as a parsed JSON value (a JSON string is parsed, strictly)."""
    if isinstance(value, str):
        parsed, err = parse_json_object(value)
        if err is not None:
            raise _bad(Code.BAD_TOOL_ARGUMENTS, where, f"not valid JSON ({err}): {_short(value)}")
        return parsed
    if value is None:
        raise _bad(Code.BAD_TOOL_ARGUMENTS, where, "missing (expected a JSON string or value)")
    return value


def _tool_call(tc, where: str) -> dict:
    """One OpenAI tool call, normalised: {id?, type: function, function: {name, arguments}}."""
    if not isinstance(tc, dict) or not isinstance(tc.get("function"), dict):
        raise _bad(Code.BAD_MESSAGES, where, f"expected {{type: function, function: {{name, arguments}}}}, "
                                             f"found {_short(tc)}")
    fn = tc["function"]
    if not isinstance(fn.get("name"), str) or not fn["name"]:
        raise _bad(Code.BAD_MESSAGES, f"{where}.function.name", f"expected a non-empty string, found {_short(fn.get('name'))}")
    if (tc.get("type") or "function") != "function":  # null: a struct column's missing key
        raise _bad(Code.BAD_MESSAGES, f"{where}.type", f"expected 'function', found {_short(tc.get('type'))}")
    out = {}
    if tc.get("id") is not None:
        if not isinstance(tc["id"], str):
            raise _bad(Code.BAD_MESSAGES, f"{where}.id", f"expected a string, found {_short(tc['id'])}")
        out["id"] = tc["id"]
    out["type"] = "function"
    out["function"] = {"name": fn["name"], "arguments": _arguments(fn.get("arguments"), f"{where}.function.arguments")}
    return out


def _weight(value, where: str) -> int:
    if type(value) is int and value in (0, 1):  # noqa: E721 - True/False are not weights
        return value
    raise _bad(Code.BAD_WEIGHT, where, f"expected 0 or 1, found {_short(value)}")


class _Calls:
    """Tool calls made and not yet answered: a tool message must answer one of them."""

    def __init__(self):
        self.open: list[dict] = []

    def add(self, calls: list[dict]) -> None:
        self.open += calls

    def answer(self, call_id: str | None, where: str) -> None:
        if call_id is None:
            if not self.open:
                raise _bad(Code.TOOL_WITHOUT_CALL, where, "a tool message with no assistant tool call before it")
            self.open.pop(0)
            return
        for i, c in enumerate(self.open):
            if c.get("id") == call_id:
                del self.open[i]
                return
        raise _bad(Code.TOOL_WITHOUT_CALL, f"{where}.tool_call_id",
                   f"'{call_id}' names no earlier unanswered tool call")


def _finish(out: list[dict], column: str, system: str | None) -> list[dict]:
    for m in out:  # a loop, not any() over a generator: once per conversation, a hot path
        if m["role"] == "assistant":
            break
    else:
        raise ConversationError(f"column '{column}': no assistant turn to train", Code.BAD_MESSAGES)
    if system and out[0]["role"] != "system":
        out.insert(0, {"role": "system", "content": system})
    return out


def _check_assistant(m: dict, where: str) -> None:
    if not m["content"] and not m.get("tool_calls"):
        raise _bad(Code.EMPTY_ASSISTANT_TURN, where, "an assistant turn with neither content nor a tool call")


def _role(m, where: str, key: str, shape: str, roles: dict[str, str]) -> str:
    """The internal role of message ``m`` (its ``key`` looked up in ``roles``); a value that is not
    a message, or a role not in ``roles``, is a reject naming ``where``."""
    if not isinstance(m, dict) or key not in m:
        raise _bad(Code.BAD_MESSAGES, where, f"expected {shape}, found {_short(m)}")
    role = roles.get(m[key]) if isinstance(m[key], str) else None
    if role is None:
        raise _bad(Code.UNKNOWN_ROLE, f"{where}.{key}", f"{_short(m[key])} is not one of {', '.join(roles)}")
    return role


def from_openai(value, column: str, system: str | None = None) -> list[dict]:
    """OpenAI-style messages -> the internal list (see the module docstring)."""
    _check_list(value, column, "{role, content}")
    out, calls = [], None  # the tool calls not yet answered: made at the first message that is not plain
    for i, m in enumerate(value):
        # the common message, {role, content} of text, not a tool's: nothing else to check
        if (type(m) is dict and len(m) == 2 and type(m.get("content")) is str and type(m.get("role")) is str
                and (role := _PLAIN_ROLES.get(m["role"])) is not None and (m["content"] or role != "assistant")):
            out.append({"role": role, "content": m["content"]})
            continue
        if calls is None:
            calls = _Calls()
        where = f"column '{column}'[{i}]"
        role = _role(m, where, "role", "{role, content}", _OPENAI_ROLES)
        tool_calls = m.get("tool_calls") if role == "assistant" else None
        content = _text(m.get("content"), f"{where}.content", allow_none=role == "assistant")
        msg: dict = {"role": role, "content": content or ""}
        for key in ("reasoning_content", "thinking"):
            if m.get(key) is not None:
                if role != "assistant":
                    raise _bad(Code.BAD_MESSAGES, f"{where}.{key}", f"only an assistant turn has reasoning ({role})")
                r = _text(m[key], f"{where}.{key}")
                if "reasoning_content" in msg and msg["reasoning_content"] != r:
                    raise _bad(Code.BAD_MESSAGES, where, "reasoning_content and thinking differ; give one")
                msg["reasoning_content"] = r
        if m.get("tool_calls") is not None and role != "assistant":
            raise _bad(Code.BAD_MESSAGES, f"{where}.tool_calls", f"only an assistant turn makes tool calls ({role})")
        if tool_calls is not None:
            if not isinstance(tool_calls, list):
                raise _bad(Code.BAD_MESSAGES, f"{where}.tool_calls", f"expected a list, found {_short(tool_calls)}")
            if tool_calls:
                msg["tool_calls"] = [_tool_call(tc, f"{where}.tool_calls[{j}]") for j, tc in enumerate(tool_calls)]
                calls.add(msg["tool_calls"])
        if role == "tool":
            call_id = m.get("tool_call_id")
            if call_id is not None and not isinstance(call_id, str):
                raise _bad(Code.BAD_MESSAGES, f"{where}.tool_call_id", f"expected a string, found {_short(call_id)}")
            calls.answer(call_id, where)
            if call_id is not None:
                msg["tool_call_id"] = call_id
            if m.get("name") is not None:
                if not isinstance(m["name"], str):
                    raise _bad(Code.BAD_MESSAGES, f"{where}.name", f"expected a string, found {_short(m['name'])}")
                msg["name"] = m["name"]
        if m.get("weight") is not None:
            if role != "assistant":
                raise _bad(Code.BAD_WEIGHT, f"{where}.weight", f"only an assistant turn has a weight ({role})")
            msg["weight"] = _weight(m["weight"], f"{where}.weight")
        if role == "assistant":
            _check_assistant(msg, where)
        out.append(msg)
    return _finish(out, column, system)


def _sharegpt_calls(value: str, where: str) -> list[dict]:
    """A ShareGPT function_call value -> tool calls (one object or a list of them)."""
    parsed, err = parse_json_object(value) if isinstance(value, str) else (value, None)
    if err is not None:
        raise _bad(Code.BAD_TOOL_ARGUMENTS, where, f"not valid JSON ({err}): {_short(value)}")
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items:
        raise _bad(Code.EMPTY_ASSISTANT_TURN, where, "a function_call with no call in it")
    calls = []
    for j, c in enumerate(items):
        w = f"{where}[{j}]" if isinstance(parsed, list) else where
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
            raise _bad(Code.BAD_MESSAGES, w, f"expected {{name, arguments}}, found {_short(c)}")
        if "arguments" not in c:
            raise _bad(Code.BAD_TOOL_ARGUMENTS, f"{w}.arguments", "missing")
        # the value is JSON already: its arguments are taken as written (a string stays a string,
        # as LLaMA-Factory reads them), not parsed a second time
        calls.append({"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}})
    return calls


def from_sharegpt(value, column: str, system: str | None = None) -> list[dict]:
    """ShareGPT conversations -> the internal list (see the module docstring)."""
    _check_list(value, column, "{from, value}")
    out, calls = [], _Calls()
    for i, m in enumerate(value):
        where = f"column '{column}'[{i}]"
        role = _role(m, where, "from", "{from, value}", _SHAREGPT_ROLES)
        if not isinstance(m.get("value"), str):
            raise _bad(Code.BAD_MESSAGES, f"{where}.value", f"expected a string, found {_short(m.get('value'))}")
        if role == "function_call":
            msg = {"role": "assistant", "content": "", "tool_calls": _sharegpt_calls(m["value"], f"{where}.value")}
            calls.add(msg["tool_calls"])
        else:
            msg = {"role": role, "content": m["value"]}
            if role == "tool":
                calls.answer(None, where)
            elif role == "assistant":
                _check_assistant(msg, where)
        out.append(msg)
    return _finish(out, column, system)


def _check_list(value, column: str, shape: str) -> None:
    if not isinstance(value, list) or not value:
        raise ConversationError(f"column '{column}': expected a non-empty list of {shape}, found {type(value).__name__}",
                        Code.BAD_MESSAGES)


def detect(value) -> str | None:
    """``openai`` or ``sharegpt`` from the first message's keys, or None."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        if "role" in value[0]:
            return "openai"
        if "from" in value[0]:
            return "sharegpt"
    return None


def tools_from_value(value, column: str) -> list[dict] | None:
    """A tools value (list or JSON text of one) -> OpenAI tool schemas, or None when empty."""
    if value is None or value == "" or value == []:
        return None
    where = f"column '{column}'"
    if isinstance(value, str):
        parsed, err = parse_json_object(value)
        if err is not None:
            raise _bad(Code.BAD_TOOLS, where, f"not valid JSON ({err}): {_short(value)}")
        value = parsed
        if value is None or value == []:
            return None
    if not isinstance(value, list):
        raise _bad(Code.BAD_TOOLS, where, f"expected a list of tool schemas, found {_short(value)}")
    out = []
    for i, t in enumerate(value):
        fn = t.get("function") if isinstance(t, dict) and "function" in t else t
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise _bad(Code.BAD_TOOLS, f"{where}[{i}]", f"expected a function schema with a name, found {_short(t)}")
        if isinstance(t, dict) and "function" in t:
            if t.get("type", "function") != "function":
                raise _bad(Code.BAD_TOOLS, f"{where}[{i}].type", f"expected 'function', found {_short(t.get('type'))}")
            out.append({**t, "type": "function"} if "type" not in t else t)
        else:
            out.append({"type": "function", "function": fn})
    return out


def conversation(row: dict, chat: dict) -> tuple[list[dict], list[dict] | None]:
    """A row's conversation and tools, per the recipe's chat settings (``ChatSpec`` as a dict).

    Raises:
        ConversationError: the conversation or its tools are not valid (the code says which rule).
    """
    fmt = chat.get("format") or "auto"
    col = chat.get("messages_column") or CONVERSATION_COLUMN[fmt]
    value = row.get(col)
    if fmt == "auto":
        fmt = detect(value) or "openai"
    system = chat.get("system")
    if fmt == "sharegpt" and isinstance(row.get("system"), str) and row["system"]:
        system = row["system"]  # LLaMA-Factory's ShareGPT rows carry their system prompt in a column
    convert = from_sharegpt if fmt == "sharegpt" else from_openai
    msgs = convert(value, col, system)
    return msgs, row_tools(row, chat)


def trained_turns(messages: list[dict], train_on: str = "last",
                  train_roles: tuple[str, ...] | list[str] = ("assistant",)) -> list[int]:
    """Indices of the messages to train -- the one rule for the masks
    (:func:`ftdata.templating.chat.render_chat`) and the conversation exports.

    The messages of ``train_roles``, the last one (``train_on: last``) or all (``all``); then a
    message's own ``weight`` overrides both: 0 leaves it untrained, 1 trains it.
    """
    cands = [i for i, m in enumerate(messages) if m["role"] in train_roles]
    for m in messages:  # a loop, not any() over a generator: once per conversation, a hot path
        if "weight" in m:
            break
    else:  # no message overrides: the policy's choice, in order
        return cands[-1:] if train_on == "last" else cands
    chosen = set(cands[-1:] if train_on == "last" else cands)
    for i, m in enumerate(messages):
        if m.get("weight") == 0:
            chosen.discard(i)
        elif m.get("weight") == 1:
            chosen.add(i)
    return sorted(chosen)


def assistant_weights(messages: list[dict], train_on: str, train_roles: tuple[str, ...]) -> list[int | None]:
    """Per message: 1 if the assistant turn is trained, 0 if not, None for other roles.

    :func:`trained_turns` decides, with the chat policy's ``train_on`` and ``train_roles`` (the
    caller reads them from the recipe's ``chat`` through ``ChatPolicy.from_spec``, which holds
    their defaults). The conversation exports write this as OpenAI ``weight``, axolotl
    ``training`` and LLaMA-Factory ``mask_history``.
    """
    chosen = set(trained_turns(messages, train_on, train_roles))
    return [None if m["role"] != "assistant" else int(i in chosen) for i, m in enumerate(messages)]


def row_tools(row: dict, chat: dict) -> list[dict] | None:
    """The row's tools (``chat.tools_column``; by default a ``tools`` column when the row has one)."""
    col = chat.get("tools_column") or DEFAULT_TOOLS_COLUMN
    return tools_from_value(row.get(col), col)
