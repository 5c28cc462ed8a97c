"""Compile throughput versus the bare tokenizer, TRL and datasets.map, in one run.

    python bench/compile.py [--times 100] [--skip-trl] [--skip-map]

Input: DialogSum dev+test repeated ``times`` over (1,000 rows each time; 100 -> 100,000
examples), one template (``Summarize the following conversation.\\n\\n{{dialogue}}\\n\\nSummary:
||| {{summary}}``), the shipped tokenizer, the chunk cache on as in ``ftdata build`` (empty: a cold build).
In the same process, one after another:

* ftdata with ``num_proc=1`` (two threads) and ``num_proc=2`` (two worker processes): the
  whole build, from the JSON Lines file to the finished directory;
* the bare tokenizer: ``Tokenizer.encode_batch`` on exactly the texts ftdata tokenized
  (prompt + separator + completion), batches of 1,000 (the baseline of every ratio); and
  ``encode_batch_fast`` (no offsets), which ftdata's vectorised masking calls, shown as a
  second reference line;
* TRL: building an ``SFTTrainer`` (tiny model, ``completion_only_loss=True``) on the same
  prompt/completion pairs; its dataset preparation alone is timed (EOS, tokenizing prompt and
  prompt + completion per example, the completion mask, the ``labels`` column; see
  :func:`trl_prepare`);
* a hand-written batched ``datasets.map`` producing ``input_ids``, ``attention_mask`` and
  completion-only ``labels`` with the same tokenizer (``transformers`` fast tokenizer): the
  prompts and the joined texts tokenized, -100 over the prompt (:func:`datasets_map`).

The fast methods run in ``--rounds`` rounds, one after another, and each is scored by its
best round (a shared machine's load changes by the minute); TRL runs once. Prints
examples/s, tokens/s and the ratio to the bare tokenizer for each, and ftdata's own time per
stage (from build_info.json), then one JSON line with everything.
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

from ftdata.build.orchestrate import compile_recipe  # noqa: E402
from ftdata.tokenize.tokenizer import load_tokenizer  # noqa: E402


def bare(texts: list[str], batch: int, fast: bool = False) -> float:
    backend = load_tokenizer("ftdata:tiny-bpe").backend_tokenizer
    encode = backend.encode_batch_fast if fast else backend.encode_batch
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        encode(texts[i:i + batch])
    return time.perf_counter() - t0


def trl_prepare(prompts: list[str], completions: list[str], folder: Path) -> tuple[float, int, float]:
    """TRL's own preparation of prompt/completion pairs: ``SFTTrainer(...)`` with
    ``completion_only_loss=True`` on a ``Dataset`` of ``prompt`` and ``completion`` columns, the
    shipped tokenizer and a tiny model (no training). What it does to the data (TRL 1.16,
    ``SFTTrainer._prepare_dataset``): one ``Dataset.map`` appends EOS to every completion; one
    tokenizes each example (``batched=False``: per example, the prompt alone and prompt + completion,
    the completion starting where the two token lists diverge, a ``completion_mask``); one builds
    the ``labels`` column from that mask (-100 over the prompt).

    Returns ``(wall seconds, tokens, CPU seconds)`` of ``_prepare_dataset`` alone (timed by wrapping
    it, not calling it: TRL calls it as it always does), so importing TRL, building the model and
    the trainer's other set-up are not counted against the peer."""
    import datasets
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import SFTConfig, SFTTrainer

    tok = load_tokenizer("ftdata:tiny-bpe")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=8, n_layer=1, n_head=1))
    data = datasets.Dataset.from_dict({"prompt": prompts, "completion": completions})
    args = SFTConfig(output_dir=str(folder / "trl"), max_length=None, report_to=[], completion_only_loss=True,
                     use_cpu=True, bf16=False, disable_tqdm=True)
    spent = []
    prepare = SFTTrainer._prepare_dataset

    def timed_prepare(self, *a, **k):
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            return prepare(self, *a, **k)
        finally:
            spent.append((time.perf_counter() - t0, time.process_time() - c0))

    SFTTrainer._prepare_dataset = timed_prepare
    try:
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    finally:
        SFTTrainer._prepare_dataset = prepare
    prepared = trainer.train_dataset
    assert "labels" in prepared.column_names, prepared.column_names  # the completion-only labels were built
    tokens = sum(len(x) for x in prepared["input_ids"])
    return sum(s for s, _ in spent), tokens, sum(c for _, c in spent)


