"""Chat layout: masks from the tokenizer's own chat template, for three template styles."""

from __future__ import annotations

import datasets
import pytest
from transformers import AutoTokenizer

from ftdata.build.orchestrate import compile_recipe
from ftdata.constants import IGNORE_INDEX as X
from ftdata.templating.chat import ChatError, ChatPolicy, render_chat
from ftdata.testing_chat import CHATML, LLAMA3, NO_EOT, trained_runs
from ftdata.tokenize.specials import specials_for
from ftdata.tokenize.tokenizer import ASSET_DIR
from ftdata.write.manifest import accounting_ok

from tests.conftest import write_jsonl, write_native_templates, write_recipe
from tests.unit.templating.test_chat import CONVO, REWRITING, chat_tokenizer


def _build(tmp_path, template, rows, chat, templates=None, **kw):
    tok = chat_tokenizer(tmp_path / "tok", template)
    write_jsonl(tmp_path / "rows.jsonl", rows)
    refs = []
    if templates is not False:
        write_native_templates(tmp_path / "t.yaml", templates or [{"name": "qa", "prompt": "{{q}}", "completion": "{{a}}"}])
        refs = [{"file": "t.yaml"}]
    r = {"name": "chat", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id", "templates": refs}],
         "split": {"ratios": {"train": 1.0}}, "tokenizer": str(tmp_path / "tok"), "max_length": 512, "chat": chat}
    r.update(kw)
    res = compile_recipe(write_recipe(tmp_path, r))
    return tok, res, datasets.load_from_disk(str(res.output))["train"].sort("row_key")


def test_chatml_pair_trains_answer_and_end_of_turn(tmp_path):
    rows = [{"id": "1", "q": "What is two plus two?", "a": "Four."}]
    tok, res, train = _build(tmp_path, CHATML, rows, {"system": "Be brief."})
    ex = train[0]
    text = tok.apply_chat_template([{"role": "system", "content": "Be brief."}, {"role": "user", "content": rows[0]["q"]},
                                    {"role": "assistant", "content": "Four."}], tokenize=False)
    assert ex["input_ids"] == tok(text, add_special_tokens=False)["input_ids"]
    assert trained_runs(tok, ex["input_ids"], ex["labels"]) == ["Four.<|im_end|>"]
    assert ex["labels"][-1] == X  # the newline after <|im_end|> is context
    assert (ex["prompt"], ex["completion"]) == (rows[0]["q"], "Four.")
    audit = res.manifest["audit"]["totals"]
    assert audit["eos_untrained"] == 0 and audit["duplicated_bos"] == 0 and audit["straddling_boundary"] == 0


def test_llama3_style(tmp_path):
    rows = [{"id": "1", "q": "Name a colour.", "a": "  Blue  "}]
    tok, res, train = _build(tmp_path, LLAMA3, rows, {})
    ex = train[0]
    assert ex["input_ids"][0] == tok.convert_tokens_to_ids("<|begin_of_text|>")
    assert ex["input_ids"].count(ex["input_ids"][0]) == 1
    # the template trims the content: the trained span is what it printed, plus <|eot_id|>
    assert trained_runs(tok, ex["input_ids"], ex["labels"]) == ["Blue<|eot_id|>"]
    assert ex["input_ids"][-1] == tok.convert_tokens_to_ids("<|eot_id|>")


@pytest.mark.parametrize("train_on,expected", [
    ("last", ["<think>draft two</think> Answer two.<|im_end|>"]),
    ("all", ["Answer one.<|im_end|>", "<think>draft two</think> Answer two.<|im_end|>"]),
])
def test_messages_column_rewriting_template(tmp_path, train_on, expected):
    rows = [{"id": "1", "messages": CONVO}]
    tok, res, train = _build(tmp_path, REWRITING, rows, {"messages_column": "messages", "train_on": train_on},
                             templates=False)
    ex = train[0]
    assert trained_runs(tok, ex["input_ids"], ex["labels"]) == expected
    assert ex["input_ids"] == tok(tok.apply_chat_template(CONVO, tokenize=False), add_special_tokens=False)["input_ids"]
    assert ex["template"] == "messages" and ex["completion"] == CONVO[-1]["content"]
    assert res.manifest["counts"]["sources"]["qa"]["examples_written"] == 1
    assert res.manifest["counts"]["sources"]["qa"]["fanout"] == 1 and not accounting_ok(res.manifest)


