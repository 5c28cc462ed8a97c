"""Boundary audit: each finding counted in the manifest; nothing-to-train examples rejected."""

from __future__ import annotations

import json

import datasets
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from ftdata.build.orchestrate import compile_recipe
from ftdata.constants import IGNORE_INDEX as X
from ftdata.tokenize.auditbits import (
    DUP_BOS,
    PROMPT_NOT_PREFIX,
)
from ftdata.tokenize.causal_fast import encode_causal_columns
from ftdata.tokenize.spans import encode_causal, encode_spans
from ftdata.tokenize.specials import specials_for
from ftdata.tokenize.tokenizer import ASSET_DIR, load_tokenizer
from ftdata.write.manifest import accounting_ok

from tests.conftest import shared, write_jsonl, write_native_templates, write_recipe


def _build(tmp_path, tokenizer, rows, prompt="{{q}}", completion="{{a}}", **kw):
    write_jsonl(tmp_path / "rows.jsonl", rows)
    write_native_templates(tmp_path / "t.yaml", [{"name": "qa", "prompt": prompt, "completion": completion}])
    r = {"name": "a", "output": "out", "sources": [{"name": "qa", "path": "rows.jsonl", "key": "id",
                                                     "templates": [{"file": "t.yaml"}]}],
         "split": {"ratios": {"train": 1.0}}, "tokenizer": str(tokenizer), "max_length": 64}
    r.update(kw)
    res = compile_recipe(write_recipe(tmp_path, r))
    assert not accounting_ok(res.manifest)
    return res


def test_straddle_counted_and_trained(tmp_path):
    res = _build(tmp_path, "ftdata:tiny-bpe", [{"id": "1", "q": "the cat sa", "a": "t down"},
                                              {"id": "2", "q": "Rate it:", "a": "five"}], separator="")
    audit = res.manifest["audit"]["totals"]
    assert audit["straddling_boundary"] == 1 and audit["prompt_not_prefix"] == 1
    assert res.manifest["tokens"]["train"]["straddling_boundary"] == 1
    tok = load_tokenizer("ftdata:tiny-bpe")
    ex = {r["row_key"]: r for r in datasets.load_from_disk(str(res.output))["train"]}["1"]
    trained = [i for i, lab in zip(ex["input_ids"], ex["labels"]) if lab != X]
    assert tok.decode(trained) == "at down" + tok.eos_token  # the merged 'at' carries the 't'


def test_duplicated_bos(tmp_path):
    """A post-processor that adds BOS, and a template that writes BOS itself."""
    from tokenizers import processors

    tok = AutoTokenizer.from_pretrained(str(ASSET_DIR))
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", 0)])
    tok.save_pretrained(tmp_path / "tok")
    res = _build(tmp_path, tmp_path / "tok", [{"id": "1", "q": "hi", "a": "yes"}, {"id": "2", "q": "ho", "a": "no"}],
                 prompt="<|endoftext|>{{q}}")
    assert res.manifest["audit"]["totals"]["duplicated_bos"] == 2
    b = load_tokenizer(str(tmp_path / "tok")).backend_tokenizer
    e = encode_causal(b, ["hi"], ["yes"], separator=" ", eos_id=0, max_length=64, overflow="drop", bos_id=0)[0]
    assert e.input_ids[0] == 0 and not e.flags & DUP_BOS


def test_eos_untrained_when_add_eos_is_off(tmp_path):
    res = _build(tmp_path, "ftdata:tiny-bpe", [{"id": "1", "q": "hi", "a": "yes"}], add_eos=False)
    assert res.manifest["audit"]["totals"]["eos_untrained"] == 1
    (tmp_path / "b").mkdir()
    res2 = _build(tmp_path / "b", "ftdata:tiny-bpe", [{"id": "1", "q": "hi", "a": "yes"}])
    assert res2.manifest["audit"]["totals"]["eos_untrained"] == 0


