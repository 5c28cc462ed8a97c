"""Content-addressed cache of phase-A chunk results: incremental and resumable builds.

A chunk's result (:class:`~ftdata.build.chunk.ChunkResult`: its Arrow table, its example-level
rejects and its candidate count) depends on nothing but

* the chunk's checked rows (content, keys, line numbers, fixed splits),
* the chunk context: templates, layout, separator, max_length, overflow, seed, chat, render
  plan ... (every field of :class:`~ftdata.build.chunk.ChunkContext`, hashed canonically),
* the tokenizer's content (:func:`ftdata.tokenize.tokenizer.tokenizer_hash`),
* ftdata's version and the source code of the package (a code change never reuses results).

The SHA-256 of all of these names one cache entry: an Arrow IPC file whose footer metadata
holds the rejects (JSON) and the candidate count. Entries are written atomically (temporary
file, then rename) as soon as their chunk is done, so a build that is killed half-way resumes
from its finished chunks, and a rebuild re-renders only the chunks whose key changed -- a
template edit touches the chunks of the sources that use that template, nothing else.
Phase B memory-maps the entries directly; nothing is copied.

Location: ``cache_dir`` in the recipe, else ``$FTDATA_CACHE_DIR``, else
``.<output name>.cache/`` beside the output folder (like the build's lock and temporary
folders). Only a cache beside the output is pruned after a build (entries that build did not
use are removed), so it holds one build's worth of chunks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from ..constants import __version__
from ..rejects import Reject
from .rows import RangeRead

ENV_VAR = "FTDATA_CACHE_DIR"
_REJECTS = b"ftdata.rejects"
_CANDIDATES = b"ftdata.candidates"
_READ = b"ftdata.read"  # a chunk read by its worker: its rows' keys and read rejects (RangeRead)


@lru_cache(maxsize=1)
def code_hash() -> str:
    """SHA-256 of the package's Python sources, so edited code never reuses old results."""
    root = Path(__file__).resolve().parents[1]  # the ftdata package, not only build/
    h = hashlib.sha256(__version__.encode())
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode() + b"\x00")
        h.update(p.read_bytes())
    return h.hexdigest()


def _canon(obj, out: list, seen: set) -> None:
    """Append a canonical, process-independent text form of ``obj`` to ``out``.

    Sets are sorted (their iteration order changes with the per-process string hash seed),
    dicts keep their order (insertion order is part of the content), objects contribute their
    class name and their pickled state (``__getstate__``), pydantic models their dump.
    """
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        out.append(f"{type(obj).__name__}:{obj!r}")
        return
    if id(obj) in seen:
        out.append("<cycle>")
        return
    seen.add(id(obj))
    try:
        if isinstance(obj, dict):
            out.append("{")
            for k, v in obj.items():
                _canon(k, out, seen)
                _canon(v, out, seen)
            out.append("}")
        elif isinstance(obj, (list, tuple)):
            out.append("[" if isinstance(obj, list) else "(")
            for v in obj:
                _canon(v, out, seen)
            out.append("]")
        elif isinstance(obj, (set, frozenset)):
            parts = []
            for v in obj:
                sub: list = []
                _canon(v, sub, seen)
                parts.append("".join(sub))
            out.append("set" + repr(sorted(parts)))
        elif hasattr(obj, "model_dump"):
            out.append(type(obj).__qualname__)
            _canon(obj.model_dump(mode="python"), out, seen)
        elif hasattr(obj, "tobytes") and hasattr(obj, "dtype"):  # numpy arrays and scalars
            out.append(f"nd:{obj.dtype}:{getattr(obj, 'shape', ())}:{hashlib.sha256(obj.tobytes()).hexdigest()}")
        else:
            state = obj.__getstate__() if hasattr(obj, "__getstate__") else None
            if state is None and dataclasses.is_dataclass(obj):
                state = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
            if state is None:
                state = pickle.dumps(obj, protocol=4)
            out.append(type(obj).__module__ + "." + type(obj).__qualname__)
            _canon(state, out, seen)
    finally:
        seen.discard(id(obj))


def context_fingerprint(ctx, tokenizer_hash: str) -> str:
    """Hash of everything besides the rows that decides a chunk's result."""
    parts: list = []
    _canon(ctx, parts, set())
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass"))
    h.update(tokenizer_hash.encode())
    h.update(code_hash().encode())
    return h.hexdigest()


def rows_blob(rows: list) -> bytes:
    """The rows as one pickle: what a worker process is sent, and what :func:`chunk_key` hashes."""
    return pickle.dumps(rows, protocol=5)


def chunk_key(fingerprint: str, rows: list | None = None, *, blob: bytes | None = None) -> str:
    """Cache key of one chunk: the context fingerprint and the rows' full content.

    Every field of every row (key, line, data, fixed split, unit hash, ...) in order, as
    :func:`rows_blob` pickles them (deterministic for the plain values rows hold, and far faster
    than JSON); ``blob`` is that pickle when the caller has it already.
    """
    h = hashlib.sha256(fingerprint.encode())
    h.update(rows_blob(rows) if blob is None else blob)
    return h.hexdigest()


@dataclass
class CachedChunk:
    """A finished chunk on disk: its table file, rejects and candidate count."""

    path: Path
    rejects: list
    candidates: int
    rows: int  # examples in the table
    tokens: int
    key: str | None = None
    hit: bool = False  # found in the cache (False: computed by this build and stored)
    read: RangeRead | None = None  # a chunk its worker read (ftdata.build.ranged)