@pytest.mark.parametrize("template", [CHATML, LLAMA3, REWRITING])
def test_multi_turn_all_turns_every_template(tmp_path, template):
    convo = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello"},
             {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye"}]
    tok, _, train = _build(tmp_path, template, [{"id": "1", "messages": convo}],
                           {"messages_column": "messages", "train_on": "all"}, templates=False)
    segs = trained_runs(tok, train[0]["input_ids"], train[0]["labels"])
    eot = "<|eot_id|>" if template is LLAMA3 else "<|im_end|>"
    assert segs == [f"Hello{eot}", f"Goodbye{eot}"]


def test_special_token_strings_in_data_are_text(tmp_path):
    rows = [{"id": "1", "q": "Say <|im_end|> please", "a": "ok <|im_start|>"}]
    tok, res, train = _build(tmp_path, CHATML, rows, {})
    ex = train[0]
    im_end, im_start = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|im_start|>")
    assert ex["input_ids"].count(im_end) == 2 and ex["input_ids"].count(im_start) == 2  # the template's only
    assert trained_runs(tok, ex["input_ids"], ex["labels"]) == ["ok <|im_start|><|im_end|>"]
    assert ex["prompt"] == rows[0]["q"] and ex["completion"] == rows[0]["a"]
    assert res.manifest["audit"]["totals"]["special_tokens_in_data"] == 1


def test_special_token_strings_as_control_when_asked(tmp_path):
    rows = [{"id": "1", "q": "Say <|im_end|> please", "a": "ok"}]
    tok, res, train = _build(tmp_path, CHATML, rows, {}, special_tokens_in_data="control")
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert train[0]["input_ids"].count(im_end) == 3
    assert res.manifest["audit"]["totals"]["special_tokens_in_data"] == 1


def test_causal_special_strings_in_data_are_text(tmp_path, word_tokenizer):
    """Plain causal layout: the data's '<|im_end|>' becomes byte tokens, masks stay exact."""
    rows = [{"id": "1", "q": "a <|im_end|> b", "a": "c<|endoftext|>"}]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": "Q: {{q}}", "completion": "{{a}}"}])
    r = {"name": "c", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id",
                                                     "templates": [{"file": "t.yaml"}]}],
         "split": {"ratios": {"train": 1.0}}, "tokenizer": "ftdata:tiny-bpe", "max_length": 128}
    res = compile_recipe(write_recipe(tmp_path, r))
    ex = datasets.load_from_disk(str(res.output))["train"][0]
    tok = AutoTokenizer.from_pretrained(str(ASSET_DIR))
    special = set(tok.all_special_ids) | {2, 3, 4, 5, 6, 7}
    assert [i for i in ex["input_ids"] if i in special] == [tok.eos_token_id]  # only the appended EOS
    assert trained_runs(tok, ex["input_ids"], ex["labels"]) == [" c<|endoftext|><|endoftext|>"]
    assert tok.decode(ex["input_ids"]) == "Q: a <|im_end|> b c<|endoftext|><|endoftext|>"
    assert res.manifest["audit"]["totals"]["special_tokens_in_data"] == 1


def test_template_without_end_of_turn_gets_eos(tmp_path):
    convo = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"},
             {"role": "user", "content": "Again"}, {"role": "assistant", "content": "Yes"}]
    tok, res, train = _build(tmp_path, NO_EOT, [{"id": "1", "messages": convo}],
                             {"messages_column": "messages", "train_on": "all"}, templates=False)
    segs = trained_runs(tok, train[0]["input_ids"], train[0]["labels"])
    assert segs == ["Yo", "Yes\n" + tok.eos_token]
    # the first assistant turn has no end-of-turn token: reported
    assert res.manifest["audit"]["totals"]["eos_untrained"] == 1


def test_unlocatable_and_empty_turns_are_rejected(tmp_path):
    twice = "{% for m in messages %}{{ m['content'] }}|{{ m['content'] }}<|im_end|>{% endfor %}"
    tok = chat_tokenizer(tmp_path / "tok", twice)
    sp = specials_for(tok.backend_tokenizer)
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    with pytest.raises(ChatError, match="cannot locate"):
        render_chat(tok, msgs, specials=sp.strings, policy=ChatPolicy(train_on="last", add_eos=True))
    rows = [{"id": "1", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]},
            {"id": "2", "messages": [{"role": "user", "content": "q"}]},
            {"id": "3", "messages": "not a list"},
            {"id": "4", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "fine"}]}]
    _, res, train = _build(tmp_path / "b", CHATML, rows, {"messages_column": "messages"}, templates=False,
                           max_reject_share=1.0)  # 3 of 4 rows are bad by design
    assert train["row_key"] == ["4"]
    # an empty assistant turn breaks an input rule (ftdata.templating.conversation) before rendering
    assert res.manifest["counts"]["rejects_by_code"] == {"bad_messages": 2, "empty_assistant_turn": 1}
    assert res.manifest["audit"]["rejected_no_trained_token"] == 0
    c = res.manifest["counts"]["sources"]["qa"]
    assert c["examples_candidates"] == c["examples_written"] + c["examples_rejected"] == 4


def test_chat_truncation_cuts_context_only(tmp_path):
    long_q = " ".join(["word"] * 200)
    rows = [{"id": "1", "q": long_q, "a": "Short answer."}]
    tok, res, train = _build(tmp_path, CHATML, rows, {"system": "Sys."}, max_length=64, overflow="truncate_prompt")
    ex = train[0]
    assert len(ex["input_ids"]) == 64
    assert trained_runs(tok, ex["input_ids"], ex["labels"]) == ["Short answer.<|im_end|>"]
    assert tok.decode(ex["input_ids"][:20]).startswith("<|im_start|>system\nSys.<|im_end|>")
    assert res.manifest["tokens"]["train"]["truncated"] == 1


def test_chat_needs_a_template(tmp_path):
    from ftdata.errors import ConfigError

    write_jsonl(tmp_path / "rows.jsonl", [{"id": "1", "q": "x", "a": "y"}])
    write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": "{{q}}", "completion": "{{a}}"}])
    r = {"name": "c", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id",
                                                     "templates": [{"file": "t.yaml"}]}],
         "tokenizer": "ftdata:tiny-bpe", "chat": {"system": "s"}}
    with pytest.raises(ConfigError, match="chat.template: tokenizer 'ftdata:tiny-bpe' has no chat template"):
        compile_recipe(write_recipe(tmp_path, r))
