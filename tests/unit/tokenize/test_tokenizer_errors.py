"""A typo in a built-in tokenizer name gets a did-you-mean."""

from __future__ import annotations

import time

import pytest


def test_builtin_tokenizer_typo_gets_a_did_you_mean():
    from ftdata.errors import BuildError
    from ftdata.tokenize.tokenizer import load_tokenizer

    t0 = time.monotonic()
    with pytest.raises(BuildError, match="did you mean 'ftdata:tiny-bpe'"):
        load_tokenizer("ftdata:tiny-bp")
    assert time.monotonic() - t0 < 5
