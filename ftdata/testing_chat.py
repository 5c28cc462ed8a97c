"""Chat templates and conversations for tests and benchmarks (written here; nothing downloaded).

The templates are in the styles of current model families, each written for this project:

* :data:`CHATML` -- plain ChatML with a generation prompt;
* :data:`LLAMA3` -- Llama-3 headers, ``<|eot_id|>``, contents trimmed, no generation prompt;
* :data:`REWRITING` -- ChatML that rewrites history (past ``<think>`` cut from the content, the
  system prompt folded into the first user turn);
* :data:`NO_EOT` -- ``role: content`` lines, no end-of-turn token;
* :data:`QWEN3_STYLE` -- ChatML with tools (``<tools>`` in the system turn, ``<tool_call>``
  blocks, tool results as ``<tool_response>`` in a user turn) and ``<think>`` blocks printed
  only for assistant turns after the last user message (past reasoning dropped; the last turn
  always gets one, empty when there is no reasoning); ``enable_thinking: false`` puts an empty
  think block in the generation prompt;
* :data:`LLAMA31_STYLE` -- Llama-3.1 headers with tools: ``Environment: ipython``, one JSON
  tool call printed instead of the content, tool results under the ``ipython`` role;
* :data:`HARMONY_STYLE` -- gpt-oss "Harmony"-style channels: reasoning in an ``analysis``
  message (only after the last user message), tool calls in ``commentary`` ending ``<|call|>``,
  the answer in ``final``, ending ``<|return|>`` on the last message and ``<|end|>`` before;
  ``reasoning_effort`` reaches the system message.

:data:`TEMPLATES` names them with the special tokens each needs; :func:`chat_tokenizer` saves
the shipped tokenizer with one of them. :func:`dialogsum_conversations` turns DialogSum's
speaker turns into conversations and :func:`with_tools` adds synthetic tool calls (arguments
of mixed shapes) and reasoning.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

LLAMA3 = ("<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
          "{{ m['content'] | trim }}<|eot_id|>{% endfor %}")

NO_EOT = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"

REWRITING = (
    "{%- set ns = namespace(last=-1) -%}"
    "{%- for m in messages %}{% if m['role'] == 'assistant' %}{% set ns.last = loop.index0 %}{% endif %}{% endfor -%}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'user' -%}<|im_start|>user\n"
    "{% if loop.index0 == 1 and messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n\n{% endif %}"
    "{{ m['content'] }}<|im_end|>\n"
    "{%- elif m['role'] == 'assistant' -%}<|im_start|>assistant\n"
    "{% if loop.index0 < ns.last %}{{ m['content'].split('</think>')[-1] | trim }}"
    "{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n"
    "{%- endif -%}{%- endfor -%}")

QWEN3_STYLE = r"""
{%- set ns = namespace(last_user=-1) -%}
{%- for m in messages -%}{%- if m.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}{%- endfor -%}
{%- if tools -%}
  {{- '<|im_start|>system\n' -}}
  {%- if messages[0].role == 'system' -%}{{- messages[0].content + '\n\n' -}}{%- endif -%}
  {{- '# Tools\n\nYou may call functions. Signatures:\n<tools>' -}}
  {%- for t in tools -%}{{- '\n' + (t | tojson) -}}{%- endfor -%}
  {{- '\n</tools>\nCall one as <tool_call>{"name": ..., "arguments": ...}</tool_call>.<|im_end|>\n' -}}
{%- elif messages[0].role == 'system' -%}
  {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' -}}
{%- endif -%}
{%- for m in messages -%}
  {%- if m.role == 'user' or (m.role == 'system' and not loop.first) -%}
    {{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' -}}
  {%- elif m.role == 'assistant' -%}
    {{- '<|im_start|>assistant\n' -}}
    {%- set r = m.reasoning_content if m.reasoning_content is string else '' -%}
    {%- if loop.index0 > ns.last_user and (loop.last or r) -%}
      {{- '<think>\n' + r.strip('\n') + '\n</think>\n\n' -}}
    {%- endif -%}
    {{- m.content -}}
    {%- if m.tool_calls -%}
      {%- for c in m.tool_calls -%}
        {%- if not loop.first or m.content -%}{{- '\n' -}}{%- endif -%}
        {{- '<tool_call>\n{"name": "' + c.function.name + '", "arguments": ' + (c.function.arguments | tojson) + '}\n</tool_call>' -}}
      {%- endfor -%}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
  {%- elif m.role == 'tool' -%}
    {%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
    {{- '\n<tool_response>\n' + m.content + '\n</tool_response>' -}}
    {%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\n' -}}{%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
  {%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\n\n</think>\n\n' -}}{%- endif -%}
{%- endif -%}
"""

LLAMA31_STYLE = r"""
{{- '<|begin_of_text|>' -}}
{%- if messages[0].role == 'system' -%}
  {%- set system = messages[0].content | trim -%}{%- set rest = messages[1:] -%}
{%- else -%}
  {%- set system = '' -%}{%- set rest = messages -%}
{%- endif -%}
{%- if tools or system -%}
  {{- '<|start_header_id|>system<|end_header_id|>\n\n' -}}
  {%- if tools -%}{{- 'Environment: ipython\n' -}}{%- endif -%}
  {{- 'Cutting Knowledge Date: December 2023\n\n' + system -}}
  {%- if tools -%}
    {{- '\n\nAnswer with a function call as {"name": function name, "parameters": dictionary}. Functions:' -}}
    {%- for t in tools -%}{{- '\n\n' + (t | tojson(indent=4)) -}}{%- endfor -%}
  {%- endif -%}
  {{- '<|eot_id|>' -}}
{%- endif -%}
{%- for m in rest -%}
  {%- if m.role == 'assistant' and m.tool_calls -%}
    {%- if m.tool_calls | length != 1 -%}{{- raise_exception('one tool call per turn') -}}{%- endif -%}
    {%- set f = m.tool_calls[0].function -%}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "' + f.name + '", "parameters": ' + (f.arguments | tojson) + '}<|eot_id|>' -}}
  {%- elif m.role == 'tool' or m.role == 'ipython' -%}
    {{- '<|start_header_id|>ipython<|end_header_id|>\n\n' -}}
    {%- if m.content is mapping or m.content is iterable and m.content is not string -%}{{- m.content | tojson -}}
    {%- else -%}{{- m.content -}}{%- endif -%}
    {{- '<|eot_id|>' -}}
  {%- else -%}
    {{- '<|start_header_id|>' + m.role + '<|end_header_id|>\n\n' + (m.content | trim) + '<|eot_id|>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}{%- endif -%}
"""

HARMONY_STYLE = r"""
{%- set ns = namespace(last_user=-1) -%}
{%- for m in messages -%}{%- if m.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}{%- endfor -%}
{{- '<|start|>system<|message|>Knowledge cutoff: 2024-06\nReasoning: ' + (reasoning_effort | default('medium')) -}}
{{- '\n\n# Valid channels: analysis, commentary, final.<|end|>' -}}
{%- if messages[0].role == 'system' or tools -%}
  {{- '<|start|>developer<|message|>' -}}
  {%- if messages[0].role == 'system' -%}{{- '# Instructions\n\n' + messages[0].content -}}{%- endif -%}
  {%- if tools -%}
    {{- '\n\n# Tools\n\nnamespace functions {' -}}
    {%- for t in tools -%}{{- '\n// ' + t.function.description + '\ntype ' + t.function.name + ' = (_: ' + (t.function.parameters | tojson) + ') => any;' -}}{%- endfor -%}
    {{- '\n} // namespace functions' -}}
  {%- endif -%}
  {{- '<|end|>' -}}
{%- endif -%}
{%- for m in messages -%}
  {%- if m.role == 'user' -%}
    {{- '<|start|>user<|message|>' + m.content + '<|end|>' -}}
  {%- elif m.role == 'assistant' -%}
    {%- if m.thinking and loop.index0 > ns.last_user -%}
      {{- '<|start|>assistant<|channel|>analysis<|message|>' + m.thinking + '<|end|>' -}}
    {%- endif -%}
    {%- for c in m.tool_calls or [] -%}
      {{- '<|start|>assistant<|channel|>commentary to=functions.' + c.function.name + ' <|constrain|>json<|message|>' -}}
      {{- (c.function.arguments | tojson) + '<|call|>' -}}
    {%- endfor -%}
    {%- if m.content or not m.tool_calls -%}
      {{- '<|start|>assistant<|channel|>final<|message|>' + m.content -}}
      {{- '<|return|>' if loop.last else '<|end|>' -}}
    {%- endif -%}
  {%- elif m.role == 'tool' -%}
    {{- '<|start|>functions.' + m.name + ' to=assistant<|channel|>commentary<|message|>' + m.content + '<|end|>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|start|>assistant' -}}{%- endif -%}
"""

QWEN_TOKENS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
HARMONY_SPECIALS = ["<|start|>", "<|message|>", "<|channel|>", "<|end|>", "<|return|>", "<|call|>", "<|constrain|>"]

#: name -> (template, extra special tokens, extra plain added tokens)
TEMPLATES: dict[str, tuple[str, list[str], list[str]]] = {
    "chatml": (CHATML, [], []),
    "llama3": (LLAMA3, [], []),
    "rewriting": (REWRITING, [], []),
    "no_eot": (NO_EOT, [], []),
    "qwen3_style": (QWEN3_STYLE, [], QWEN_TOKENS),
    "llama31_style": (LLAMA31_STYLE, [], []),
    "harmony_style": (HARMONY_STYLE, HARMONY_SPECIALS, []),
}


def chat_tokenizer(folder: Path, template: str, specials: list[str] = (), tokens: list[str] = ()):
    """The shipped tokenizer with ``template`` as its chat template (and added tokens), saved to
    ``folder`` and loaded back from there (a build names the folder)."""
    from transformers import AddedToken, AutoTokenizer

    from .tokenize.tokenizer import ASSET_DIR

    tok = AutoTokenizer.from_pretrained(str(ASSET_DIR))
    if specials:
        tok.add_special_tokens({"additional_special_tokens": list(specials)})
    if tokens:
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in tokens])
    tok.chat_template = template
    tok.save_pretrained(folder)
    return AutoTokenizer.from_pretrained(str(folder))


def named_tokenizer(folder: Path, name: str):
    """:func:`chat_tokenizer` for one of :data:`TEMPLATES`."""
    template, specials, tokens = TEMPLATES[name]
    return chat_tokenizer(folder, template, specials, tokens)


def dialogsum_conversations(path: Path, n: int | None = None, system: str | None = None) -> list[list[dict]]:
    """DialogSum dialogues as conversations: ``#Person1#`` speaks as the user, ``#Person2#`` as
    the assistant; consecutive lines of one speaker join with a newline; a dialogue must start
    with the user and hold an assistant turn (others are skipped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            msgs: list[dict] = [{"role": "system", "content": system}] if system else []
            for turn in json.loads(line)["dialogue"].split("\n"):
                speaker, _, text = turn.partition(":")
                role = {"#Person1#": "user", "#Person2#": "assistant"}.get(speaker.strip())
                if role is None or not text.strip():
                    continue
                if msgs and msgs[-1]["role"] == role:
                    msgs[-1]["content"] += "\n" + text.strip()
                else:
                    msgs.append({"role": role, "content": text.strip()})
            body = [m for m in msgs if m["role"] != "system"]
            if body and body[0]["role"] == "user" and any(m["role"] == "assistant" for m in body):
                out.append(msgs)
            if n is not None and len(out) == n:
                break
    return out


#: Tool schemas of the synthetic calls (OpenAI style).
TOOLS = [
    {"type": "function", "function": {"name": "lookup", "description": "Look a word up.",
                                      "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "schedule", "description": "Book a slot.",
                                      "parameters": {"type": "object",
                                                     "properties": {"when": {"type": "object"},
                                                                    "who": {"type": "array"}}}}},
]


def _arguments(rng: random.Random, words: list[str]):
    """Tool-call arguments of mixed shapes: string, number, nested object, list."""
    w = rng.choice(words) if words else "x"
    return rng.choice([{"q": w}, {"q": w, "limit": rng.randint(1, 9)},
                       {"when": {"day": rng.randint(1, 28), "slot": [9, 30]}, "who": [w, "Person2"]},
                       {"q": w, "score": 0.5, "flags": [True, None]}])


def with_tools(convo: list[dict], seed: int, *, reasoning: bool = True) -> list[dict]:
    """A conversation with synthetic tool calls and reasoning added.

    Before some assistant answers, an assistant turn calls a tool (empty content, or a short
    preamble) and a tool message answers; some answers get ``reasoning_content``.
    """
    rng = random.Random(seed)
    out = []
    for m in convo:
        if m["role"] == "assistant" and rng.random() < 0.5:
            words = m["content"].split()[:6]
            call = {"id": f"call{len(out)}", "type": "function",
                    "function": {"name": rng.choice(["lookup", "schedule"]), "arguments": _arguments(rng, words)}}
            out.append({"role": "assistant", "content": rng.choice(["", "Let me check."]), "tool_calls": [call]})
            out.append({"role": "tool", "tool_call_id": call["id"], "name": call["function"]["name"],
                        "content": json.dumps({"ok": True, "n": len(words)})})
        m = dict(m)
        if m["role"] == "assistant" and reasoning and rng.random() < 0.6:
            m["reasoning_content"] = "The user said something; I answer: " + " ".join(m["content"].split()[:5])
        out.append(m)
    return out


def trained_runs(tok, ids: list[int], labels: list[int]) -> list[str]:
    """Decoded runs of consecutive trained tokens (a trained label must equal its token id:
    labels are unshifted)."""
    from .constants import IGNORE_INDEX

    out, run = [], []
    for i, lab in zip(ids, labels):
        if lab != IGNORE_INDEX:
            assert lab == i, (lab, i)
            run.append(i)
        elif run:
            out.append(tok.decode(run))
            run = []
    return out + ([tok.decode(run)] if run else [])
