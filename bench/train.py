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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--no-trl", action="store_true")
    args = ap.parse_args()
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
