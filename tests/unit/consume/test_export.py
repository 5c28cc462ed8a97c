"""The export formats are all listed."""

from __future__ import annotations

from ftdata.constants import IGNORE_INDEX
from ftdata.consume.export import FORMATS


def test_every_format_listed():
    assert set(FORMATS) == {"trl", "axolotl", "llamafactory", "torchtune", "openai-jsonl", "lm-eval", "parquet", "jsonl",
                            "trl-chat", "axolotl-chat", "llamafactory-sharegpt"}
    assert IGNORE_INDEX == -100


def test_conversation_export_snippets_read_the_chat_policy():
    """The axolotl / LLaMA-Factory loading snippets say what the build trained: the manifest's
    chat settings through ``ChatPolicy.from_spec`` (its defaults where a field is unset)."""
    from pathlib import Path

    from ftdata.consume.chatexport import loading

    def snippet(name, chat):
        return loading(name, {"name": "oa", "chat": chat, "tokenizer": {"name": "tok"}, "max_length": 64},
                       Path("/d"), ["train", "validation"])

    for chat in (None, {}, {"train_roles": None, "train_on": None, "end_of_turn": None}):
        assert 'roles_to_train: ["assistant"]' in snippet("axolotl-chat", chat)
        assert "train_on_eos: turn" in snippet("axolotl-chat", chat)
        assert "mask_history: true" in snippet("llamafactory-sharegpt", chat)
    custom = {"train_roles": ["user", "assistant"], "train_on": "all", "end_of_turn": "none"}
    assert 'roles_to_train: ["user", "assistant"]' in snippet("axolotl-chat", custom)
    assert "train_on_eos: none" in snippet("axolotl-chat", custom)
    assert "mask_history" not in snippet("llamafactory-sharegpt", custom)


def test_a_split_an_export_cannot_take_is_named_with_what_it_lacks():
    """The refusal names the format, the compiled directory and split, what the format needs and
    the columns found; a chat export takes a chat build's ``messages`` or a prompt/completion pair."""
    import pytest

    from ftdata.consume.export import TARGETS, _check
    from ftdata.errors import FtdataError

    causal = {"layout": "causal"}
    tokens = ["input_ids", "labels", "seq_lengths"]
    for fmt in ("openai-jsonl", "trl-chat", "axolotl-chat", "llamafactory-sharegpt"):
        with pytest.raises(FtdataError) as err:
            _check(TARGETS[fmt], causal, tokens, "out/chat [train]")
        assert str(err.value) == (
            f"export --to {fmt}: out/chat [train]: needs a chat build's 'messages' column (conversations) or the "
            "'prompt' and 'completion' columns (one user and one assistant turn per row); found "
            "['input_ids', 'labels', 'seq_lengths'] (packed rows keep tokens only; compile without packing)")
        _check(TARGETS[fmt], causal, ["messages", "tools"], "out/chat [train]")  # a chat build
        _check(TARGETS[fmt], causal, ["prompt", "completion"], "out/chat [train]")  # a pair build
    with pytest.raises(FtdataError, match=r"^export --to lm-eval: out/r \[test\]: needs the 'prompt' and 'completion' "
                                          r"columns; found \['messages'\]$"):
        _check(TARGETS["lm-eval"], causal, ["messages"], "out/r [test]")
    with pytest.raises(FtdataError, match=r"^export --to axolotl: out/r \[train\]: needs a causal-layout build .* "
                                          r"found layout 'seq2seq'"):
        _check(TARGETS["axolotl"], {"layout": "seq2seq"}, ["input_ids", "labels"], "out/r [train]")
