"""The files a build writes: JSON files, folder-ownership markers, Arrow shards, rejects.

Splits are written as Arrow IPC stream shards in the layout of ``datasets.save_to_disk`` so
``datasets.load_from_disk(out)`` returns a ``DatasetDict`` (:class:`SplitWriter`, each shard
hashed as it is written); rows and examples left out go to ``rejects.jsonl``
(:class:`RejectsWriter`). Which folders are ftdata's own, and may so be replaced, is said by a
marker file in each (:func:`is_output`, :func:`mark_output`, :func:`not_replaceable`). The
output folder itself -- lock, commit, recovery after a kill -- is :mod:`ftdata.write.outdir`.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from ..constants import (
    EXPORT_FORMAT,
    FAILED_FORMAT,
    MANIFEST,
    OUTPUT_FORMAT,
    OWNER_FILE,
    RUN_FORMAT,
    TINY_MODEL_FORMAT,
)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _TrailingHash:
    """SHA-256 of a file that is still being written, read back as it grows.

    :meth:`advance` hashes the bytes written so far (the writer passes its position), from the
    page cache the write just filled; :meth:`finish` hashes the rest once the file is closed. A
    writer's hashing thread runs them in order while the writer goes on writing.
    """

    BLOCK = 1 << 22

    def __init__(self, path: Path):
        self.path = path
        self.h = hashlib.sha256()
        self.fh = None
        self.pos = 0
        self.failed = False  # a read went wrong: finish hashes the whole file again

    def advance(self, upto: int | None = None) -> None:
        if self.failed:
            return
        try:
            if self.fh is None:
                self.fh = open(self.path, "rb")  # noqa: SIM115 - closed by finish
            while upto is None or self.pos < upto:
                block = self.fh.read(self.BLOCK if upto is None else min(self.BLOCK, upto - self.pos))
                if not block:
                    break
                self.h.update(block)
                self.pos += len(block)
        except OSError:
            self.failed = True

    def finish(self) -> str:
        try:
            self.advance(None)
        finally:
            if self.fh is not None:
                self.fh.close()
        return sha256_file(self.path) if self.failed else self.h.hexdigest()


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


#: How ftdata knows a folder is its own, per kind: the JSON file that says so, the format it
#: names, and what such a folder is called. A compiled directory is known by its manifest
#: (written before the folder gets its name); an export, a run folder or a tiny model by
#: :data:`OWNER_FILE`, written by :func:`mark_output` when the folder is made.
_OWNED = {"build": (MANIFEST, OUTPUT_FORMAT, "ftdata output"),
          "export": (OWNER_FILE, EXPORT_FORMAT, "ftdata export"),
          "run": (OWNER_FILE, RUN_FORMAT, "ftdata run folder"),
          "model": (OWNER_FILE, TINY_MODEL_FORMAT, "ftdata tiny model"),
          "failed": (OWNER_FILE, FAILED_FORMAT, "ftdata failed-build folder")}


def is_output(path: Path, kind: str = "build") -> bool:
    """Whether ``path`` is a folder ftdata wrote as ``kind`` (a key of ``_OWNED``), complete or not.

    Every such folder says so in its marker file (see ``_OWNED``). A folder without it, or with
    another program's file of that name, is not ours, and ftdata never replaces it.
    """
    name, fmt, _ = _OWNED[kind]
    try:
        with open(Path(path) / name, encoding="utf-8") as fh:
            m = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and str(m.get("format", "")).startswith(fmt.rsplit("/", 1)[0] + "/")


def mark_output(folder: Path, kind: str) -> None:
    """Mark the new folder ``folder`` as ftdata's ``kind`` (``export``, ``run``, ``model``)."""
    name, fmt, _ = _OWNED[kind]
    write_json(Path(folder) / name, {"format": fmt})


def not_replaceable(path: Path, kind: str = "build") -> str | None:
    """What stands at ``path`` that ftdata must not replace, or None where it may.

    ftdata replaces only nothing, an empty folder, or a folder it wrote as ``kind``
    (:func:`is_output`); anything else is the user's, and no ``--overwrite`` deletes it.

    Returns:
        None, or what is there, for the caller's error (e.g. ``a folder that is not an ftdata
        export (no .ftdata.json of format ftdata-export/1)``).
    """
    path = Path(path)
    if not (path.exists() or path.is_symlink()) or is_output(path, kind):
        return None
    if path.is_dir() and not any(path.iterdir()):
        return None
    name, fmt, label = _OWNED[kind]
    what = "a folder" if path.is_dir() else "a file"
    return f"{what} that is not an {label} (no {name} of format {fmt})"


