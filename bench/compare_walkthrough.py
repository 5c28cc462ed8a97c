"""The compare walkthrough: pretrain a small base from raw text, then compare base vs full vs LoRA.

    python bench/compare_walkthrough.py [--work DIR] [--base runs/base/model] [--small]

Every step is an ordinary ``ftdata`` command (run in a subprocess; each is printed before it
runs), on the English text in ``../shared/data``:

1. three recipes are written into ``WORK/recipes``:

   * ``pretrain.yaml`` (``layout: text``): DialogSum dialogues and summaries, SMS messages,
     Amazon review texts and Multi30K English captions -- raw text, every token trained, packed;
   * ``sms.yaml``: SMS spam (template ``spam_or_ham``: accuracy, macro-F1);
   * ``dialogsum.yaml``: DialogSum (``summarize``: ROUGE-1/2/L), dev rows train, test rows test.

   **No test row is pretrained on**: the pretraining recipe reads SMS under the *same source
   name, key, seed and split ratios* as ``sms.yaml``, so every SMS test row there is a test row
   here too (a split is a hash of seed, source name and key: ``ftdata.plan.split``); DialogSum's
   test file and Multi30K's test captions are ``split: test`` sources. The pretraining test
   split is the held-out text whose perplexity measures pretraining and forgetting.
2. ``ftdata build`` for each recipe;
3. ``ftdata pretrain out/pretrain -o runs/base`` (skipped with ``--base``): a small llama
   trained from scratch, held-out perplexity before and after;
4. ``ftdata compare out/sms --model runs/base/model --shots 0,1,3 --method full,lora
   --heldout out/dialogsum --heldout-text out/pretrain``, and the same for DialogSum with SMS
   held out: one table per tuned task (``reports/<task>/compare.md``), both run at once.

Prints the pretraining summary, the table and the wall time of each step, and writes
``WORK/walkthrough.json``. ``--small`` runs the same steps on a few rows of each source and a
model of a few thousand parameters (minutes): CI checks the machinery with it, not the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FTDATA_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
TEMPLATES = ROOT / "templates"

SEED = 7
RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}
HELDOUT_RATIOS = {"train": 0.88, "validation": 0.1, "test": 0.02}
SMS_CSV = {"delimiter": "\t", "quoting": "none", "header": False, "columns": ["label", "text"]}

#: Settings of the full walkthrough and of --small (the same steps on a few rows).
FULL = {
    "rows": None, "sft_max_length": 384, "pretrain_max_length": 256,
    "model": {"hidden": 128, "layers": 4, "heads": 4},
    "pretrain": {"max_steps": 3000, "batch_size": 8, "lr": 3e-3, "max_seconds": 720},
    "compare": {"sms": {"max_steps": 150, "batch_size": 8, "lr": 1e-3, "lora_lr": 5e-3},
                "dialogsum": {"max_steps": 100, "batch_size": 8, "lr": 1e-3, "lora_lr": 5e-3},
                "max_new_tokens": 48, "heldout_text_rows": 120, "eval_max_rows": None},
}
SMALL = {
    "rows": {"sms": 300, "dialogsum": 24, "food": 200, "multi30k": 300}, "sft_max_length": 256,
    "pretrain_max_length": 64,
    "model": {"hidden": 32, "layers": 1, "heads": 2},
    "pretrain": {"max_steps": 6, "batch_size": 8, "lr": 3e-3, "max_seconds": None},
    "compare": {"sms": {"max_steps": 4, "batch_size": 4, "lr": 1e-3, "lora_lr": 5e-3},
                "dialogsum": {"max_steps": 2, "batch_size": 2, "lr": 1e-3, "lora_lr": 5e-3},
                "max_new_tokens": 8, "heldout_text_rows": 8, "eval_max_rows": 6},
}


def _yaml(path: Path, data: dict) -> Path:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _head(src: Path, dest: Path, n: int | None) -> Path:
    """``src`` itself, or (``--small``) a copy of its first ``n`` lines (header included) in WORK."""
    if n is None:
        return src
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fi, open(dest, "wb") as fo:
        for i, line in enumerate(fi):
            if i > n:
                break
            fo.write(line)
    return dest


def data_files(work: Path, rows: dict | None) -> dict[str, Path]:
    """The shared data files the recipes read (``--small``: short copies under WORK/data)."""
    r = rows or {}
    d = work / "data"
    return {
        "sms": _head(SHARED / "sms_spam" / "SMSSpamCollection", d / "sms.tsv", r.get("sms")),
        "dev": _head(SHARED / "dialogsum" / "dialogsum.dev.jsonl", d / "dev.jsonl", r.get("dialogsum")),
        "test": _head(SHARED / "dialogsum" / "dialogsum.test.jsonl", d / "test.jsonl", r.get("dialogsum")),
        "food": _head(SHARED / "amazon_fine_food" / "Reviews.csv", d / "food.csv", r.get("food")),
        "m30k_train": _head(SHARED / "multi30k_en_de" / "train.en", d / "train.en.txt", r.get("multi30k")),
        "m30k_test": _head(SHARED / "multi30k_en_de" / "test_2016_flickr.en", d / "test.en.txt", r.get("multi30k")),
    }


# -- the three recipes: one definition of each source the recipes share ------------------------

def _sms(**extra) -> dict:
    return {"name": "sms", "path": "", "format": "tsv", "csv": SMS_CSV, "key": "@line"} | extra


def write_recipes(work: Path, files: dict[str, Path], cfg: dict) -> dict[str, Path]:
    rec = work / "recipes"
    common = {"seed": SEED, "split": {"ratios": RATIOS}, "tokenizer": "ftdata:tiny-bpe"}
    # the shipped `summarize` template, naming DialogSum test's three summaries as references
    # (scores use all of them; dev rows have one, `summary`)
    summarize = [{"file": str(_yaml(rec / "dialogsum_templates.yaml", {"templates": [{
        "name": "summarize", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
        "completion": "{{summary}}", "references": ["summary", "summary2", "summary3"], "metrics": ["ROUGE"],
        "truncate": "dialogue", "languages": ["en"]}]})), "names": ["summarize"]}]
    sms = _yaml(rec / "sms.yaml", {
        "name": "sms", "output": str(work / "out" / "sms"), **common, "max_length": cfg["sft_max_length"],
        "sources": [_sms(path=str(files["sms"]), task="sms_spam",
                         templates=[{"file": str(TEMPLATES / "sms_spam" / "templates.yaml"),
                                     "names": ["spam_or_ham"]}])],
    })
    dialogsum = _yaml(rec / "dialogsum.yaml", {
        "name": "dialogsum", "output": str(work / "out" / "dialogsum"), **common,
        "max_length": cfg["sft_max_length"],
        "sources": [
            {"name": "dialogsum_dev", "task": "dialogsum", "path": str(files["dev"]), "key": "fname",
             "split": "train", "templates": summarize},
            {"name": "dialogsum_test", "task": "dialogsum", "path": str(files["test"]), "key": "fname",
             "split": "test", "rename": {"summary1": "summary"}, "templates": summarize},
        ],
    })
    pretrain = _yaml(rec / "pretrain.yaml", {
        "name": "pretrain", "output": str(work / "out" / "pretrain"), **common, "layout": "text",
        "max_length": cfg["pretrain_max_length"],
        "sources": [
            # the same name, key, seed and ratios as in sms.yaml: the same rows are test rows
            _sms(path=str(files["sms"])),
            {"name": "food", "path": str(files["food"]), "format": "csv", "key": "Id", "rename": {"Text": "text"}},
            {"name": "dialogue_dev", "path": str(files["dev"]), "key": "fname", "split": "train",
             "rename": {"dialogue": "text"}},
            {"name": "summary_dev", "path": str(files["dev"]), "key": "fname", "split": "train",
             "rename": {"summary": "text"}},
            {"name": "dialogue_test", "path": str(files["test"]), "key": "fname", "split": "test",
             "rename": {"dialogue": "text"}},
            {"name": "summary_test", "path": str(files["test"]), "key": "fname", "split": "test",
             "rename": {"summary1": "text"}},
            {"name": "multi30k_train", "path": str(files["m30k_train"]), "format": "txt", "key": "@line",
             "split": "train"},
            {"name": "multi30k_test", "path": str(files["m30k_test"]), "format": "txt", "key": "@line",
             "split": "test"},
        ],
    })
    return {"sms": sms, "dialogsum": dialogsum, "pretrain": pretrain}


def run(cmd: list[str], log: list[dict], name: str, threads: int | None = None) -> float:
    """Run one ftdata command (printed first); its wall time is logged under ``name``."""
    shown = " ".join(str(c) for c in cmd)
    print(f"\n$ ftdata {shown}", flush=True)
    t0 = time.perf_counter()
    env = os.environ | {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    proc = subprocess.run([sys.executable, "-m", "ftdata", *map(str, cmd)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    secs = time.perf_counter() - t0
    tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-3:]
    print("\n".join(tail), flush=True)
    if proc.returncode:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"step '{name}' failed (exit {proc.returncode}): ftdata {shown}")
    log.append({"step": name, "command": f"ftdata {shown}", "seconds": round(secs, 1)})
    print(f"[{name}: {secs:.0f}s]", flush=True)
    return secs


def walkthrough(work: Path, *, small: bool = False, base: str | None = None, threads: int | None = 1,
                jobs: int = 2) -> dict:
    """Every step of the walkthrough (see the module docstring); returns what walkthrough.json holds.

    ``threads``: torch's threads in the training and evaluation steps (``OMP_NUM_THREADS``;
    None: torch's default, one per core). On a machine whose cores other jobs share, one
    thread is several times faster than two: a thread waiting at each operation's barrier for
    a descheduled peer wastes its turn (measured on the shared 2-core machine: 648 vs 126
    training tokens/s for the walkthrough's model). ``jobs``: comparisons run at once.
    """
    cfg = SMALL if small else FULL
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log: list[dict] = []
    recipes = write_recipes(work, data_files(work, cfg["rows"]), cfg)
    for name in ("pretrain", "sms", "dialogsum"):
        run(["build", recipes[name], "--overwrite", "--no-cache"], log, f"build {name}")
    out = work / "out"
    if base is None:
        m, p = cfg["model"], cfg["pretrain"]
        cmd = ["pretrain", out / "pretrain", "-o", work / "runs" / "base", "--overwrite", "--hidden", m["hidden"],
               "--layers", m["layers"], "--heads", m["heads"], "--max-steps", p["max_steps"], "--batch-size",
               p["batch_size"], "--lr", p["lr"], "--heldout-rows", cfg["compare"]["heldout_text_rows"]]
        if p["max_seconds"]:
            cmd += ["--max-seconds", p["max_seconds"]]
        run(cmd, log, "pretrain", threads)
        base = str(work / "runs" / "base" / "model")
    c = cfg["compare"]
    reports = {}

    def compare(task: str, other: str) -> None:  # tune on one task, forgetting on the other
        opts = c[task]
        cmd = ["compare", out / task, "--model", base, "--shots", "0,1,3", "--method", "full,lora",
               "--heldout", out / other, "--heldout-text", out / "pretrain", "--heldout-text-rows",
               c["heldout_text_rows"], "--max-steps", opts["max_steps"], "--batch-size", opts["batch_size"],
               "--lr", opts["lr"], "--lora-lr", opts["lora_lr"], "--no-group-by-length", "--max-new-tokens",
               c["max_new_tokens"], "--seed", SEED, "-o", work / "reports" / task, "--overwrite"]
        if c["eval_max_rows"]:
            cmd += ["--eval-max-rows", c["eval_max_rows"]]
        run(cmd, log, f"compare {task}", threads)
        reports[task] = json.loads((work / "reports" / task / "compare.json").read_text(encoding="utf-8"))

    pairs = [("sms", "dialogsum"), ("dialogsum", "sms")]
    if jobs > 1:  # both comparisons at once (one thread each by default: two cores, two jobs)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as pool:
            for f in [pool.submit(compare, *p) for p in pairs]:
                f.result()
    else:
        for p in pairs:
            compare(*p)
    reports = {t: reports[t] for t, _ in pairs}
    total = time.perf_counter() - t0
    pre = work / "runs" / "base" / "pretrain.json"
    result = {"small": small, "base": base, "threads": threads, "steps": log, "total_seconds": round(total, 1),
              "pretrain": json.loads(pre.read_text(encoding="utf-8")) if pre.is_file() else None,
              "compare": reports}
    (work / "walkthrough.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/ftdata-compare-walkthrough"),
                    help="Folder for recipes, builds, runs and reports.")
    ap.add_argument("--base", help="A pretrained base model folder to reuse (skips pretraining).")
    ap.add_argument("--small", action="store_true", help="A few rows and a tiny model: checks the machinery.")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for training and evaluation (0: torch's default; 1 is faster on shared cores).")
    ap.add_argument("--jobs", type=int, default=2, help="Comparisons run at once (1: one after the other).")
    args = ap.parse_args()
    res = walkthrough(args.work, small=args.small, base=args.base, threads=args.threads or None, jobs=args.jobs)
    pre = res["pretrain"]
    if pre:
        b, a = pre["perplexity_before"], pre["perplexity_after"]
        print(f"\npretrained base: {pre['total_params']:,} params, {pre['steps']} steps, {pre['tokens']:,} tokens, "
              f"{pre['wall_seconds']:.0f}s; held-out perplexity {b['perplexity']:.2f} -> {a['perplexity']:.2f} "
              f"({a['tokens']:,} tokens)")
    for task in res["compare"]:
        print(f"\n### tuned on {task}\n\n" + (args.work / "reports" / task / "compare.md").read_text(encoding="utf-8"))
    for s in res["steps"]:
        print(f"{s['step']:>16}: {s['seconds']:7.1f}s")
    print(f"{'total':>16}: {res['total_seconds']:7.1f}s")


if __name__ == "__main__":
    main()
