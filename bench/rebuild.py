"""Incremental rebuilds: times as fractions of a cold build, in one run.

    python bench/rebuild.py [--times 20]

Two sources (DialogSum dev+test repeated ``times`` over, split in two halves), each with
its own template file. In one fresh cache folder:

1. cold build (empty cache);
2. unchanged, ``--overwrite`` as the CLI does it (the output is kept: nothing to redo);
3. unchanged, every chunk from the cache but phase B (split, dedup, write shards) redone
   (what a build into a new output folder with the same cache costs);
4. one template file changed (the chunks of its source are recomputed, the other source's
   come from the cache);
5. ``--force`` (every chunk recomputed).

Checks the outputs of 3 and 4 against cold builds of the same recipes (byte-identical apart
from the timing files) and prints each time and its ratio to the cold build.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PROMPT, write_repeated  # noqa: E402

from ftdata.build.orchestrate import compile_recipe  # noqa: E402

TIMED = ("build_info.json", "report.html")


def files(out: Path) -> dict:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in TIMED}


def setup(folder: Path, times: int) -> Path:
    n = write_repeated(folder / "all.jsonl", times)
    lines = (folder / "all.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "a.jsonl").write_text("".join(lines[: n // 2]), encoding="utf-8")
    (folder / "b.jsonl").write_text("".join(lines[n // 2:]), encoding="utf-8")
    for name in ("a", "b"):
        (folder / f"t{name}.yaml").write_text(yaml.safe_dump({"templates": [
            {"name": "summarize", "prompt": PROMPT, "completion": "{{summary}}"}]}))
    recipe = {"name": "rebuild", "output": str(folder / "out"), "max_length": 4096,
              "sources": [{"name": s, "path": f"{s}.jsonl", "key": "fname", "templates": [{"file": f"t{s}.yaml"}]}
                          for s in ("a", "b")]}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return folder / "recipe.yaml"


def timed(**kw):
    t0 = time.perf_counter()
    res = compile_recipe(**kw)
    return time.perf_counter() - t0, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", type=int, default=20)
    ap.add_argument("--num-proc", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        recipe = setup(folder, args.times)
        kw = {"recipe": recipe, "num_proc": args.num_proc, "overwrite": True, "cache": True}
        rows = {}
        rows["cold"], cold = timed(**kw)
        rows["unchanged (output kept)"], kept = timed(**kw, skip_unchanged=True)
        assert kept.build_info.get("up_to_date")
        rows["unchanged (chunks cached, phase B redone)"], again = timed(**kw)
        assert again.build_info["cache"]["chunks_computed"] == 0
        assert files(again.output) == files(cold.output)
        (folder / "tb.yaml").write_text(yaml.safe_dump({"templates": [
            {"name": "summarize", "prompt": PROMPT.replace("Summarize", "Briefly summarize"),
             "completion": "{{summary}}"}]}))
        rows["one template changed"], changed = timed(**kw, skip_unchanged=True)
        cache = changed.build_info["cache"]
        _, fresh = timed(recipe=recipe, output=folder / "fresh", cache=False)
        assert files(changed.output) == files(fresh.output)
        rows["--force"], _ = timed(**kw, skip_unchanged=True, force=True)
    print(f"DialogSum x{args.times} in two sources ({args.times * 1000:,} rows); num_proc={args.num_proc}")
    print(f"{'':<45}{'seconds':>9}{'vs cold':>9}")
    for name, s in rows.items():
        print(f"{name:<45}{s:>9.2f}{s / rows['cold']:>9.3f}")
    print(f"one template changed: {cache['chunks_reused']} chunks reused, {cache['chunks_computed']} recomputed")
    print(json.dumps({"times": args.times, "seconds": rows, "changed_cache": cache}))


if __name__ == "__main__":
    main()
