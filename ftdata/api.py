"""Reading compiled directories back."""

from __future__ import annotations

import json
from pathlib import Path

from .constants import COMPLETED, MANIFEST
from .errors import FtdataError


def read_manifest(path: str | Path) -> dict:
    """The manifest of a complete compiled directory; refuses one without COMPLETED."""
    p = Path(path)
    if not p.is_dir():
        raise FtdataError(f"{p}: no such compiled directory")
    if not (p / COMPLETED).exists():
        raise FtdataError(f"{p}: no {COMPLETED} marker; the build did not finish (rebuild it)")
    return json.loads((p / MANIFEST).read_text(encoding="utf-8"))


def load_compiled(path: str | Path):
    import datasets

    manifest = read_manifest(path)
    dd = datasets.load_from_disk(str(path))
    dd.manifest = manifest
    return dd
