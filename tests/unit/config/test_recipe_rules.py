"""Recipe validation: field errors do not hide the cross-field problems."""

from __future__ import annotations

import pytest

from ftdata.config.recipe import parse_recipe
from ftdata.errors import ConfigError

from tests.conftest import shared


def _dialogsum_recipe(template, **extra) -> dict:
    source = {"name": "dialogsum", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")),
              "key": "fname", "templates": [{"file": str(template)}]}
    return {"name": "ds", "output": "out", "tokenizer": "ftdata:tiny-bpe", "max_length": 512,
            "sources": [source], **extra}


def _where(problems: list[str]) -> list[str]:
    """The YAML path each problem names (``file: path: text``)."""
    return [p.split(":")[1].strip() for p in problems]


def test_field_errors_do_not_hide_cross_field_problems(dialogsum_template):
    # a wrong field (ratios) and an unrelated conflict (packing with seq2seq) come out together
    data = _dialogsum_recipe(dialogsum_template, layout="seq2seq", packing=True,
                             split={"ratios": {"train": 0.8, "tets": 0.1}})
    with pytest.raises(ConfigError) as exc:
        parse_recipe(data, "r.yaml")
    got = exc.value.problems
    assert _where(got) == ["split.ratios.tets", "split.ratios", "packing"], got
    assert "sum to 1" in got[1]
    # a rule reading a field that failed is not judged on that field's default
    data = _dialogsum_recipe(dialogsum_template, layout="decoder", packing=True)
    with pytest.raises(ConfigError) as exc:
        parse_recipe(data, "r.yaml")
    assert _where(exc.value.problems) == ["layout"], exc.value.problems
