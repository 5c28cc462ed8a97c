"""The recipe's ``max_reject_share`` field is validated where the recipe is read."""

from __future__ import annotations

import pytest

from ftdata.config.models import Recipe
from ftdata.config.recipe import parse_recipe
from ftdata.errors import ConfigError

from tests.conftest import ROOT

SMS_TEMPLATES = str(ROOT / "templates" / "sms_spam" / "templates.yaml")
DS_TEMPLATES = str(ROOT / "templates" / "dialogsum" / "templates.yaml")
SMS_ROWS = 400


@pytest.mark.parametrize("value", [-0.1, 1.5, "half"])
def test_max_reject_share_is_validated(value):
    with pytest.raises(ConfigError) as err:
        parse_recipe({"name": "x", "max_reject_share": value, "sources": [{"name": "s", "path": "d.jsonl",
                                                                          "templates": [{"file": "t.yaml"}]}]})
    assert "max_reject_share" in str(err.value)
    assert "reject" in Recipe.model_fields["max_reject_share"].description
