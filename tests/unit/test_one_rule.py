"""One rule, one place: the overflow policy and the row check, called directly on literal rows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ftdata.config.models import ColumnSpec
from ftdata.constants import IGNORE_INDEX as X
from ftdata.read.schema import check_source_row
from ftdata.rejects import Code
from ftdata.tokenize.overflow import TooLong, fit_to_length
from ftdata.tokenize.seq2seq import encode_seq2seq
from ftdata.tokenize.spans import encode_causal
from ftdata.tokenize.tokenizer import load_tokenizer

# word tokenizer ids (tests/conftest.py WORDS): Q:=2 A:=3 what=4 is=5 two=6 plus=7 three=8
# five=9 six=10 <eos>=0
PROMPT = "Q: what is two plus three A:"


def test_overflow_policy_on_literal_ids():
    ids, labels = [2, 4, 5, 6, 7, 8, 3, 9, 0], [X] * 7 + [9, 0]
    fits = fit_to_length(ids, labels, 7, 9, "drop")
    assert (fits.input_ids, fits.labels, fits.truncated, fits.n_prompt) == (ids, labels, False, 7)
    assert fit_to_length(ids, labels, 7, 6, "drop").reject == (Code.TOO_LONG, "too long: 9 tokens > max_length 6")
    with pytest.raises(TooLong, match="too long: 9 tokens > max_length 6"):
        fit_to_length(ids, labels, 7, 6, "error")
    # 6 = 2 completion tokens + 4 of context: head 2 (Q: what) and tail 2 (three A:)
    cut = fit_to_length(ids, labels, 7, 6, "truncate_prompt")
    assert (cut.input_ids, cut.labels, cut.truncated, cut.n_prompt) == ([2, 4, 8, 3, 9, 0], [X, X, X, X, 9, 0], True, 4)
    # the completion is never cut: no room left for it is a reject
    assert "completion alone is 2 tokens" in fit_to_length(ids, labels, 7, 2, "truncate_prompt").reject.message
    # all context, no labels (the seq2seq encoder side)
    enc = fit_to_length([2, 4, 5, 6, 7, 8, 3], None, 7, 4, "truncate_prompt", what="prompt is ")
    assert (enc.input_ids, enc.labels, enc.truncated) == ([2, 4, 8, 3], None, True)
    assert fit_to_length([2, 4, 5], None, 3, 2, "drop", what="prompt is ").reject.message == (
        "too long: prompt is 3 tokens > max_length 2")


@pytest.mark.parametrize("overflow", ["drop", "truncate_prompt"])
def test_causal_and_seq2seq_apply_the_one_policy(word_tokenizer, overflow):
    backend = load_tokenizer(str(word_tokenizer)).backend_tokenizer
    causal = encode_causal(backend, [PROMPT], ["five"], separator=" ", eos_id=0, max_length=4, overflow=overflow)[0]
    s2s = encode_seq2seq(backend, [PROMPT], ["five"], eos_id=0, max_length=4, overflow=overflow)[0]
    if overflow == "drop":
        assert causal.reject.message == "too long: 9 tokens > max_length 4"
        assert s2s.reject.message == "too long: prompt is 7 tokens > max_length 4"
        return
    # causal: 2 completion tokens (five <eos>) leave 2 of context, head 1 and tail 1
    assert (causal.input_ids, causal.labels, causal.truncated) == ([2, 3, 9, 0], [X, X, 9, 0], True)
    # seq2seq: the encoder side keeps head 2 and tail 2; labels are the completion, never cut
    assert (s2s.input_ids, s2s.labels, s2s.truncated, s2s.n_prompt) == ([2, 4, 8, 3], [9, 0], True, 4)


def _source(rename=None, **columns):
    return SimpleNamespace(rename=rename or {}, columns={k: ColumnSpec(**v) for k, v in columns.items()})


def test_the_row_check_renames_then_checks():
    src = _source({"Score": "stars", "Text": "text"}, stars={"type": "int", "min": 1, "max": 5},
                  text={"type": "str", "min_length": 1})
    assert check_source_row({"Score": "4", "Text": "good", "Id": "7"}, src) == (
        {"stars": 4, "text": "good", "Id": "7"}, None)
    # the error names the column by its new name: the one the recipe's columns use
    assert check_source_row({"Score": "9", "Text": "good"}, src) == (None, "stars: expected <= 5, found 9")
    assert check_source_row({"Score": "3", "Text": " "}, src)[1] == "text: required str value, found empty value ' '"
    assert check_source_row({"Score": "3"}, _source()) == ({"Score": "3"}, None)  # nothing declared


def _calls(needle: str) -> dict[str, int]:
    """Package modules (by file name) whose source holds ``needle``, with the count."""
    import ftdata

    root = Path(ftdata.__file__).parent
    found = {p.name: p.read_text(encoding="utf-8").count(needle) for p in root.rglob("*.py")}
    return {k: v for k, v in found.items() if v}


def test_each_rule_is_written_in_one_module():
    # the overflow policy decides in one function; the row check and the page release are one
    # function each, and everything else calls them
    assert _calls("overflow ==") == {"overflow.py": 1}  # _too_long, called by fit_to_length only
    assert _calls("check_row(") == {"schema.py": 2}  # its definition and check_source_row's call
    assert _calls(".madvise(") == {"mapped.py": 1}
    assert _calls("mmap.mmap(") == {"mapped.py": 1}


def test_masks_and_conversation_exports_train_the_same_turns():
    """One rule for trained turns: the engine's policy and the exports' weights agree, weight overriding train_on."""
    from ftdata.templating.chat import ChatPolicy, trained_turns
    from ftdata.templating.conversation import assistant_weights

    a = {"role": "assistant", "content": "x"}
    convs = [
        [{"role": "user", "content": "q"}, a, {"role": "user", "content": "q"}, a],
        [{"role": "user", "content": "q"}, {**a, "weight": 1}, {"role": "user", "content": "q"}, a],
        [{"role": "user", "content": "q"}, a, {"role": "user", "content": "q"}, {**a, "weight": 0}],
        [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {**a, "weight": 0},
         {"role": "tool", "content": "r"}, a],
    ]
    for train_on in ("last", "all"):
        for msgs in convs:
            chosen = trained_turns(msgs, ChatPolicy(train_on=train_on))
            weights = assistant_weights(msgs, train_on, ("assistant",))
            assert [i for i, w in enumerate(weights) if w == 1] == chosen
            assert [i for i, w in enumerate(weights) if w is not None] == [i for i, m in enumerate(msgs)
                                                                             if m["role"] == "assistant"]
    assert trained_turns(convs[1], ChatPolicy()) == [1, 3]  # weight 1 adds a turn last would skip
    assert trained_turns(convs[2], ChatPolicy(train_on="all")) == [1]  # weight 0 removes one
    # the rule lives in one place: the chat engine calls the conversation module's function
    assert _calls('m.get("weight") == 0') == {"conversation.py": 1}
    # and the policy's defaults are read in one place: ChatPolicy.from_spec (the exports call it too)
    assert _calls('get("train_on")') == {"chat.py": 1} and _calls('get("train_roles")') == {"chat.py": 1}


def test_a_chat_build_is_decided_in_one_place():
    """``Recipe.chat_on`` (``chat`` given and enabled) and ``Recipe.conversations`` (and reading a
    messages column) are the rule; no other module reads ``chat.enabled`` itself."""
    import ast

    from ftdata.config.models import Recipe

    base = {"name": "r", "sources": [{"name": "s", "path": "x.jsonl", "templates": [{"file": "t.yaml"}]}]}
    cases = [(None, False, False), ({"enabled": False, "messages_column": "messages"}, False, False),
             ({}, True, False), ({"messages_column": "messages"}, True, True)]
    for chat, on, conversations in cases:
        r = Recipe.model_validate(base | ({"chat": chat} if chat is not None else {}))
        assert (r.chat_on, r.conversations) == (on, conversations), chat
    package = Path(__file__).resolve().parents[2] / "ftdata"
    readers = []
    for file in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "enabled" and (
                    getattr(node.value, "attr", None) == "chat" or getattr(node.value, "id", None) == "chat"):
                readers.append(f"{file.relative_to(package)}:{node.lineno}")
    assert readers == ["config/models.py:" + str(_line_of(package / "config" / "models.py", "return self.chat is not None"))]


def _line_of(file: Path, text: str) -> int:
    return next(i for i, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1) if text in line)
