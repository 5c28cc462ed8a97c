"""Chat layout: render conversations with the tokenizer's own chat template; find the turns to train.

An example becomes a list of messages (``system`` / ``user`` / ``assistant``): either the
template's prompt as the user turn and its completion as the assistant turn (plus an optional
system message from the recipe), or a whole conversation from a ``messages`` column. The
conversation is rendered **once** with ``tokenizer.apply_chat_template`` and tokenized once
(:mod:`ftdata.tokenize.spans`); the labels train the character spans of the chosen assistant turns.

How the spans are found (no ``{% generation %}`` markers, so stock templates work):

For each assistant turn to train, the conversation is rendered a second time with that turn's
content replaced by a one-character marker (a private-use code point that never occurs in
text). Both renders are identical except where the template printed that turn's content, so
the common prefix and the common suffix of the two strings bound the turn's span in the real
render exactly -- whatever the template did around it. This needs no prefix property:
templates that rewrite earlier turns (drop the reasoning of past assistant turns, fold the
system prompt into the first user turn, number turns from the end) still compare two renders
of the *same* conversation. Rendering prefixes of the conversation and diffing lengths, as
some tools do, breaks on exactly those templates. The marker must appear exactly once where
the diff is, otherwise (a template that prints a turn twice, or branches on its text) the
example is rejected with a reason rather than masked by guess.

The end-of-turn token is trained with its turn: after the span (and any whitespace), the first
special-token string the template wrote (``<|im_end|>``, ``<|eot_id|>``, ``</s>``) joins the
span. A turn without one is flagged ``eos_untrained`` in the audit, unless it ends the
conversation and ``add_eos`` appends a trained EOS.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..rejects import Code
from .conversation import ConversationError, from_openai

#: Stands for one assistant turn's content in the probe render.
MARK = "\U0010fffd"
ROLES = ("system", "user", "assistant", "tool")


class ChatError(Exception):
    """An example cannot be rendered or masked as a conversation (the message says why; ``code``
    is its reject code: a bad messages value, a failing chat template, or nothing to train)."""

    def __init__(self, message: str, code: Code = Code.CHAT_TEMPLATE):
        super().__init__(message)
        self.code = code


@dataclass
class ChatExample:
    """A rendered conversation and what to train in it (character spans of the escaped text)."""

    text: str
    spans: list[tuple[int, int]]
    untrained_end: bool
    append_eos: bool
    prompt: str  # the text before the last trained turn's content
    completion: str  # the last trained turn's content, as rendered


def messages_from_pair(prompt: str, completion: str, system: str | None) -> list[dict]:
    """The conversation for one rendered template: [system], user = prompt, assistant = completion."""
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]


def messages_from_value(value, column: str, system: str | None) -> list[dict]:
    """Check an OpenAI-style ``messages`` value (see :mod:`ftdata.templating.conversation`)."""
    try:
        return from_openai(value, column, system)
    except ConversationError as exc:
        raise ChatError(str(exc), exc.code) from None


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix (binary search over C-level slice compares)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _render(tok, messages: list[dict], template: str | None, tools: list[dict] | None = None) -> str:
    try:
        out = tok.apply_chat_template(messages, tools=tools, tokenize=False, chat_template=template)
    except Exception as exc:  # noqa: BLE001 - a template error is reported for the example
        raise ChatError(f"chat template failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(out, str):
        raise ChatError(f"chat template returned {type(out).__name__}, expected a string")
    return out


def turn_span(tok, messages: list[dict], i: int, rendered: str, template: str | None = None,
              tools: list[dict] | None = None) -> tuple[int, int]:
    """Character span of message ``i``'s content in ``rendered`` (see the module docstring)."""
    probe = [dict(m) for m in messages]
    probe[i]["content"] = MARK
    r2 = _render(tok, probe, template, tools)
    p = _common_prefix(rendered, r2)
    s = _common_prefix(rendered[p:][::-1], r2[p:][::-1])
    if r2.count(MARK) != 1 or r2[p:len(r2) - s] != MARK:
        raise ChatError(f"cannot locate assistant turn {i} in the rendered conversation: the chat template "
                        "prints it more than once or changes other text depending on it")
    return p, len(rendered) - s


def _end_of_turn(text: str, end: int, specials: list[str]) -> int | None:
    """End of the special token that closes a turn at ``end`` (after optional whitespace), or None."""
    j = end
    while j < len(text) and text[j].isspace():
        j += 1
    for sp in specials:  # longest first
        if text.startswith(sp, j):
            return j + len(sp)
    return None


def render_chat(tok, messages: list[dict], *, train_on: str, specials: list[str], add_eos: bool,
                template: str | None = None, tools: list[dict] | None = None) -> ChatExample:
    """Render a conversation and find the trained spans.

    Args:
        tok: a transformers tokenizer with a chat template (or pass ``template``).
        messages: the conversation (contents already escaped, see :class:`ftdata.tokenize.specials.Specials`).
        train_on: ``"last"`` (the last assistant turn) or ``"all"`` (every assistant turn).
        specials: special-token strings of the tokenizer, longest first.
        add_eos: append a trained EOS when the last trained turn has no end-of-turn token and
            ends the conversation.
        template: a Jinja chat template to use instead of the tokenizer's own.
        tools: tool schemas passed to the template (``tools=``).

    Raises:
        ChatError: the template fails, or a turn cannot be located.
    """
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if not assistants:
        raise ChatError("no assistant turn to train")
    chosen = assistants[-1:] if train_on == "last" else assistants
    text = _render(tok, messages, template, tools)
    spans, missing, contents = [], [], []
    for i in chosen:
        a, b = turn_span(tok, messages, i, text, template, tools)
        contents.append((a, b))
        eot = _end_of_turn(text, b, specials)
        spans.append((a, eot if eot is not None else b))
        missing.append(eot is None)
    if all(a == b for a, b in contents):
        raise ChatError("no trained token: the assistant turn(s) to train render no content", Code.NO_TRAINED_TOKEN)
    ends_text = not text[spans[-1][1]:].strip()
    append_eos = add_eos and missing[-1] and ends_text
    if append_eos:  # the model emits the trailing whitespace, then EOS: train both
        spans[-1] = (spans[-1][0], len(text))
    untrained_end = any(missing[:-1]) or (missing[-1] and not append_eos)
    a, b = contents[-1]
    return ChatExample(text, spans, untrained_end, append_eos, text[:a], text[a:b])