def table_counts(table: pa.Table) -> tuple[int, int]:
    """(examples, tokens) of a phase-A table."""
    return table.num_rows, int(pa.compute.sum(table.column("_len")).as_py() or 0)


def default_cache_dir(target: Path) -> Path:
    return target.parent / f".{target.name}.cache"


def resolve_cache_dir(target: Path, configured: str | None, base: Path | None) -> tuple[Path, bool]:
    """``(cache folder, whether it belongs to this output alone)``; see the module docstring."""
    if configured:
        p = Path(configured).expanduser()
        return (p if p.is_absolute() or base is None else base / p), False
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), False
    return default_cache_dir(target), True


class ChunkCache:
    """Cache entries in ``root/<key[:2]>/<key>.arrow``.

    Args:
        root: the cache folder (created on first write).
        read: look entries up (False for ``--force``: recompute everything, still write).
    """

    def __init__(self, root: Path, *, read: bool = True):
        self.root = Path(root)
        self.read = read
        self.used: set[str] = set()
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.arrow"

    def get(self, key: str, *, ranged: bool = False) -> CachedChunk | None:
        """The entry for ``key``, or None (unreadable entries count as missing; with ``ranged``, a
        chunk its worker reads (:mod:`ftdata.build.ranged`), so do entries without its ``RangeRead``)."""
        self.used.add(key)
        p = self.path(key)
        if not self.read or not p.exists():
            self.misses += 1
            return None
        try:
            with pa.memory_map(str(p)) as fh:
                reader = pa.ipc.open_file(fh)
                meta = reader.metadata or {}
                rejects = [Reject.from_dict(r) for r in json.loads(meta[_REJECTS])]
                candidates = int(meta[_CANDIDATES])
                read = RangeRead.from_dict(json.loads(meta[_READ])) if _READ in meta else None
                rows, tokens = table_counts(reader.read_all())
        except (OSError, KeyError, TypeError, ValueError, pa.ArrowInvalid):  # TypeError: an unknown field
            self.misses += 1
            return None
        if ranged and read is None:
            self.misses += 1
            return None
        self.hits += 1
        return CachedChunk(p, rejects, candidates, rows, tokens, key=key, hit=True, read=read)

    def put(self, key: str, res, schema: pa.Schema) -> CachedChunk | None:
        """Store a fresh result atomically; None when its rejects cannot be stored as JSON."""
        self.used.add(key)
        try:
            rejects = json.dumps([r.as_dict() for r in res.rejects], ensure_ascii=False)
            read = getattr(res, "read", None)
            read_meta = {} if read is None else {_READ: json.dumps(read.as_dict(), ensure_ascii=False).encode()}
        except (TypeError, ValueError):
            return None
        meta = {_REJECTS: rejects.encode(), _CANDIDATES: str(res.candidates).encode(), **read_meta}
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            # the footer's custom metadata, not the schema's: phase B concatenates the tables
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema, metadata=meta) as w:
                w.write_table(res.table)
            os.replace(tmp, p)
        finally:
            if tmp.exists():
                tmp.unlink()
        return CachedChunk(p, list(res.rejects), res.candidates, *table_counts(res.table), key=key, read=read)

    def note(self, key: str, hit: bool) -> None:
        """Count an entry a worker looked up (``hit``) or computed (see :func:`cached_process`)."""
        self.used.add(key)
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def prune(self) -> int:
        """Remove entries this build did not use (and stray temporary files); returns how many."""
        n = 0
        if not self.root.exists():
            return 0
        for p in self.root.glob("*/*"):
            name = p.name
            stale = name.endswith(".tmp") or (name.endswith(".arrow") and name[:-6] not in self.used)
            if stale:
                p.unlink(missing_ok=True)
                n += 1
        return n


def through_cache(store: tuple[str, bool, str] | None, key_of, compute, *, ranged: bool = False):
    """A chunk's result, through the chunk cache where it runs (a worker): the one place that looks
    a chunk up, computes it on a miss and stores it.

    ``store`` is ``(cache folder, read, context fingerprint)``, or None (no cache: ``compute()``);
    ``key_of(fingerprint)`` gives the chunk's key, ``compute()`` its
    :class:`~ftdata.build.chunk.ChunkResult`; ``ranged``: see :meth:`ChunkCache.get`. Returns a
    :class:`CachedChunk`, or the result itself (with ``key`` attribute) when it cannot be stored;
    :meth:`ChunkCache.note` does the bookkeeping in the build process.
    """
    if store is None:
        return compute()
    root, read, fingerprint = store
    cache = ChunkCache(Path(root), read=read)
    key = key_of(fingerprint)
    hit = cache.get(key, ranged=ranged)
    if hit is not None:
        return hit
    res = compute()
    stored = cache.put(key, res, res.table.schema)
    if stored is None:
        res.key = key
        return res
    return stored


def cached_process(ctx, rows: list, store: tuple[str, bool, str], blob: bytes | None = None):
    """Phase A for one chunk with the cache consulted where it runs (a worker,
    :func:`through_cache`): the worker hashes the rows, so the build process neither hashes rows
    nor writes tables. ``blob``: the rows' :func:`rows_blob`, when they came as one.
    """
    from .chunk import process_chunk

    return through_cache(store, lambda fp: chunk_key(fp, rows, blob=blob), lambda: process_chunk(ctx, rows))
