"""Helpers for testing your own recipes and templates (ftdata's own tests use them too).

A test of a task should be able to state its expected ``input_ids`` and ``labels`` literally.
That needs a tokenizer whose ids can be worked out by hand, and a few lines to put a recipe,
a template file and some rows on disk. This module has both; it depends only on what
ftdata itself needs (``tokenizers``, ``transformers``, PyYAML), never on pytest.

Example::

    from ftdata.testing import (WORDS, make_word_tokenizer, word_ids, write_jsonl,
                                write_native_templates, write_recipe)

    tok = make_word_tokenizer(tmp_path / "tok")
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"q": "what is two plus three", "a": "five"}])
    tpl = write_native_templates(tmp_path / "t.yaml", [
        {"name": "qa", "prompt": "Q: {{q}} A:", "completion": "{{a}}"}])
    recipe = write_recipe(tmp_path, {
        "name": "qa", "sources": [{"name": "s", "path": str(rows),
                                   "templates": [{"file": str(tpl)}]}],
        "tokenizer": str(tok), "max_length": 32})
    # word_ids("Q: what is two plus three A: five <eos>") == [2, 4, 5, 6, 7, 8, 3, 9, 0]

The word tokenizer splits on whitespace only; each word's id is its position in ``WORDS``
and any other word is ``[unk]`` (id 16). ``<eos>`` is id 0 and ``<pad>`` id 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

__all__ = ["WORDS", "make_word_tokenizer", "word_ids", "write_jsonl", "write_native_templates",
           "write_recipe"]

#: The word tokenizer's whole vocabulary; a word's id is its index here.
WORDS = ["<eos>", "<pad>", "Q:", "A:", "what", "is", "two", "plus", "three", "five", "six",
         "say", "hi", "hello", "yes", "no", "[unk]"]


def word_ids(text: str) -> list[int]:
    """The ids the word tokenizer gives ``text``, computed without loading it.

    Args:
        text: Words separated by whitespace; words outside ``WORDS`` become ``[unk]``.

    Returns:
        One id per word, for writing expected ``input_ids`` / ``labels`` in a test.
    """
    unk = WORDS.index("[unk]")
    return [WORDS.index(w) if w in WORDS else unk for w in text.split()]


def make_word_tokenizer(folder: Path) -> Path:
    """A word-level tokenizer whose ids are predictable by hand: id = position in WORDS.

    Whitespace separates tokens and is not itself a token, so offsets never cover spaces.

    Args:
        folder: Where to save it (created); pass it as the recipe's ``tokenizer``.

    Returns:
        ``folder``, now holding a ``PreTrainedTokenizerFast`` with ``<eos>``, ``<pad>`` and
        ``[unk]`` as its special tokens and no BOS.
    """
    # Imported here so that `import ftdata.testing` stays cheap for tests that only write files.
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(WORDS)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[unk]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<eos>", pad_token="<pad>",
                                   unk_token="[unk]")
    fast.save_pretrained(folder)
    return folder


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Write ``rows`` as JSON Lines (one object a line, UTF-8).

    Args:
        path: The file to write (replaced if it exists).
        rows: The rows, in order.

    Returns:
        ``path``, to use as a source's ``path``.
    """
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_recipe(folder: Path, recipe: dict, name: str = "recipe.yaml") -> Path:
    """Write a recipe dict as YAML, keys in the order given.

    Args:
        folder: The recipe's folder; relative paths in the recipe resolve from here.
        recipe: The recipe, as ``ftdata build`` would read it from YAML.
        name: The file name inside ``folder``.

    Returns:
        The recipe file's path, for ``ftdata.compile`` or ``ftdata build``.
    """
    p = folder / name
    p.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return p


def write_native_templates(path: Path, templates: list[dict]) -> Path:
    """Write a native template file: ``{"templates": [...]}`` as YAML.

    Args:
        path: The file to write.
        templates: Entries with ``name``, ``prompt``, ``completion`` and optional fields
            (``metrics``, ``answer_choices``, ...), as documented for template files.

    Returns:
        ``path``, to use in a source's ``templates: [{file: ...}]``.
    """
    path.write_text(yaml.safe_dump({"templates": templates}, sort_keys=False), encoding="utf-8")
    return path
