"""Encoding by remembered pieces (:mod:`ftdata.tokenize.pieces`) gives the tokenizer's ids exactly.

Differential: the same texts through ``encode_flat`` and through ``encode_batch_fast``, on real
data from ``../shared/data`` (DialogSum, Amazon Fine Food, SMS spam, Multi30K), on random ASCII
strings over every ASCII character, and on chat texts holding added tokens, for the shipped
tokenizer and for byte-level tokenizers trained here with Qwen2's and Llama 3's split patterns
(published regular expressions). Then: the pipelines it must refuse, the texts it must leave
to the tokenizer, and a plan that goes wrong is caught and the tokenizer's ids returned.
"""

from __future__ import annotations

import copy
import csv
import json
import random

import numpy as np
import pytest
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)

from ftdata.tokenize import pieces
from ftdata.tokenize.pieces import ascii_pattern, encode_flat, piece_plan
from ftdata.tokenize.tokenizer import load_tokenizer

from tests.conftest import shared

QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CHAT_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _real_texts(n: int = 400) -> list[str]:
    out = []
    for line in shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines()[:n]:
        r = json.loads(line)
        out.append(f"Summarize the following conversation.\n\n{r['dialogue']}\n\nSummary: {r['summary']}")
    with open(shared("amazon_fine_food", "Reviews.csv"), encoding="utf-8", newline="") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            if i == n:
                break
            out.append(f"{r['Summary']}\n\n{r['Text']}")
    sms = shared("sms_spam", "SMSSpamCollection").read_text(encoding="utf-8", errors="replace").splitlines()[:n]
    out += [line.split("\t", 1)[-1] for line in sms]
    return out


def _random_ascii(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = ([chr(c) for c in range(128)] + [" "] * 30 + ["\n"] * 8 + ["'s", "'", "'LL", "  ", "\r\n"] * 4
                + ["a", "Z", "7", "12345", "word"] * 6 + CHAT_TOKENS)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(n)]


def _chat_texts() -> list[str]:
    out = []
    for line in shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines()[:100]:
        r = json.loads(line)
        out.append(f"<|im_start|>user\n{r['dialogue'][:300]}<|im_end|>\n<|im_start|>assistant\n{r['summary']}"
                   f"<|im_end|>\n<|im_start|><|im_end|>x<|endoftext|>")
    return out


def _trained(pattern: str, normalizer=None, added: list[AddedToken] | None = None) -> Tokenizer:
    """A byte-level BPE trained here on shared English text, split first by ``pattern``."""
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tk.decoder = decoders.ByteLevel()
    if normalizer is not None:
        tk.normalizer = normalizer
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=CHAT_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(_real_texts(300), trainer=trainer)
    if added:
        tk.add_tokens(added)
    return tk


def _check(backend, texts: list[str]) -> None:
    """``encode_flat`` gives the tokenizer's ids for every text; a plan it had is still live
    (its own check of one text per batch did not have to step in)."""
    plan = piece_plan(backend)
    flat, n = encode_flat(backend, texts)
    assert plan is None or plan.live
    assert len(n) == len(texts) and flat.dtype == np.int32
    encs = backend.encode_batch_fast(texts, add_special_tokens=False)
    ends = np.cumsum(n).tolist()
    for i, (e, k, enc) in enumerate(zip(ends, n.tolist(), encs)):
        assert flat[e - k:e].tolist() == enc.ids, (i, texts[i][:80])


SHIPPED = load_tokenizer("ftdata:tiny-bpe").backend_tokenizer


@pytest.mark.parametrize("kind", ["shipped", "qwen2", "qwen2-nfc", "llama3"])
def test_same_ids_as_the_tokenizer(kind):
    backend = {"shipped": lambda: SHIPPED, "qwen2": lambda: _trained(QWEN2),
               "qwen2-nfc": lambda: _trained(QWEN2, normalizers.NFC()), "llama3": lambda: _trained(LLAMA3)}[kind]()
    assert piece_plan(backend) is not None  # the path under test is taken
    _check(backend, _real_texts() + _random_ascii(3000, seed=len(kind)) + _chat_texts() + ["", " ", "\n"])


