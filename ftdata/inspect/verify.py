"""Verifying a compiled directory: is it complete, and is it what the manifest says?

Two depths:

* ``quick``: ``COMPLETED`` is there, the manifest parses, every shard the manifest lists
  exists with its recorded size and row count (rows are counted from the Arrow stream's
  batch headers through a memory map, so the data itself is not read), no unlisted shard
  lies in a split folder, and the rows add up to the manifest's per-split counts.
* ``full``: the above plus the sha256 of every shard (reads every byte; about as fast as the
  disk). This catches a flipped byte, which ``quick`` cannot.

:func:`ftdata.inspect.load.load_compiled` runs ``full`` before handing data to a trainer or exporter;
:func:`ftdata.inspect.load.read_manifest` runs ``quick``. ``ftdata verify OUT`` runs ``full``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..constants import COMPLETED, MANIFEST
from ..errors import FtdataError
from ..write.writer import sha256_file

Depth = Literal["quick", "full"]


class VerifyError(FtdataError):
    """A compiled directory is incomplete or does not match its manifest."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = list(problems)
        super().__init__(f"{path} does not verify ({len(self.problems)} problem(s)); rebuild it:\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


@dataclass
class VerifyReport:
    """What was checked and what was wrong (``ok`` when nothing was)."""

    path: Path
    depth: str
    shards: int = 0
    rows: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"path": str(self.path), "depth": self.depth, "ok": self.ok, "shards": self.shards,
                "rows": self.rows, "bytes": self.bytes, "problems": self.problems}


def count_rows(path: Path) -> int:
    """Rows in an Arrow IPC stream file, from the batch headers (memory-mapped)."""
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_stream(source)
        return sum(batch.num_rows for batch in reader)


def check_output(path: str | Path, depth: Depth = "full") -> VerifyReport:
    """Check a compiled directory; return a report listing every problem found."""
    p = Path(path)
    rep = VerifyReport(p, depth)
    if not p.is_dir():
        rep.problems.append(f"{p}: no such compiled directory")
        return rep
    if not (p / COMPLETED).exists():
        rep.problems.append(f"no {COMPLETED} marker: the build did not finish")
    try:
        manifest = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
        shards_by_split = manifest["shards"]
        split_counts = manifest["counts"]["splits"]
    except FileNotFoundError:
        rep.problems.append(f"no {MANIFEST}")
        return rep
    except (ValueError, KeyError, TypeError) as exc:
        rep.problems.append(f"{MANIFEST} is unreadable or lacks shards/counts: {type(exc).__name__}: {exc}")
        return rep
    dd = p / "dataset_dict.json"
    if dd.exists():
        try:
            listed = json.loads(dd.read_text(encoding="utf-8"))["splits"]
        except (ValueError, KeyError, TypeError) as exc:
            rep.problems.append(f"dataset_dict.json is unreadable: {exc}")
        else:
            if sorted(listed) != sorted(shards_by_split):
                rep.problems.append(f"dataset_dict.json lists splits {sorted(listed)}, the manifest {sorted(shards_by_split)}")
    for split, shards in shards_by_split.items():
        rows_in_split = 0
        for s in shards:
            rows_in_split += _check_shard(p, s, depth, rep)
        expected = split_counts.get(split, {}).get("examples")
        if manifest.get("packing"):  # packed splits hold rows of several examples each
            expected = manifest["packing"]["splits"].get(split, {}).get("rows")
        if expected is not None and rows_in_split != expected:
            rep.problems.append(f"split '{split}': shards hold {rows_in_split} rows, manifest counts {expected}")
        listed_files = {Path(s["file"]).name for s in shards}
        folder = p / split
        if folder.is_dir():
            for extra in sorted(folder.glob("*.arrow")):
                if extra.name not in listed_files:
                    rep.problems.append(f"{split}/{extra.name}: shard not listed in the manifest")
    return rep


def _check_shard(root: Path, s: dict, depth: Depth, rep: VerifyReport) -> int:
    f = root / s["file"]
    rep.shards += 1
    if not f.is_file():
        rep.problems.append(f"{s['file']}: missing")
        return 0
    size = f.stat().st_size
    rep.bytes += size
    if "bytes" in s and size != s["bytes"]:
        rep.problems.append(f"{s['file']}: {size} bytes, manifest says {s['bytes']}")
    try:
        rows = count_rows(f)
    except Exception as exc:  # noqa: BLE001 - any unreadable shard is a problem to report
        rep.problems.append(f"{s['file']}: not a readable Arrow stream: {type(exc).__name__}: {exc}")
        rows = 0
    else:
        rep.rows += rows
        if rows != s["rows"]:
            rep.problems.append(f"{s['file']}: {rows} rows, manifest says {s['rows']}")
    if depth == "full":
        digest = sha256_file(f)
        if digest != s["sha256"]:
            rep.problems.append(f"{s['file']}: sha256 {digest[:16]}…, manifest says {s['sha256'][:16]}… (corrupted or changed)")
    return rows


def verify_output(path: str | Path, depth: Depth = "full") -> VerifyReport:
    """Like :func:`check_output` but raise :class:`VerifyError` when anything is wrong."""
    rep = check_output(path, depth)
    if not rep.ok:
        raise VerifyError(Path(path), rep.problems)
    return rep
