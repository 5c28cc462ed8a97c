"""Chat input formats end to end: OpenAI and ShareGPT conversations built from DialogSum's
speaker turns plus synthetic tool calls whose arguments differ in shape (string, number, nested
object, list) compile, are stored as JSON text, round-trip byte-exactly through ``ftdata.load``
and every conversation export, and each reject code is hit by a real build.

The chat template is a small ChatML-with-tools template written here (tools listed in the
system turn, ``<tool_call>`` blocks, ``<think>`` reasoning, tool results as user turns), in the
style of current ChatML model families; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import datasets
import pytest
import yaml

import ftdata
from ftdata.build.orchestrate import compile_recipe
from ftdata.config.models import ChatSpec
from ftdata.templating.conversation import conversation, dumps, loads
from ftdata.testing_chat import trained_runs

from tests.conftest import shared, write_jsonl, write_recipe
from tests.unit.templating.test_chat import chat_tokenizer

CHATML_TOOLS = (
    "{%- if tools %}<|im_start|>system\n"
    "{% if messages[0].role == 'system' %}{{ messages[0].content }}\n\n{% endif %}# Tools\n"
    "{% for t in tools %}{{ t | tojson }}\n{% endfor %}<|im_end|>\n"
    "{% elif messages[0].role == 'system' %}<|im_start|>system\n{{ messages[0].content }}<|im_end|>\n{% endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}<|im_start|>assistant\n"
    "{% if m.reasoning_content %}<think>\n{{ m.reasoning_content }}\n</think>\n\n{% endif %}{{ m.content }}"
    "{% for tc in m.tool_calls or [] %}<tool_call>{\"name\": \"{{ tc.function.name }}\", "
    "\"arguments\": {{ tc.function.arguments | tojson }}}</tool_call>{% endfor %}<|im_end|>\n"
    "{% elif m.role == 'tool' %}<|im_start|>user\n<tool_response>{{ m.content }}</tool_response><|im_end|>\n"
    "{% elif m.role != 'system' %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endif %}"
    "{%- endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

SYSTEM = "You are a helpful assistant."
WEATHER = {"name": "get_weather", "description": "Weather for a place",
           "parameters": {"type": "object", "properties": {"place": {}}}}
#: one argument value per shape; the same key holds each, which an inferred Arrow struct cannot
SHAPES = {"string": "Paris", "number": 12.5, "integer": 7, "nested": {"city": {"name": "Lyon", "zip": [69001, 69002]}},
          "list": ["Oslo", 3, {"x": None}], "unicode": "Zürich \u2028 東京"}


def dialogsum_turns(n: int) -> list[list[tuple[str, str]]]:
    """DialogSum dialogues as (role, text) turns: #Person1# is the user, #Person2# the assistant.

    Lines of one speaker in a row are joined; dialogues with a third speaker, or that do not
    open with #Person1#, are skipped; a trailing user turn is dropped.
    """
    out = []
    with open(shared("dialogsum", "dialogsum.dev.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            turns: list[tuple[str, str]] = []
            ok = True
            for raw in json.loads(line)["dialogue"].splitlines():
                who, _, text = raw.partition(":")
                role = {"#Person1#": "user", "#Person2#": "assistant"}.get(who.strip())
                if role is None or not text.strip():
                    ok = False
                    break
                if turns and turns[-1][0] == role:
                    turns[-1] = (role, turns[-1][1] + "\n" + text.strip())
                else:
                    turns.append((role, text.strip()))
            if turns and turns[-1][0] == "user":
                turns.pop()
            if ok and len(turns) >= 2 and turns[0][0] == "user":
                out.append(turns)
            if len(out) == n:
                break
    return out


def tool_turns() -> list[tuple[str, list[tuple[str, object]]]]:
    """Synthetic tool-use conversations: (shape name, turns), a call whose arguments have that shape."""
    return [(name, [("user", f"What is the weather for {name}?"), ("call", value), ("tool", f"Sunny ({name})"),
                    ("assistant", f"It is sunny for {name}.")]) for name, value in SHAPES.items()]


def openai_row(key: str, turns, *, string_args: bool, tools_as_text: bool) -> dict:
    msgs = []
    for role, v in turns:
        if role == "call":
            # a string `arguments` is always JSON text (OpenAI's form), so a string value is written as such
            args = json.dumps(v, ensure_ascii=False) if string_args or isinstance(v, str) else v
            msgs.append({"role": "assistant", "content": None,
                         "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": args}}]})
        elif role == "tool":
            msgs.append({"role": "tool", "name": "get_weather", "content": v})
        else:
            msgs.append({"role": role, "content": v})
    has_tools = any(r == "call" for r, _ in turns)
    tools = [{"type": "function", "function": WEATHER}] if has_tools else None
    return {"id": key, "messages": msgs, "tools": json.dumps(tools) if tools and tools_as_text else tools}


def sharegpt_row(key: str, turns) -> dict:
    conv = []
    for role, v in turns:
        if role == "call":
            conv.append({"from": "function_call", "value": json.dumps({"name": "get_weather", "arguments": v},
                                                                       ensure_ascii=False)})
        else:
            conv.append({"from": {"user": "human", "assistant": "gpt", "tool": "observation"}[role], "value": v})
    has_tools = any(r == "call" for r, _ in turns)
    return {"id": key, "conversations": conv, "tools": json.dumps([WEATHER]) if has_tools else ""}


def build(tmp: Path, rows: list[dict], chat: dict, name: str = "conv", **kw):
    tok_dir = tmp / "tok"
    if not tok_dir.exists():
        chat_tokenizer(tok_dir, CHATML_TOOLS)
    write_jsonl(tmp / f"{name}.jsonl", rows)
    r = {"name": name, "output": f"out_{name}",
         "sources": [{"name": "conv", "path": f"{name}.jsonl", "key": "id", "templates": []}],
         "split": {"ratios": {"train": 0.8, "validation": 0.2}}, "tokenizer": str(tok_dir), "max_length": 4096,
         "chat": chat}
    r.update(kw)
    res = compile_recipe(write_recipe(tmp, r, name=f"{name}.yaml"))
    return res


def jsonl(path: Path) -> list[dict]:
    """Lines of a JSON Lines file (split on newlines only: a U+2028 inside a string is not a line break)."""
    return [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x]


def examples(out: Path) -> dict[str, dict]:
    """Every compiled example by row key, across splits (read without leaving cache files behind)."""
    dd = ftdata.load(out)
    return {r["row_key"]: r for s in dd for r in dd[s].to_list()}




@pytest.fixture(scope="module")
def corpus():
    """DialogSum conversations (30) plus the tool-call conversations, as (key, turns)."""
    talks = [(f"d{i:03d}", t) for i, t in enumerate(dialogsum_turns(30))]
    assert len(talks) == 30 and sum(len(t) for _, t in talks) > 150  # real multi-turn data
    return talks + [(f"t_{name}", t) for name, t in tool_turns()]


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    """The same conversations in both formats, compiled with the recipe's system message."""
    tmp = tmp_path_factory.mktemp("chat_input")
    oa = [openai_row(k, t, string_args=i % 2 == 0, tools_as_text=i % 3 == 0) for i, (k, t) in enumerate(corpus)]
    sg = [sharegpt_row(k, t) for k, t in corpus]
    chat = {"system": SYSTEM}
    r_oa = build(tmp, oa, {**chat, "format": "openai"}, name="oa")
    r_sg = build(tmp, sg, {**chat, "format": "sharegpt"}, name="sg")
    tok = chat_tokenizer(tmp / "tok2", CHATML_TOOLS)
    return tmp, tok, oa, r_oa, r_sg


