"""``ftdata export --to lm-eval``: one lm-evaluation-harness task per template, scored as ``ftdata eval`` scores.

For each (task, template, source) of the held-out split (``test``, else ``validation``) the
export writes

* ``data/<name>/<split>.jsonl``: the held-out rows (``prompt``, ``completion``, ``row_key``, ...,
  and ``references`` when the template names reference columns: a generated answer is scored
  against every one, as ``ftdata eval`` scores it) and ``data/<name>/train.jsonl``, the same
  template's train rows, lm-eval's ``fewshot_split``;
* ``<name>.yaml``: the task. Its ``data_files`` are relative to the folder: the YAML names
  ``custom_dataset: !function ftdata_lmeval.load_data``, which lm-eval calls with the
  ``dataset_kwargs`` and which reads them from beside itself (``datasets.load_dataset("json")``,
  as ``dataset_path: json`` would), so the folder can be moved or shipped and holds no local
  path. Templates with ``answer_choices`` are ``multiple_choice``: each choice is
  scored by the log-likelihood of ``separator + choice + EOS`` after the prompt (the EOS token's
  text ends every choice in the ``choices`` column, so lm-eval scores the EOS ``ftdata eval``
  scores), ``acc`` is 1 when the first most likely choice is the answer. Other templates are
  ``generate_until`` (greedy, ``max_gen_toks`` 64, no stop string but EOS, as ``ftdata eval``)
  scored with the families the template's ``metrics`` name: ROUGE, BLEU, else exact match,
  against the row's ``references`` (else its ``completion``);
* ``<group>.yaml``: a group of every task, and ``ftdata_lmeval.py``: the scoring functions the
  YAMLs name (:mod:`ftdata.consume.lmeval_utils`, copied as it is).

Few-shot prompts have ``ftdata eval``'s shape (exemplars ``prompt + separator + completion``
joined by a blank line, then the prompt): lm-eval draws the exemplars with its own seeded
sampler from the train file, so k-shot scores are comparable to ``ftdata eval --shots k`` but
drawn from other exemplars. Zero-shot scores are the same.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import yaml

from ..errors import FtdataError

#: The held-out split a task is scored on, in order of preference.
EVAL_SPLITS = ("test", "validation")
FEWSHOT_SPLIT = "train"
HELPER = "ftdata_lmeval.py"
#: ``ftdata eval``'s defaults (trainers/config.py EvalConfig): shot separator, longest answer.
SHOT_SEPARATOR = "\n\n"
MAX_NEW_TOKENS = 64
_COLUMNS = ["task", "template", "source", "row_key", "prompt", "completion", "answer_choices"]
#: The compiled column of a template's reference answers (only when a template names reference columns).
REFERENCES = "references"

CONTRACT = ("One lm-evaluation-harness task per template (`<task>.yaml`, data under `data/`), all in one group. "
            "Templates with `answer_choices` are `multiple_choice` (log-likelihood of separator + choice + EOS "
            "after the prompt, as `ftdata eval` ranks them; `acc` 0..1, `macro_f1` 0..100); the others "
            "`generate_until` (greedy, 64 new tokens, stop at EOS) with ROUGE, BLEU or normalized exact match "
            "(0..100) as the template's `metrics` name, against every reference the row has (`references`, else "
            "`completion`). Few-shot exemplars (`--num_fewshot k`) come from the train "
            "split. `data_files` are relative to this folder (read by `ftdata_lmeval.load_data`): the folder can be moved.")
LOAD = ("lm_eval --model hf --model_args pretrained=MODEL_DIR --include_path {dest} --tasks {group} "
        "--batch_size 1 --log_samples --output_path lm-eval-results\n"
        "# k-shot with a base model: add  --num_fewshot k --gen_kwargs 'until=[\"\\n\\n\"]'")


def group_name(name: str | None) -> str:
    """The lm-eval group name of a compiled directory called ``name`` (a safe identifier)."""
    slug = re.sub(r"[^0-9A-Za-z]+", "_", name or "").strip("_").lower()
    return f"ftdata_{slug or 'data'}"


class _Function(str):
    """A YAML scalar written as ``!function name`` (lm-eval's tag for a Python callable)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Function, lambda d, v: d.represent_scalar("!function", str(v)))


def _dump(obj: dict) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def _families(metrics: list[str] | None) -> tuple[str, ...]:
    """Generation metric families for a template's ``metrics``, as ``ftdata eval`` chooses them."""
    names = {m.lower() for m in metrics or []}
    fams = tuple(f for f in ("rouge", "bleu") if any(f in n for n in names))
    return fams or ("exact",)


def _metric(name: str, aggregation) -> dict:
    return {"metric": name, "aggregation": aggregation, "higher_is_better": True}


def _task_config(name: str, files: dict[str, str], eval_split: str, fewshot: bool,
                 choices: bool, metrics: list[str] | None, separator: str, info: dict) -> dict:
    cfg: dict = {"task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": files},
                 "custom_dataset": _Function("ftdata_lmeval.load_data"), "test_split": eval_split}
    if fewshot:
        cfg["fewshot_split"] = FEWSHOT_SPLIT
    cfg |= {"doc_to_text": "prompt", "target_delimiter": separator, "fewshot_delimiter": SHOT_SEPARATOR}
    if choices:
        cfg |= {"output_type": "multiple_choice", "doc_to_choice": "choices", "doc_to_target": "gold",
                "fewshot_config": {"doc_to_target": "completion"},  # exemplars show the answer, no EOS
                "process_results": _Function("ftdata_lmeval.process_choices"),
                "metric_list": [_metric("acc", "mean"), _metric("macro_f1", _Function("ftdata_lmeval.macro_f1"))]}
    else:
        fams = _families(metrics)
        listed = []
        for f in fams:
            if f == "rouge":
                listed += [_metric(k, "mean") for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")]
            elif f == "bleu":
                listed.append(_metric("bleu", _Function("ftdata_lmeval.corpus_bleu")))
            else:
                listed.append(_metric("exact_match", "mean"))
        cfg |= {"output_type": "generate_until", "doc_to_target": "completion",
                "generation_kwargs": {"until": [], "max_gen_toks": MAX_NEW_TOKENS, "do_sample": False},
                "process_results": _Function("ftdata_lmeval.scores_" + "_".join(fams)),
                "metric_list": listed}
    cfg["metadata"] = {"version": 1.0, "ftdata": info}
    return cfg


def _names(keys: list[tuple[str, str, str]], group: str) -> dict[tuple[str, str, str], str]:
    """A unique lm-eval task name per (task, template, source): the template, then more as needed."""
    def slug(*parts):
        return group + "_" + "_".join(re.sub(r"[^0-9A-Za-z]+", "_", p).strip("_").lower() for p in parts)

    for pick in (lambda k: (k[1],), lambda k: (k[0], k[1]), lambda k: k):
        names = {k: slug(*pick(k)) for k in keys}
        if len(set(names.values())) == len(keys):
            return names
    return {k: f"{slug(*k)}_{i}" for i, k in enumerate(keys)}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_lmeval(dd, chosen: list[str], tmp: Path) -> tuple[dict, list[str], list[str]]:
    """Write the lm-eval tasks of compiled ``dd`` (with ``.manifest``) into ``tmp`` (data paths relative to it).

    Returns:
        (rows per split, files written, columns of the data files).
    """
    manifest = dd.manifest
    held_out = [s for s in chosen if s != FEWSHOT_SPLIT]
    if not held_out:
        raise FtdataError(f"export --to lm-eval: needs a held-out split to score ({' or '.join(EVAL_SPLITS)}); "
                          f"found only {chosen}")
    eval_split = next((s for s in EVAL_SPLITS if s in held_out), held_out[0])
    fewshot = FEWSHOT_SPLIT in chosen
    eos = manifest.get("tokenizer", {}).get("eos_token") if manifest.get("add_eos", True) else None
    if manifest.get("add_eos", True) and not eos:
        raise FtdataError("export --to lm-eval: the manifest names no EOS token (tokenizer.eos_token), which "
                          "ftdata eval scores after each answer choice")
    separator = manifest.get("separator", " ")
    group = group_name(manifest.get("name"))

    # the template's reference answers, which ftdata eval scores a generated answer against
    refs = [REFERENCES] if REFERENCES in dd[eval_split].column_names else []
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in dd[eval_split].select_columns(_COLUMNS + refs).to_list():
        groups[(r["task"], r["template"], r["source"])].append(r)
    pools: dict[tuple[str, str], list[dict]] = defaultdict(list)
    if fewshot:
        for r in dd[FEWSHOT_SPLIT].select_columns(_COLUMNS + refs).to_list():
            pools[(r["task"], r["template"])].append(r)
    names = _names(sorted(groups), group)
    templates = {(src, t["name"]): t for src, ts in manifest.get("templates", {}).items() for t in ts}

    files: list[str] = []
    rows = {eval_split: 0, **({FEWSHOT_SPLIT: 0} if fewshot else {})}
    for key in sorted(groups):
        task, template, source = key
        name = names[key]
        has_choices = groups[key][0]["answer_choices"] is not None
        data = {eval_split: groups[key]}
        if fewshot:
            data[FEWSHOT_SPLIT] = pools.get((task, template), [])
        paths = {}
        for split, split_rows in data.items():
            if has_choices:
                split_rows = [r | {"choices": [c + (eos or "") for c in r["answer_choices"]],
                                   "gold": r["answer_choices"].index(r["completion"])} for r in split_rows]
            rel = f"data/{name}/{split}.jsonl"
            _write_jsonl(tmp / rel, split_rows)
            files.append(rel)
            paths[split] = rel
            rows[split] += len(split_rows)
        if fewshot and not data[FEWSHOT_SPLIT]:
            del paths[FEWSHOT_SPLIT]
        info = {"task": task, "template": template, "source": source, "data": manifest.get("name"),
                "metrics": templates.get((source, template), {}).get("metrics")}
        cfg = _task_config(name, paths, eval_split, FEWSHOT_SPLIT in paths, has_choices,
                           info["metrics"], separator, info)
        (tmp / f"{name}.yaml").write_text(_dump(cfg), encoding="utf-8")
        files.append(f"{name}.yaml")
    (tmp / f"{group}.yaml").write_text(_dump({"group": group, "task": [names[k] for k in sorted(groups)]}),
                                       encoding="utf-8")
    shutil.copyfile(Path(__file__).with_name("lmeval_utils.py"), tmp / HELPER)
    files += [f"{group}.yaml", HELPER]
    columns = _COLUMNS + refs + ["choices", "gold"]
    return rows, files, columns
