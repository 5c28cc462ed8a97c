"""The Ray engine versus the local engine on the same input, in one run.

    python bench/ray_vs_local.py [--times 5] [--num-cpus 2]

Starts a local Ray instance (``--num-cpus``), compiles DialogSum dev+test repeated ``times``
over with the local engine (``num_proc`` = the same CPU count) and with ``--engine ray``,
checks that the outputs are byte-identical (timing files aside) and prints both times. Ray's
start-up is reported separately; on one machine Ray adds scheduling and transfer costs, and it
pays off when a cluster adds machines.
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
from rebuild import files  # noqa: E402

from ftdata.build.orchestrate import compile_recipe  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", type=int, default=5)
    ap.add_argument("--num-cpus", type=int, default=2)
    args = ap.parse_args()
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    t_init = time.perf_counter() - t0
    out = {"ray_init_seconds": round(t_init, 1)}
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        n = write_repeated(folder / "rows.jsonl", args.times)
        recipe = write_recipe(folder, folder / "rows.jsonl", batch_size=1000)
        # a first, small Ray build starts the workers (each imports ftdata and loads the tokenizer)
        t0 = time.perf_counter()
        compile_recipe(write_recipe(folder, folder / "rows.jsonl", batch_size=50, name="warm"),
                       output=folder / "warm", engine="ray", cache=False)
        out["ray_warmup_seconds"] = round(time.perf_counter() - t0, 1)
        for label, kw in (("local", {"num_proc": args.num_cpus}), ("ray", {"engine": "ray"})):
            t0 = time.perf_counter()
            res = compile_recipe(recipe, output=folder / label, cache=False, **kw)
            out[f"{label}_seconds"] = round(time.perf_counter() - t0, 1)
            out[f"{label}_stages"] = res.build_info["seconds"]
        out["identical"] = files(folder / "local") == files(folder / "ray")
    ray.shutdown()
    print(f"DialogSum x{args.times} ({n:,} rows), {args.num_cpus} CPUs")
    print(f"local engine (num_proc={args.num_cpus}): {out['local_seconds']} s; ray engine: {out['ray_seconds']} s "
          f"(+ ray.init {out['ray_init_seconds']} s, worker warm-up {out['ray_warmup_seconds']} s); "
          f"outputs identical: {out['identical']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
