"""Training throughput: ftdata's trainer with and without packing, against TRL's SFTTrainer.

    python bench/train.py [--steps 30] [--batch-size 8] [--max-length 1024] [--no-trl]

DialogSum dev (../shared/data, 500 dialogues) is compiled twice with the template
``Summarize the following conversation.\\n\\n{{dialogue}}\\n\\nSummary: ||| {{summary}}`` and the
shipped tokenizer: once one example per row, once with ``packing: true`` (rows of
``max_length`` tokens, ``position_ids`` restarting per document). The same randomly
initialised tiny llama (2 layers, width 64) trains ``steps`` optimizer steps in each setting:

* ftdata, unpacked, length-grouped batches / random batches (dynamic padding either way);
* ftdata, packed rows (batch size scaled so a step sees about as many tokens);
* TRL ``SFTTrainer`` on the same prompt/completion pairs (completion-only loss), unpacked and
  with TRL's own packing (``packing=True``, best-fit decreasing, padding-free).

Prints real (non-pad) tokens per second of ``trainer.train()`` (dataset preparation excluded
for both), the ratio to TRL, and padding efficiency: the share of non-pad tokens in the
batches. TRL is optional (``pip install trl``); without it those rows are skipped.

``--classification`` measures instead what length-grouped batches do to a classification task
(the measurement behind the ``group_by_length`` default):

    python bench/train.py --classification [--steps 120] [--seeds 0,1,2] [--json out.json]

SMS spam (../shared/data) is compiled with an answer-choices template (``ham ||| spam``); the
tiny llama is fully fine-tuned ``steps`` steps (batch 32, lr 5e-3, 10% warmup) with length-grouped
and with random batches, once per seed, and each run is scored on the validation split
(choices ranked by log-likelihood: accuracy, macro-F1). Printed per setting: mean and range of
macro-F1 over the seeds, tokens/s and padding efficiency.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from ftdata.build.orchestrate import compile_recipe  # noqa: E402

PROMPT = "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:"


def compile_dialogsum(folder: Path, max_length: int, packing: bool) -> Path:
    import yaml

    (folder / "t.yaml").write_text(yaml.safe_dump({"templates": [
        {"name": "summarize", "prompt": PROMPT, "completion": "{{summary}}", "metrics": ["ROUGE"]}]}))
    recipe = {"name": "dialogsum", "output": str(folder / ("packed" if packing else "plain")), "seed": 1,
              "sources": [{"name": "dialogsum", "path": str(SHARED / "dialogsum" / "dialogsum.dev.jsonl"),
                           "key": "fname", "templates": [{"file": "t.yaml"}]}],
              "split": {"ratios": {"train": 1.0}}, "tokenizer": "ftdata:tiny-bpe", "max_length": max_length,
              "packing": packing}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return compile_recipe(folder / "recipe.yaml", overwrite=True).output


def run_ftdata(data: Path, model: Path, out: Path, steps: int, batch_size: int, group: bool) -> dict:
    from trainers.full import train_full

    s = train_full(data, str(model), out, overwrite=True, max_steps=steps, batch_size=batch_size, lr=1e-3,
                   group_by_length=group, logging_steps=max(1, steps))
    return {"tokens_per_second": s["tokens_per_second"], "padding_efficiency": s["padding_efficiency"],
            "seconds": s["wall_seconds"], "tokens": s["tokens"]}


class _Count:
    """Wraps a collator to count real and padded tokens of the batches it builds."""

    def __init__(self, inner, pad_id):
        self.inner, self.pad_id, self.tokens, self.slots = inner, pad_id, 0, 0

    def __call__(self, rows):
        b = self.inner(rows)
        ids = b["input_ids"]
        self.slots += ids.numel()
        if "attention_mask" in b:
            self.tokens += int(b["attention_mask"].sum())
        else:  # padding-free: one row, no padding at all
            self.tokens += ids.numel()
        return b


def run_trl(data: Path, model: Path, out: Path, steps: int, batch_size: int, max_length: int, packing: bool) -> dict:
    import datasets
    import transformers as tf
    from trl import SFTConfig, SFTTrainer

    from ftdata.inspect.load import load_compiled

    src = load_compiled(data)["train"].select_columns(["prompt", "completion"])
    # TRL joins prompt and completion itself; give it ftdata's separator so the texts match
    ds = datasets.Dataset.from_dict({"prompt": src["prompt"], "completion": [" " + c for c in src["completion"]]})
    tok = tf.AutoTokenizer.from_pretrained(model)
    net = tf.AutoModelForCausalLM.from_pretrained(model)
    cfg = SFTConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=batch_size, learning_rate=1e-3,
                    logging_steps=max(1, steps), save_strategy="no", report_to="none", max_length=max_length,
                    packing=packing, completion_only_loss=True, disable_tqdm=True, dataloader_num_workers=0,
                    # TRL's defaults (bf16, activation checkpointing) differ from ours; match ours
                    bf16=False, gradient_checkpointing=False, dataloader_pin_memory=False)
    trainer = SFTTrainer(model=net, args=cfg, train_dataset=ds, processing_class=tok)
    trainer.data_collator = counter = _Count(trainer.data_collator, tok.pad_token_id)
    t0 = time.perf_counter()
    trainer.train()
    secs = time.perf_counter() - t0
    return {"tokens_per_second": round(counter.tokens / secs, 1),
            "padding_efficiency": round(counter.tokens / max(1, counter.slots), 4), "seconds": round(secs, 3),
            "tokens": counter.tokens}


SPAM_TEMPLATE = {"name": "is_spam", "prompt": "Is this text message spam or ham?\n\n{{text}}\n\nAnswer:",
                 "completion": "{{label}}", "answer_choices": "ham ||| spam", "metrics": ["Accuracy"]}


def compile_sms(folder: Path) -> Path:
    import yaml

    (folder / "t.yaml").write_text(yaml.safe_dump({"templates": [SPAM_TEMPLATE]}))
    recipe = {"name": "sms_spam", "output": str(folder / "out"), "seed": 1,
              "sources": [{"name": "sms", "path": str(SHARED / "sms_spam" / "SMSSpamCollection"), "format": "tsv",
                           "csv": {"delimiter": "\t", "quoting": "none", "header": False, "columns": ["label", "text"]},
                           "key": "@line", "templates": [{"file": "t.yaml"}]}],
              "tokenizer": "ftdata:tiny-bpe", "max_length": 128}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return compile_recipe(folder / "recipe.yaml", overwrite=True).output


def classification(steps: int, seeds: list[int], out_json: str | None) -> None:
    """Length-grouped vs random batches on SMS spam: validation macro-F1 per seed, tokens/s, padding."""
    from trainers.evaluate import evaluate_model
    from trainers.full import train_full
    from trainers.tiny import save_tiny_model

    runs = []
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        data = compile_sms(folder)
        model = save_tiny_model("llama", folder / "llama")
        for seed in seeds:
            for group in (True, False):
                s = train_full(data, str(model), folder / "run", overwrite=True, max_steps=steps, lr=5e-3,
                               batch_size=32, warmup_ratio=0.1, logging_steps=max(1, steps), seed=seed,
                               group_by_length=group, val_split="none")
                m = evaluate_model(data, str(folder / "run"), split="validation")["tasks"]["sms"]["metrics"]
                runs.append({"group_by_length": group, "seed": seed, "macro_f1": m["macro_f1"],
                             "accuracy": m["accuracy"], "tokens_per_second": s["tokens_per_second"],
                             "padding_efficiency": s["padding_efficiency"], "train_seconds": s["wall_seconds"]})
                print(json.dumps(runs[-1]), flush=True)
    print(f"\nSMS spam, tiny llama full fine-tune, {steps} steps, batch 32, lr 5e-3; validation split "
          f"(517 rows), seeds {','.join(map(str, seeds))}\n")
    print(f"{'batches':16} {'macro-F1 mean':>14} {'(min..max)':>16} {'accuracy':>9} {'tokens/s':>9} {'padding eff.':>13}")
    summary = {}
    for group in (True, False):
        rs = [r for r in runs if r["group_by_length"] == group]
        f1 = [r["macro_f1"] for r in rs]
        row = {"macro_f1_mean": round(sum(f1) / len(f1), 2), "macro_f1_min": min(f1), "macro_f1_max": max(f1),
               "accuracy_mean": round(sum(r["accuracy"] for r in rs) / len(rs), 2),
               "tokens_per_second_mean": round(sum(r["tokens_per_second"] for r in rs) / len(rs), 1),
               "padding_efficiency_mean": round(sum(r["padding_efficiency"] for r in rs) / len(rs), 4)}
        name = "length-grouped" if group else "random"
        summary[name] = row
        print(f"{name:16} {row['macro_f1_mean']:>14.2f} {f'({min(f1):.1f}..{max(f1):.1f})':>16} "
              f"{row['accuracy_mean']:>9.2f} {row['tokens_per_second_mean']:>9,.0f} {row['padding_efficiency_mean']:>13.3f}")
    if out_json:
        Path(out_json).write_text(json.dumps({"steps": steps, "seeds": seeds, "runs": runs, "summary": summary},
                                             indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classification", action="store_true",
                    help="Length-grouped vs random batches on SMS spam (validation macro-F1) instead.")
    ap.add_argument("--seeds", default="0,1,2", help="With --classification: comma-separated seeds.")
    ap.add_argument("--json", help="With --classification: also write the figures to this file.")
    ap.add_argument("--steps", type=int, default=None, help="Optimizer steps (default 30; 120 with --classification).")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--no-trl", action="store_true")
    args = ap.parse_args()
    if args.classification:
        classification(args.steps or 120, [int(x) for x in args.seeds.split(",")], args.json)
        return
    args.steps = args.steps or 30
    from trainers.tiny import save_tiny_model

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "a").mkdir()
        (folder / "b").mkdir()
        plain = compile_dialogsum(folder / "a", args.max_length, packing=False)
        packed = compile_dialogsum(folder / "b", args.max_length, packing=True)
        man = json.loads((plain / "manifest.json").read_text())
        mean_len = man["tokens"]["train"]["length"]["mean"]
        packed_bs = max(1, round(args.batch_size * mean_len / args.max_length))
        model = save_tiny_model("llama", folder / "llama", max_positions=max(2048, args.max_length))
        results = {}
        results["ftdata, length-grouped"] = run_ftdata(plain, model, folder / "r1", args.steps, args.batch_size, True)
        results["ftdata, random batches"] = run_ftdata(plain, model, folder / "r2", args.steps, args.batch_size, False)
        results[f"ftdata, packed (batch {packed_bs})"] = run_ftdata(packed, model, folder / "r3", args.steps,
                                                                   packed_bs, False)
        if not args.no_trl:
            try:
                import trl  # noqa: F401
            except ImportError:
                print("trl not installed: TRL rows skipped (pip install trl)")
            else:
                results["TRL SFTTrainer"] = run_trl(plain, model, folder / "t1", args.steps, args.batch_size,
                                                    args.max_length, False)
                results[f"TRL SFTTrainer, packing (batch {packed_bs})"] = run_trl(
                    plain, model, folder / "t2", args.steps, packed_bs, args.max_length, True)
    ref = results.get("TRL SFTTrainer")
    print(f"\nDialogSum dev, tiny llama, {args.steps} steps, batch {args.batch_size}, max_length {args.max_length}, "
          f"mean example {mean_len:.0f} tokens\n")
    print(f"{'setting':44} {'tokens/s':>10} {'vs TRL':>8} {'padding eff.':>13} {'seconds':>8}")
    for name, r in results.items():
        ratio = f"{r['tokens_per_second'] / ref['tokens_per_second']:.2f}x" if ref else "—"
        print(f"{name:44} {r['tokens_per_second']:>10,.0f} {ratio:>8} {r['padding_efficiency']:>13.3f} {r['seconds']:>8.1f}")


if __name__ == "__main__":
    main()
