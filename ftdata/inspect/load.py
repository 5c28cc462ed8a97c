"""Reading compiled directories back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from ..constants import CHAT_JSON_COLUMNS, COMPLETED, MANIFEST
from ..errors import FtdataError


def read_manifest(path: str | Path, verify: Literal["quick", "full", "none"] = "quick") -> dict:
    """The manifest of a complete compiled directory.

    Args:
        verify: ``quick`` (default) checks ``COMPLETED``, shard presence, sizes and row
            counts without reading the data; ``full`` also checks every shard's sha256;
            ``none`` only requires ``COMPLETED``. See :mod:`ftdata.inspect.verify`.

    Raises:
        FtdataError: no such directory, no ``COMPLETED`` marker, or (a subclass,
            :class:`~ftdata.inspect.verify.VerifyError`) the folder does not match its manifest.
    """
    p = Path(path)
    if not p.is_dir():
        raise FtdataError(f"{p}: no such compiled directory")
    if not (p / COMPLETED).exists():
        raise FtdataError(f"{p}: no {COMPLETED} marker; the build did not finish (rebuild it)")
    if verify != "none":
        from .verify import verify_output

        verify_output(p, verify)
    return json.loads((p / MANIFEST).read_text(encoding="utf-8"))


def load_compiled(path: str | Path, verify: Literal["quick", "full", "none"] = "full", decode: bool = False):
    """Load a compiled directory as a ``DatasetDict`` with ``.manifest`` attached.

    Trainers and exporters come through here, so by default every shard's sha256 is checked
    first (``verify="full"``, about as fast as reading the files once); pass ``"quick"`` to
    skip the hashing for very large folders that were verified before.

    A chat build's ``messages`` and ``tools`` are JSON text in the shards; ``decode=True``
    gives them the datasets ``Json`` type, so a row holds the parsed conversation (whatever
    shape each row's tool arguments have); :func:`ftdata.templating.conversation.loads` parses one value.
    """
    import datasets

    manifest = read_manifest(path, verify=verify)
    dd = datasets.load_from_disk(str(path))
    if decode:
        for split in list(dd):
            for col in CHAT_JSON_COLUMNS:
                if col in dd[split].column_names:
                    dd[split] = dd[split].cast_column(col, datasets.Json())
    dd.manifest = manifest
    return dd

