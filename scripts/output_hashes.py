"""Build four reference recipes and print the sha256 of every output file.

A refactor must leave compiled outputs byte-identical. Run this before and after a change and
compare the two JSON files::

    python scripts/output_hashes.py --json /tmp/before.json
    # ... change the code ...
    python scripts/output_hashes.py --json /tmp/after.json --compare /tmp/before.json

The four builds (recipes are generated here; data is read from ../shared/data, never copied
into the repository):

* ``reviews``: the bundled example, ``examples/reviews/recipe.yaml``.
* ``dialogsum``: DialogSum (dev and test rows) with the project's DialogSum templates,
  ``--num-proc 2``.
* ``food3``: Amazon Fine Food reviews (the first 5000 records) as three sources (rating,
  headline, review writing) with a ``ProductId`` group split, a capped proportional mixture and
  near-duplicate removal.
* ``chat``: a chat recipe with a ChatML template on the bundled tokenizer.

Every build runs ``python -m ftdata build --no-cache`` in a subprocess, in one fixed folder
(``--work``; the manifest and the card name the generated recipe files by absolute path). ``build_info.json`` (timings) and
``report.html`` are left out of the hashes; every other file counts.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data beside the checkout; FTDATA_SHARED_DATA names another place (the same data must
#: be read from the same path in compared runs: the manifest records source paths)
SHARED = Path(os.environ.get("FTDATA_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
SKIPPED = {"build_info.json", "report.html"}

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

FOOD_TASKS = {
    "rating": ("Review: {{Text}}\nHow many stars (1-5)?", "{{Score}}"),
    "headline": ("Write a short headline for this review:\n\n{{Text}}", "{{Summary}}"),
    "review": ('Write a product review titled "{{Summary}}".', "{{Text}}"),
}


def _write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _dialogsum(folder: Path) -> tuple[Path, list[str]]:
    """DialogSum dev + test as two sources over the project's DialogSum templates."""
    # a copy in the build folder, so the recorded template path is the same from any checkout
    tpl = str(folder / "templates.yaml")
    shutil.copyfile(ROOT / "templates" / "dialogsum" / "templates.yaml", tpl)
    sources = [{"name": f"dialogsum_{part}", "task": "summarize", "key": "fname",
                "path": str(SHARED / "dialogsum" / f"dialogsum.{part}.jsonl"),
                "templates": [{"file": tpl}]} for part in ("dev", "test")]
    # the test rows carry three references; the first one is the summary to learn
    sources[1]["rename"] = {"summary1": "summary", "topic1": "topic"}
    recipe = {"name": "dialogsum", "output": "out", "seed": 7, "sources": sources,
              "max_length": 512, "overflow": "truncate_prompt"}
    return _write_yaml(folder / "recipe.yaml", recipe), ["--num-proc", "2"]


def _food3(folder: Path) -> tuple[Path, list[str]]:
    """Amazon Fine Food, three tasks, group split, capped proportional mixture, near dedup."""
    head = folder / "Reviews.csv"
    with open(SHARED / "amazon_fine_food" / "Reviews.csv", newline="", encoding="utf-8") as f, \
            open(head, "w", newline="", encoding="utf-8") as g:
        reader, writer = csv.reader(f), csv.writer(g)
        for i, record in enumerate(reader):
            if i > 5000:  # header + 5000 records
                break
            writer.writerow(record)
    sources = []
    for task, (prompt, completion) in FOOD_TASKS.items():
        tpl = _write_yaml(folder / f"{task}.yaml", {"templates": [
            {"name": task, "prompt": prompt, "completion": completion}]})
        sources.append({"name": task, "task": task, "path": str(head), "key": "Id",
                        "columns": {"Score": {"type": "int", "min": 1, "max": 5},
                                    "Summary": {"type": "str", "required": False}},
                        "templates": [{"file": str(tpl)}]})
    recipe = {"name": "food3", "output": "out", "seed": 11, "sources": sources,
              "max_length": 1024, "split": {"group_by": "ProductId"},
              "mixture": {"method": "proportional", "cap": 2000},
              "dedup": {"exact": True, "near": True}}
    return _write_yaml(folder / "recipe.yaml", recipe), []


