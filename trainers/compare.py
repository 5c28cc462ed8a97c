"""One comparison: base model zero- and k-shot, full fine-tune and LoRA, plus forgetting.

For compiled directory ``data`` (the trained tasks) and optionally ``heldout`` (a second
compiled directory whose task is *not* trained), :func:`compare` runs

1. the base model on ``data``'s test split with each number of shots (in-context learning),
2. for each method (``full``, ``lora``): training on ``data``'s train split, then the tuned
   model on ``data``'s test split (zero-shot),
3. the base and each tuned model on ``heldout``'s test split: the change is forgetting,
4. with ``heldout_text`` (a raw-text build, e.g. held-out pretraining text): the base's and
   each tuned model's perplexity on its test split, the other measure of forgetting,

and writes ``compare.json`` and ``compare.md`` (one row per setting: the headline score per
task, the held-out score and its change, trainable parameters, peak memory, wall times),
with each run and evaluation in its own sub-folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ftdata.errors import FtdataError

from ._run import PeakMemory, check_run_dir
from .evaluate import evaluate_model
from .full import train_full
from .lora import train_lora
from .perplexity import perplexity
from .progress import Reporter, quiet_reporter
from .tiny import count_parameters

TRAINERS = {"full": train_full, "lora": train_lora}
_HEADLINE = ("macro_f1", "rougeL", "bleu", "exact_match", "accuracy")


def headline(metrics: dict) -> tuple[str, float] | None:
    """The score a table shows first for a task (macro-F1, ROUGE-L, BLEU or exact match)."""
    for k in _HEADLINE:
        if k in metrics:
            return k, metrics[k]
    return next(iter(metrics.items()), None)


def _base_params(model: str) -> int:
    import torch
    import transformers as tf

    cfg = tf.AutoConfig.from_pretrained(model)
    auto = tf.AutoModelForSeq2SeqLM if cfg.is_encoder_decoder else tf.AutoModelForCausalLM
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        return count_parameters(auto.from_config(cfg))[1]


def _timed_eval(data, model, out: Path, label: str, **kw) -> tuple[dict, float, dict]:
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        rep = evaluate_model(data, model, output=out, label=label, **kw)
    return rep, round(time.perf_counter() - t0, 3), mem.as_dict()


def scores_line(tasks: dict) -> str:
    """``task metric value`` for each task's headline score (and ROUGE-1/2/L together)."""
    parts = []
    for key, t in tasks.items():
        m = t["metrics"]
        if "rouge1" in m:
            parts.append(f"{key} ROUGE-1/2/L {m['rouge1']:.2f}/{m['rouge2']:.2f}/{m['rougeL']:.2f}")
        elif (h := headline(m)) is not None:
            parts.append(f"{key} {h[0]} {h[1]:.2f}")
        parts[-1] += f" (n={t['n']})"
    return ", ".join(parts)


class _Stages:
    """Numbered stage lines: ``[2/7] base 1-shot: sms macro_f1 61.20 (n=557) · 4.1s``."""

    def __init__(self, reporter, total: int):
        self.reporter, self.total, self.done = reporter, total, 0

    def start(self, what: str) -> None:
        self.reporter.line(f"[{self.done + 1}/{self.total}] {what} ...")

    def end(self, what: str, result: str, seconds: float) -> None:
        self.done += 1
        self.reporter.line(f"[{self.done}/{self.total}] {what}: {result} · {seconds:.1f}s")


