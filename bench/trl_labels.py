"""ftdata's labels versus TRL SFTTrainer's prepared labels, on the same DialogSum pairs.

    python bench/trl_labels.py [--templates NAME ...] [--limit N] [--max-length 4096]

Compiles DialogSum dev+test (1,000 rows) with ftdata and the shipped tokenizer, then gives
TRL's ``SFTTrainer`` (completion-only loss, the default for prompt/completion data) the same
pairs -- ``prompt`` = ftdata's prompt, ``completion`` = separator + completion, since ftdata
trains the separator -- with a 2-layer model built from a config (nothing downloaded), and
reads the ``labels`` TRL prepares. Prints the agreement rate (identical ``input_ids`` and
``labels``) per template and lists every kind of difference with a count and an example.

Three templates are compared: the DialogSum one (prompt ends in ``Summary:``), one whose
prompt ends in a newline with an empty separator, and one whose prompt ends mid-word with an
empty separator (a BPE merge across the boundary), because TRL masks by the common prefix of
the prompt's tokens and the joint tokens while ftdata masks by character offsets.

With ``--max-length`` below some examples' length the two differ by design: ftdata refuses an
example whose completion would be cut (``overflow: drop``; ``truncate_prompt`` cuts only the
prompt), while TRL truncates the end (``keep_start``) and trains the cut completion without
its EOS, or drops the example when nothing trainable is left. Those rows are fed to TRL as
well, so the agreement rate counts them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dialogsum_rows  # noqa: E402

IGNORE = -100
TEMPLATES = {
    "summary_colon": ("Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:", " "),
    "newline_no_sep": ("Dialogue:\n{{dialogue}}\nSummary:\n", ""),
    "mid_word": ("{{dialogue}}\n\nIn short, th", ""),
}


def ftdata_pairs(folder: Path, name: str, limit: int | None, max_length: int) -> tuple[list[dict], dict]:
    import datasets
    import yaml

    from ftdata.build.orchestrate import compile_recipe

    prompt, sep = TEMPLATES[name]
    completion = "e gist: {{summary}}" if name == "mid_word" else "{{summary}}"
    rows = dialogsum_rows()[:limit]
    (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "t.yaml").write_text(yaml.safe_dump({"templates": [{"name": name, "prompt": prompt, "completion": completion}]}))
    recipe = {"name": name, "output": str(folder / name), "split": {"ratios": {"train": 1.0}}, "separator": sep,
              "sources": [{"name": "dialogsum", "path": str(folder / "rows.jsonl"), "key": "fname",
                           "templates": [{"file": "t.yaml"}]}], "tokenizer": "ftdata:tiny-bpe", "max_length": max_length,
              "dedup": False}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    res = compile_recipe(folder / "recipe.yaml", overwrite=True)
    ds = datasets.load_from_disk(str(res.output))["train"]
    pairs = [{"key": r["row_key"], "prompt": r["prompt"], "completion": sep + r["completion"],
              "input_ids": r["input_ids"], "labels": r["labels"]} for r in ds]
    # rows ftdata refused (too long: completions are never cut) go to TRL too, to see what it does
    refused = [json.loads(line) for line in (res.output / "rejects.jsonl").read_text().splitlines()]
    by_key = {r["fname"]: r for r in rows}
    for rec in refused:
        r = by_key[rec["row_key"]]
        p = prompt.replace("{{dialogue}}", r["dialogue"])
        c = completion.replace("{{summary}}", r["summary"])
        pairs.append({"key": rec["row_key"], "prompt": p, "completion": sep + c, "input_ids": None, "labels": None,
                      "refused": rec["reason"]})
    return pairs, res.manifest["audit"]["totals"]


def trl_labels(pairs: list[dict], folder: Path, max_length: int) -> dict[str, dict]:
    import datasets
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import SFTConfig, SFTTrainer

    from ftdata.tokenize.tokenizer import load_tokenizer

    tok = load_tokenizer("ftdata:tiny-bpe")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=4096, n_embd=16, n_layer=2, n_head=2))
    data = datasets.Dataset.from_list([{"key": p["key"], "prompt": p["prompt"], "completion": p["completion"]}
                                       for p in pairs])
    args = SFTConfig(output_dir=str(folder / "trl"), max_length=max_length, report_to=[], completion_only_loss=True,
                     use_cpu=True, bf16=False)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    return {r["key"]: r for r in trainer.train_dataset}


def classify(tok, ours: dict, theirs: dict | None) -> str | None:
    """None when identical, else a short reason."""
    if theirs is None:
        return "TRL dropped the example (fully masked after truncation)" if ours["labels"] else "both leave it out"
    if ours["labels"] is None:
        return ("ftdata refused it (too long; completions are never cut); TRL truncates keep_start and trains "
                "a cut completion without its EOS")
    if ours["input_ids"] != theirs["input_ids"]:
        return "input_ids differ (tokenization of prompt+completion)"
    a, b = ours["labels"], theirs["labels"]
    if a == b:
        return None
    fa = next(i for i, x in enumerate(a) if x != IGNORE)
    fb = next((i for i, x in enumerate(b) if x != IGNORE), len(b))
    if fb < fa:
        return "TRL trains prompt tokens (the prompt tokenized alone diverges before the boundary)"
    if fb > fa:
        return "TRL leaves completion tokens untrained"
    return "labels differ after the boundary"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--templates", nargs="*", default=list(TEMPLATES))
    ap.add_argument("--limit", type=int, default=None, help="first N rows (default all 1,000)")
    ap.add_argument("--max-length", type=int, default=4096, help="max_length for both (ftdata: overflow drop)")
    args = ap.parse_args()
    from ftdata.tokenize.tokenizer import load_tokenizer

    tok = load_tokenizer("ftdata:tiny-bpe")
    report = {}
    with tempfile.TemporaryDirectory() as d:
        for name in args.templates:
            folder = Path(d) / name
            folder.mkdir()
            ours, audit = ftdata_pairs(folder, name, args.limit, args.max_length)
            theirs = trl_labels(ours, folder, args.max_length)
            reasons: Counter = Counter()
            example = {}
            for o in ours:
                r = classify(tok, o, theirs.get(o["key"]))
                reasons[r or "identical"] += 1
                if r and r not in example and o["labels"] and o["key"] in theirs:
                    t = theirs[o["key"]]
                    fa = next(i for i, x in enumerate(o["labels"]) if x != IGNORE)
                    example[r] = {"row_key": o["key"], "ftdata_first_trained": tok.decode(o["input_ids"][fa:fa + 3]),
                                  "trl_first_trained": tok.decode([x for x in t["labels"] if x != IGNORE][:3]),
                                  "prompt_end": o["prompt"][-20:]}
            n = len(ours)
            same = reasons["identical"] + reasons["both leave it out"]
            report[name] = {"examples": n, "agreement": round(same / n, 4) if n else None,
                            "reasons": dict(reasons), "examples_of_differences": example, "ftdata_audit": audit}
            print(f"{name:<16} {n:>5} examples  agreement {report[name]['agreement']:.4f}  "
                  f"(ftdata audit: straddling {audit['straddling_boundary']}, prompt_not_prefix "
                  f"{audit['prompt_not_prefix']})")
            for r, c in reasons.most_common():
                if r not in ("identical", "both leave it out"):
                    print(f"    {c:>5}  {r}" + (f"  e.g. {example[r]}" if r in example else ""))
    total = sum(v["examples"] for v in report.values())
    agree = sum(v["reasons"].get("identical", 0) + v["reasons"].get("both leave it out", 0) for v in report.values())
    print(f"overall agreement (identical labels, or both leave the example out): {agree}/{total} = {agree / total:.4f}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