def test_both_formats_compile_to_the_same_examples(built, corpus):
    tmp, tok, oa, r_oa, r_sg = built
    assert r_oa.manifest["counts"]["rejects"] == 0 and r_sg.manifest["counts"]["rejects"] == 0
    assert r_oa.manifest["columns"][-2:] == ["messages", "tools"]
    a, b = examples(r_oa.output), examples(r_sg.output)
    assert set(a) == set(b) == {k for k, _ in corpus}
    for k in a:  # OpenAI (tool names, string or object arguments) and ShareGPT give the same tokens
        assert a[k]["input_ids"] == b[k]["input_ids"] and a[k]["labels"] == b[k]["labels"], k
    rows = {r["id"]: r for r in oa}
    spec = ChatSpec(system=SYSTEM, format="openai").model_dump()
    for k, ex in a.items():
        msgs, tools = conversation(rows[k], spec)
        assert loads(ex["messages"]) == msgs and loads(ex["tools"]) == tools  # stored as converted
        # what was tokenized is the tokenizer's own render of that conversation, tools included
        assert tok.decode(ex["input_ids"]) == tok.apply_chat_template(msgs, tools=tools, tokenize=False)
        # train_on: last -- the last assistant turn and its end-of-turn token, nothing else
        assert trained_runs(tok, ex["input_ids"], ex["labels"]) == [msgs[-1]["content"] + "<|im_end|>"], k
    tool_ex = a["t_nested"]
    assert '"arguments": {"city": {"name": "Lyon", "zip": [69001, 69002]}}' in tok.decode(tool_ex["input_ids"])
    assert '"name": "get_weather"' in tok.decode(tool_ex["input_ids"]).split("<|im_end|>")[0]  # tools in system


