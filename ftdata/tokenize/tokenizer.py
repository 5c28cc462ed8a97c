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

from ..constants import BUILTIN_TOKENIZER
from ..errors import BuildError, did_you_mean
from ..read.hub import hub_unreachable

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
    local = Path(resolved).exists()
    if not local and resolved.startswith("ftdata:"):
        raise BuildError(f"unknown built-in tokenizer '{resolved}'{did_you_mean(resolved, [BUILTIN_TOKENIZER])}: "
                         f"ftdata ships only '{BUILTIN_TOKENIZER}'")
    from transformers import AutoTokenizer

    offline = None if local else hub_unreachable()
    try:
        # offline, a copy in the Hugging Face cache still loads; nothing else is tried
        tok = AutoTokenizer.from_pretrained(resolved, **({"local_files_only": True} if offline else {}))
    except Exception as exc:  # noqa: BLE001
        if offline:
            raise BuildError(
                f"cannot load tokenizer '{resolved}': no local folder has that name, the Hugging Face cache "
                f"has no copy, and the Hub cannot be reached: {offline}. Name a local folder (one saved with "
                f"save_pretrained), use '{BUILTIN_TOKENIZER}' (ships with ftdata), or rerun with network access"
                + did_you_mean(resolved, [BUILTIN_TOKENIZER])) from None
        raise BuildError(f"cannot load tokenizer '{resolved}': {exc}{did_you_mean(resolved, [BUILTIN_TOKENIZER])}") from None
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