def test_added_tokens_split_as_the_tokenizer_does():
    """Overlapping added tokens, normalized or not, special or not: longest at the leftmost place,
    raw-text ones first."""
    added = [AddedToken("<|im", normalized=False), AddedToken("<|im_start|>x", normalized=True),
             AddedToken("end", normalized=True), AddedToken("abc", normalized=False, special=True)]
    backend = _trained(QWEN2, added=added)
    assert piece_plan(backend) is not None
    texts = ["<|im_start|>x", "<|im_start|>xend", "abcend<|im", "the endless abc", "<|im_end|>end<|im<|im_start|>"]
    _check(backend, texts + _random_ascii(2000, seed=7) + [t.replace("im_", "im") for t in _chat_texts()])
    special_as_text = _trained(QWEN2, added=added)
    special_as_text.encode_special_tokens = True  # special tokens are then text: not reproduced
    assert piece_plan(special_as_text) is None
    _check(special_as_text, texts + _chat_texts())


def test_texts_left_to_the_tokenizer():
    """Non-ASCII text, and text holding an added token that strips its neighbours, are encoded
    by the tokenizer (and still come out right, in order, beside the others)."""
    backend = _trained(LLAMA3, added=[AddedToken("<sep>", lstrip=True, rstrip=True)])
    plan = piece_plan(backend)
    assert plan is not None
    texts = ["plain words", "café au lait", "a <sep> b", "more plain words", "naïve", "<|im_start|>ok"]
    assert [plan.pieces(t) is None for t in texts] == [False, True, True, False, True, True]
    _check(backend, texts)
    multi30k = shared("multi30k_en_de", "train.de").read_text(encoding="utf-8").splitlines()[:300]
    _check(SHIPPED, multi30k + _real_texts(50))


def test_texts_left_to_the_tokenizer_keep_their_places():
    """A batch's pieces are looked up in one pass and the tokenizer's texts put back in their
    places: first, last, between empty texts, all of a batch; ``first`` names the first text
    encoded by pieces (the one the per-batch check compares)."""
    de = shared("multi30k_en_de", "train.de").read_text(encoding="utf-8").splitlines()[:40]
    de = [t for t in de if not t.isascii()][:6]
    en = _real_texts(5)[:6]
    plan = piece_plan(SHIPPED)
    batches = [[de[0], "", en[0], de[1], de[2], "", en[1], de[3]], [en[2], de[4], de[5]], de[:4], en[:3],
               ["", de[0], ""], [de[1]]]
    for batch in batches:
        _check(SHIPPED, batch)
        _, n, first = plan.encode(batch)
        assert len(n) == len(batch)
        assert first == next((i for i, t in enumerate(batch) if t.isascii()), -1)


@pytest.mark.parametrize("kind", ["wordlevel", "unigram", "wordpiece"])
def test_models_without_dropout_are_encoded_by_the_tokenizer(kind):
    """``encode_flat`` takes any tokenizer (the prefix audit's tails of every tokenizer go
    through it): a model that is not BPE, and has no ``dropout`` to read, gets no plan and
    its texts come out as the tokenizer encodes them."""
    words = ["[UNK]", "hello", "world", "a", "b"]
    model = {"wordlevel": lambda: models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"),
             "unigram": lambda: models.Unigram([(w, -1.0) for w in words], unk_id=0),
             "wordpiece": lambda: models.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]")}[kind]()
    backend = Tokenizer(model)
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    assert piece_plan(backend) is None
    _check(backend, ["hello world", "a b c", "", "world hello a", "naïve hello"])


@pytest.mark.parametrize("change", ["dropout", "prefix-space", "metaspace", "lowercase", "digits-class"])
def test_pipelines_it_does_not_reproduce_get_no_plan(change):
    backend = _trained(QWEN2)
    if change == "dropout":
        backend = copy.deepcopy(SHIPPED)
        spec = json.loads(backend.to_str())
        spec["model"]["dropout"] = 0.1
        backend = Tokenizer.from_str(json.dumps(spec))
    elif change == "prefix-space":
        backend = copy.deepcopy(SHIPPED)
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    elif change == "metaspace":
        backend.pre_tokenizer = pre_tokenizers.Metaspace()
    elif change == "lowercase":
        backend.normalizer = normalizers.Lowercase()
    else:
        backend.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"\d+|\w+|\s+|."), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    assert piece_plan(backend) is None
    if change != "dropout":  # with dropout the tokenizer's own ids vary from call to call
        _check(backend, _real_texts(30))


