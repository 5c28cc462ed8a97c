"""The build report: one self-contained ``report.html`` per compiled directory.

Plots are PNGs drawn with matplotlib's Agg backend and embedded as base64 ``data:`` URIs, and
the styles are inline, so the file opens anywhere with nothing beside it and nothing fetched.
Sections: summary cards (with the build time ``ftdata build`` prints), token-length histograms
per split and task, prompt and completion lengths per template, field truncation, the answer
distribution per split (templates with ``answer_choices``), the supervised-token fraction per
task, examples with their trained tokens marked, rejects by reason with a sample of each,
requested versus realized mixture (when the manifest has a ``mixture``), boundary audit (the
manifest's ``audit`` plus the straddling-token counts), contamination. Every text from the
data is escaped.

Without matplotlib (it comes with the ``train`` / ``export`` extras) the report keeps every
table and says that the plots need it.

This module owns the report's sections and its file (written in place of only a report
ftdata wrote); the statistics are :mod:`~ftdata.write.reportstats`, the examples and reject
samples :mod:`~ftdata.write.reportsamples`, the plots
:mod:`~ftdata.write.reportplots`, the HTML building blocks :mod:`~ftdata.write.reporthtml`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..constants import BUILD_INFO, REJECTS
from ..errors import FtdataError
from ..read.mapped import MappedFiles, Release
from ..rejects import meaning
from .card import FIELD_CUT_HEAD, field_cut_rows, field_cut_total, mixture_method, mixture_rows
from .reporthtml import CSS, audit_section, cell, esc, flatten, img, table
from .reportplots import bar_plot, fraction_plot, length_plot, side_plot
from .reportsamples import EXAMPLES_PER_TEMPLATE, examples_section, reject_samples, rejects_table
from .reportstats import COLUMNS, answer_counts, first_examples, shard_tables, split_stats

REPORT = "report.html"
#: How every report begins and how its title ends: what tells a report ftdata wrote (which
#: ``ftdata report -o FILE`` may replace) from any other file.
_HEAD = "<!doctype html><html lang=en><head><meta charset=utf-8><title>"
_TITLE_END = " — ftdata build report</title>"
#: One panel per template in the prompt/completion plot up to this many templates; per task beyond.
_PANELS = 12


def render_report(manifest: dict, tables: dict[str, pa.Table], build_info: dict | Callable[[], dict] | None = None,
                  release: Release | None = None, *, tokenizer=None, rejects: Path | None = None,
                  ahead: PlotsAhead | None = None) -> str:
    """The report's HTML for a manifest and its split tables (the :data:`~ftdata.write.reportstats.COLUMNS`).

    ``build_info``: the build's ``build_info.json``, or a function that gives it, called once every
    other section is drawn (so the build time it holds counts the report's own plots).
    ``release``: hands back the pages of mapped tables after each statistics slice (None: keep).
    ``tokenizer``: a ``tokenizers.Tokenizer`` that decodes the example tokens (None: the examples
    come from the text columns).
    ``rejects``: the build's ``rejects.jsonl`` (sampled per reason; None: no samples).
    ``ahead``: the per-example plots drawn while the build wrote the shards (:class:`PlotsAhead`);
    used when drawn from the same splits, else drawn here.
    """
    try:
        import matplotlib  # noqa: F401

        plots = True
    except ImportError:
        plots = False
    m = manifest
    seq2seq = m.get("layout") == "seq2seq"
    names = [s for s, t in tables.items() if t.num_rows]
    ahead_stats = ahead.stats(names) if ahead is not None else None
    stats = ahead_stats if ahead_stats is not None else {s: split_stats(tables[s], release, seq2seq) for s in names}
    # the build's split order (train, validation, test) rather than the manifest's sorted keys
    order = [s for s in tables if s in manifest["tokens"]] + [s for s in manifest["tokens"] if s not in tables]
    answers = {s: answer_counts(tables[s], release) for s in names}
    first = next(iter(stats), None)
    docs = first_examples(tables[first], stats[first], EXAMPLES_PER_TEMPLATE) if first else []
    drawn = ahead.images(list(stats), m.get("max_length")) if ahead is not None and plots else None
    images = drawn if drawn is not None else plot_images(stats, m.get("max_length")) if plots else {}
    parts = _lengths(m, stats, order, images)
    parts += _templates(m, stats, order, images)
    parts += _field_cuts(m, order, plots) + _packing(m)
    parts += _answers(answers, order, plots)
    parts += _fraction(m, stats, order, images)
    parts.append("<h2>Examples as trained</h2>")
    parts += examples_section(docs, first, tokenizer, seq2seq) if docs else ["<p>No examples.</p>"]
    parts += _rejects(m["counts"], plots, rejects)
    parts += _mixture(m, plots)
    parts.append("<h2>Boundary audit</h2>")
    parts += audit_section(m.get("audit"), m["tokens"], order)
    if (m.get("chat") or {}).get("templates"):  # chat builds: the chat checks per template (ftdata.plan.chataudit)
        parts += ["<h2>Chat checks</h2>", table(["template", "examples", "parity_mismatch", "span_fallback"],
                  [[k, v["examples"], v["parity_mismatch"], v["span_fallback"]] for k, v in m["chat"]["templates"].items()])]
    parts += _contamination(m)
    # last: a build's time is read once everything above is drawn
    info = build_info() if callable(build_info) else build_info
    return (f"{_HEAD}{esc(m['name'])}{_TITLE_END}<style>{CSS}</style></head><body>"
            + "\n".join(_summary(m, info, plots) + parts) + "</body></html>\n")


def _summary(m: dict, build_info: dict | None, plots: bool) -> list[str]:
    """The title, the build's settings and the headline numbers as cards."""
    counts = m["counts"]
    tok = m["tokens"]
    n_ex = sum(s["examples"] for s in counts["splits"].values())
    n_tok = sum(t["tokens"] for t in tok.values())
    n_tr = sum(t["trained_tokens"] for t in tok.values())
    rows_read = sum(c["rows_read"] for c in counts["sources"].values())
    secs = (build_info or {}).get("seconds", {}).get("total")
    cards = [("rows read", rows_read), ("examples", n_ex), ("rejects", counts.get("rejects", 0)),
             ("tokens", n_tok), ("supervised fraction", f"{n_tr / n_tok:.3f}" if n_tok else "–"),
             ("cut at max_length", sum(t["truncated"] for t in tok.values()))]
    cut = field_cut_rows(m)
    if cut is not None:
        cards.append(("fields shortened", sum(r[3] for r in cut)))
    if secs is not None:
        cards.append(("build seconds", secs))
    parts = [f"<h1>{esc(m['name'])} — build report</h1>",
             f"<div class=sub>ftdata {esc(m['ftdata_version'])} · {esc(m['layout'])} layout · tokenizer "
             f"<code>{esc(m['tokenizer']['name'])}</code> · max_length {esc(m['max_length'])} · seed {esc(m['seed'])} · "
             f"recipe <code>{esc(m['hashes']['recipe'][:16])}</code></div>",
             "<div class=cards>" + "".join(f"<div class=card><b>{esc(v)}</b>{esc(k)}</div>" for k, v in cards) + "</div>"]
    if not plots:
        parts.append("<p class=note>matplotlib is not installed: tables only (pip install 'ftdata[export]' for plots).</p>")
    return parts


def plot_images(stats: dict[str, dict[str, np.ndarray]], max_length: int | None) -> dict[str, str]:
    """The plots of the per-example statistics (:func:`~ftdata.write.reportstats.split_stats` per
    split, in the report's split order) as ``<img>`` tags: token lengths, prompt and completion
    lengths per template (per task beyond :data:`_PANELS` panels), supervised fraction. Empty
    without statistics."""
    if not stats:
        return {}
    panels = {s: {**st, "panel": _joined(st["task"], st["template"])} for s, st in stats.items()}
    many = len({p for st in panels.values() for p in np.unique(st["panel"]).tolist()}) > _PANELS
    return {"lengths": img(length_plot(stats, max_length), "token length histograms"),
            "templates": img(side_plot(panels, "task" if many else "panel", max_length),
                             "prompt and completion lengths"),
            "fraction": img(fraction_plot(stats), "supervised fraction histogram")}


class PlotsAhead:
    """The plots of :func:`plot_images`, drawn on a thread from the build's work table while the
    build writes the shards, for the report to use (:func:`render_report`).

    The report is drawn after phase B, on one core, and its plots of the per-example statistics
    are most of its time (0.24 of 0.28 s on 50,000 DialogSum examples); writing the shards
    (phase B's longest step) runs mostly outside the GIL, in Arrow and hashlib, so the plots can
    be drawn meanwhile. The thread takes the statistics of the work table's rows (every
    split's in its order: the rows its shards get) and draws the plots; it writes no file. The
    report uses them when they were drawn for its splits, in its order, with its
    ``max_length``, and draws them itself otherwise (also when the thread failed): the same
    images either way. The report takes the thread's statistics too (:meth:`stats`), rather than
    reading them again from the shards. Measured on the plain benchmark (warm builds, phase A cached, 3 each):
    phase B + commit 0.71 / 0.71 / 0.77 -> 0.72 / 0.63 / 0.59 s wall. A forked process instead
    was slower than no overlap (0.86-1.65 s): the build process's writes after the fork were
    copied on write.
    """

    def __init__(self, work: pa.Table, orders: dict[str, np.ndarray], seq2seq: bool, max_length: int | None):
        import threading

        self.key = ([name for name, order in orders.items() if len(order)], max_length)
        self._images: dict[str, str] | None = None
        self._stats: dict[str, dict[str, np.ndarray]] | None = None
        self._stats_done = threading.Event()
        # not a daemon: a process that ends (a failed build's CLI) waits for it rather than
        # tearing down the interpreter under it (matplotlib's C++ then aborts the process)
        self._thread = threading.Thread(target=self._draw, args=(work, orders, seq2seq), name="ftdata-report-plots")
        self._thread.start()

    def _draw(self, work: pa.Table, orders: dict[str, np.ndarray], seq2seq: bool) -> None:
        splits, max_length = self.key
        # whatever fails, the report reads the statistics or draws the plots itself
        try:
            every = split_stats(work, None, seq2seq)
            self._stats = {s: {k: v[orders[s]] for k, v in every.items()} for s in splits}
        except Exception:  # noqa: BLE001
            self._stats = None
        finally:
            self._stats_done.set()
        try:
            self._images = None if self._stats is None else plot_images(self._stats, max_length)
        except Exception:  # noqa: BLE001
            self._images = None

    def wait(self) -> None:
        """Until the thread is done (a failed build returns with no thread of its own running)."""
        self._thread.join()

    def stats(self, splits: list[str]) -> dict[str, dict[str, np.ndarray]] | None:
        """The per-example statistics of these splits (in this order), as
        :func:`~ftdata.write.reportstats.split_stats` reads them from the shards, once computed
        (before the plots are drawn); None when computed for other splits or when they failed."""
        self._stats_done.wait()
        return self._stats if self.key[0] == splits else None

    def images(self, splits: list[str], max_length: int | None) -> dict[str, str] | None:
        """The images, once drawn, when drawn for exactly these splits (in this order) and
        ``max_length``; None otherwise (the thread failed, or other splits): draw them here."""
        self.wait()
        return self._images if self.key == (splits, max_length) else None


def _lengths(m: dict, stats: dict[str, dict[str, np.ndarray]], order: list[str], images: dict[str, str]) -> list[str]:
    """Token lengths per split and task: histograms and a percentile table."""
    tok = m["tokens"]
    parts = ["<h2>Token lengths per split and task</h2>"]
    if "lengths" in images:
        parts.append(images["lengths"])
    parts.append("<p><b>cut at max_length</b>: examples whose tokens the overflow policy cut; <b>fields "
                 "shortened</b>: examples whose template's <code>truncate</code> field was shortened to fit "
                 "(see Field truncation).</p>")
    parts.append(table(["split", "examples", "tokens", "min", "p50", "p90", "p99", "max", "mean", "cut at max_length",
                        "fields shortened"],
                       [[s, tok[s]["examples"], tok[s]["tokens"], *[(tok[s].get("length") or {}).get(k, "–") for k in
                         ("min", "p50", "p90", "p99", "max", "mean")], tok[s]["truncated"],
                         (tok[s].get("field_truncated") or {}).get("examples", 0)] for s in order]))
    return parts


def _joined(task: np.ndarray, template: np.ndarray) -> np.ndarray:
    """``"task / template"`` per example, each distinct pair joined once and shared (an object
    array). ``np.char`` on the two columns made fixed-width copies of every example's names, four
    bytes per character of the longest: at 1M rows the report's peak memory grew by ~150 MB."""
    joined: dict = {}
    return np.array([joined.get(k) or joined.setdefault(k, f"{k[0]} / {k[1]}")
                     for k in zip(task.tolist(), template.tolist())], dtype=object)


def _templates(m: dict, stats: dict[str, dict[str, np.ndarray]], order: list[str], images: dict[str, str]) -> list[str]:
    """Per split, task and template: examples, tokens, trained share, prompt and completion lengths."""
    parts = ["<h2>Prompt and completion lengths per template</h2>"]
    if "templates" in images:
        parts.append(images["templates"])
    parts.append("<p>Causal layout: the completion is the trained tokens (with EOS when <code>add_eos</code>), the "
                 "prompt the untrained ones; seq2seq: <code>input_ids</code> and the labels.</p>")
    cut = {(r[0], r[1], r[2]): r[3] for r in field_cut_rows(m) or []}
    rows = []
    for split in order:
        s = stats.get(split)
        if s is None:
            continue
        for task, tpl in sorted(set(zip(s["task"].tolist(), s["template"].tolist()))):
            sel = (s["task"] == task) & (s["template"] == tpl)
            n_tok, n_tr = int(s["length"][sel].sum()), int(s["trained"][sel].sum())
            p, c = s["prompt"][sel], s["completion"][sel]
            rows.append([task, tpl, split, int(sel.sum()), n_tok, round(n_tr / max(n_tok, 1), 3),
                         float(np.median(p)), int(p.max()), float(np.median(c)), int(c.max()),
                         cut.get((split, task, tpl), 0)])
    rank = {s: i for i, s in enumerate(order)}
    rows.sort(key=lambda r: (r[0], r[1], rank[r[2]]))  # each template's splits side by side
    parts.append(table(["task", "template", "split", "examples", "tokens", "supervised fraction", "prompt p50",
                        "prompt max", "completion p50", "completion max", "fields shortened"], rows))
    return parts


def _field_cuts(m: dict, order: list[str], plots: bool) -> list[str]:
    """Fields a template's ``truncate`` shortened, when the recipe names such a field: counts, and
    the share of each template's examples per split."""
    cut = field_cut_rows(m)
    if cut is None:
        return []
    parts = [f"<h2>Field truncation</h2><p>A template's <code>truncate</code> field shortened by tokens so "
             f"the example fits max_length (the completion is never cut): {esc(field_cut_total(cut))}.</p>"]
    if not cut:
        return parts
    per = m["counts"]["splits"]
    rank = {s: i for i, s in enumerate(order)}
    cut.sort(key=lambda r: (rank.get(r[0], len(rank)), r[1], r[2]))

    def share(split, task, tpl, n):  # of the template's examples in that split
        total = (per.get(split) or {}).get("templates", {}).get(tpl)
        return round(n / total, 3) if total else None

    if plots:
        labels = list(dict.fromkeys(f"{r[1]} / {r[2]}" for r in sorted(cut, key=lambda r: (r[1], r[2]))))
        got = {(r[0], f"{r[1]} / {r[2]}"): share(*r[:4]) for r in cut}
        series = {s: [got.get((s, lb), 0.0) for lb in labels] for s in order if any(k[0] == s for k in got)}
        parts.append(img(bar_plot({"share of each template's examples whose field was shortened": (labels, series)},
                                  "share of the template's examples in the split"), "field truncation"))
    parts.append(table(FIELD_CUT_HEAD + ["share of the template's examples"], [r + [share(*r[:4])] for r in cut]))
    return parts


def _answers(answers: dict[str, dict], order: list[str], plots: bool) -> list[str]:
    """For templates with ``answer_choices``: each answer's share per split, and how far each split is
    from the first split's balance."""
    keys = list(dict.fromkeys(k for s in order for k in answers.get(s, {})))
    if not keys:
        return []
    parts = ["<h2>Answer distribution per split</h2>",
             "<p>Templates with <code>answer_choices</code>: how often each answer is the completion, per split. "
             "<b>gap</b>: the largest difference of an answer's share from its share in the first split.</p>"]
    panels, rows = {}, []
    for key in keys:
        entries = {s: answers[s][key] for s in order if key in answers.get(s, {})}
        choices = next((e["choices"] for e in entries.values() if e["choices"]), [])
        labels = list(dict.fromkeys(choices + [a for e in entries.values() for a in e["counts"]]))
        shares = {}
        for s, e in entries.items():
            total = sum(e["counts"].values())
            shares[s] = [round(e["counts"].get(a, 0) / total, 3) if total else 0.0 for a in labels]
        ref = next(iter(shares.values()))
        for s, e in entries.items():
            gap = max(abs(x - y) for x, y in zip(shares[s], ref))
            rows.append([key[0], key[1], s, sum(e["counts"].values()),
                         ", ".join(f"{a} {e['counts'].get(a, 0)} ({x:.1%})" for a, x in zip(labels, shares[s])),
                         round(gap, 3)])
        panels[f"{key[0]} / {key[1]}"] = (labels, shares)
    if plots:
        parts.append(img(bar_plot(panels, "share of the split's examples"), "answer distribution"))
    parts.append(table(["task", "template", "split", "examples", "answers", "gap"], rows))
    return parts


def _packing(m: dict) -> list[str]:
    """How packed rows were filled, for a packed build."""
    pk = m.get("packing")
    if not (isinstance(pk, dict) and isinstance(pk.get("splits"), dict)):
        return []
    return [f"<p>Packed ({esc(pk.get('method'))}, max_length {esc(pk.get('max_length'))}): the histograms "
            f"count documents; overall fill ratio {esc(cell(pk.get('fill_ratio')))}.</p>",
            table(["split", "rows", "documents", "tokens", "fill ratio"],
                  [[s, p.get("rows"), p.get("documents"), p.get("tokens"), p.get("fill_ratio")]
                   for s, p in pk["splits"].items()])]


def _fraction(m: dict, stats: dict[str, dict[str, np.ndarray]], order: list[str], images: dict[str, str]) -> list[str]:
    """The supervised-token fraction: a histogram, and trained tokens per split and task."""
    counts = m["counts"]
    parts = ["<h2>Supervised-token fraction</h2>"]
    if "fraction" in images:
        parts.append(images["fraction"])
    task_rows = [[split, task, tt["tokens"], tt["trained_tokens"], round(tt["trained_tokens"] / max(tt["tokens"], 1), 3)]
                 for split in order for task, tt in counts["splits"][split].get("task_tokens", {}).items()]
    parts.append(table(["split", "task", "tokens", "trained tokens", "fraction"], task_rows))
    return parts


def _rejects(counts: dict, plots: bool, path: Path | None) -> list[str]:
    """Rejects by reason (with each code's meaning) and by stage, a few records of each reason
    (from ``path``, the rejects file), and rows per source."""
    parts = ["<h2>Rejects by reason</h2>"]
    by_code = counts.get("rejects_by_code") or {}
    if by_code:
        codes = sorted(by_code, key=lambda c: -by_code[c])
        if plots:
            parts.append(img(bar_plot({"rejects by reason": (codes, {"rejects": [by_code[c] for c in codes]})},
                                      "count"), "rejects by reason"))
        parts.append(table(["reason", "rejects", "meaning"], [[c, by_code[c], meaning(c)] for c in codes]))
        parts.append(table(["stage", "rejects"], sorted((counts.get("rejects_by_stage") or {}).items())))
        samples = reject_samples(path, {c: by_code[c] for c in codes}) if path is not None else {}
        if any(samples.values()):
            n = max(len(v) for v in samples.values())
            parts.append(f"<h3>The first {n} rejects of each reason</h3><p>From <code>{REJECTS}</code>, "
                         f"which holds every one.</p>")
            parts.append(rejects_table(samples))
    else:
        parts.append("<p>No rejects: every row read is in the output.</p>")
    parts.append(table(["source", "rows read", "rejected", "with output", "templates", "examples written",
                        "examples rejected"],
                       [[n, c["rows_read"], c["rows_rejected"], c["rows_with_output"], c["templates"],
                         c["examples_written"], c["examples_rejected"]] for n, c in counts["sources"].items()]))
    return parts


def _mixture(m: dict, plots: bool) -> list[str]:
    """The mixture: each task's requested versus realized share per split."""
    parts = ["<h2>Mixture: requested versus realized</h2>"]
    mix = mixture_rows(m.get("mixture"))
    if mix:
        parts.append(f"<p>{esc(mixture_method(m['mixture']))}</p>".replace("`", ""))
        if plots:
            panels = {}
            for split in dict.fromkeys(r["split"] for r in mix):
                rs = [r for r in mix if r["split"] == split]
                panels[f"{split} mixture"] = ([r["task"] for r in rs], {"requested": [r["requested"] for r in rs],
                                                                       "realized": [r["realized"] for r in rs]})
            parts.append(img(bar_plot(panels, "share of the split"), "mixture"))
        parts.append(table(["split", "task", "requested", "realized", "examples", "available"],
                           [[r["split"], r["task"], r["requested"], r["realized"], r["examples"], r["available"]]
                            for r in mix]))
    elif m.get("mixture"):
        parts.append(table(["key", "value"], flatten(m["mixture"])))
    else:
        parts.append("<p>No mixture in this recipe: every example of every task is kept once.</p>")
    return parts


def _contamination(m: dict) -> list[str]:
    """n-gram overlap of each split with the training split, when the recipe checked it."""
    cont = m.get("contamination")
    if not (isinstance(cont, dict) and isinstance(cont.get("splits"), dict)):
        return []
    return [f"<h2>Contamination ({esc(cont.get('ngram'))}-gram overlap with "
            f"{esc(cont.get('train_split', 'train'))})</h2>",
            table(["split", "examples", "contaminated", "share"],
                  [[s, c.get("examples"), c.get("contaminated"), c.get("share")]
                   for s, c in cont["splits"].items()])]


def write_report(folder: str | Path, manifest: dict, tables: dict[str, pa.Table] | None = None,
                 dest: str | Path | None = None, *, tokenizer=None,
                 build_info: dict | Callable[[], dict] | None = None, ahead: PlotsAhead | None = None) -> Path:
    """Write ``report.html`` (into ``folder`` unless ``dest`` is given); tables default to its shards.

    ``tokenizer``: a ``tokenizers.Tokenizer`` (a fast tokenizer's ``backend_tokenizer``) that
    decodes the examples (None: the manifest's when it is the built-in one or a local folder that
    matches the manifest, else the text columns). ``build_info``: the dict, or
    a function giving it once the plots are drawn (:func:`render_report`); None reads the folder's
    ``build_info.json``. ``ahead``: plots drawn ahead by the build (:func:`render_report`).
    """
    folder = Path(folder)
    maps = MappedFiles()  # this report's own maps, closed below
    if tables is None:
        tables = shard_tables(folder, manifest, maps)
    if build_info is None:
        info_path = folder / BUILD_INFO
        build_info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else None
    if tokenizer is None:
        tokenizer = _local_tokenizer(manifest)
    out = Path(dest) if dest else folder / REPORT
    if dest is not None:
        _check_replaceable(out)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(render_report(manifest, tables, build_info, maps.release, tokenizer=tokenizer,
                                     rejects=folder / REJECTS, ahead=ahead), encoding="utf-8")
        if dest is not None:
            _check_replaceable(out)  # nothing else appeared there meanwhile
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        del tables
        maps.close()  # unmapped once no table refers to them
    os.replace(tmp, out)
    return out


def _local_tokenizer(manifest: dict):
    """The manifest's tokenizer (its ``tokenizers`` backend, which decodes without loading
    transformers) when it is on this machine (the built-in one or a local folder with a
    ``tokenizer.json``) and matches the manifest's vocabulary size; else None."""
    from tokenizers import Tokenizer

    from ..tokenize.tokenizer import resolve_tokenizer_name

    t = manifest.get("tokenizer") or {}
    path = Path(resolve_tokenizer_name(t["name"])) / "tokenizer.json" if t.get("name") else None
    if path is None or not path.is_file():
        return None
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception:  # noqa: BLE001 - the examples then come from the text columns, and say so
        return None
    return tok if tok.get_vocab_size(with_added_tokens=True) == t.get("vocab_size") else None


def is_report(path: str | Path) -> bool:
    """Whether ``path`` is a file holding a build report ftdata wrote (it begins as one)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16).decode("utf-8", "replace")
    except OSError:
        return False
    return head.startswith(_HEAD) and _TITLE_END in head.partition("</title>")[0] + "</title>"


def _check_replaceable(out: Path) -> None:
    """Raise unless ``out`` is absent or a report ftdata wrote: nothing else is ever replaced."""
    if (out.exists() or out.is_symlink()) and not is_report(out):
        what = "a folder" if out.is_dir() else "a file"
        raise FtdataError(f"{out} is {what} that is not an ftdata build report: ftdata replaces "
                          "only a report it wrote, so that nothing else is ever deleted; choose "
                          "another file (-o) or move it away yourself")


def report(path: str | Path, dest: str | Path | None = None) -> Path:
    """Write the build report of a complete compiled directory; returns the report's path."""
    from ..inspect.load import load_compiled

    dd = load_compiled(path)
    tables = {s: dd[s].data.table.select([c for c in COLUMNS if c in dd[s].column_names]) for s in dd}
    return write_report(path, dd.manifest, tables, dest)
