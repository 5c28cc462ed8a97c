"""Tokenizer loading and identity.

A recipe names a tokenizer as a local folder, a Hub name, or ``ftdata:tiny-bpe`` (the small
byte-level BPE this project trains from its own text with ``scripts/train_tokenizer.py``).
Compilation uses the fast (Rust) backend directly for batch encoding with offsets.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from .constants import BUILTIN_TOKENIZER
from .errors import BuildError

ASSET_DIR = Path(__file__).parent / "assets" / "tokenizer"


def resolve_tokenizer_name(name: str, base: Path | None = None) -> str:
    if name == BUILTIN_TOKENIZER:
        return str(ASSET_DIR)
    p = Path(name).expanduser()
    if not p.is_absolute() and base is not None and (base / p).exists():
        return str((base / p).resolve())
    return str(p) if p.exists() else name


@lru_cache(maxsize=8)
def _load(resolved: str):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(resolved)
    except Exception as exc:  # noqa: BLE001
        raise BuildError(f"cannot load tokenizer '{resolved}': {exc}") from None
    if not getattr(tok, "is_fast", False):
        raise BuildError(f"tokenizer '{resolved}' has no fast (Rust) version; ftdata needs character offsets")
    return tok


def load_tokenizer(name: str, base: Path | None = None):
    """Load a Hugging Face fast tokenizer by path, hub name or ``ftdata:tiny-bpe``."""
    return _load(resolve_tokenizer_name(name, base))


def tokenizer_hash(tok) -> str:
    """Content hash of a tokenizer: its Rust serialisation plus its special tokens."""
    h = hashlib.sha256(tok.backend_tokenizer.to_str().encode())
    h.update(json.dumps({"eos": tok.eos_token, "bos": tok.bos_token, "pad": tok.pad_token,
                         "chat_template": getattr(tok, "chat_template", None)}, sort_keys=True).encode())
    return h.hexdigest()
