"""Compile throughput versus the bare tokenizer, TRL and datasets.map, in one run.

    python bench/compile.py [--times 100] [--skip-trl] [--skip-map]

Input: DialogSum dev+test repeated ``times`` over (1,000 rows each time; 100 -> 100,000
examples), one template (``Summarize the following conversation.\\n\\n{{dialogue}}\\n\\nSummary:
||| {{summary}}``), the shipped tokenizer, the chunk cache on as in ``ftdata build`` (empty: a cold build).
In the same process, one after another:

* ftdata with ``num_proc=1`` (two threads) and ``num_proc=2`` (two worker processes): the
  whole build, from the JSON Lines file to the finished directory;
* the bare tokenizer: ``Tokenizer.encode_batch`` on exactly the texts ftdata tokenized
  (prompt + separator + completion), batches of 1,000 -- measured before and after the
  others and averaged, since the machine may be shared;
* TRL: building an ``SFTTrainer`` (tiny model) on the same prompt/completion pairs, which
  tokenizes them and prepares the completion mask (its preparation; no training);
* ``datasets.map`` calling the same tokenizer (``transformers`` fast tokenizer) on the
  joined texts, batched.

Prints examples/s, tokens/s and the ratio to the bare tokenizer for each, and ftdata's own
time per stage (from build_info.json), then one JSON line with everything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_recipe, write_repeated  # noqa: E402

from ftdata.build import compile_recipe  # noqa: E402
from ftdata.tokenizer import load_tokenizer  # noqa: E402


def bare(texts: list[str], batch: int) -> float:
    backend = load_tokenizer("ftdata:tiny-bpe").backend_tokenizer
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        backend.encode_batch(texts[i:i + batch])
    return time.perf_counter() - t0


def trl_prepare(prompts: list[str], completions: list[str], folder: Path) -> tuple[float, int]:
    import datasets
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import SFTConfig, SFTTrainer

    tok = load_tokenizer("ftdata:tiny-bpe")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=8, n_layer=1, n_head=1))
    data = datasets.Dataset.from_dict({"prompt": prompts, "completion": completions})
    args = SFTConfig(output_dir=str(folder / "trl"), max_length=None, report_to=[], completion_only_loss=True,
                     use_cpu=True, bf16=False, disable_tqdm=True)
    t0 = time.perf_counter()
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    seconds = time.perf_counter() - t0
    tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
    return seconds, tokens


def datasets_map(texts: list[str], batch: int) -> tuple[float, int]:
    import datasets

    tok = load_tokenizer("ftdata:tiny-bpe")
    data = datasets.Dataset.from_dict({"text": texts})
    t0 = time.perf_counter()
    out = data.map(lambda b: tok(b["text"]), batched=True, batch_size=batch, remove_columns=["text"])
    seconds = time.perf_counter() - t0
    return seconds, sum(len(x) for x in out["input_ids"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--skip-trl", action="store_true")
    ap.add_argument("--skip-map", action="store_true")
    args = ap.parse_args()
    import datasets

    datasets.disable_progress_bars()
    load_tokenizer("ftdata:tiny-bpe").backend_tokenizer.encode_batch(["warm up"] * 8)
    res: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        n = write_repeated(folder / "rows.jsonl", args.times)
        recipe = write_recipe(folder, folder / "rows.jsonl", batch_size=args.batch_size)
        stages = {}
        for procs in (1, 2):
            t0 = time.perf_counter()
            # as `ftdata build` runs: the chunk cache on (and empty: a cold build)
            built = compile_recipe(recipe, output=folder / f"out{procs}", num_proc=procs, cache=True)
            seconds = time.perf_counter() - t0
            m = built.manifest
            res[f"ftdata ({procs} proc)"] = {"seconds": seconds,
                                             "examples": sum(s["examples"] for s in m["counts"]["splits"].values()),
                                             "tokens": sum(t["tokens"] for t in m["tokens"].values())}
            stages[procs] = built.build_info["seconds"]
        dd = datasets.load_from_disk(str(folder / "out1"))
        prompts, completions = [], []
        for split in dd.values():
            prompts += split["prompt"]
            completions += split["completion"]
        del dd
        sep = " "
        texts = [p + sep + c for p, c in zip(prompts, completions)]
        b1 = bare(texts, args.batch_size)
        tokens_eos = res["ftdata (1 proc)"]["tokens"]
        if not args.skip_trl:
            s, k = trl_prepare(prompts, [sep + c for c in completions], folder)
            res["TRL SFTTrainer preparation"] = {"seconds": s, "examples": len(texts), "tokens": k}
        if not args.skip_map:
            s, k = datasets_map(texts, args.batch_size)
            res["datasets.map(tokenizer)"] = {"seconds": s, "examples": len(texts), "tokens": k}
        b2 = bare(texts, args.batch_size)
        res["bare encode_batch"] = {"seconds": (b1 + b2) / 2, "examples": len(texts),
                                    "tokens": tokens_eos - len(texts), "runs": [round(b1, 2), round(b2, 2)]}
    base = res["bare encode_batch"]["examples"] / res["bare encode_batch"]["seconds"]
    print(f"DialogSum x{args.times}: {n:,} rows; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    print(f"{'':<30}{'seconds':>9}{'examples/s':>12}{'tokens/s':>13}{'vs bare':>9}")
    for name, r in res.items():
        r["examples_per_s"] = r["examples"] / r["seconds"]
        r["tokens_per_s"] = r["tokens"] / r["seconds"]
        r["ratio_to_bare"] = r["examples_per_s"] / base
        print(f"{name:<30}{r['seconds']:>9.1f}{r['examples_per_s']:>12,.0f}{r['tokens_per_s']:>13,.0f}{r['ratio_to_bare']:>9.2f}")
    if "TRL SFTTrainer preparation" in res:
        trl = res["TRL SFTTrainer preparation"]["examples_per_s"]
        print("ftdata / TRL: " + ", ".join(f"{p} proc {res[f'ftdata ({p} proc)']['examples_per_s'] / trl:.1f}x"
                                            for p in (1, 2)))
    for procs, st in stages.items():
        print(f"ftdata {procs} proc stage seconds: " + ", ".join(f"{k} {v}" for k, v in st.items()))
    print(json.dumps({"times": args.times, "rows": n, "results": res, "stages": stages}))


if __name__ == "__main__":
    main()
