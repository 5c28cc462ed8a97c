"""Chat layout: render conversations with a chat template; find the text to train.

An example becomes a list of messages (``system`` / ``user`` / ``assistant`` / ``tool``, in the
internal format of ``MSGFORMAT``: content, ``reasoning_content``, ``tool_calls``, ``weight``):
either a template's prompt as the user turn and its completion as the assistant turn (plus an
optional system message from the recipe), or a whole conversation from a column. The chat
template is compiled once (:mod:`ftdata.templating.chatjinja`) and the conversation rendered
and tokenized once (:mod:`ftdata.tokenize.spans`); labels train character spans of the render.

**What is trained** (:class:`ChatPolicy`, the recipe's ``chat:`` fields). The messages of
``train_roles`` (assistant by default), the last or all of them (``train_on``), with a message's
``weight`` (0 or 1) overriding both. Of such a turn: its content; its tool calls (always, with
the turn); the reasoning the template prints (``reasoning: train``, from the end of the
generation prompt, so its opening tag trains too; ``mask`` starts the turn after it); an empty
``<think></think>`` block printed before the content (``empty_think``); a channel header the
model writes before its answer (Harmony-style ``<|channel|>final<|message|>``); then the
end-of-turn token (``end_of_turn``: ``eot`` the template's first special token after the turn,
and with ``add_eos`` an appended EOS when the last turn has none; ``eos`` the tokenizer's EOS;
``none``). A turn is one contiguous span from its start to its end-of-turn token.

**Where its parts are: one marker render** (:func:`_marker_spans`). Every trained part that is
a string (content, reasoning) is wrapped in its own pair of private-use code points, the
conversation rendered once so, the markers stripped to get each part's span, and the stripped
text checked to be exactly the plain render. Tool-call arguments are dicts a template may
``tojson``, so no marker can go inside them: the marked conversation is rendered once more
without the trained turns' tool calls, and the two marked renders compared segment by
segment between markers; a segment that differs holds exactly one turn's calls, and its
common prefix and suffix bound them (widened to whole special tokens: ``<|call|>`` and
``<|end|>`` share ``|>``). So a conversation costs a constant number of renders however many
turns it trains: the plain render, the marked render, the probe without tool calls when
there are some, the generation prompt from the conversation's opening (two short renders),
and the parity check's render. A marker pair the template drops whole is a part it does not
print (past reasoning, Qwen3-style; the content beside a Llama-3.1-style tool call).

**When the check fails: the per-part diff** (:func:`_diff_spans`, the method before). For each
part, the conversation is rendered again with that part replaced by one marker character
(a tool call: removed); both renders are identical except where the template printed the part,
so their common prefix and suffix bound it in the real render, whatever the template did
around it. This needs no prefix property: templates that rewrite earlier turns (cut
``<think>`` out of past turns, fold the system prompt into the first user turn) still compare
two renders of the *same* conversation. The marker must appear exactly once where the diff
is, otherwise (a template that prints a turn twice, or branches on its text) the example is
rejected with a reason rather than masked by guess. Conversations that fall back are counted
(``span_fallback`` in the manifest's ``chat`` section); both methods give the same spans on
every template in the tests (``tests/integration/test_chat_engine.py``).

**Train/serve parity** (``parity``: ``last`` trained turn, ``all``, ``off``): the render of the
messages before a trained turn with ``add_generation_prompt=True`` -- what a server sends the
model -- must be a prefix of the training text ending where the turn's trained text starts.
Examples where it is not are counted per template (``parity_mismatch``).
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

from ..rejects import Code
from .chatjinja import REASONING_KEYS, ChatRenderer, ChatTemplateError, plain_messages, renderer_for
from .conversation import ConversationError, from_openai
from .conversation import trained_turns as conversation_turns
from .specialsrx import SpecialsRx

#: Bits of the internal ``_chat`` column (see :mod:`ftdata.plan.chataudit`).
PARITY_MISMATCH = 1
SPAN_FALLBACK = 2
#: Stands for one assistant turn's content in the probe render.
MARK = "\U0010fffd"


class ChatError(Exception):
    """An example cannot be rendered or masked as a conversation (the message says why; ``code``
    is its reject code: a bad messages value, a failing chat template, or nothing to train)."""

    def __init__(self, message: str, code: Code = Code.CHAT_TEMPLATE):
        super().__init__(message)
        self.code = code


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


def _diff(a: str, b: str) -> tuple[int, int]:
    """``(p, s)``: lengths of the common prefix and of the common suffix after it."""
    p = _common_prefix(a, b)
    return p, _common_prefix(a[p:][::-1], b[p:][::-1])


# --- the policy ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChatPolicy:
    """What to train in a conversation (the recipe's ``chat:`` policy fields; README "Chat policies")."""

    train_roles: tuple[str, ...] = ("assistant",)
    train_on: str = "last"          # last | all
    reasoning: str = "train"        # train | mask
    empty_think: str = "mask"       # train | mask
    end_of_turn: str = "eot"        # eot | eos | none
    add_eos: bool = True            # recipe add_eos: with eot, an EOS after a last turn without one
    parity: str = "last"            # last | all | off

    @classmethod
    def from_spec(cls, chat: dict | None, add_eos: bool = True) -> ChatPolicy:
        """The policy of a ``ChatSpec`` dumped to a dict (``channels`` decide ``reasoning``)."""
        chat = chat or {}
        reasoning = chat.get("reasoning") or "train"
        if chat.get("channels"):
            reasoning = "train" if "analysis" in chat["channels"] else "mask"
        return cls(tuple(chat.get("train_roles") or ("assistant",)), chat.get("train_on") or "last", reasoning,
                   chat.get("empty_think") or "mask", chat.get("end_of_turn") or "eot", add_eos,
                   chat.get("parity") or "last")


def trained_turns(messages: list[dict], policy: ChatPolicy) -> list[int]:
    """Indices of the messages the policy trains (:func:`ftdata.templating.conversation.trained_turns`:
    the policy's roles, last or all, then per-message ``weight``; the exports ask the same)."""
    return conversation_turns(messages, policy.train_on, policy.train_roles)


def _reasoning_of(m: dict) -> str | None:
    r = next((m[k] for k in REASONING_KEYS if m.get(k) is not None), None)
    return r if isinstance(r, str) else None


def _with(m: dict, **changes) -> dict:
    """A copy of message ``m`` with keys set (None: removed), reasoning under every name it had."""
    out = dict(m)
    for k, v in changes.items():
        keys = [x for x in REASONING_KEYS if x in out] or [k] if k == "reasoning_content" else [k]
        for key in keys:
            if v is None:
                out.pop(key, None)
            else:
                out[key] = v
    return out


# --- finding the parts of a turn ------------------------------------------------------------------

#: Marker pairs for the one-render span search: part k is wrapped in chr(BASE + 2k), chr(BASE + 2k + 1)
#: (plane 16 private use; MARK, the diff probe's character, is the plane's last code point).
_MARK_BASE = 0x100000
_MARK_TOP = 0x10FFFC
_MARK_RX = re.compile(f"[{chr(_MARK_BASE)}-{chr(_MARK_TOP)}]")
_MARK_SPLIT = re.compile(f"([{chr(_MARK_BASE)}-{chr(_MARK_TOP)}])")
_EMPTY_THINK = re.compile(r"\s*<think>\s*</think>\s*")


@dataclass
class _Turn:
    """Where one trained message's parts are in the render (character spans, None: not printed)."""

    index: int
    content: tuple[int, int] | None = None
    reasoning: tuple[int, int] | None = None
    tools: tuple[int, int] | None = None


class _Fallback(Exception):
    """The marker render cannot be trusted for this conversation: use the per-part diff."""


def _wrap(value: str, k: int) -> str:
    """``value`` in marker pair ``k``; :class:`_Fallback` when the pair is past the plane's
    last code point (:data:`_MARK_TOP`)."""
    if _MARK_BASE + 2 * k + 1 > _MARK_TOP:
        raise _Fallback
    return chr(_MARK_BASE + 2 * k) + value + chr(_MARK_BASE + 2 * k + 1)


def _parts(m: dict) -> tuple[bool, bool, bool]:
    """Which parts message ``m`` has: (content to locate, reasoning, tool calls)."""
    if len(m) == 2 and "content" in m and "role" in m:  # {role, content}: no reasoning, no tool calls
        return isinstance(m["content"], str), False, False
    tools = bool(m.get("tool_calls")) and m["role"] == "assistant"
    content = isinstance(m.get("content"), str) and (m["content"] != "" or not tools)
    return content, m["role"] == "assistant" and _reasoning_of(m) is not None, tools


def _marker_spans(render, messages: list[dict], chosen: list[int], text: str) -> list[_Turn]:
    """Every part of the chosen turns in a constant number of renders (see the module docstring).

    Raises:
        _Fallback: the stripped marker render is not the plain render, or markers are missing or
            out of order, or a tool-call region cannot be attributed to one turn.
    """
    owners: list[tuple[int, str]] = []  # per marker pair: (message index, part)
    marked = list(messages)  # a message is copied when a marker goes into it
    parts = {i: _parts(messages[i]) for i in chosen}
    any_tools = any(p[2] for p in parts.values())

    def wrap(value: str, i: int, part: str) -> str:
        owners.append((i, part))
        return _wrap(value, len(owners) - 1)

    for i in range(len(messages)) if any_tools else chosen:
        m = messages[i]
        if i in parts:
            has_content, has_reasoning, _ = parts[i]
            if has_reasoning:
                marked[i] = _with(m, reasoning_content=wrap(_reasoning_of(m), i, "reasoning"))
            if has_content:
                marked[i] = {**marked[i], "content": wrap(m["content"], i, "content")}
        elif isinstance(m.get("content"), str) and m["content"]:
            marked[i] = {**m, "content": wrap(m["content"], i, "other")}  # separates tool-call regions
    m1 = render(marked)
    pos1, stripped = _markers(m1, len(owners))
    if stripped != text:
        raise _Fallback
    turns = {i: _Turn(i) for i in chosen}
    for k, (i, part) in enumerate(owners):
        a, b = pos1[2 * k], pos1[2 * k + 1]
        if a is None and b is None and (part == "reasoning" or part == "content" and parts[i][2]):
            continue  # left out: past reasoning (Qwen3-style), the content of a tool call (Llama-3.1-style)
        if a is None or b is None:
            raise _Fallback  # cut or left out: which, and what the template printed instead, needs the diff
        if part != "other":
            setattr(turns[i], part, (a, b))
    if any_tools:
        _marker_tool_regions(render, marked, messages, chosen, owners, m1, turns)
    return [turns[i] for i in chosen]


@functools.lru_cache(maxsize=64)
def _in_order(n: int) -> list[str]:
    """Markers 0..2n-1 in order (compared, never changed)."""
    return [chr(_MARK_BASE + j) for j in range(2 * n)]


def _markers(marked: str, n: int) -> tuple[list[int | None], str]:
    """Positions in the stripped text of markers 0..2n-1 (None: absent), and the stripped text.

    Raises:
        _Fallback: a marker appears twice or the pairs are out of order.
    """
    texts, pos, at = [], [], 0
    for k, c in enumerate(_in_order(n)):  # the common case: every marker printed once, in order, the rest ASCII
        j = marked.find(c, at)
        if j < 0:
            break
        texts.append(marked[at:j])
        pos.append(j - k)  # its place in the stripped text: the k markers before it gone
        at = j + 1
    else:
        texts.append(marked[at:])
        stripped = "".join(texts)
        if stripped.isascii():  # no marker left: each is past U+FFFF (a flag CPython keeps, not a scan)
            return pos, stripped
    pieces = _MARK_SPLIT.split(marked)  # text, marker, text, marker, ..., text
    texts = pieces[::2]
    if pieces[1::2] == _in_order(n):  # every marker printed once, in order (text not ASCII)
        return list(itertools.accumulate(map(len, texts[:-1]))), "".join(texts)
    codes = [ord(c) - _MARK_BASE for c in pieces[1::2]]
    if codes and (codes[-1] >= 2 * n or codes != sorted(set(codes))):
        raise _Fallback  # a marker of the data itself, or printed twice / reordered
    ends = list(itertools.accumulate(map(len, texts[:-1])))  # each marker's place in the stripped text
    if len(codes) == 2 * n:  # every marker printed: they are 0..2n-1 in order
        return ends, "".join(texts) if codes else marked
    pos: list[int | None] = [None] * (2 * n)
    for j, at in zip(codes, ends):
        pos[j] = at
    return pos, "".join(texts)


def _marker_tool_regions(render, marked, messages, chosen, owners, m1, turns) -> None:
    """Tool-call regions: the marked render with the chosen turns' tool calls removed, compared
    segment by segment (the markers cut both renders into the same segments; each segment that
    differs must lie between two parts and hold the calls of exactly one chosen turn)."""
    tool_turns = [i for i in chosen if _parts(messages[i])[2]]
    # a content the template left out for the calls (Llama-3.1-style) stays out of the probe too
    probe = [_with(mm, tool_calls=None, **({"content": ""} if turns[i].content is None else {}))
             if i in tool_turns else mm for i, mm in enumerate(marked)]
    m0 = render(probe)
    codes = [ord(c) - _MARK_BASE for c in _MARK_RX.findall(m1)]
    if codes != [ord(c) - _MARK_BASE for c in _MARK_RX.findall(m0)]:
        raise _Fallback
    seg1, seg0 = _MARK_RX.split(m1), _MARK_RX.split(m0)
    start = 0  # of segment j in the stripped text
    for j, (a, b) in enumerate(zip(seg1, seg0)):
        if a != b:
            if j > 0 and codes[j - 1] % 2 == 0:
                raise _Fallback  # a part's own text changed with the tool calls
            left = owners[codes[j - 1] // 2][0] if j > 0 else -1
            right = owners[codes[j] // 2][0] if j < len(codes) else len(messages)
            here = [i for i in tool_turns if left <= i <= right]
            if len(here) != 1 or turns[here[0]].tools is not None:
                raise _Fallback
            p, s = _diff(a, b)
            turns[here[0]].tools = (start + p, start + len(a) - s)  # snapped to tokens by render_chat
        start += len(a)


def _diff_spans(render, messages: list[dict], chosen: list[int], text: str) -> list[_Turn]:
    """Every part of the chosen turns by the per-part diff: one probe render per part (the
    method before the marker render; kept for templates that change text around a marker)."""
    turns = []
    for i in chosen:
        m = messages[i]
        has_content, has_reasoning, has_tools = _parts(m)
        t = _Turn(i)
        if has_content:
            t.content = _probe(render, messages, i, {"content": MARK}, text, "content of turn" if has_tools else "turn")
        if has_reasoning:
            t.reasoning = _probe(render, messages, i, {"reasoning_content": MARK}, text, "reasoning of turn")
        if has_tools:
            blank = {"content": ""} if t.content is None else {}
            probe = [mm if j != i else _with(mm, tool_calls=None, **blank) for j, mm in enumerate(messages)]
            r2 = render(probe)
            if r2 != text:
                p, s = _diff(text, r2)
                t.tools = (p, len(text) - s)
        turns.append(t)
    return turns


def _probe(render, messages, i, change: dict, text: str, what: str) -> tuple[int, int] | None:
    """Span of one part of message ``i``: render with the part replaced by MARK and diff.
    None when the template does not print the part (both renders equal)."""
    probe = [mm if j != i else _with(mm, **change) for j, mm in enumerate(messages)]
    r2 = render(probe)
    if r2 == text and MARK not in r2 and what != "turn":
        return None
    p, s = _diff(text, r2)
    if r2.count(MARK) != 1 or r2[p:len(r2) - s] != MARK:
        raise ChatError(f"cannot locate {what} {i} in the rendered conversation: the chat template "
                        "prints it more than once or changes other text depending on it")
    return p, len(text) - s


def _snap(text: str, a: int, b: int, specials: list[str]) -> tuple[int, int]:
    """A diff region widened to whole special tokens: the common prefix or suffix of two renders
    may end inside one (``<|call|>`` against ``<|end|>`` share ``|>``)."""
    for sp in specials:
        n = len(sp)
        j = text.find(sp, max(0, a - n + 1), a + n - 1)
        if 0 <= j < a < j + n:
            a = j
        j = text.find(sp, max(0, b - n + 1), b + n - 1)
        if 0 <= j < b < j + n:
            b = j + n
    return a, b


def _end_of_turn(text: str, end: int, specials: list[str], skip: str | None = None) -> int | None:
    """End of the special token that closes a turn at ``end`` (after optional whitespace), or None.
    ``skip``: a special that opens the next turn, never an end (the header's first token)."""
    m = SpecialsRx.of(specials).closing.match(text, end)
    if m is None:
        return None
    return None if m.group(2) == skip else m.end()


def _turn_end(text: str, end: int, specials: list[str], policy: ChatPolicy, eos: str, skip: str | None = None,
              closed: bool = False) -> int | None:
    """Where a turn whose parts end at ``end`` ends, its end-of-turn token included, by the
    policy's ``end_of_turn`` (None: no such token, or ``none``). ``closed``: the turn's tool calls
    close it themselves (it ends at ``end``); ``skip``: see :func:`_end_of_turn`. With ``eos``
    only a turn that ends with the EOS text (``eos``, :func:`_eos_text`) has one."""
    if policy.end_of_turn == "none":
        return None
    eot = end if closed else _end_of_turn(text, end, specials, skip)
    if policy.end_of_turn == "eos" and eot is not None and text[eot - len(eos):eot] != eos:
        return None
    return eot


def _eos_text(r: ChatRenderer) -> str:
    """The EOS token's text (``end_of_turn: eos`` ends a turn with it), or a text no render holds."""
    return r.variables.get("eos_token") or "\x00no-eos"


# --- the example ----------------------------------------------------------------------------------

@dataclass(slots=True)
class ChatExample:
    """A rendered conversation and what to train in it (character spans of the escaped text)."""

    text: str
    spans: list[tuple[int, int]]
    untrained_end: bool
    append_eos: bool
    prompt: str  # the text before the last trained turn's content
    completion: str  # the last trained turn's content, as rendered
    parity_mismatch: bool = False  # a trained turn's serving prompt is not the training text before it
    fallback: bool = False  # the marker render failed its check: spans came from the per-part diff

    @property
    def bits(self) -> int:
        """The internal ``_chat`` column's value (counted by :mod:`ftdata.plan.chataudit`)."""
        return (PARITY_MISMATCH if self.parity_mismatch else 0) | (SPAN_FALLBACK if self.fallback else 0)


class _Header:
    """The generation prompt's added text ``G``: the conversation's opening rendered with and
    without ``add_generation_prompt`` (two short renders), found lazily.

    ``G`` is a property of the template (and its variables), not of the words: it is kept per
    renderer for each opening's roles and tools-or-not, and a conversation recomputes its own
    when the kept one is not where it is looked for.
    """

    __slots__ = ("render_p", "messages", "first", "cache", "key", "_g", "_own")

    def __init__(self, render_p, messages, first: int, cache: dict, tools: bool):
        self.render_p, self.messages, self.first, self.cache = render_p, messages, first, cache
        self.key = ((messages[0]["role"],) if first == 1 else tuple([m["role"] for m in messages[:first]]), tools)
        self._g, self._own = False, False

    @classmethod
    def of(cls, render_p, msgs: list[dict], chosen: list[int], renderer: ChatRenderer, tools: bool) -> _Header:
        """The header of a conversation: the generation prompt from its opening (up to its first
        user message, or its first trained turn when that comes first): short."""
        first_user = 1 if msgs[0]["role"] == "user" else next(
            (i + 1 for i, m in enumerate(msgs) if m["role"] == "user"), chosen[0])
        return cls(render_p, msgs, min(first_user, chosen[0]) or chosen[0], renderer.generation_prompts, tools)

    def get(self) -> str | None:
        if self._g is False:
            if self.key in self.cache:
                self._g = self.cache[self.key]
            else:
                self._g = self.cache[self.key] = self._render()
                self._own = True
        return self._g

    def _render(self) -> str | None:
        head = self.messages[:self.first]
        try:
            with_g, without = self.render_p(head, True), self.render_p(head, False)
        except ChatError:
            return None
        return with_g[len(without):] if with_g.startswith(without) and len(with_g) > len(without) else None

    def end_before(self, text: str, lo: int, at: int, hi: int) -> int | None:
        """End of the last ``G`` starting in [lo, at] and ending by ``hi``, or None."""
        g = self._g if self._g is not False else self.get()
        j = text.rfind(g, lo, min(hi, at + len(g))) if g else -1
        if j < 0 and g and not self._own:  # the kept G is not here: this conversation's own
            self._g, self._own = self._render(), True
            if self._g != g:
                return self.end_before(text, lo, at, hi)
        return None if j < 0 else j + len(g)


def render_chat(tok, messages: list[dict], *, specials: list[str], policy: ChatPolicy | None = None,
                tools: list[dict] | None = None, template: str | None = None, method: str = "auto",
                renderer: ChatRenderer | None = None, fast: bool = True) -> ChatExample:
    """Render a conversation and find the trained spans (see the module docstring).

    Args:
        tok: a transformers tokenizer (its chat template and special tokens), or None with ``renderer``.
        messages: the conversation (contents already escaped, see :class:`ftdata.tokenize.specials.Specials`).
        specials: special-token strings of the tokenizer, longest first.
        policy: what to train (default :class:`ChatPolicy`).
        tools: the conversation's tool schemas, passed to the template.
        template: a Jinja chat template to use instead of the tokenizer's own.
        method: ``auto`` (marker render, the diff where its check fails), ``diff`` (always the
            per-part diff; the benchmark's "before").
        renderer: the compiled template (built from ``tok`` / ``template`` when None).
        fast: take :func:`_plain_example` for the common conversation (False: the general path
            always; both give the same example, ``tests/unit/templating/test_chat_fast.py``).

    Raises:
        ChatError: the template fails, a part cannot be located, or nothing is trained.
    """
    policy = policy or ChatPolicy()
    if renderer is None:
        try:
            renderer = renderer_for(tok, template)
        except ChatTemplateError as exc:
            raise ChatError(str(exc)) from None
    plain = fast and method == "auto" and _all_plain(messages)
    msgs = messages if plain else plain_messages(messages)

    chosen = trained_turns(messages, policy)
    if not chosen:
        raise ChatError(f"no turn to train (train_roles: {', '.join(policy.train_roles)}; weight 0 on the others)",
                        Code.NO_TRAINED_TOKEN)
    # render(messages) and render_p(messages, add_generation_prompt): the renderer's own function,
    # raising ChatError (asked for after the check above: the template compiles at the first ask)
    render = render_p = renderer.caller(ChatError)
    if tools is not None:
        render = render_p = functools.partial(render, tools=tools)
    text = render(msgs)
    if plain:
        ex = _plain_example(renderer, msgs, chosen, text, specials, policy, tools is not None, render,
                            render_p)
        if ex is not None:
            return ex
    fallback = method == "diff"
    turns = None
    if not fallback:
        try:
            turns = _marker_spans(render, msgs, chosen, text)
        except _Fallback:
            fallback = True
    if turns is None:
        turns = _diff_spans(render, msgs, chosen, text)
    for t in turns:
        if t.tools is not None:
            t.tools = _snap(text, *t.tools, specials)
    header = _Header.of(render_p, msgs, chosen, renderer, tools is not None)
    spans, missing, starts, contents = [], [], [], []
    prev = 0
    eos = _eos_text(renderer)
    for t in turns:
        if t.reasoning is None and t.tools is None and t.content is not None:
            first, end = t.content  # the common turn: its content alone
        else:
            parts = [x for x in (t.reasoning, t.content, t.tools) if x is not None]
            if not parts:
                raise ChatError(f"cannot locate turn {t.index} in the rendered conversation: the chat template "
                                "prints none of its parts")
            first = min(a for a, _ in parts)
            end = max(b for _, b in parts)
        start = (_turn_start(t, text, prev, first, end, header, policy, specials)
                 if msgs[t.index]["role"] == "assistant" else first)  # other roles: their content
        skip, closed = None, False
        if t.tools is not None and end == t.tools[1]:  # a turn that ends with its tool calls
            g, rx = header.get(), SpecialsRx.of(specials)
            opening = rx.first.match(g) if g else None  # the first special (in order) g starts with
            skip = opening.group() if opening else None
            closed = text.endswith(rx.all, 0, end)  # <|call|> in the region
        eot = _turn_end(text, end, specials, policy, eos, skip, closed)
        spans.append((start, eot if eot is not None else end))
        missing.append(eot is None)
        starts.append(start)
        contents.append(t.content if t.content is not None else (start, end))
        prev = spans[-1][1]
    trains = any(x is not None and x[1] > x[0] for t in turns for x in (t.content, t.reasoning, t.tools))
    return _example(text, spans, missing, starts, contents[-1], chosen, msgs, policy, render_p, trains, fallback)


def _example(text: str, spans: list[tuple[int, int]], missing: list[bool], starts: list[int],
             content: tuple[int, int], chosen: list[int], msgs: list[dict], policy: ChatPolicy, render_p,
             trains: bool, fallback: bool) -> ChatExample:
    """The example from its turns' spans (``missing``: no end-of-turn token found; ``content``:
    the last turn's content span; ``trains``: some part of a turn renders text): the appended
    EOS, the untrained end, the parity check."""
    if not trains:
        raise ChatError("no trained token: the assistant turn(s) to train render no content", Code.NO_TRAINED_TOKEN)
    append_eos = False
    if policy.end_of_turn == "eot":
        append_eos = policy.add_eos and missing[-1] and not text[spans[-1][1]:].strip()
        if append_eos:  # the model emits the trailing whitespace, then EOS: train both
            spans[-1] = (spans[-1][0], len(text))
    elif policy.end_of_turn == "eos" and missing[-1] and chosen[-1] == len(msgs) - 1:
        append_eos = True  # the rest of the text (end-of-turn, whitespace) and an appended EOS
        spans[-1] = (spans[-1][0], len(text))
    untrained_end = True in missing[:-1] or (missing[-1] and not append_eos)  # bools: a C scan, not any()
    parity = _parity(render_p, msgs, chosen, starts, text, policy)
    a, b = content
    return ChatExample(text, spans, untrained_end, append_eos, text[:a], text[a:b],
                       parity, fallback)


def _all_plain(messages: list[dict]) -> bool:
    """Every message is ``{role, content}`` with text content and a role (no reasoning, tool calls,
    weight): :func:`plain_messages` hands each to the template as it is."""
    for m in messages:
        if len(m) != 2 or type(m.get("content")) is not str or m.get("role") is None:
            return False
    return True


def _plain_example(renderer: ChatRenderer, msgs: list[dict], chosen: list[int], text: str, specials: list[str],
                   policy: ChatPolicy, tools: bool, render, render_p) -> ChatExample | None:
    """:func:`render_chat`'s general path for the common conversation (:func:`_all_plain`), with
    none of its per-part objects: each chosen turn's content wrapped in its marker pair, one
    marked render, its markers read in order, the stripped text checked to be the plain render,
    then each turn's start and end-of-turn as there. None where the marked render is not the
    common case (a marker missing, repeated or out of order, the check failing): the general
    path then reads the same conversation from its plain render on."""
    n = len(chosen)
    marked = list(msgs)
    try:
        for k, i in enumerate(chosen):
            marked[i] = {**msgs[i], "content": _wrap(msgs[i]["content"], k)}
        pos, stripped = _markers(render(marked), n)
    except _Fallback:
        return None
    if stripped != text or None in pos:
        return None
    header = _Header.of(render_p, msgs, chosen, renderer, tools)
    eos = _eos_text(renderer)
    spans, missing, starts = [], [], []
    prev, trains = 0, False
    for j, i in enumerate(chosen):
        first, end = pos[2 * j], pos[2 * j + 1]
        trains = trains or end > first
        start = (_content_start(text, prev, first, header, policy, specials)
                 if msgs[i]["role"] == "assistant" else first)  # other roles: their content
        eot = _turn_end(text, end, specials, policy, eos)
        prev = eot if eot is not None else end
        spans.append((start, prev))
        missing.append(eot is None)
        starts.append(start)
    return _example(text, spans, missing, starts, (first, end), chosen, msgs, policy, render_p, trains, False)


def _turn_start(t: _Turn, text: str, prev: int, first: int, end: int, header: _Header, policy: ChatPolicy,
                specials: list[str]) -> int:
    """Where a turn's trained text starts (the policy's reasoning / empty-think rules)."""
    if t.reasoning is not None and t.reasoning[0] == first:
        if policy.reasoning == "train":
            h = header.end_before(text, prev, first, end)
            return h if h is not None and h <= first else first  # the reasoning's opening tag with it
        nxt = [x for x in (t.content, t.tools) if x is not None and x[0] >= t.reasoning[1]]
        if not nxt:
            return end  # only reasoning, masked: nothing but the end-of-turn token
        n = min(a for a, _ in nxt)
        h = header.end_before(text, t.reasoning[1], n, end)  # a channel that opens a new block
        return h if h is not None and h <= n else n
    if t.content is not None and t.content[0] == first:
        return _content_start(text, prev, first, header, policy, specials)
    h = header.end_before(text, prev, first, end)  # a tool-call turn: from the generation prompt's end
    return h if h is not None and h <= end else first


def _content_start(text: str, prev: int, first: int, header: _Header, policy: ChatPolicy,
                   specials: list[str]) -> int:
    """Where a turn whose text starts with its content starts training: at the content, or at
    the end of the generation prompt before it when what lies between is an empty think block
    (``empty_think: train``) or a channel header the model writes."""
    h = header.end_before(text, prev, first, first)
    if h is None or h == first:
        return first
    if _EMPTY_THINK.fullmatch(text, h, first):
        return h if policy.empty_think == "train" else first
    # a channel header the model writes (Harmony-style <|channel|>final<|message|>) trains with the turn
    return h if SpecialsRx.of(specials).first.search(text, h, first) is not None else first


def _parity(render_p, msgs, chosen, starts, text, policy: ChatPolicy) -> bool:
    """Whether a trained turn's serving prompt (the messages before it, generation prompt added)
    is not the training text before the turn's trained start."""
    if policy.parity == "off":
        return False
    if policy.parity == "last":
        chosen, starts = chosen[-1:], starts[-1:]
    for i, start in zip(chosen, starts):
        try:
            prompt = render_p(msgs[:i], True)
        except ChatError:
            return True
        if len(prompt) > start or not text.startswith(prompt):
            return True
    return False
