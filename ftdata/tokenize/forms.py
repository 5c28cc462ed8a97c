"""Unicode normalization forms: a tokenizer normalizer made only of them leaves text already in
them as it is (ASCII text is in every form), so the byte-level fast paths
(:mod:`~ftdata.tokenize.causal_fast`, :mod:`~ftdata.tokenize.pieces`) may skip it."""

from __future__ import annotations

import json
import unicodedata

from .specials import _per_backend

_FORMS: dict[int, tuple[object, object, tuple[str, ...] | None]] = {}
#: Unicode normalization forms: a normalizer made only of these is the identity on text already in them.
UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")


def normal_forms(backend) -> tuple[str, ...] | None:
    """The Unicode forms the backend's normalizer applies, in order: ``()`` without a normalizer,
    None when it does anything else (lower-casing, replacing, prepending, ...)."""
    return _per_backend(_FORMS, backend, _normal_forms)


def _normal_forms(backend) -> tuple[str, ...] | None:
    if backend.normalizer is None:
        return ()
    spec = json.loads(backend.to_str()).get("normalizer") or {}
    parts = spec.get("normalizers", []) if spec.get("type") == "Sequence" else [spec]
    forms = tuple(p.get("type") for p in parts)
    return forms if all(f in UNICODE_FORMS for f in forms) else None


def normalized(forms: tuple[str, ...], texts: list[str]) -> bool:
    """Whether every text is already in every form of ``forms`` (the normalizer leaves it as it is).
    ASCII text is in every form (``str.isascii`` is a flag CPython keeps: no scan)."""
    return all(t.isascii() or all(unicodedata.is_normalized(f, t) for f in forms) for t in texts)
