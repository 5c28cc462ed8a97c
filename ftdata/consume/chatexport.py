"""Exports that keep conversations: OpenAI JSONL, TRL conversational, axolotl ``chat_template``,
LLaMA-Factory ShareGPT.

Each reads the conversation a chat build stored (``messages`` / ``tools`` JSON text, the
internal format of :mod:`ftdata.templating.conversation`) with the weight of each assistant turn
(:func:`~ftdata.templating.conversation.assistant_weights`) and writes it in the consumer's own
layout. Tool-call arguments and tool schemas reach every consumer as the same JSON values
ftdata rendered, never through an Arrow struct inferred from the data:

* ``openai-jsonl``: ``arguments`` as JSON text (OpenAI's format), ``tools`` as a list,
  ``weight`` 0/1 on each assistant message of a conversation with more than one assistant
  turn or a turn of weight 0. Reasoning is left out (not part of OpenAI's chat fine-tuning
  format) and counted in the notes; a tool message's ``name`` is left out; tool calls without
  an id get ``call_<message>_<call>`` and their tool messages the same id.
* ``trl-chat``: each message a datasets ``Json`` value (decoded back to the same dict),
  ``tools`` JSON text.
* ``axolotl-chat``: ``messages`` and ``tools`` JSON text (axolotl's ``chat_template`` strategy
  decodes a string field), ``training`` true/false on each assistant message.
* ``llamafactory-sharegpt``: from/value turns in LLaMA-Factory's alternating layout, reasoning
  as a ``<think>`` block before the content (how its reasoning templates read it), the system
  message in ``system``, tools as JSON text. A conversation the layout cannot hold (a system
  message after the start, two user/tool turns or two assistant turns in a row, assistant text
  beside tool calls, parallel tool results, a last turn that is not the assistant's) is left
  out and counted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ..constants import CHAT_JSON_COLUMNS
from ..templating.chat import ChatPolicy
from ..templating.conversation import dumps

Conv = tuple[list[dict], "list[dict] | None", "list[int | None]"]  # messages, tools, weights


def write(name: str, convs: Iterable[Conv], tmp: Path, split: str) -> tuple[int, list[str], list[str], str]:
    """Write one split; returns (rows written, columns, files, a note on what was left out or '')."""
    if name == "trl-chat":
        return _write_trl(convs, tmp, split)
    convert = {"openai-jsonl": _openai, "axolotl-chat": _axolotl, "llamafactory-sharegpt": _sharegpt}[name]
    left: Counter = Counter()
    n = 0
    with open(tmp / f"{split}.jsonl", "w", encoding="utf-8") as fh:
        for msgs, tools, weights in convs:
            row = convert(msgs, tools, weights, left)
            if row is None:
                continue
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    columns = {"openai-jsonl": list(CHAT_JSON_COLUMNS), "axolotl-chat": list(CHAT_JSON_COLUMNS),
               "llamafactory-sharegpt": ["conversations", "system", "tools"]}[name]
    note = "; ".join(f"{k}: {v}" for k, v in sorted(left.items()))
    return n, columns, [f"{split}.jsonl"], note


def _openai(msgs: list[dict], tools, weights, left: Counter) -> dict:
    multi = sum(w is not None for w in weights) > 1 or 0 in weights
    out, pending, dropped = [], [], False
    for i, (m, w) in enumerate(zip(msgs, weights)):
        o = {"role": m["role"], "content": m["content"]}
        if m["role"] == "assistant":
            if m.get("reasoning_content"):
                dropped = True
            if m.get("tool_calls"):
                o["tool_calls"] = []
                for j, tc in enumerate(m["tool_calls"]):
                    cid = tc.get("id") or f"call_{i}_{j}"
                    pending.append(cid)
                    o["tool_calls"].append({"id": cid, "type": "function", "function": {
                        "name": tc["function"]["name"],
                        "arguments": json.dumps(tc["function"]["arguments"], ensure_ascii=False)}})
            if multi:
                o["weight"] = w
        elif m["role"] == "tool":
            cid = m.get("tool_call_id") or (pending[0] if pending else None)
            if cid in pending:
                pending.remove(cid)
            o = {"role": "tool", "tool_call_id": cid, "content": m["content"]}
        out.append(o)
    if dropped:
        left["reasoning left out (not in OpenAI's fine-tuning format), conversations"] += 1
    row = {"messages": out}
    if tools:
        row["tools"] = tools
    return row


def _axolotl(msgs: list[dict], tools, weights, left: Counter) -> dict:
    out = [m if w is None else {**m, "training": bool(w)} for m, w in zip(msgs, weights)]
    return {"messages": dumps(out), "tools": None if tools is None else dumps(tools)}


def _write_trl(convs: Iterable[Conv], tmp: Path, split: str) -> tuple[int, list[str], list[str], str]:
    import datasets

    rows = [{"messages": msgs, "tools": None if tools is None else dumps(tools)} for msgs, tools, _ in convs]
    features = datasets.Features({"messages": datasets.List(datasets.Json()), "tools": datasets.Value("string")})
    ds = datasets.Dataset.from_list(rows, features=features)
    ds.save_to_disk(str(tmp / split))
    index = tmp / "dataset_dict.json"  # what DatasetDict.save_to_disk writes beside its splits
    splits = json.loads(index.read_text(encoding="utf-8"))["splits"] if index.exists() else []
    index.write_text(json.dumps({"splits": splits + [split]}), encoding="utf-8")
    files = sorted(str(p.relative_to(tmp)) for p in (tmp / split).rglob("*") if p.is_file())
    return len(rows), list(CHAT_JSON_COLUMNS), files + (["dataset_dict.json"] if not splits else []), ""


#: ShareGPT tags of the export (LLaMA-Factory's defaults, written out in dataset_info.json).
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}


def _sharegpt(msgs: list[dict], tools, weights, left: Counter) -> dict | None:
    has_system = bool(msgs) and msgs[0]["role"] == "system"
    system = msgs[0]["content"] if has_system else ""
    turns = []
    for m in msgs[1 if has_system else 0:]:
        odd = len(turns) % 2 == 1
        if m["role"] == "system":
            left["a system message after the start (rows)"] += 1
            return None
        if (m["role"] == "assistant") != odd:
            left["two user/tool turns or two assistant turns in a row (rows)"] += 1
            return None
        if m["role"] == "assistant":
            if m.get("tool_calls"):
                if m["content"]:
                    left["assistant text beside tool calls (rows)"] += 1
                    return None
                calls = [{"name": tc["function"]["name"], "arguments": tc["function"]["arguments"]}
                         for tc in m["tool_calls"]]
                turns.append({"from": "function_call",
                              "value": json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)})
            else:
                r = m.get("reasoning_content")
                turns.append({"from": "gpt", "value": f"<think>\n{r}\n</think>\n\n{m['content']}" if r else m["content"]})
        else:
            turns.append({"from": "observation" if m["role"] == "tool" else "human", "value": m["content"]})
    if len(turns) % 2:
        left["a last turn that is not the assistant's (rows)"] += 1
        return None
    trained = [w for w in weights if w is not None]
    if trained != [1] * len(trained) and trained != [0] * (len(trained) - 1) + [1]:
        left["per-turn weights other than all or last-only, kept; LLaMA-Factory trains per mask_history (rows)"] += 1
    return {"conversations": turns, "system": system, "tools": "" if tools is None else dumps(tools)}


def write_dataset_info(tmp: Path, name: str, files: list[str]) -> str:
    """``dataset_info.json`` naming each split file (``<name>_<split>``) for LLaMA-Factory."""
    info = {f"{name}_{Path(f).stem}": {"file_name": f, "formatting": "sharegpt",
                                       "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
                                       "tags": dict(SHAREGPT_TAGS)}
            for f in files if f.endswith(".jsonl")}
    (tmp / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return "dataset_info.json"


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def loading(name: str, manifest: dict, dest: Path, splits: list[str]) -> str:
    """The README's loading snippet for a conversation export, from the recipe's chat settings."""
    chat = manifest.get("chat") or {}
    policy = ChatPolicy.from_spec(chat)  # what the build trained, with the policy's defaults
    tok = manifest.get("tokenizer", {}).get("name")
    if name == "axolotl-chat":
        tpl = chat.get("template")
        head = (f"chat_template: jinja\nchat_template_jinja: |\n{_indent(tpl, 2)}\n" if tpl
                else "chat_template: tokenizer_default\n")
        eos = "none" if policy.end_of_turn == "none" else "turn"
        roles = list(policy.train_roles)

        def ds(split: str, extra: str = "") -> str:
            return (f"  - path: {dest}/{split}.jsonl\n    ds_type: json\n{extra}    type: chat_template\n"
                    "    field_messages: messages\n    field_tools: tools\n    message_field_training: training\n"
                    f"    roles_to_train: {json.dumps(roles)}\n    train_on_eos: {eos}\n")
        text = f"base_model: {tok}   # the model whose tokenizer ftdata compiled with\n{head}datasets:\n{ds('train')}"
        held = [s for s in splits if s != "train"]
        if held:
            text += "test_datasets:\n" + ds(held[0], "    split: train\n")
        return text.rstrip("\n")
    if name == "llamafactory-sharegpt":
        n = manifest.get("name", "ftdata")
        lines = [f"dataset_dir: {dest}", f"dataset: {n}_train"]
        if "validation" in splits:
            lines.append(f"eval_dataset: {n}_validation")
        lines += [f"model_name_or_path: {tok}   # the model whose tokenizer ftdata compiled with",
                  "template: ...   # LLaMA-Factory's template for that model (qwen, llama3, ...)",
                  f"cutoff_len: {manifest.get('max_length')}"]
        if policy.train_on != "all":
            lines.append("mask_history: true   # train the last assistant turn only, as the recipe does")
        return "\n".join(lines)
    return ""