class SplitWriter:
    """Streams record batches of one split into size-limited Arrow shards."""

    def __init__(self, folder: Path, schema: pa.Schema, shard_size: int):
        self.folder = folder
        self.schema = schema
        self.shard_size = shard_size
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: list[Path] = []
        self._rows: list[int] = []
        self._tasks: list[set] = []
        # shards are hashed on a thread of this writer's own (hashlib releases the GIL), following
        # the writes (:class:`_TrailingHash`), so a shard's hash is ready soon after its last
        # write; not a shared pool, which a forked child would inherit dead
        self._hasher: ThreadPoolExecutor | None = None
        self._hashes: list[Future] = []
        self._sink = None
        self._writer = None
        self.rows = 0

    def _open(self) -> None:
        path = self.folder / f"part-{len(self._files):05d}.arrow"
        self._files.append(path)
        self._rows.append(0)
        self._tasks.append(set())
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_stream(self._sink, self.schema)
        if self._hasher is None:
            self._hasher = ThreadPoolExecutor(1, thread_name_prefix="ftdata-sha256")
        self._digest = _TrailingHash(path)

    def _close_current(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = self._sink = None
            self._hashes.append(self._hasher.submit(self._digest.finish))

    def write(self, table: pa.Table) -> None:
        offset = 0
        while offset < table.num_rows:
            if self._writer is None or self._rows[-1] >= self.shard_size:
                self._close_current()
                self._open()
            take = min(self.shard_size - self._rows[-1], table.num_rows - offset)
            part = table.slice(offset, take)
            for batch in part.to_batches():
                self._writer.write_batch(batch)
            self._hasher.submit(self._digest.advance, self._sink.tell())
            self._rows[-1] += take
            tasks = part.column("task")
            if pa.types.is_list(tasks.type):  # packed rows hold one task per document
                tasks = pa.compute.list_flatten(tasks)
            self._tasks[-1].update(tasks.unique().to_pylist())
            self.rows += take
            offset += take

    def close(self, split: str) -> list[dict]:
        """Finish the split: name shards ``data-i-of-n``, write datasets' metadata."""
        import datasets

        if not self._files:
            self._open()  # an empty split still gets one (empty) shard
        self._close_current()
        n = len(self._files)
        shards = []
        for i, (path, rows, tasks, digest) in enumerate(zip(self._files, self._rows, self._tasks, self._hashes)):
            final = self.folder / f"data-{i:05d}-of-{n:05d}.arrow"
            sha = digest.result()  # before the rename: the hash reads the file by its first name
            os.rename(path, final)
            shards.append({"file": f"{split}/{final.name}", "rows": rows, "bytes": final.stat().st_size,
                           "sha256": sha, "tasks": sorted(tasks)})
        self._hasher.shutdown()
        fingerprint = hashlib.sha256("".join(s["sha256"] for s in shards).encode()).hexdigest()[:16]
        write_json(self.folder / "state.json", {
            "_data_files": [{"filename": Path(s["file"]).name} for s in shards],
            "_fingerprint": fingerprint, "_format_columns": None, "_format_kwargs": {},
            "_format_type": None, "_output_all_columns": False, "_split": split,
        })
        features = datasets.Features.from_arrow_schema(self.schema)
        write_json(self.folder / "dataset_info.json", {
            "citation": "", "description": "", "homepage": "", "license": "",
            "features": features.to_dict(), "splits": {split: {"name": split, "num_examples": self.rows}},
        })
        return shards


class RejectsWriter:
    """``rejects.jsonl``: one line per row or example not in the output."""

    def __init__(self, path: Path):
        self._fh = open(path, "w", encoding="utf-8")  # noqa: SIM115
        self.count = 0

    def write(self, rec: dict) -> None:
        self._fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        self.count += 1

    def close(self) -> None:
        self._fh.close()