def _chat(folder: Path) -> tuple[Path, list[str]]:
    """A chat recipe: ChatML on the bundled tokenizer, a system prompt, DialogSum dev rows."""
    from transformers import AutoTokenizer

    # the bundled tokenizer by path, so the script runs unchanged on the layout before the move
    asset = next(p for p in (ROOT / "ftdata" / "tokenize" / "assets" / "tokenizer",
                             ROOT / "ftdata" / "assets" / "tokenizer") if p.is_dir())
    tok = AutoTokenizer.from_pretrained(str(asset))
    tok.chat_template = CHATML
    tok.save_pretrained(folder / "tok")
    tpl = _write_yaml(folder / "t.yaml", {"templates": [
        {"name": "summarize", "prompt": "Summarize this conversation.\n\n{{dialogue}}",
         "completion": "{{summary}}"}]})
    recipe = {"name": "chat", "output": "out", "seed": 3,
              "sources": [{"name": "dialogsum", "key": "fname",
                           "path": str(SHARED / "dialogsum" / "dialogsum.dev.jsonl"),
                           "templates": [{"file": str(tpl)}]}],
              "tokenizer": str(folder / "tok"), "max_length": 512,
              "chat": {"system": "Be brief."}}
    return _write_yaml(folder / "recipe.yaml", recipe), []


def _reviews(folder: Path) -> tuple[Path, list[str]]:
    return ROOT / "examples" / "reviews" / "recipe.yaml", []


BUILDS = {"reviews": _reviews, "dialogsum": _dialogsum, "food3": _food3, "chat": _chat}


def hash_tree(out: Path) -> dict[str, str]:
    """sha256 of every file under ``out`` (relative POSIX path -> hex), timing files aside."""
    hashes = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name not in SKIPPED:
            hashes[p.relative_to(out).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return hashes


def build_all(work: Path, only: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Build each reference recipe into ``work`` and hash its output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = {}
    for name, make in BUILDS.items():
        if only and name not in only:
            continue
        folder = work / name
        folder.mkdir(parents=True)
        recipe, extra = make(folder)
        out = folder / "built"
        cmd = [sys.executable, "-m", "ftdata", "build", str(recipe), "-o", str(out),
               "--no-cache", "--quiet", *extra]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{name}: ftdata build failed (exit {proc.returncode}):\n{proc.stdout}\n"
                     f"{proc.stderr}")
        result[name] = hash_tree(out)
    return result


def compare(before: dict, after: dict) -> list[str]:
    """Human-readable differences between two hash maps; empty when identical."""
    diffs = []
    for build in sorted(set(before) | set(after)):
        b, a = before.get(build, {}), after.get(build, {})
        for f in sorted(set(b) | set(a)):
            if b.get(f) != a.get(f):
                diffs.append(f"{build}/{f}: {b.get(f, 'absent')} -> {a.get(f, 'absent')}")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="Also write the hashes to this file.")
    ap.add_argument("--compare", type=Path, help="Hashes from an earlier run; exit 1 on a difference.")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ftdata-output-hashes",
                    help="Folder the recipes are built in (emptied first; absolute paths in the "
                         "manifest depend on it, so keep it the same across compared runs).")
    ap.add_argument("--only", nargs="*", choices=sorted(BUILDS), help="Build only these recipes.")
    args = ap.parse_args()
    # one fixed folder: the manifest and the card name the recipe's files by absolute path, so
    # builds compared across runs must read them from the same place
    work = args.work
    if work.exists():
        shutil.rmtree(work)
    try:
        hashes = build_all(work, args.only)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(hashes, indent=2, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.compare:
        diffs = compare(json.loads(args.compare.read_text(encoding="utf-8")), hashes)
        if diffs:
            sys.exit("outputs differ:\n" + "\n".join(diffs))
        print(f"identical to {args.compare}", file=sys.stderr)


if __name__ == "__main__":
    main()