@pytest.mark.parametrize("layout", ["causal", "seq2seq"])
def test_truncation_never_cuts_the_completion(tmp_path, word_tokenizer, layout):
    rows = [{"id": "1", "q": "what is two plus three", "a": "five six"},
            {"id": "2", "q": "hi", "a": "yes no yes no yes no yes"}]
    res = _build(tmp_path, word_tokenizer, rows, prompt="Q: {{q}} A:", layout=layout, max_length=6,
                 overflow="truncate_prompt")
    train = datasets.load_from_disk(str(res.output))["train"]
    assert train["row_key"] == ["1"]
    ex = train[0]
    if layout == "causal":
        assert ex["labels"][-3:] == [9, 10, 0] and len(ex["input_ids"]) == 6
    else:
        assert ex["labels"] == [9, 10, 0] and len(ex["input_ids"]) == 6
    rej = [json.loads(line) for line in (res.output / "rejects.jsonl").read_text().splitlines()]
    assert [r["row_key"] for r in rej] == ["2"] and "never cut" in rej[0]["reason"]


# -- the prefix audit against an independent recount, on tokenizers trained from DialogSum ------

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _dialogsum_rows(n: int = 200) -> list[dict]:
    """The first ``n`` rows of DialogSum's dev split."""
    lines = shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    return [json.loads(line) for line in lines]


def _train_family(family: str, folder):
    """A small tokenizer of ``family`` trained from DialogSum text, saved as a transformers folder.

    Returns the folder and the ids its post-processor puts before a text (what the recount expects
    before the prompt's own ids).
    """
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    rows = _dialogsum_rows(500)
    # texts ending in a blank line: byte-level BPE learns to merge it, which a prompt ending in
    # one then gets alone but not before a completion (a prompt not a prefix, nothing straddling)
    text = [r["dialogue"] + "\n\n" + r["summary"] + "\n\n" for r in rows]
    specials = ["<eos>", "<bos>", "<unk>", "<|im_start|>", "<|im_end|>"]
    if family in ("byte_bpe", "byte_bpe_prefix_space"):
        prefix = family == "byte_bpe_prefix_space"
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix)
        tk.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=specials, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    elif family in ("sentencepiece_bpe", "chat"):  # Llama/Mistral-style: Metaspace, BOS before the text
        tk = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=False))
        tk.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
        tk.decoder = decoders.Metaspace(prepend_scheme="first")
        trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=specials, show_progress=False)
    elif family == "sentencepiece_prepend":  # Llama 2's own layout: no pre-tokenizer, "▁" prepended
        tk = Tokenizer(models.BPE(unk_token="<unk>"))
        tk.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tk.pre_tokenizer = pre_tokenizers.Split("▁", "merged_with_next")  # training only: words start with ▁
        tk.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.Strip(" ", 1, 0)])
        trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=specials, show_progress=False)
    elif family == "t5_unigram":  # Metaspace on whitespace-split words, </s> after the text
        tk = Tokenizer(models.Unigram())
        tk.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
        tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace()])
        tk.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=800, special_tokens=specials, unk_token="<unk>",
                                          show_progress=False)
    else:  # BERT-style WordPiece: [CLS] text [SEP]
        tk = Tokenizer(models.WordPiece(unk_token="<unk>"))
        tk.normalizer = normalizers.BertNormalizer(lowercase=True)
        tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tk.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=800, special_tokens=specials, show_progress=False)
    tk.train_from_iterator(text, trainer)
    if family == "sentencepiece_prepend":
        tk.pre_tokenizer = None
    bos, eos = tk.token_to_id("<bos>"), tk.token_to_id("<eos>")
    lead = []
    if family == "byte_bpe_prefix_space":  # RoBERTa-style: <bos> text <eos>, trimmed offsets
        tk.post_processor = processors.RobertaProcessing(("<eos>", eos), ("<bos>", bos))
        lead = [bos]
    elif family == "sentencepiece_bpe":
        tk.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", bos)])
        lead = [bos]
    elif family == "t5_unigram":
        tk.post_processor = processors.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", eos)])
    elif family == "wordpiece":
        tk.post_processor = processors.TemplateProcessing(single="<bos> $A <eos>",
                                                          special_tokens=[("<bos>", bos), ("<eos>", eos)])
        lead = [bos]
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<eos>", bos_token="<bos>", unk_token="<unk>",
                                   pad_token="<eos>", additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    if family == "chat":
        fast.chat_template = CHATML
    fast.save_pretrained(folder)
    return folder, lead


