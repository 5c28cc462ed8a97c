"""Incremental builds: the fingerprint of every input of a build, and the up-to-date check.

A build whose fingerprint equals the one in an existing complete output's ``build_info.json``
would write the same bytes, so ``skip_unchanged`` keeps that output instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..config.models import Recipe, recipe_hash
from ..config.paths import resolve_path
from ..constants import BUILD_INFO, COMPLETED, MANIFEST
from ..read.sources import file_hash
from .cache import code_hash


def source_hashes(recipe: Recipe, base: Path) -> dict:
    """Source name -> the hash of its file, or the Hub coordinates of a Hub source."""
    out = {}
    for src in recipe.sources:
        if src.path is not None:
            out[src.name] = file_hash(resolve_path(base, src.path))
        else:
            h = src.hub
            out[src.name] = f"hub:{h.path}:{h.name}:{h.split}:{h.revision}"
    return out


def fingerprint(recipe: Recipe, base: Path, source_hashes: dict, template_hashes: dict,
                tok_hash: str) -> str | None:
    """Hash of every input of the whole build, or None when one cannot be hashed (hub).

    Inputs: ftdata's code, the normalised recipe, source files, template files, the
    tokenizer, and every other file the recipe names (reference sets, chat templates, ...).
    """
    if any(src.hub is not None for src in recipe.sources):
        return None
    files = {}
    known = {src.path for src in recipe.sources} | set(template_hashes)  # hashed already

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and v and v not in known and len(v) < 4096 and "\n" not in v:
            try:
                p = resolve_path(base, v)
                if p.is_file():
                    files[v] = file_hash(p)
            except (OSError, ValueError):
                pass

    walk(recipe.model_dump(mode="json", exclude={"output"}))
    blob = json.dumps({"code": code_hash(), "recipe": recipe_hash(recipe), "sources": source_hashes,
                       "templates": template_hashes, "tokenizer": tok_hash, "files": files,
                       "max_reject_share": recipe.max_reject_share},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def up_to_date(target: Path, fp: str | None) -> tuple[dict, dict] | None:
    """(manifest, build info) of the output at ``target`` when it is complete and was built
    from ``fp``; None otherwise."""
    if fp is None or not (target / COMPLETED).exists():
        return None
    try:
        info = json.loads((target / BUILD_INFO).read_text(encoding="utf-8"))
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("fingerprint") != fp:
        return None
    if not all((target / s["file"]).is_file() for lst in manifest.get("shards", {}).values()
               for s in lst):
        return None
    return manifest, info
