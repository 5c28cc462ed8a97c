"""Paths in a recipe: every relative path is read from the recipe's own folder."""

from __future__ import annotations

from pathlib import Path


def resolve_path(base: Path, p: str) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else (base / path)
