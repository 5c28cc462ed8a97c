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
