"""Compile throughput versus the bare tokenizer, in one run.

    python bench/compile.py [--times 50]

Builds DialogSum dev+test repeated ``times`` over (1,000 rows each time; 50 -> 50,000
examples) with the template ``Summarize the following conversation.\\n\\n{{dialogue}}\\n\\nSummary:
||| {{summary}}`` and the shipped tokenizer, then times the same tokenizer's bare
``encode_batch`` on the same joined texts in the same batch size. Prints both and the ratio.
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

from ftdata.build import compile_recipe  # noqa: E402
from ftdata.tokenizer import load_tokenizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        n = write_repeated(folder / "rows.jsonl", args.times)
        recipe = write_recipe(folder, folder / "rows.jsonl", batch_size=args.batch_size)
        tok = load_tokenizer("ftdata:tiny-bpe")
        t0 = time.perf_counter()
        res = compile_recipe(recipe)
        t_compile = time.perf_counter() - t0
        written = sum(c["examples_written"] for c in res.manifest["counts"]["sources"].values())
        # the same joined texts, encoded bare
        import datasets

        texts = []
        for split in datasets.load_from_disk(str(res.output)).values():
            texts += [p + " " + c for p, c in zip(split["prompt"], split["completion"])]
        backend = tok.backend_tokenizer
        t0 = time.perf_counter()
        for i in range(0, len(texts), args.batch_size):
            backend.encode_batch(texts[i:i + args.batch_size])
        t_bare = time.perf_counter() - t0
        tokens = sum(t["tokens"] for t in res.manifest["tokens"].values())
        out = {
            "examples": written, "rows": n, "tokens": tokens,
            "ftdata_examples_per_s": round(written / t_compile, 1),
            "bare_encode_batch_examples_per_s": round(len(texts) / t_bare, 1),
            "ratio_ftdata_to_bare": round((written / t_compile) / (len(texts) / t_bare), 3),
            "ftdata_stage_seconds": json.loads((res.output / "build_info.json").read_text())["seconds"],
        }
    print(f"{'':<28}{'examples/s':>12}")
    print(f"{'ftdata build':<28}{out['ftdata_examples_per_s']:>12,.0f}")
    print(f"{'bare encode_batch':<28}{out['bare_encode_batch_examples_per_s']:>12,.0f}")
    print(f"ratio ftdata / bare tokenizer: {out['ratio_ftdata_to_bare']:.3f}  ({written} examples, {tokens} tokens)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
