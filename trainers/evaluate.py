"""Evaluate a model (base, fully tuned, or base + LoRA adapter) on a compiled split.

Per task, the metric its template names (see :mod:`trainers.metrics`):

* templates **with answer choices** (classification): each choice is scored by the model's
  log-likelihood of ``separator + choice (+ EOS)`` after the prompt, tokenized exactly as the
  compiler tokenizes a training example; the most likely choice is the prediction. Reports
  accuracy and macro-F1.
* other templates: greedy / beam / sampled generation (settings in
  :class:`trainers.config.EvalConfig`), then ROUGE, BLEU or normalized exact match.

Few-shot (``shots: k``): k solved examples of the same task and template, drawn with a seed
from the **train** split (never the row itself), are prepended to each prompt; exemplars are
dropped from the front while the prompt would not fit the model's context.

Writes ``eval.json`` (scores and settings), ``eval.md`` (a table) and ``predictions.jsonl``
(one line per example: prompt, reference, prediction, choice scores).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from ftdata.constants import IGNORE_INDEX
from ftdata.consume.lmeval_utils import references as references_of
from ftdata.errors import FtdataError
from ftdata.inspect.load import load_compiled
from ftdata.tokenize.seq2seq import encode_seq2seq
from ftdata.tokenize.spans import encode_causal

from . import metrics as M
from ._run import load_model, peft_compat, read_run
from .config import EvalConfig, parse_config
from .data import pad_id
from .progress import Reporter, no_hub_bars, quiet_reporter


def resolve_model(model: str, adapter: str | None) -> tuple[str, str | None, str]:
    """Turn ``--model`` / ``--adapter`` (model folders, hub names or run folders) into
    ``(base model, adapter folder or None, label)``."""
    label = Path(model).name or model
    run = read_run(model)
    if run is not None:
        if run["method"] == "full":
            model = str(Path(model) / "model")
        else:
            adapter = adapter or model
            model = run["base_model"]
    if adapter is not None:
        arun = read_run(adapter)
        label = Path(adapter).name
        if arun is not None:
            adapter = str(Path(adapter) / "adapter")
    return model, adapter, label


def load_for_eval(model: str, adapter: str | None, manifest: dict, where: str):
    """(model in eval mode, tokenizer); a LoRA adapter is merged into its base for speed."""
    net, tok = load_model(model, manifest["layout"], manifest, where)
    if adapter is not None:
        from peft import PeftModel

        peft_compat()
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise FtdataError(f"--adapter {adapter}: no adapter_config.json (expected a LoRA run or adapter folder)")
        with no_hub_bars():
            net = PeftModel.from_pretrained(net, adapter).merge_and_unload()
    net.eval()
    return net, tok


def context_limit(net, layout: str) -> int:
    """Longest input the model takes (large for relative-position models such as T5)."""
    cfg = net.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        if getattr(cfg, name, None):
            return int(getattr(cfg, name))
    return 4096 if layout == "seq2seq" else 1024


def fewshot_prompts(rows: list[dict], pool: list[dict], k: int, *, seed: int, separator: str,
                    shot_separator: str, count_tokens, max_tokens: int) -> list[str]:
    """Each row's prompt preceded by ``k`` seeded train exemplars that fit ``max_tokens``.

    Prompts are written by :func:`ftdata.templating.fewshot.kshot_prompt` (the same shape the compiler
    uses for ``shots: k``), exemplars kept by :func:`ftdata.templating.fewshot.fit_exemplars`.
    """
    from ftdata.templating.fewshot import fit_exemplars, kshot_prompt

    if k == 0:
        return [r["prompt"] for r in rows]
    out = []
    for r in rows:
        rng = random.Random(f"{seed}\x00{r['task']}\x00{r['template']}\x00{r['row_key']}")
        cands = [p for p in pool if p["row_key"] != r["row_key"]]  # never the row itself
        shots = [(s["prompt"], s["completion"]) for s in rng.sample(cands, min(k, len(cands)))]
        kept, _ = fit_exemplars(r["prompt"], "", shots, count_tokens=count_tokens, max_length=max_tokens,
                                separator=separator, shot_separator=shot_separator)
        out.append(kshot_prompt(r["prompt"], kept, separator=separator, shot_separator=shot_separator))
    return out


def _batches(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def rank_choices(net, tok, layout: str, manifest: dict, prompts: list[str], choices: list[list[str]], *,
                 batch_size: int, length_normalize: bool, advance=None) -> list[list[float]]:
    """Log-likelihood of each answer choice after its prompt; one list of scores per prompt.

    ``advance(n)``, when given, is called as the prompts' choices are scored (n prompts at a time).
    """
    import torch

    backend = tok.backend_tokenizer
    eos = tok.eos_token_id if manifest.get("add_eos", True) else None
    pairs = [(i, p, c) for i, (p, cs) in enumerate(zip(prompts, choices)) for c in cs]
    big = 10**9
    if layout == "seq2seq":
        encs = encode_seq2seq(backend, [p for _, p, _ in pairs], [c for *_, c in pairs], eos_id=eos,
                              max_length=big, overflow="drop")
    else:
        encs = encode_causal(backend, [p for _, p, _ in pairs], [c for *_, c in pairs],
                             separator=manifest.get("separator", " "), eos_id=eos, max_length=big, overflow="drop")
    pad = pad_id(tok)
    scores: list[float] = []
    done = 0
    with torch.no_grad():
        for chunk in _batches(encs, batch_size):
            w = max(len(e.input_ids) for e in chunk)
            ids = torch.tensor([e.input_ids + [pad] * (w - len(e.input_ids)) for e in chunk])
            mask = torch.tensor([[1] * len(e.input_ids) + [0] * (w - len(e.input_ids)) for e in chunk])
            if layout == "seq2seq":
                lw = max(len(e.labels) for e in chunk)
                labels = torch.tensor([e.labels + [IGNORE_INDEX] * (lw - len(e.labels)) for e in chunk])
                logits = net(input_ids=ids, attention_mask=mask, labels=labels).logits
                target = labels
            else:
                labels = torch.tensor([e.labels + [IGNORE_INDEX] * (w - len(e.labels)) for e in chunk])
                logits = net(input_ids=ids, attention_mask=mask).logits[:, :-1]
                target = labels[:, 1:]  # unshifted labels: position i predicts token i+1
            logp = torch.log_softmax(logits.float(), dim=-1)
            keep = target != IGNORE_INDEX
            tok_lp = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) * keep
            total = tok_lp.sum(-1)
            if length_normalize:
                total = total / keep.sum(-1).clamp(min=1)
            scores.extend(total.tolist())
            if advance is not None:  # prompts whose every choice is scored now
                k = len(scores)
                last = pairs[k - 1][0]
                now = last + 1 if k == len(pairs) or pairs[k][0] != last else last
                advance(now - done)
                done = now
    out: list[list[float]] = [[] for _ in prompts]
    for (i, _, _), s in zip(pairs, scores):
        out[i].append(s)
    return out


def generate(net, tok, layout: str, prompts: list[str], cfg: EvalConfig, max_input: int, advance=None) -> list[str]:
    """Generate a completion for each prompt (left padding for decoder-only models); ``advance(n)``,
    when given, is called after each batch of n prompts."""
    import torch

    pad = pad_id(tok)
    kwargs = cfg.generation_kwargs() | {"pad_token_id": pad, "eos_token_id": tok.eos_token_id}
    tok.padding_side = "left" if layout != "seq2seq" else "right"
    tok.truncation_side = "left"  # keep the end of the prompt, where the question is
    out: list[str] = []
    with torch.no_grad():
        for chunk in _batches(prompts, cfg.batch_size):
            enc = tok(chunk, return_tensors="pt", padding=True, truncation=True, max_length=max_input)
            gen = net.generate(**enc, **kwargs)
            if layout != "seq2seq":
                gen = gen[:, enc["input_ids"].shape[1]:]
            out.extend(t.strip() for t in tok.batch_decode(gen, skip_special_tokens=True))
            if advance is not None:
                advance(len(chunk))
    return out


def _template_info(manifest: dict, source: str, template: str) -> dict:
    for t in manifest.get("templates", {}).get(source, []):
        if t["name"] == template:
            return t
    return {}


def evaluate_model(data: str | Path, model: str, *, adapter: str | None = None, output: str | Path | None = None,
                   label: str | None = None, reporter: Reporter | None = None, **options) -> dict:
    """Score ``model`` (optionally with a LoRA ``adapter``) on a split of compiled directory ``data``.

    Args:
        data: compiled directory (must hold ``COMPLETED``).
        model: model folder, hub name, or a run folder written by ``ftdata train``.
        adapter: LoRA adapter folder or LoRA run folder.
        output: folder for ``eval.json``, ``eval.md`` and ``predictions.jsonl`` (None: write nothing).
        label: name of the model in reports (default: the folder name).
        reporter: where progress goes (a bar per task; :mod:`trainers.progress`; default: nowhere).
        **options: :class:`trainers.config.EvalConfig` fields (split, shots, max_new_tokens, ...).

    Returns:
        ``{"model", "data", "split", "shots", "settings", "tasks": {task: {"template", "n", "metrics"}}}``.
    """
    import torch

    cfg = parse_config(EvalConfig, options)
    dd = load_compiled(data)
    manifest = dd.manifest
    if cfg.split not in dd:
        raise FtdataError(f"{data}: no split '{cfg.split}'; found {', '.join(dd)}")
    if cfg.shots and "train" not in dd:
        raise FtdataError(f"{data}: few-shot prompts need a 'train' split; found {', '.join(dd)}")
    base, adapter, auto_label = resolve_model(model, adapter)
    net, tok = load_for_eval(base, adapter, manifest, str(data))
    layout = manifest["layout"]
    torch.manual_seed(cfg.seed)
    limit = context_limit(net, layout)
    max_input = max(8, limit - (0 if layout == "seq2seq" else cfg.max_new_tokens))

    def count_tokens(prompt: str, completion: str) -> int:
        return len(tok(prompt)["input_ids"]) + 8  # room for a short answer when ranking choices

    cols = ["task", "template", "source", "row_key", "prompt", "completion", "answer_choices"]
    if "references" in dd[cfg.split].column_names:  # the template names reference columns (see README)
        cols.append("references")
    if "seq_lengths" in dd[cfg.split].column_names or "prompt" not in dd[cfg.split].column_names:
        raise FtdataError(f"{data}: split '{cfg.split}' is packed (no per-example prompt); evaluate on a build "
                          "without packing: true")
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in dd[cfg.split].select_columns(cols).to_list():
        groups[(r["task"], r["template"], r["source"])].append(r)
    pools: dict[tuple[str, str], list[dict]] = defaultdict(list)
    if cfg.shots:
        for r in dd["train"].select_columns(["task", "template", "row_key", "prompt", "completion"]).to_list():
            pools[(r["task"], r["template"])].append(r)
    templates_per_task = defaultdict(int)
    for task, _, _ in groups:
        templates_per_task[task] += 1

    reporter = quiet_reporter(reporter)
    tasks, records = {}, []
    for (task, template, source), rows in sorted(groups.items()):
        rows = rows[: cfg.max_rows] if cfg.max_rows else rows
        info = _template_info(manifest, source, template)
        with reporter.bar(f"{label or auto_label} · {task}", len(rows)) as advance:
            scores, preds, lls, prompts = _score(net, tok, layout, manifest, cfg, rows, pools, max_input,
                                                 count_tokens, advance, info)
        key = task if templates_per_task[task] == 1 else f"{task}/{template}"
        has_choices = rows[0]["answer_choices"] is not None
        tasks[key] = {"task": task, "template": template, "n": len(rows), "metrics": scores,
                      "metric_source": info.get("metrics") or ("answer choices" if has_choices else "default")}
        if not has_choices:
            tasks[key]["references"] = _reference_counts(rows)
        for i, (r, p) in enumerate(zip(rows, preds)):
            rec = {"task": task, "template": template, "row_key": r["row_key"], "prompt": prompts[i],
                   "reference": r["completion"], "prediction": p, "correct": p == r["completion"]}
            if r.get("references"):
                rec["references"] = r["references"]
            if lls is not None:
                rec["choice_scores"] = dict(zip(r["answer_choices"], [round(x, 4) for x in lls[i]]))
            records.append(rec)

    report = {"model": label or auto_label, "base_model": base, "adapter": adapter, "data": str(Path(data).resolve()),
              "data_name": manifest.get("name"), "split": cfg.split, "shots": cfg.shots,
              "settings": cfg.model_dump(), "tasks": tasks}
    if output is not None:
        write_eval(Path(output), report, records)
    return report


def _reference_counts(rows: list[dict]) -> dict:
    """How many references the rows had: ``{"min", "max", "mean"}``."""
    n = [len(references_of(r)) for r in rows] or [0]
    return {"min": min(n), "max": max(n), "mean": round(sum(n) / len(n), 3)}


def _score(net, tok, layout: str, manifest: dict, cfg: EvalConfig, rows: list[dict], pools: dict, max_input: int,
           count_tokens, advance, info: dict):
    """``(scores, predictions, choice log-likelihoods or None, prompts)`` for one task's rows.

    Generated predictions are scored against every reference a row has (:func:`references_of`).
    """
    task, template = rows[0]["task"], rows[0]["template"]
    has_choices = rows[0]["answer_choices"] is not None
    fams = M.families(info.get("metrics"), has_choices)
    prompts = fewshot_prompts(rows, pools.get((task, template), []), cfg.shots, seed=cfg.seed,
                              separator=manifest.get("separator", " ") if layout != "seq2seq" else " ",
                              shot_separator=cfg.shot_separator, count_tokens=count_tokens, max_tokens=max_input)
    scores: dict[str, float] = {}
    if has_choices:
        golds = [r["completion"] for r in rows]
        lls = rank_choices(net, tok, layout, manifest, prompts, [r["answer_choices"] for r in rows],
                           batch_size=cfg.batch_size, length_normalize=cfg.length_normalize, advance=advance)
        preds = [r["answer_choices"][max(range(len(s)), key=s.__getitem__)] for r, s in zip(rows, lls)]
        classes = sorted({c for r in rows for c in r["answer_choices"]})
        scores["accuracy"] = M.accuracy(preds, golds)
        scores["macro_f1"] = M.macro_f1(preds, golds, classes)
        return scores, preds, lls, prompts
    preds = generate(net, tok, layout, prompts, cfg, max_input, advance=advance)
    if cfg.shots:  # a base model continues with the next exemplar; keep its answer only
        preds = [p.split(cfg.shot_separator)[0].strip() for p in preds]
    refs = [references_of(r) for r in rows]
    if "rouge" in fams:
        scores |= M.rouge(preds, refs)
    if "bleu" in fams:
        scores |= M.bleu(preds, refs)
    if "accuracy" in fams:
        scores["exact_match"] = M.exact_match(preds, refs)
    return scores, preds, None, prompts


def markdown_table(report: dict) -> str:
    """One row per task: n, then every score."""
    lines = [f"Model `{report['model']}` on `{report['data_name']}` / {report['split']} ({report['shots']}-shot)", "",
             "| task | template | n | scores |", "|---|---|---:|---|"]
    for key, t in report["tasks"].items():
        s = ", ".join(f"{k} {v:.2f}" for k, v in t["metrics"].items())
        lines.append(f"| {key} | {t['template']} | {t['n']} | {s} |")
    return "\n".join(lines) + "\n"


def write_eval(out: Path, report: dict, records: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "eval.md").write_text(markdown_table(report), encoding="utf-8")
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