def test_mixed_argument_shapes_round_trip_through_load(built):
    _, _, _, r_oa, _ = built
    dd = ftdata.load(r_oa.output, decode=True)
    raw = ftdata.load(r_oa.output)
    seen = {}
    for s in dd:
        assert dd[s].features["messages"] == datasets.Json()
        for dec, text in zip(dd[s], raw[s]):
            assert dumps(dec["messages"]) == text["messages"]  # byte-exact
            assert (dec["tools"] is None) == (text["tools"] is None)
            if text["tools"] is not None:
                assert dumps(dec["tools"]) == text["tools"]
            for m in dec["messages"]:
                for tc in m.get("tool_calls", []):
                    seen[dec["row_key"]] = tc["function"]["arguments"]
    assert seen == {f"t_{k}": v for k, v in SHAPES.items()}


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_column_exports_keep_the_stored_text(built, tmp_path, fmt):
    _, _, _, r_oa, _ = built
    raw = ftdata.load(r_oa.output)
    ftdata.export(r_oa.output, fmt, tmp_path / fmt)
    for s in raw:
        back = datasets.load_dataset(fmt if fmt == "parquet" else "json",
                                     data_files=str(tmp_path / fmt / f"{s}.{fmt}"), split="train")
        assert back["messages"] == raw[s]["messages"] and back["tools"] == raw[s]["tools"]