def datasets_map(prompts: list[str], completions: list[str], batch: int, keep: bool = False) -> tuple:
    """A hand-written batched ``datasets.map``, as a user writes it for completion-only training:
    the transformers fast tokenizer (the shipped one) on the prompts alone and on prompt +
    completion (``completions`` carry their separator), EOS appended, ``labels`` = the ids with
    -100 over the prompt's token count, and ``attention_mask``; batches of ``batch``, one process.

    Returns ``(wall seconds, tokens, CPU seconds)`` of the ``map`` call (not the tokenizer's
    loading nor the ``Dataset``'s making), and the mapped ``Dataset`` after them with ``keep``
    (tests/unit/test_bench_peers.py compares it with ftdata's columns)."""
    import datasets

    tok = load_tokenizer("ftdata:tiny-bpe")
    eos = tok.eos_token_id
    data = datasets.Dataset.from_dict({"prompt": prompts, "completion": completions})

    def tokenize(b):
        n_prompt = [len(x) for x in tok(b["prompt"], add_special_tokens=False)["input_ids"]]
        full = tok([p + c for p, c in zip(b["prompt"], b["completion"])], add_special_tokens=False)["input_ids"]
        input_ids = [ids + [eos] for ids in full]
        labels = [[-100] * k + ids[k:] for k, ids in zip(n_prompt, input_ids)]
        return {"input_ids": input_ids, "attention_mask": [[1] * len(x) for x in input_ids], "labels": labels}

    c0, t0 = time.process_time(), time.perf_counter()
    out = data.map(tokenize, batched=True, batch_size=batch, remove_columns=["prompt", "completion"])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    tokens = sum(len(x) for x in out["input_ids"])
    return (seconds, tokens, cpu, out) if keep else (seconds, tokens, cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of (bare, ftdata 1 proc, ftdata 2 procs, datasets.map)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--skip-trl", action="store_true")
    ap.add_argument("--skip-map", action="store_true")
    args = ap.parse_args()
    import datasets

    datasets.disable_progress_bars()
    load_tokenizer("ftdata:tiny-bpe").backend_tokenizer.encode_batch(["warm up"] * 8)
    times: dict[str, list[float]] = {}
    counts: dict[str, tuple[int, int]] = {}
    stages = {}
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        n = write_repeated(folder / "rows.jsonl", args.times)
        recipe = write_recipe(folder, folder / "rows.jsonl", batch_size=args.batch_size)
        texts = prompts = completions = None
        sep = " "
        # rounds of every fast method one after another: on a shared machine the load changes
        # by the minute, so each method's best round is compared with the others' best
        for _ in range(args.rounds):
            if texts is not None:
                times.setdefault("bare encode_batch", []).append(bare(texts, args.batch_size))
                times.setdefault("bare encode_batch_fast", []).append(bare(texts, args.batch_size, fast=True))
            for procs in (1, 2):
                name = f"ftdata ({procs} proc)"
                t0 = time.perf_counter()
                # as `ftdata build` runs: the chunk cache on (and empty: a cold build)
                built = compile_recipe(recipe, output=folder / f"out{procs}", num_proc=procs, cache=True,
                                       overwrite=True, force=True)
                times.setdefault(name, []).append(time.perf_counter() - t0)
                m = built.manifest
                counts[name] = (sum(s["examples"] for s in m["counts"]["splits"].values()),
                                sum(t["tokens"] for t in m["tokens"].values()))
                stages[procs] = built.build_info["seconds"]
            if texts is None:
                dd = datasets.load_from_disk(str(folder / "out1"))
                prompts, completions = [], []
                for split in dd.values():
                    prompts += split["prompt"]
                    completions += split["completion"]
                del dd
                texts = [p + sep + c for p, c in zip(prompts, completions)]
                counts["bare encode_batch"] = (len(texts), counts["ftdata (1 proc)"][1] - len(texts))  # no EOS
                counts["bare encode_batch_fast"] = counts["bare encode_batch"]
                times.setdefault("bare encode_batch", []).append(bare(texts, args.batch_size))
                times.setdefault("bare encode_batch_fast", []).append(bare(texts, args.batch_size, fast=True))
            if not args.skip_map:
                s, k, _ = datasets_map(prompts, [sep + c for c in completions], args.batch_size)
                times.setdefault("datasets.map(tokenizer)", []).append(s)
                counts["datasets.map(tokenizer)"] = (len(texts), k)
        if not args.skip_trl:  # slow: one round
            s, k, _ = trl_prepare(prompts, [sep + c for c in completions], folder)
            times["TRL SFTTrainer preparation"] = [s]
            counts["TRL SFTTrainer preparation"] = (len(texts), k)
    res = {}
    for name, ts in times.items():
        ex, tok = counts[name]
        best = min(ts)
        res[name] = {"seconds": [round(t, 2) for t in ts], "best": best, "examples": ex, "tokens": tok,
                     "examples_per_s": ex / best, "tokens_per_s": tok / best}
    base = res["bare encode_batch"]["examples_per_s"]
    print(f"DialogSum x{args.times}: {n:,} rows; {os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f}; "
          f"best of {args.rounds} rounds (TRL: one run)")
    print(f"{'':<30}{'seconds (rounds)':>22}{'examples/s':>12}{'tokens/s':>13}{'vs bare':>9}")
    for name, r in res.items():
        r["ratio_to_bare"] = r["examples_per_s"] / base
        runs = " ".join(f"{t:.1f}" for t in r["seconds"])
        print(f"{name:<30}{runs:>22}{r['examples_per_s']:>12,.0f}{r['tokens_per_s']:>13,.0f}{r['ratio_to_bare']:>9.2f}")
    if "TRL SFTTrainer preparation" in res:
        trl = res["TRL SFTTrainer preparation"]["examples_per_s"]
        print("ftdata / TRL: " + ", ".join(f"{p} proc {res[f'ftdata ({p} proc)']['examples_per_s'] / trl:.1f}x"
                                            for p in (1, 2)))
    for procs, st in stages.items():
        print(f"ftdata {procs} proc stage seconds (last round): " + ", ".join(f"{k} {v}" for k, v in st.items()))
    print(json.dumps({"times": args.times, "rows": n, "results": res, "stages": stages}))


if __name__ == "__main__":
    main()