def compare(data: str | Path, model: str, output: str | Path, *, methods: tuple[str, ...] = ("full", "lora"),
            shots: tuple[int, ...] = (0, 3), heldout: str | Path | None = None, overwrite: bool = False,
            train_options: dict | None = None, lora_options: dict | None = None,
            eval_options: dict | None = None, heldout_max_rows: int | None = None,
            heldout_text: str | Path | None = None, heldout_text_rows: int | None = None,
            reporter: Reporter | None = None) -> dict:
    """Run the whole comparison; returns the report (also written to ``output``).

    Args:
        data: compiled directory with train and test splits (the trained tasks).
        model: base model folder or hub name (its tokenizer must match the data's).
        output: folder for the report, runs (``runs/<method>``) and evaluations (``evals/...``).
        methods: fine-tuning methods to run, any of ``full``, ``lora``.
        shots: numbers of in-context examples for the base model (0 = zero-shot).
        heldout: compiled directory of a task not trained on (forgetting); optional.
        overwrite: replace an existing output folder's runs.
        train_options: :class:`trainers.config.TrainConfig` fields for both methods.
        lora_options: overrides for LoRA only (e.g. a higher ``lr``).
        eval_options: :class:`trainers.config.EvalConfig` fields (generation settings); its
            ``max_rows`` sizes the evaluation of ``data`` only.
        heldout_max_rows: rows per task of ``heldout``'s test split (default all of them): the
            forgetting set has its own size, so a quick ``max_rows`` does not shrink it.
        heldout_text: compiled text (or causal) directory whose test-split perplexity is
            measured for the base and each tuned model (forgetting of the pretraining text).
        heldout_text_rows: score only its first N (packed) test rows.
        reporter: where progress goes: one line per stage, a bar while evaluating, compact
            training lines (:mod:`trainers.progress`; default: nowhere).
    """
    unknown = [m for m in methods if m not in TRAINERS]
    if unknown:
        raise FtdataError(f"--method: unknown {', '.join(unknown)}; expected full and/or lora")
    out = Path(output)
    if out.exists() and (out / "compare.json").exists() and not overwrite:
        raise FtdataError(f"{out}: holds a comparison already (pass --overwrite to replace it)")
    for method in methods:  # refused now, not after the base model's evaluations
        check_run_dir(out / "runs" / method)
    out.mkdir(parents=True, exist_ok=True)
    ev = {k: v for k, v in (eval_options or {}).items() if k != "shots"}
    held_ev = {k: v for k, v in ev.items() if k != "max_rows"} | ({"max_rows": heldout_max_rows}
                                                                  if heldout_max_rows else {})
    reporter = quiet_reporter(reporter)
    stages = _Stages(reporter, len(shots) + 2 * len(methods) + (1 + len(methods) if heldout is not None else 0))
    total = _base_params(model)
    rows = []
    held_base = None

    def timed_eval(what: str, on, model_path, folder: str, label: str, **kw):
        stages.start(what)
        rep, secs, mem = _timed_eval(on, model_path, out / "evals" / folder, label, reporter=reporter, **kw)
        stages.end(what, scores_line(rep["tasks"]), secs)
        return rep, secs, mem

    if heldout is not None:
        held_base, _, _ = timed_eval("held-out, base", heldout, model, "heldout-base", "base", **held_ev)

    def ppl(which: str) -> dict | None:
        if heldout_text is None:
            return None
        return perplexity(heldout_text, which, max_rows=heldout_text_rows)

    ppl_base = ppl(model)
    for k in shots:
        rep, secs, mem = timed_eval(f"base {k}-shot", data, model, f"base-{k}shot", f"base {k}-shot", shots=k, **ev)
        rows.append({"setting": f"base {k}-shot", "method": None, "shots": k, "tasks": rep["tasks"],
                     "heldout": held_base["tasks"] if (held_base and k == 0) else None,
                     "heldout_perplexity": ppl_base if k == 0 else None,
                     "trainable_params": 0, "total_params": total, "train_seconds": None,
                     "eval_seconds": secs, "peak_memory": mem})
    for method in methods:
        opts = dict(train_options or {}) | (dict(lora_options or {}) if method == "lora" else {})
        run = out / "runs" / method
        stages.start(f"{method} fine-tune: training")
        summary = TRAINERS[method](data, model, run, overwrite=True, reporter=reporter, **opts)
        stages.end(f"{method} fine-tune: training", f"{summary['steps']} steps, loss {summary['train_loss']:.4f}, "
                   f"{summary['trainable_params']:,} params trained", summary["wall_seconds"])
        rep, secs, _ = timed_eval(f"{method} fine-tune", data, str(run), method, method, **ev)
        held = None
        if heldout is not None:
            held, _, _ = timed_eval(f"held-out, {method}", heldout, str(run), f"heldout-{method}", method, **held_ev)
        rows.append({"setting": f"{method} fine-tune", "method": method, "shots": 0, "tasks": rep["tasks"],
                     "heldout": held["tasks"] if held else None, "heldout_perplexity": ppl(str(run)),
                     "trainable_params": summary["trainable_params"],
                     "total_params": summary["total_params"], "train_seconds": summary["wall_seconds"],
                     "eval_seconds": secs, "peak_memory": summary["peak_memory"],
                     "tokens_per_second": summary["tokens_per_second"], "steps": summary["steps"],
                     "validation": summary.get("validation")})
    report = {"data": str(Path(data).resolve()), "heldout": str(Path(heldout).resolve()) if heldout else None,
              "heldout_text": str(Path(heldout_text).resolve()) if heldout_text else None,
              "model": model, "rows": rows}
    (out / "compare.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "compare.md").write_text(compare_markdown(report), encoding="utf-8")
    return report


def _cell(tasks: dict | None, key: str, metric: str | None = None) -> str:
    if not tasks or key not in tasks:
        return "—"
    m = tasks[key]["metrics"]
    if metric:
        return f"{m.get(metric, float('nan')):.2f}"
    h = headline(m)
    return f"{h[1]:.2f}" if h else "—"


def compare_markdown(report: dict) -> str:
    """The comparison as a Markdown table (scores 0..100)."""
    rows = report["rows"]
    first = rows[0]["tasks"]
    cols: list[tuple[str, str | None, str]] = []  # (task, metric or None, header)
    for key, t in first.items():
        m = t["metrics"]
        if "rouge1" in m:
            cols += [(key, r, f"{key} {r}") for r in ("rouge1", "rouge2", "rougeL")]
        elif "macro_f1" in m and "accuracy" in m:
            cols += [(key, r, f"{key} {r}") for r in ("accuracy", "macro_f1")]
        else:
            h = headline(m)
            cols.append((key, h[0] if h else None, f"{key} {h[0] if h else ''}"))
    held_keys = []
    base_held = next((r["heldout"] for r in rows if r["heldout"] and r["method"] is None), None)
    if base_held:
        held_keys = list(base_held)
    head = ["setting"] + [c[2] for c in cols] + [f"held-out {k} {headline(base_held[k]['metrics'])[0]} (Δ)"
                                                 for k in held_keys]
    base_ppl = next((r.get("heldout_perplexity") for r in rows if r.get("heldout_perplexity") and r["method"] is None),
                    None)
    if base_ppl:
        head.append("held-out text ppl (Δ)")
    head += ["trainable params", "peak mem MB (Δ)", "train s", "eval s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["setting"]] + [_cell(r["tasks"], k, m) for k, m, _ in cols]
        for k in held_keys:
            if r["heldout"] and k in r["heldout"]:
                name, val = headline(r["heldout"][k]["metrics"])
                before = base_held[k]["metrics"][name]
                cells.append(f"{val:.2f} ({val - before:+.2f})")
            else:
                cells.append("—")
        if base_ppl:
            p = r.get("heldout_perplexity")
            cells.append(f"{p['perplexity']:.2f} ({p['perplexity'] - base_ppl['perplexity']:+.2f})" if p else "—")
        pm = r["peak_memory"] or {}
        cells += [f"{r['trainable_params']:,} / {r['total_params']:,}",
                  f"{pm.get('peak_mb', 0):.0f} ({pm.get('delta_mb', 0):+.0f})",
                  "—" if r["train_seconds"] is None else f"{r['train_seconds']:.1f}", f"{r['eval_seconds']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    note = ("\nScores are 0..100 on the test split. Peak memory: CUDA allocator peak on a GPU, else the process's "
            "sampled resident set (Δ = rise during the step). Held-out Δ is the change from the base model (forgetting); "
            "held-out text ppl is the perplexity on the held-out raw text (a rise is forgetting).\n")
    return "\n".join(lines) + "\n" + note
