"""Packing DialogSum at max_length 2048: fill ratio and packing time versus compile time.

    python bench/pack.py [--times 20] [--max-length 2048]

Compiles DialogSum dev+test repeated ``times`` over (see bench/common.py) without packing and
times it; then times the packing step alone (:func:`ftdata.write.pack.write_packed`: best-fit
decreasing over the split's lengths, building the packed Arrow rows, writing the shards) on
the same examples, and a whole build with ``packing: true``. Prints the fill ratio and the
packing time as a fraction of the compile time without packing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_recipe, write_repeated  # noqa: E402

from ftdata.build.orchestrate import compile_recipe  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", type=int, default=20)
    ap.add_argument("--max-length", type=int, default=2048)
    args = ap.parse_args()
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ftdata.inspect.load import load_compiled
    from ftdata.plan.finalize import Plan
    from ftdata.write.pack import write_packed

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        n = write_repeated(folder / "rows.jsonl", args.times)
        recipe = write_recipe(folder, folder / "rows.jsonl", max_length=args.max_length,
                              split={"ratios": {"train": 1.0}})
        # warm up (imports, tokenizer load) so the timed compile is not charged for them
        warm = folder / "warm"
        warm.mkdir()
        (warm / "rows.jsonl").write_text("".join((folder / "rows.jsonl").read_text().splitlines(True)[:200]))
        compile_recipe(write_recipe(warm, warm / "rows.jsonl", max_length=args.max_length))
        t0 = time.perf_counter()
        plain = compile_recipe(recipe)
        t_compile = time.perf_counter() - t0

        # the packing step alone, on the compiled examples
        train = load_compiled(plain.output, verify="none")["train"].data.table
        work = train.append_column("_len", pc.list_value_length(train.column("input_ids")).cast(pa.int32()))
        plan = Plan(["train"], order={"train": np.arange(work.num_rows)})
        t0 = time.perf_counter()
        write_packed(work, plan, folder / "packed_only", 100_000, args.max_length)
        t_pack = time.perf_counter() - t0

        recipe2 = write_recipe(folder, folder / "rows.jsonl", max_length=args.max_length, packing=True,
                               split={"ratios": {"train": 1.0}}, output=str(folder / "out_packed"))
        t0 = time.perf_counter()
        packed = compile_recipe(recipe2)
        t_packed_build = time.perf_counter() - t0
        pk = packed.manifest["packing"]
        assert pk == plan.info["packing"], "packing inside the build differs from the packing step alone"
    out = {"rows_in": n, "examples": plain.manifest["counts"]["splits"]["train"]["examples"],
           "max_length": args.max_length, "packed_rows": pk["splits"]["train"]["rows"],
           "fill_ratio": pk["fill_ratio"], "compile_s": round(t_compile, 3), "pack_step_s": round(t_pack, 3),
           "pack_over_compile": round(t_pack / t_compile, 4), "packed_build_s": round(t_packed_build, 3),
           "packed_build_over_compile": round(t_packed_build / t_compile, 4)}
    print(f"{out['examples']} examples -> {out['packed_rows']} rows of {args.max_length}: fill ratio {out['fill_ratio']:.4f}")
    print(f"compile without packing {t_compile:.2f}s; packing step {t_pack:.2f}s "
          f"= {out['pack_over_compile']:.3f} of compile; whole packed build {t_packed_build:.2f}s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