FAMILIES = ["byte_bpe", "byte_bpe_prefix_space", "sentencepiece_bpe", "t5_unigram", "wordpiece", "chat"]

# prompts ending after a colon, after a word, inside a word whose rest is the completion (with
# separator "", some tokens merge across the boundary: genuinely not a prefix)
PREFIX_TEMPLATES = [
    {"name": "summary", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
     "completion": "{{summary}}"},
    {"name": "topic", "prompt": "{{dialogue}}\nThe topic is", "completion": "{{topic}}."},
    {"name": "glued", "prompt": "{{dialogue}}\n\n{{summary[:7]}}", "completion": "{{summary[7:]}}"},
]


def _recount(tok, row: dict, lead: list[int], chat: bool) -> bool:
    """Whether ``row``'s prompt is a prefix, decided without ftdata's masking code.

    The prompt is a prefix when the ids of the prompt tokenized alone (``tok(prompt)`` without
    the post-processor's tokens), after the ids the post-processor puts before every text, are
    exactly the row's ids before its first trained token.
    """
    k = next(i for i, lab in enumerate(row["labels"]) if lab != X)
    if chat:
        prompt = tok.apply_chat_template([{"role": "user", "content": row["prompt"]}], tokenize=False,
                                         add_generation_prompt=True)
    else:
        prompt = row["prompt"]
    return row["input_ids"][:k] == lead + tok(prompt, add_special_tokens=False)["input_ids"]


_TRAINED: dict[str, tuple] = {}


@pytest.fixture
def trained(tmp_path_factory):
    """``family -> (tokenizer folder, leading ids)``, each family trained once per session."""
    def get(family: str):
        if family not in _TRAINED:
            _TRAINED[family] = _train_family(family, tmp_path_factory.mktemp(family))
        return _TRAINED[family]
    return get


def _pairs(rows: list[dict]) -> tuple[list[str], list[str]]:
    """(prompts, completions) as PREFIX_TEMPLATES render them, plus prompts ending in a blank line.

    Templates strip what they render; a prompt ending in whitespace comes from a few-shot
    separator or a caller of the masking functions, and is where a byte-level tokenizer's
    look-ahead makes the prompt alone end in other tokens with nothing straddling.
    """
    from ftdata.templating.templates import from_strings

    prompts, completions = [], []
    for t in PREFIX_TEMPLATES:
        tpl = from_strings(t["prompt"], t["completion"], name=t["name"])
        for r in rows:
            p, c = tpl.render(r)[:2]
            prompts.append(p)
            completions.append(c)
    prompts += [r["dialogue"] + "\n\n" for r in rows]
    completions += [r["summary"] for r in rows]
    return prompts, completions


@pytest.mark.parametrize("family", FAMILIES)
def test_prefix_audit_matches_an_independent_recount(tmp_path, trained, family):
    """The manifest counts exactly the examples whose prompt alone is not a prefix (DialogSum)."""
    folder, lead = trained(family)
    rows = _dialogsum_rows(150)
    write_jsonl(tmp_path / "rows.jsonl", rows)
    write_native_templates(tmp_path / "t.yaml", PREFIX_TEMPLATES)
    recipe = {"name": "p", "output": "out", "sources": [{"name": "d", "path": "rows.jsonl", "key": "fname",
                                                           "templates": [{"file": "t.yaml"}]}],
              "split": {"ratios": {"train": 1.0}}, "tokenizer": str(folder), "max_length": 4096, "separator": ""}
    if family == "chat":
        recipe["chat"] = {"enabled": True}
    res = compile_recipe(write_recipe(tmp_path, recipe))
    tok = load_tokenizer(str(folder))
    train = datasets.load_from_disk(str(res.output))["train"]
    assert train.num_rows >= 0.9 * len(rows) * len(PREFIX_TEMPLATES)  # a few may be rejected (dedup)
    truth = sum(not _recount(tok, r, lead, family == "chat") for r in train)
    assert 0 < truth < train.num_rows  # the glued completions give genuine cases, the rest are prefixes
    assert res.manifest["audit"]["totals"]["prompt_not_prefix"] == truth


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "chat"] + ["sentencepiece_prepend"])
def test_prefix_audit_example_by_example(trained, family):
    """No false positive and no false negative, on both masking paths of the causal layout."""
    folder, lead = trained(family)
    tok = load_tokenizer(str(folder))
    b = tok.backend_tokenizer
    prompts, completions = _pairs(_dialogsum_rows(100))
    kw = dict(separator="", eos_id=tok.eos_token_id, max_length=4096, overflow="drop", bos_id=tok.bos_token_id)
    ref = encode_causal(b, prompts, completions, **kw)
    cols = encode_causal_columns(b, prompts, completions, **kw)
    truth = [not _recount(tok, {"prompt": p, "input_ids": e.input_ids, "labels": e.labels}, lead, False)
             for p, e in zip(prompts, ref)]
    assert 0 < sum(truth) < len(truth)
    if family.startswith("byte_bpe"):  # found by re-encoding, not by a straddling token
        assert any(t and not e.straddle for t, e in zip(truth, ref))
    assert [bool(e.flags & PROMPT_NOT_PREFIX) for e in ref] == truth
    assert [bool(cols.flags[i] & PROMPT_NOT_PREFIX) for i in range(len(cols))] == truth


