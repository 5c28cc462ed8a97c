"""Peak memory of a compile versus input size (flat memory check).

    python bench/memory.py [--small 200] [--large 2000] [--num-proc 2]

Compiles DialogSum dev+test repeated ``small`` and ``large`` times (1,000 rows each time:
200 -> 100k rows, 2,000 -> 1M rows), each in a fresh subprocess, and reports for each:

* peak RSS as the kernel counts it (``ru_maxrss``, i.e. VmHWM), which includes pages of
  memory-mapped files the process touched (phase B maps the chunk tables);
* the largest worker process's peak RSS (``RUSAGE_CHILDREN``), with ``--num-proc`` > 1;
* peak anonymous RSS (``RssAnon`` sampled every 50 ms) of the build and its workers together:
  their own heaps, what would actually run a machine out of memory.

Prints a table and the large/small ratios (the target: at most 1.3).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_recipe, write_repeated  # noqa: E402

CHILD = """
import json, resource, sys, time
from ftdata.build.orchestrate import compile_recipe
t0 = time.perf_counter()
res = compile_recipe(sys.argv[1], num_proc=int(sys.argv[2]), cache=False)
print(json.dumps({"seconds": round(time.perf_counter() - t0, 1),
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "workers_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "examples": sum(s["examples"] for s in res.manifest["counts"]["splits"].values())}))
"""


def _anon_kb(pid: int) -> int:
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                total += int(line.split()[1])
    except OSError:
        pass
    return total


def measure(times: int, num_proc: int, folder: Path) -> dict:
    rows = write_repeated(folder / "rows.jsonl", times)
    recipe = write_recipe(folder, folder / "rows.jsonl", batch_size=1000)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(recipe), str(num_proc)], stdout=subprocess.PIPE, text=True)
    peak_anon = 0
    while proc.poll() is None:
        # the build and its worker processes (num_proc > 1), each counted at its own peak
        kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        peak_anon = max(peak_anon, _anon_kb(proc.pid) + sum(_anon_kb(int(k)) for k in kids))
        time.sleep(0.05)
    out = json.loads(proc.stdout.read().strip().splitlines()[-1])
    return {"times": times, "rows": rows, **out, "peak_anon_kb": peak_anon}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--large", type=int, default=2000)
    ap.add_argument("--num-proc", type=int, default=2)
    args = ap.parse_args()
    results = []
    scratch = Path(__file__).resolve().parents[1] / "out"  # ignored by git; absent in a fresh clone
    scratch.mkdir(exist_ok=True)
    for times in (args.small, args.large):
        with tempfile.TemporaryDirectory(dir=str(scratch)) as d:
            results.append(measure(times, args.num_proc, Path(d)))
        print(json.dumps(results[-1]), flush=True)
    a, b = results
    print(f"{'rows':>10}{'seconds':>10}{'peak RSS MB':>14}{'largest worker MB':>19}{'peak anon MB':>15}")
    for r in results:
        print(f"{r['rows']:>10,}{r['seconds']:>10}{r['maxrss_kb'] / 1024:>14,.0f}"
              f"{r['workers_maxrss_kb'] / 1024:>19,.0f}{r['peak_anon_kb'] / 1024:>15,.0f}")
    print(f"ratio large/small: peak RSS {b['maxrss_kb'] / a['maxrss_kb']:.2f}, "
          f"largest worker {b['workers_maxrss_kb'] / max(a['workers_maxrss_kb'], 1):.2f}, "
          f"peak anonymous RSS (build + workers) {b['peak_anon_kb'] / a['peak_anon_kb']:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