def test_reading_a_mixed_shape_file(tmp_path):
    """A file whose rows differ only in the shape of one tool call's arguments (object, number, list,
    nested object, JSON text): pyarrow's JSON reader, which infers one type per column, refuses it;
    ftdata's reader (line by line, Python's json) compiles every row, and datasets 5's JSON reader
    loads it through its Json type."""
    shapes = [{"city": "Paris"}, 42, [1, "two"], {"a": {"b": [None, 1.5]}}, json.dumps({"city": "Oslo"})]
    rows = [{"id": f"r{i}", "messages": [
        {"role": "user", "content": f"q{i}"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function",
                                                             "function": {"name": "f", "arguments": a}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"}, {"role": "assistant", "content": f"a{i}"}]}
        for i, a in enumerate(shapes)]
    res = build(tmp_path, rows, {"format": "openai"}, split={"ratios": {"train": 1.0}})
    import pyarrow as pa
    import pyarrow.json as pj

    with pytest.raises(pa.ArrowInvalid):
        pj.read_json(str(tmp_path / "conv.jsonl"))
    assert datasets.load_dataset("json", data_files=str(tmp_path / "conv.jsonl"), split="train").num_rows == 5
    got = {k: loads(e["messages"])[1]["tool_calls"][0]["function"]["arguments"] for k, e in examples(res.output).items()}
    assert got == {f"r{i}": json.loads(a) if isinstance(a, str) else a for i, a in enumerate(shapes)}


def _stored(out: Path) -> dict[str, tuple[list, list | None]]:
    return {k: (loads(e["messages"]), loads(e["tools"])) for k, e in examples(out).items()}


def test_openai_export_keeps_system_tools_arguments_and_weights(built, tmp_path):
    _, _, _, r_oa, _ = built
    stored = _stored(r_oa.output)
    res = ftdata.export(r_oa.output, "openai-jsonl", tmp_path / "oa")
    assert res.notes == []
    by_key = {}
    for s in res.rows:
        lines = jsonl(tmp_path / "oa" / f"{s}.jsonl")
        ds = ftdata.load(r_oa.output)[s]
        assert len(lines) == ds.num_rows
        by_key.update(zip(ds["row_key"], lines))
    for k, row in by_key.items():
        msgs, tools = stored[k]
        assert row["messages"][0] == {"role": "system", "content": SYSTEM}
        assert row.get("tools") == tools
        assistants = [m for m in row["messages"] if m["role"] == "assistant"]
        if len(assistants) > 1:  # multi-turn: only the last assistant turn is trained (train_on: last)
            assert [m["weight"] for m in assistants] == [0] * (len(assistants) - 1) + [1]
        else:
            assert "weight" not in assistants[0]
        for got, want in zip(row["messages"], msgs):
            for tc_got, tc_want in zip(got.get("tool_calls", []), want.get("tool_calls", [])):
                assert isinstance(tc_got["function"]["arguments"], str)
                assert json.loads(tc_got["function"]["arguments"]) == tc_want["function"]["arguments"]
                assert dumps(json.loads(tc_got["function"]["arguments"])) == dumps(tc_want["function"]["arguments"])
            if got["role"] == "tool":  # answers the call's generated id
                assert got["tool_call_id"].startswith("call_")
    # the export reads back through the input converter: the same conversation
    spec = ChatSpec(format="openai").model_dump()
    for k, row in by_key.items():
        back, tools = conversation(row, spec)
        assert [(m["role"], m["content"]) for m in back] == [(m["role"], m["content"]) for m in stored[k][0]]
    # and through datasets' JSON reader, mixed argument strings and all
    assert datasets.load_dataset("json", data_files=str(tmp_path / "oa" / "train.jsonl"), split="train").num_rows


def test_openai_export_of_a_template_chat_build_carries_the_system_message(tmp_path):
    """A chat build from templates (prompt = user turn, completion = assistant turn) with the recipe's
    system message: the OpenAI file has the system message, one assistant turn, no weight."""
    from tests.conftest import write_native_templates

    turns = dialogsum_turns(5)
    rows = [{"id": f"p{i}", "q": t[0][1], "a": t[1][1]} for i, t in enumerate(turns)]
    write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": "{{q}}", "completion": "{{a}}"}])
    chat_tokenizer(tmp_path / "tok", CHATML_TOOLS)
    write_jsonl(tmp_path / "pairs.jsonl", rows)
    res = compile_recipe(write_recipe(tmp_path, {
        "name": "pairs", "output": "out", "tokenizer": str(tmp_path / "tok"), "split": {"ratios": {"train": 1.0}},
        "sources": [{"name": "p", "path": "pairs.jsonl", "key": "id", "templates": [{"file": "t.yaml"}]}],
        "chat": {"system": SYSTEM}}))
    ftdata.export(res.output, "openai-jsonl", tmp_path / "oa")
    got = {json.dumps(r["messages"][1:]): r for r in jsonl(tmp_path / "oa" / "train.jsonl")}
    assert len(got) == 5
    for r in rows:
        want = [{"role": "user", "content": r["q"]}, {"role": "assistant", "content": r["a"]}]
        assert got[json.dumps(want)]["messages"][0] == {"role": "system", "content": SYSTEM}
        assert "tools" not in got[json.dumps(want)]


def test_trl_chat_export_is_read_by_trl(built, tmp_path):
    pytest.importorskip("trl")
    from trl import SFTConfig, SFTTrainer
    from trl.data_utils import apply_chat_template, is_conversational

    from tests.integration.test_export_consumers import _tiny_llama

    tmp, tok, _, r_oa, _ = built
    stored = _stored(r_oa.output)
    ex = examples(r_oa.output)
    ftdata.export(r_oa.output, "trl-chat", tmp_path / "trl")
    dd = datasets.load_from_disk(str(tmp_path / "trl"))
    train = dd["train"]
    keys = ftdata.load(r_oa.output)["train"]["row_key"]
    for k, row in zip(keys, train):
        assert dumps(row["messages"]) == dumps(stored[k][0])  # byte-exact, whatever the argument shape
        assert is_conversational(row)
        tools = json.loads(row["tools"]) if row["tools"] else None
        text = apply_chat_template({"messages": row["messages"]}, tok, tools=tools)["text"]
        assert text == tok.decode(ex[k]["input_ids"])  # TRL renders what ftdata compiled
    # TRL's own dataset preparation (SFTTrainer on a tiny model) tokenizes the conversations
    model = _tiny_llama(len(tok), tok)
    args = SFTConfig(output_dir=str(tmp_path / "run"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                     use_cpu=True, save_strategy="no", max_length=4096, dataloader_num_workers=0,
                     assistant_only_loss=False)
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tok)
    prepared = trainer.train_dataset
    for k, row in zip(keys, prepared):
        ids = ex[k]["input_ids"]
        assert row["input_ids"][:len(ids)] == ids, k


def test_axolotl_chat_export_contract(built, tmp_path):
    """axolotl needs Python >= 3.12 (this environment is 3.11), so its contract is checked here: the file
    is read with datasets' JSON reader as axolotl reads it, ``messages`` / ``tools`` are JSON text that its
    ``chat_template`` strategy json-decodes (``_get_messages`` / ``_get_tools``), ``training`` marks the
    trained turns (``message_field_training``), and the tokenizer's template renders what ftdata compiled."""
    _, tok, _, r_oa, _ = built
    stored = _stored(r_oa.output)
    ex = examples(r_oa.output)
    res = ftdata.export(r_oa.output, "axolotl-chat", tmp_path / "ax")
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "ax" / "train.jsonl"), split="train")
    assert ds.features["messages"] == datasets.Value("string")
    keys = ftdata.load(r_oa.output)["train"]["row_key"]
    for k, row in zip(keys, ds):
        msgs = json.loads(row["messages"])
        flags = [m.pop("training", None) for m in msgs]
        assert dumps(msgs) == dumps(stored[k][0])
        assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
        assert [flags[i] for i in assistants] == [False] * (len(assistants) - 1) + [True]
        assert all(f is None for i, f in enumerate(flags) if i not in assistants)
        tools = json.loads(row["tools"]) if row["tools"] else None
        assert tok.apply_chat_template(msgs, tools=tools, tokenize=False) == tok.decode(ex[k]["input_ids"])
        trained = trained_runs(tok, ex[k]["input_ids"], ex[k]["labels"])
        assert trained == [msgs[assistants[-1]]["content"] + "<|im_end|>"]
    readme = (tmp_path / "ax" / "README.md").read_text(encoding="utf-8")
    cfg = yaml.safe_load(readme.split("## Loading")[1].split("```")[1])
    d = cfg["datasets"][0]
    assert d["type"] == "chat_template" and d["field_messages"] == "messages" and d["field_tools"] == "tools"
    assert d["message_field_training"] == "training" and d["roles_to_train"] == ["assistant"]
    assert d["train_on_eos"] == "turn" and cfg["chat_template"] == "tokenizer_default"
    assert cfg["test_datasets"][0]["path"].endswith("validation.jsonl")
    assert res.columns == ["messages", "tools"]


def test_llamafactory_sharegpt_export_contract(built, tmp_path):
    """LLaMA-Factory is not installed here: the file is checked against its documented ShareGPT schema
    (data/README.md: dataset_info.json with formatting sharegpt, columns and tags; turns alternate,
    human/observation at even positions, gpt/function_call at odd ones; tools as a JSON string)."""
    _, _, _, r_oa, _ = built
    stored = _stored(r_oa.output)
    res = ftdata.export(r_oa.output, "llamafactory-sharegpt", tmp_path / "lf")
    assert res.notes == []
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text(encoding="utf-8"))
    assert set(info) == {"oa_train", "oa_validation"}
    for name, entry in info.items():
        assert entry["formatting"] == "sharegpt" and entry["file_name"] == name[3:] + ".jsonl"
        assert entry["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}
        assert entry["tags"]["function_tag"] == "function_call" and entry["tags"]["observation_tag"] == "observation"
    keys = ftdata.load(r_oa.output)["train"]["row_key"]
    rows = jsonl(tmp_path / "lf" / "train.jsonl")
    for k, row in zip(keys, rows):
        msgs, tools = stored[k]
        assert row["system"] == SYSTEM
        conv = row["conversations"]
        assert len(conv) % 2 == 0
        assert all(t["from"] in ("human", "observation") for t in conv[0::2])
        assert all(t["from"] in ("gpt", "function_call") for t in conv[1::2])
        assert (json.loads(row["tools"]) if row["tools"] else None) == ([t["function"] for t in tools] if tools else None) \
            or json.loads(row["tools"]) == tools
        for t, m in zip(conv, msgs[1:]):
            if t["from"] == "function_call":
                call = json.loads(t["value"])
                assert call == {"name": "get_weather", "arguments": m["tool_calls"][0]["function"]["arguments"]}
            else:
                assert t["value"] == m["content"]
    readme = (tmp_path / "lf" / "README.md").read_text(encoding="utf-8")
    cfg = yaml.safe_load(readme.split("## Loading")[1].split("```")[1])
    assert cfg["dataset"] == "oa_train" and cfg["eval_dataset"] == "oa_validation" and cfg["mask_history"] is True


#: LLaMA-Factory's own interpreter (it pins datasets 4.0 and its own transformers, so it lives in the
#: separate venv scripts/peer_venvs.sh builds; FTDATA_LF_VENV names another, as in test_llamafactory_config)
LF_PYTHON = Path(os.environ.get("FTDATA_LF_VENV", "/work/venvs/lf")) / "bin" / "python"


@pytest.mark.peer_venv
@pytest.mark.skipif(not LF_PYTHON.exists(),
                    reason=f"no LLaMA-Factory venv at {LF_PYTHON.parent.parent} (build it with scripts/peer_venvs.sh, "
                           "or set FTDATA_LF_VENV)")
def test_llamafactory_reads_the_sharegpt_export(built, tmp_path):
    """LLaMA-Factory 0.9.5 itself (its dataset_info parser, its ShareGPT converter, datasets 4.0's JSON
    reader, its Qwen function formatter) reads the export: no row is dropped as abnormal, the system
    message and tools arrive, and every tool call renders with the arguments ftdata stored."""
    _, _, _, r_oa, _ = built
    stored = _stored(r_oa.output)
    ftdata.export(r_oa.output, "llamafactory-sharegpt", tmp_path / "lf")
    probe = Path(__file__).with_name("lf_sharegpt_probe.py")
    run = subprocess.run([str(LF_PYTHON), str(probe), str(tmp_path / "lf"), str(tmp_path / "lf.json")],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "DISABLE_VERSION_CHECK": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads((tmp_path / "lf.json").read_text(encoding="utf-8"))
    assert got["datasets_version"].startswith("4.")
    keys = ftdata.load(r_oa.output)["train"]["row_key"]
    rows = got["train.jsonl"]
    assert len(rows) == len(keys)
    for k, row in zip(keys, rows):
        msgs, tools = stored[k]
        assert row["response"] and row["response"][0]["content"] == msgs[-1]["content"]  # not dropped as abnormal
        assert row["system"] == SYSTEM
        assert len(row["prompt"]) + 1 == len(msgs) - 1
        assert (json.loads(row["tools"]) if row["tools"] else None) == tools
        want = [tc["function"] for m in msgs for tc in m.get("tool_calls", [])]
        calls = [json.loads(re.search(r"<tool_call>\n(.*)\n</tool_call>", c, re.S).group(1)) for c in row["calls"]]
        assert calls == want
        for c, w in zip(calls, want):
            assert dumps(c["arguments"]) == dumps(w["arguments"])


BAD = [
    ("unknown_role", [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]),
    ("tool_without_call", [{"role": "user", "content": "q"}, {"role": "tool", "content": "r"},
                           {"role": "assistant", "content": "a"}]),
    ("tool_without_call", [{"role": "user", "content": "q"},
                           {"role": "assistant", "content": "", "tool_calls": [
                               {"id": "c1", "function": {"name": "f", "arguments": "{}"}}]},
                           {"role": "tool", "tool_call_id": "c2", "content": "r"}, {"role": "assistant", "content": "a"}]),
    ("empty_assistant_turn", [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""},
                              {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a"}]),
    ("bad_tool_arguments", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "f", "arguments": "{city: Paris}"}}]}, {"role": "assistant", "content": "a"}]),
    ("bad_weight", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0.5}]),
    ("bad_messages", [{"role": "user", "content": "q"}]),
]