def test_prefix_audit_chat_example_by_example(trained):
    from ftdata.templating.chat import ChatPolicy, messages_from_pair, render_chat

    folder, _ = trained("chat")
    tok = load_tokenizer(str(folder))
    b = tok.backend_tokenizer
    prompts, completions = _pairs(_dialogsum_rows(60))
    chats = [render_chat(tok, messages_from_pair(p, c, None), specials=specials_for(b).strings,
                         policy=ChatPolicy(train_on="last", add_eos=True)) for p, c in zip(prompts, completions)]
    out = encode_spans(b, [c.text for c in chats], [c.spans for c in chats],
                       eos=[tok.eos_token_id if c.append_eos else None for c in chats],
                       untrained_end=[c.untrained_end for c in chats], max_length=4096, overflow="drop",
                       add_special_tokens=False, bos_id=tok.bos_token_id,
                       prompts=[c.text[:c.spans[0][0]] for c in chats])
    truth = [not _recount(tok, {"prompt": p, "input_ids": e.input_ids, "labels": e.labels}, [], True)
             for p, e in zip(prompts, out)]
    assert [bool(e.flags & PROMPT_NOT_PREFIX) for e in out] == truth


_WORDS = st.deferred(lambda: st.sampled_from(" ".join(r["dialogue"] for r in _dialogsum_rows(50)).split(" ")))
_BITS = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", ":", ".", "...", "123", "4567", "'s", "é", "日本語", "🙂",
                         "\u00a0", " \n", "-"])
_MIXED = st.lists(st.one_of(_WORDS, _WORDS.map(lambda w: w + " "), _BITS), min_size=1, max_size=12).map("".join)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(_MIXED, _MIXED), min_size=1, max_size=8), separator=st.sampled_from(["", " ", "\n"]),
       family=st.sampled_from(["byte_bpe", "sentencepiece_bpe", "t5_unigram", "wordpiece", "sentencepiece_prepend"]))
def test_prefix_audit_on_mixed_text(trained, pairs, separator, family):
    """DialogSum words, whitespace runs, digits, accents, CJK and emoji: the audit is the recount."""
    folder, lead = trained(family)
    tok = load_tokenizer(str(folder))
    b = tok.backend_tokenizer
    prompts, completions = [p for p, _ in pairs], [c for _, c in pairs]
    kw = dict(separator=separator, eos_id=tok.eos_token_id, max_length=4096, overflow="drop")
    cols = encode_causal_columns(b, prompts, completions, **kw)
    for i, (p, e) in enumerate(zip(prompts, encode_causal(b, prompts, completions, **kw))):
        if e.reject is None:
            truth = not _recount(tok, {"prompt": p, "input_ids": e.input_ids, "labels": e.labels}, lead, False)
            assert bool(e.flags & PROMPT_NOT_PREFIX) == truth == bool(cols.flags[i] & PROMPT_NOT_PREFIX), (p, separator)