def test_ascii_pattern():
    assert ascii_pattern(r"\p{L}+|[^\s\p{N}]|\S") .pattern == (
        r"[A-Za-z]+|[^\t\n\x0b\x0c\r\x20" "0-9]|" r"[^\t\n\x0b\x0c\r\x20]")
    for unknown in (r"\d+", r"\w", r"\p{Lu}", r"[^\S]", r"[[a]]", r"(?<=a+)b", r"\b", r"\A\p{L}|."):
        assert ascii_pattern(unknown) is None, unknown


@pytest.mark.parametrize("pattern", [
    r"\p{L}+$|\p{L}|\s+|[^\s\p{L}]+",  # $ ends a line in Oniguruma, the text in re
    r"^\p{L}+|\p{L}|\s+|[^\s\p{L}]+",
    r"(\p{L}+)|\s+|.",  # re.findall returns the group's text
    r"(?m:.+)|\s+",  # dot-all in Oniguruma, multi-line in re
    r"[a-z&&b]|.",  # class intersection in Oniguruma, literal & in re
    r"\p{N}{1,3}+|\p{L}+|\s+|.",  # repeated interval in Oniguruma, possessive in re 3.11+
    r"\s{3}?\p{L}?[\r\n]{,2}|\s+|.",  # optional in Oniguruma, lazy in re (found by a fuzzer)
    r"\p{L}*|\s+|.",  # empty matches
    r"(?=[a-z]{3}\p{N})|\p{L}+|\p{N}|\s+|.",  # an empty match inside the text only (found by a review)
])
def test_patterns_the_engines_read_differently_are_refused(pattern):
    """Each of these reads differently in the tokenizer (Oniguruma) and in Python's re (the
    comments say how): no rewrite, so no plan."""
    assert ascii_pattern(pattern) is None


def test_a_wrong_plan_is_caught_and_ended(monkeypatch):
    """Each batch checks its first text against the tokenizer: a remembered piece gone wrong
    ends the plan for that tokenizer, and the batch gets the tokenizer's ids."""
    backend = copy.deepcopy(SHIPPED)
    plan = piece_plan(backend)
    texts = _real_texts(20)
    encode_flat(backend, texts)
    first = plan.findall(texts[0])[0]
    plan.cache[first] = [0]
    flat, n = encode_flat(backend, texts)
    assert not plan.live and piece_plan(backend) is None
    ends = np.cumsum(n).tolist()
    assert [flat[e - k:e].tolist() for e, k in zip(ends, n.tolist())] == [
        e.ids for e in backend.encode_batch_fast(texts, add_special_tokens=False)]
    _check(backend, texts)


def test_remembered_pieces_are_bounded(monkeypatch):
    monkeypatch.setattr(pieces, "MAX_PIECES", 50)
    backend = copy.deepcopy(SHIPPED)
    plan = piece_plan(backend)
    for i in range(0, 200, 20):
        _check(backend, _real_texts(200)[i:i + 20])
        assert len(plan.cache) <= 50 + 3000  # emptied before a batch once past the bound
    assert piece_plan(backend) is plan and plan.live


@pytest.mark.parametrize("change", ["add_tokens", "encode_special_tokens", "normalizer", "truncation", "padding"])
def test_a_tokenizer_changed_in_place_gets_a_new_plan(change):
    """transformers changes its backend in place (truncation and padding per call, added tokens,
    ``split_special_tokens``): the plan follows, or there is none (found by a review: the ids of
    a batch's second text came from the old plan)."""
    backend = copy.deepcopy(SHIPPED)
    texts = ["hi there", "Hello world <pad> " + "word " * 100]
    _check(backend, texts)
    if change == "add_tokens":
        backend.add_tokens(["world"])
    elif change == "encode_special_tokens":
        backend.encode_special_tokens = True
    elif change == "normalizer":
        backend.normalizer = normalizers.Lowercase()
    elif change == "truncation":
        backend.enable_truncation(max_length=64)
    else:
        backend.enable_padding(length=300)
    _check(backend, texts)
    assert (piece_plan(backend) is not None) == (change == "add_tokens")
