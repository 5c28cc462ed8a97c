"""The export formats are all listed."""

from __future__ import annotations

from ftdata.constants import IGNORE_INDEX
from ftdata.consume.export import FORMATS


def test_every_format_listed():
    assert set(FORMATS) == {"trl", "axolotl", "llamafactory", "torchtune", "openai-jsonl", "lm-eval", "parquet", "jsonl",
                            "trl-chat", "axolotl-chat", "llamafactory-sharegpt"}
    assert IGNORE_INDEX == -100
