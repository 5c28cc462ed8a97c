"""Masking on a byte-level BPE: boundary, EOS and straddling tokens, by direct calls."""

from __future__ import annotations

from ftdata.constants import IGNORE_INDEX as X
from ftdata.tokenize.spans import encode_causal
from ftdata.tokenize.tokenizer import load_tokenizer


def test_byte_bpe_boundary_and_eos():
    tok = load_tokenizer("ftdata:tiny-bpe")
    enc = encode_causal(tok.backend_tokenizer, ["Rate it:"], ["five stars"], separator=" ",
                        eos_id=tok.eos_token_id, max_length=64, overflow="drop")[0]
    trained = [i for i, lab in zip(enc.input_ids, enc.labels) if lab != X]
    assert tok.decode(trained) == " five stars" + tok.eos_token
    assert enc.labels[-1] == tok.eos_token_id and enc.input_ids[-1] == tok.eos_token_id
    assert not enc.straddle


def test_straddling_token_is_counted(tmp_path):
    """A tokenizer that merges across the boundary: the token is trained and reported."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<eos>": 0, "ab": 1, "a": 2, "b": 3, "c": 4}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[("a", "b")]))
    tk.pre_tokenizer = pre_tokenizers.Split("|", "removed")
    enc = encode_causal(tk, ["ca"], ["b"], separator="", eos_id=0, max_length=10, overflow="drop")[0]
    assert enc.input_ids == [4, 1, 0]
    assert enc.labels == [X, 1, 0]
    assert enc.straddle
