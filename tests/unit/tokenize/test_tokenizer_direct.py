"""A local tokenizer folder loads through the class its tokenizer_config.json names, without
importing ``transformers.AutoTokenizer`` (and torch): the same object AutoTokenizer gives."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftdata.testing_chat import CHATML
from ftdata.tokenize.tokenizer import ASSET_DIR, _direct_class, tokenizer_hash

from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[3]


def _texts() -> list[str]:
    rows = [json.loads(line) for line in shared("dialogsum", "dialogsum.dev.jsonl").read_text().splitlines()[:40]]
    return [r["dialogue"] for r in rows] + [r["summary"] for r in rows] + ["<|endoftext|> Café <pad> ünï"]


def _qwen_style(folder: Path) -> Path:
    """The shipped tokenizer saved as a Qwen2 tokenizer: the class, ChatML special tokens, a chat template."""
    shutil.copytree(ASSET_DIR, folder)
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg.update(tokenizer_class="Qwen2TokenizerFast", chat_template=CHATML, eos_token="<|im_end|>",
               pad_token="<|endoftext|>", bos_token=None, additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    return folder


def _same(folder: Path) -> str:
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(str(folder))
    cls = _direct_class(folder)
    assert cls is type(auto)
    direct = cls.from_pretrained(str(folder))
    assert type(direct) is type(auto)
    assert tokenizer_hash(direct) == tokenizer_hash(auto)
    assert direct.backend_tokenizer.to_str() == auto.backend_tokenizer.to_str()
    assert direct.special_tokens_map == auto.special_tokens_map
    assert direct.all_special_ids == auto.all_special_ids
    assert direct.chat_template == auto.chat_template
    assert direct.init_kwargs == auto.init_kwargs
    texts = _texts()
    a = auto(texts, return_offsets_mapping=True)
    d = direct(texts, return_offsets_mapping=True)
    assert d["input_ids"] == a["input_ids"] and d["offset_mapping"] == a["offset_mapping"]
    assert [direct.decode(x) for x in d["input_ids"][:5]] == [auto.decode(x) for x in a["input_ids"][:5]]
    return type(direct).__name__


def test_the_shipped_tokenizer_loads_as_autotokenizer_loads_it():
    assert _same(ASSET_DIR) == "TokenizersBackend"


def test_a_saved_qwen_style_tokenizer_loads_as_autotokenizer_loads_it(tmp_path):
    folder = _qwen_style(tmp_path / "qwen")
    assert _same(folder) == "Qwen2Tokenizer"
    from transformers import AutoTokenizer

    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    auto = AutoTokenizer.from_pretrained(str(folder))
    direct = _direct_class(folder).from_pretrained(str(folder))
    assert direct.apply_chat_template(msgs, tokenize=False) == auto.apply_chat_template(msgs, tokenize=False)


@pytest.mark.parametrize("change", [{"auto_map": {"AutoTokenizer": [None, "x.Y"]}}, {"tokenizer_class": "LlamaTokenizerFast"},
                                    {"tokenizer_class": "NoSuchTokenizer"}, {"tokenizer_class": None}])
def test_folders_only_autotokenizer_can_decide_go_through_it(tmp_path, change):
    folder = tmp_path / "tok"
    shutil.copytree(ASSET_DIR, folder)
    cfg = json.loads((folder / "tokenizer_config.json").read_text()) | change
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    assert _direct_class(folder) is None


def test_a_model_config_sends_the_folder_through_autotokenizer(tmp_path):
    folder = tmp_path / "tok"
    shutil.copytree(ASSET_DIR, folder)
    assert _direct_class(folder) is not None
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    assert _direct_class(folder) is None


def test_loading_the_shipped_tokenizer_imports_neither_autotokenizer_nor_torch(tmp_path):
    qwen = _qwen_style(tmp_path / "qwen")
    code = ("import sys\nfrom ftdata.tokenize.tokenizer import load_tokenizer, tokenizer_hash\n"
            f"hs = [tokenizer_hash(load_tokenizer(n)) for n in ('ftdata:tiny-bpe', {str(qwen)!r})]\n"
            "print(sorted(m for m in ('torch', 'transformers.models.auto.tokenization_auto') if m in sys.modules))\n"
            "print(' '.join(hs))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out[0] == "[]"
    from transformers import AutoTokenizer

    assert out[1].split() == [tokenizer_hash(AutoTokenizer.from_pretrained(str(p))) for p in (ASSET_DIR, qwen)]


def test_a_word_level_tokenizer_saved_by_save_pretrained_loads_as_autotokenizer_loads_it(word_tokenizer):
    assert _same(word_tokenizer) == "TokenizersBackend"
