"""Tokenizer loading and identity.

A recipe names a tokenizer as a local folder, a Hub name, or ``ftdata:tiny-bpe`` (the small
byte-level BPE this project trains from its own text with ``scripts/train_tokenizer.py``).
Compilation uses the fast (Rust) backend directly for batch encoding with offsets.

A local folder without a model ``config.json`` loads through the class its
``tokenizer_config.json`` names (:func:`_direct_class`), the class ``AutoTokenizer`` picks for
such a folder: ``transformers.AutoTokenizer`` imports the model configuration code and with it
torch (about 1.5 s of a CLI build's start). Anything else goes through ``AutoTokenizer``.
"""

from __future__ import annotations

import hashlib
import json
import sys
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
    offline = None if local else hub_unreachable()
    try:
        # where AutoTokenizer is imported already it costs nothing, and classes registered with it count
        direct = (_direct_class(Path(resolved))
                  if local and "transformers.models.auto.tokenization_auto" not in sys.modules else None)
        if direct is not None:
            tok = direct.from_pretrained(resolved)
        else:
            from transformers import AutoTokenizer

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


#: Names that ``AutoTokenizer`` maps to the generic fast backend (``PythonBackend``, the slow
#: base, and the removed Bloom classes included) once a trailing ``Fast`` is dropped.
_GENERIC = {"PreTrainedTokenizer", "PythonBackend", "TokenizersBackend", "BloomTokenizer"}


def _direct_class(folder: Path):
    """The class ``AutoTokenizer.from_pretrained(folder)`` would instantiate, found without
    importing ``transformers.AutoTokenizer`` (and torch); None where only AutoTokenizer can decide.

    Without a ``config.json`` AutoTokenizer sees an empty model type and decides on
    ``tokenizer_config.json`` alone: no ``auto_map`` (remote code), ``tokenizer_class`` less a
    trailing ``Fast``, the generic backend for the generic names. Llama's class is left to
    AutoTokenizer (it swaps in the generic backend when ``tokenizer.json`` is byte-level), as is
    any name that is not a fast-backend class of transformers'.
    """
    cfg_file = folder / "tokenizer_config.json"
    if (folder / "config.json").exists() or not cfg_file.is_file() or not (folder / "tokenizer.json").is_file():
        return None
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # AutoTokenizer says what is wrong with it
    name = cfg.get("tokenizer_class") if isinstance(cfg, dict) else None
    if not isinstance(name, str) or "auto_map" in cfg:
        return None
    import transformers
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    name = name.removesuffix("Fast")
    if name in _GENERIC:
        return TokenizersBackend
    if name == "LlamaTokenizer" or name.startswith("Mistral"):
        return None
    cls = getattr(transformers, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, TokenizersBackend) else None


def load_tokenizer(name: str, base: Path | None = None):
    """Load a Hugging Face fast tokenizer by path, hub name or ``ftdata:tiny-bpe``."""
    return _load(resolve_tokenizer_name(name, base))


def tokenizer_hash(tok) -> str:
    """Content hash of a tokenizer: its Rust serialisation plus its special tokens."""
    h = hashlib.sha256(tok.backend_tokenizer.to_str().encode())
    h.update(json.dumps({"eos": tok.eos_token, "bos": tok.bos_token, "pad": tok.pad_token,
                         "chat_template": getattr(tok, "chat_template", None)}, sort_keys=True).encode())
    return h.hexdigest()