def test_each_reject_code_from_a_build(tmp_path):
    rows = [{"id": f"bad{i}", "messages": m} for i, (_, m) in enumerate(BAD)]
    rows.append({"id": "badtools", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                 "tools": "not json"})
    rows += [{"id": f"ok{i}", "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
             for i in range(10)]
    res = build(tmp_path, rows, {"format": "openai"}, max_reject_share=1.0)
    recs = jsonl(res.output / "rejects.jsonl")
    got = {r["row_key"]: (r["code"], r["reason"]) for r in recs}
    assert Counter(c for c, _ in got.values()) == Counter([c for c, _ in BAD] + ["bad_tools"])
    assert got["bad0"][1] == ("column 'messages'[1].role: 'bot' is not one of system, developer, user, "
                              "assistant, tool")
    assert got["bad2"][1] == "column 'messages'[2].tool_call_id: 'c2' names no earlier unanswered tool call"
    assert got["bad4"][1].startswith("column 'messages'[1].tool_calls[0].function.arguments: not valid JSON")
    assert got["bad5"][1] == "column 'messages'[1].weight: expected 0 or 1, found 0.5"
    assert got["badtools"][1].startswith("column 'tools': not valid JSON")
    assert all(r["stage"] == "render" for r in recs)
    assert sorted(examples(res.output)) == [f"ok{i}" for i in range(10)]
