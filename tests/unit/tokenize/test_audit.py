"""The masking audit flags on direct calls: prefix, nothing to train, special strings as text."""

from __future__ import annotations

import json
import shutil

from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.constants import IGNORE_INDEX as X
from ftdata.tokenize.auditbits import (
    DUP_BOS,
    EOS_UNTRAINED,
    PROMPT_NOT_PREFIX,
    SPECIAL_IN_DATA,
    STRADDLE,
)
from ftdata.tokenize.seq2seq import encode_seq2seq
from ftdata.tokenize.spans import encode_causal
from ftdata.tokenize.specials import specials_for
from ftdata.tokenize.tokenizer import ASSET_DIR, load_tokenizer


def _newline_merge_tokenizer(folder):
    """The shipped BPE plus a merge of two newlines, so 'x\\n\\n' alone ends in one token."""
    folder.mkdir()
    for f in ASSET_DIR.iterdir():
        shutil.copy(f, folder / f.name)
    d = json.loads((folder / "tokenizer.json").read_text())
    d["model"]["vocab"]["ĊĊ"] = max(d["model"]["vocab"].values()) + 1
    d["model"]["merges"].insert(0, ["Ċ", "Ċ"])
    (folder / "tokenizer.json").write_text(json.dumps(d))
    return folder


def test_prompt_not_prefix_without_straddle(tmp_path):
    tok_dir = _newline_merge_tokenizer(tmp_path / "tok")
    tok = load_tokenizer(str(tok_dir))
    b = tok.backend_tokenizer
    # alone: ... 'ĊĊ'; joined with 'yes': ... 'Ċ' 'Ċ' 'yes' -- no token crosses the boundary
    assert b.encode("Q: hi\n\n").tokens[-1] == "ĊĊ"
    e = encode_causal(b, ["Q: hi\n\n"], ["yes"], separator="", eos_id=0, max_length=64, overflow="drop")[0]
    assert not e.straddle and e.flags & PROMPT_NOT_PREFIX
    ok = encode_causal(b, ["Q: hi"], ["yes"], separator=" ", eos_id=0, max_length=64, overflow="drop")[0]
    assert ok.flags == 0


def test_nothing_to_train_is_rejected(word_tokenizer):
    b = load_tokenizer(str(word_tokenizer)).backend_tokenizer
    # the word tokenizer drops whitespace: a whitespace-only completion has no token
    for eos in (0, None):
        e = encode_causal(b, ["Q: hi A:"], ["   "], separator="", eos_id=eos, max_length=16, overflow="drop")[0]
        assert e.reject and e.reject.code == "no_trained_token" and "no trained token" in e.reject.message
        s = encode_seq2seq(b, ["Q: hi A:"], ["   "], eos_id=eos, max_length=16, overflow="drop")[0]
        assert s.reject and s.reject.code == "no_trained_token" and "no trained token" in s.reject.message



def test_audit_flags_on_plain_examples_are_clear():
    b = load_tokenizer("ftdata:tiny-bpe").backend_tokenizer
    encs = encode_causal(b, ["Summarize:\n\nA: hi\n\nSummary:"], ["They greet."], separator=" ", eos_id=0,
                         max_length=64, overflow="drop", bos_id=0)
    assert encs[0].flags & (STRADDLE | DUP_BOS | EOS_UNTRAINED | PROMPT_NOT_PREFIX) == 0


SPECIAL_STRINGS = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<pad>"]


# private-use characters stand for escaped specials (ftdata.tokenize.specials.SENTINEL_BASE): not data
TEXT = st.characters(exclude_categories=("Co", "Cs"))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(TEXT, max_size=12), st.sampled_from(SPECIAL_STRINGS)), min_size=1, max_size=5),
       st.lists(st.one_of(st.text(TEXT, min_size=1, max_size=12), st.sampled_from(SPECIAL_STRINGS)), min_size=1,
                max_size=5))
def test_masks_exact_with_special_strings_in_data(prompt_parts, completion_parts):
    """Whatever the text (special-token strings included), trained tokens decode to the completion."""
    tok = load_tokenizer("ftdata:tiny-bpe")
    b = tok.backend_tokenizer
    sp = specials_for(b)
    prompt, completion = "".join(prompt_parts), "".join(completion_parts)
    (p, c), hit = sp.escape([prompt, completion])
    e = encode_causal(b, [p], [c], separator=" ", eos_id=tok.eos_token_id, max_length=4096, overflow="drop",
                      escaped=[hit])[0]
    assert e.reject is None
    assert bool(e.flags & SPECIAL_IN_DATA) == hit
    trained = [i for i, lab in zip(e.input_ids, e.labels) if lab != X]
    untrained = [i for i, lab in zip(e.input_ids, e.labels) if lab == X]
    if not e.straddle:
        assert tok.decode(trained) == " " + completion + tok.eos_token
        assert tok.decode(untrained) == prompt
    assert tok.decode(e.input_ids) == prompt + " " + completion + tok.eos_token
    # the only control token is the appended EOS
    assert [i for i in e.input_ids if i < 9] == [tok.eos_token_id]


def test_seq2seq_special_strings_are_text():
    tok = load_tokenizer("ftdata:tiny-bpe")
    b = tok.backend_tokenizer
    sp = specials_for(b)
    (p, c), hit = sp.escape(["Translate <|im_start|>", "Done <|eot_id|>"])
    e = encode_seq2seq(b, [p], [c], eos_id=0, max_length=64, overflow="drop", escaped=[hit])[0]
    assert [i for i in e.input_ids if i < 9] == [] and [i for i in e.labels if i < 9] == [0]
    assert tok.decode(e.input_ids) == "Translate <|im_start|>" and tok.decode(e.labels) == "Done <|eot_id|><|endoftext|>"
    assert e.flags & SPECIAL_IN_DATA
