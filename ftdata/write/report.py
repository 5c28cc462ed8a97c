"""The build report: one self-contained ``report.html`` per compiled directory.

Plots are PNGs drawn with matplotlib's Agg backend and embedded as base64 ``data:`` URIs, and
the styles are inline, so the file opens anywhere with nothing beside it and nothing fetched.
Sections: summary, token-length histograms per split and task, supervised-token fraction,
rejects by reason, requested versus realized mixture (when the manifest has a ``mixture``),
boundary audit (the manifest's ``audit`` plus the straddling-token counts).

Without matplotlib (it comes with the ``train`` / ``export`` extras) the report keeps every
table and says that the plots need it.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..constants import BUILD_INFO, IGNORE_INDEX
from ..errors import FtdataError
from ..read.mapped import MappedFiles, Release
from ..rejects import meaning
from .card import FIELD_CUT_HEAD, field_cut_rows, field_cut_total, mixture_method, mixture_rows

REPORT = "report.html"
#: How every report begins and how its title ends: what tells a report ftdata wrote (which
#: ``ftdata report -o FILE`` may replace) from any other file.
_HEAD = "<!doctype html><html lang=en><head><meta charset=utf-8><title>"
_TITLE_END = " — ftdata build report</title>"
#: Rows per slice when computing per-example statistics (bounds memory on large splits).
STATS_SLICE = 8192
#: Columns the report reads from each split.
_COLUMNS = ("input_ids", "labels", "seq_lengths", "task")
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


# -- data ---------------------------------------------------------------------------------
def _shard_tables(folder: Path, manifest: dict, maps: MappedFiles) -> dict[str, pa.Table]:
    """Read the splits from the Arrow shards the manifest lists (used by the build, before COMPLETED).

    The shards are mapped into ``maps``; their pages are handed back after each statistics slice
    (flat RSS).
    """
    out = {}
    for split, shards in manifest.get("shards", {}).items():
        parts = []
        for s in shards:
            mm = maps.map(folder / s["file"])
            with pa.ipc.open_stream(pa.py_buffer(mm)) as reader:
                parts.append(reader.read_all().select([c for c in _COLUMNS if c in reader.schema.names]))
        if parts:
            out[split] = pa.concat_tables(parts)
    return out


def _segment_counts(labels: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Trained labels (not ``IGNORE_INDEX``) in each of the back-to-back segments of ``labels``
    with the given ``lengths``: one pass, no running sum as long as the labels."""
    ends = np.cumsum(lengths)
    trained = labels[:int(ends[-1]) if ends.size else 0] != IGNORE_INDEX
    out = np.zeros(lengths.size, dtype=np.int64)
    some = lengths > 0  # reduceat cannot sum an empty segment: those stay 0
    if some.any():
        out[some] = np.add.reduceat(trained, (ends - lengths)[some], dtype=np.int64)
    return out


def split_stats(table: pa.Table, release: Release | None = None) -> dict[str, np.ndarray]:
    """Per example (per document in packed rows): token length, trained tokens, supervised fraction, task.

    ``release``: called after each slice to hand back the mapped shards' pages (None: keep them).
    """
    packed = "seq_lengths" in table.column_names
    parts: dict[str, list] = {"length": [], "lab_len": [], "trained": [], "task": []}
    # a bounded slice at a time: flattening whole columns would hold every label of the split
    # in memory (several bytes per token), which grows with the data
    for batch in table.to_batches(max_chunksize=STATS_SLICE):
        labels = batch.column("labels")
        if packed:  # documents lie back to back in each row, so the flat arrays split at their lengths
            lengths = pc.list_flatten(batch.column("seq_lengths")).to_numpy(zero_copy_only=False).astype(np.int64)
            lab_len = lengths
        else:
            lengths = pc.list_value_length(batch.column("input_ids")).to_numpy(zero_copy_only=False).astype(np.int64)
            lab_len = pc.list_value_length(labels).to_numpy(zero_copy_only=False).astype(np.int64)
        flat = pc.list_flatten(labels).to_numpy(zero_copy_only=False)
        parts["trained"].append(_segment_counts(flat, lab_len))
        parts["length"].append(lengths)
        parts["lab_len"].append(lab_len)
        if "task" in table.column_names:
            col = batch.column("task")
            parts["task"].append((pc.list_flatten(col) if packed else col).to_numpy(zero_copy_only=False))
        del labels, flat, batch
        if release is not None:
            release(0, None)
    cat = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in parts.items() if k != "task"}
    lengths, lab_len, trained = cat["length"], cat["lab_len"], cat["trained"]
    # causal: share of the sequence that is trained; seq2seq: of the labels (the decoder side)
    denom = np.where(lab_len == lengths, lengths, lab_len)
    if "task" not in table.column_names:
        tasks = np.array(["(all)"] * len(lengths), dtype=object)
    else:
        tasks = np.concatenate(parts["task"]) if parts["task"] else np.zeros(0, dtype=object)
    return {"length": lengths, "trained": trained, "fraction": trained / np.maximum(denom, 1), "task": tasks}


# -- plots --------------------------------------------------------------------------------
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _subplots(n: int, width: float = 4.2, height: float = 3.0, left: float = 0.75, right: float = 0.15):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    # a fixed layout: tight_layout / bbox_inches="tight" measure every label and double the cost
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False,
                             gridspec_kw={"left": left / (width * cols), "right": 1 - right / (width * cols),
                                          "bottom": 0.55 / (height * rows), "top": 1 - 0.35 / (height * rows),
                                          "wspace": 0.3, "hspace": 0.45})
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _length_plot(stats: dict, max_length: int | None) -> str:
    fig, axes = _subplots(len(stats))
    for ax, (split, s) in zip(axes, stats.items()):
        tasks = sorted(set(s["task"].tolist()))
        data = [s["length"][s["task"] == t] for t in tasks]
        hi = int(max(s["length"].max(initial=1), 1))
        ax.hist(data, bins=min(40, hi), range=(0, hi + 1), stacked=True, label=tasks, histtype="stepfilled",
                color=_COLORS[: len(tasks)] if len(tasks) <= len(_COLORS) else None)
        if max_length and max_length <= hi * 1.5:
            ax.axvline(max_length, color="k", ls="--", lw=1, label=f"max_length {max_length}")
        ax.set_title(f"{split} ({len(s['length'])} examples)")
        ax.set_xlabel("tokens per example")
        ax.set_ylabel("examples")
        ax.legend(fontsize=7)
    return _png(fig)


def _fraction_plot(stats: dict) -> str:
    fig, axes = _subplots(1, width=6.0)
    ax = axes[0]
    for i, (split, s) in enumerate(stats.items()):
        total = s["length"].sum()
        agg = s["trained"].sum() / total if total else 0.0
        ax.hist(s["fraction"], bins=30, range=(0, 1), histtype="step", lw=2, color=_COLORS[i % len(_COLORS)],
                density=True, label=f"{split}: {agg:.3f} of all tokens")
    ax.set_xlabel("trained tokens / tokens, per example")
    ax.set_ylabel("density")
    ax.set_title("supervised-token fraction")
    ax.legend(fontsize=8)
    return _png(fig)


def _bar_plot(panels: dict[str, tuple[list[str], dict[str, list]]], xlabel: str) -> str:
    """Horizontal bars, one panel per key: ``{title: (labels, {series: values})}``."""
    height = max(2.0, 0.45 * max(len(lb) for lb, _ in panels.values()) + 1)
    longest = max(len(str(x)) for lb, _ in panels.values() for x in lb)
    legend = any(len(series) > 1 for _, series in panels.values())
    # room for the longest bar label on the left and, when there is one, the legend on the right
    fig, axes = _subplots(len(panels), width=5.0 + 0.07 * longest, height=height, left=0.3 + 0.07 * longest,
                          right=1.0 if legend else 0.15)
    for ax, (title, (labels, series)) in zip(axes, panels.items()):
        y = np.arange(len(labels))
        h = 0.8 / len(series)
        for i, (name, vals) in enumerate(series.items()):
            bars = ax.barh(y + i * h, [v or 0 for v in vals], height=h, label=name, color=_COLORS[i % len(_COLORS)])
            ax.bar_label(bars, labels=[_cell(v) for v in vals], fontsize=7, padding=2)
        ax.set_yticks(y + h * (len(series) - 1) / 2, labels)
        ax.invert_yaxis()
        ax.margins(x=0.15)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        if len(series) > 1:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


# -- html ---------------------------------------------------------------------------------
_CSS = """body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;
color:#222;padding:0 16px}h1{margin-bottom:2px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
.sub{color:#666}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}.card{background:#f4f6fa;border-radius:8px;
padding:10px 16px;min-width:130px}.card b{display:block;font-size:22px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 9px;text-align:right}th{background:#f4f6fa}td.t,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;border-radius:6px}.note{color:#8a5a00;background:#fff6e0;padding:6px 10px;
border-radius:6px}code{background:#f4f6fa;padding:1px 4px;border-radius:3px}"""


def _e(x) -> str:
    return html.escape(str(x))


def _cell(v) -> str:
    if v is None:
        return "–"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _table(head: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td class=t>{_e(c)}</td>" if isinstance(c, str) else f"<td>{_e(_cell(c))}</td>"
                                    for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _img(b64: str | None, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">' if b64 else ""


def _flatten(d, prefix="") -> list[tuple[str, object]]:
    out = []
    for k, v in (d.items() if isinstance(d, dict) else []):
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out += _flatten(v, key)
        else:
            out.append((key, json.dumps(v) if isinstance(v, (list, tuple)) else v))
    return out


def _audit(audit, tok: dict, order: list[str]) -> list[str]:
    """The audit as a check x split table (the manifest's ``audit.splits``), with each check's meaning."""
    if not isinstance(audit, dict) or not isinstance(audit.get("splits"), dict):
        rows = [[f"{s}: straddling_boundary", tok[s]["straddling_boundary"]] for s in order]
        rows += [[k, v] for k, v in _flatten(audit or {})]
        note = [] if audit else ["<p>This build's manifest has no <code>audit</code> entry; straddling-token counts only.</p>"]
        return note + [_table(["check", "count"], rows)]
    per = audit["splits"]
    splits = [s for s in order if s in per] + [s for s in per if s not in order]
    notes = audit.get("notes") or {}
    checks = list(notes) + sorted({k for s in per.values() for k in s if k not in notes and k != "examples"})
    rows = [[c, *[per[s].get(c, "–") for s in splits], notes.get(c, "")] for c in checks]
    extra = [[k, v] for k, v in audit.items() if k not in ("splits", "notes") and not isinstance(v, dict)]
    bad = sum(v for r in rows for v in r[1:-1] if isinstance(v, int))
    return ((["<p>All checks at zero.</p>"] if not bad else []) + [
             _table(["check", *splits, "meaning"], rows)] + ([_table(["setting", "value"], extra)] if extra else []))


def render_report(manifest: dict, tables: dict[str, pa.Table], build_info: dict | None = None,
                  release: Release | None = None) -> str:
    """The report's HTML for a manifest and its split tables (``input_ids``, ``labels``, ``task``).

    ``release``: hands back the pages of mapped tables after each statistics slice (None: keep).
    """
    try:
        import matplotlib  # noqa: F401

        plots = True
    except ImportError:
        plots = False
    m = manifest
    stats = {s: split_stats(t, release) for s, t in tables.items() if t.num_rows}
    # the build's split order (train, validation, test) rather than the manifest's sorted keys
    order = [s for s in tables if s in manifest["tokens"]] + [s for s in manifest["tokens"] if s not in tables]
    counts = m["counts"]
    tok = m["tokens"]
    n_ex = sum(s["examples"] for s in counts["splits"].values())
    n_tok = sum(t["tokens"] for t in tok.values())
    n_tr = sum(t["trained_tokens"] for t in tok.values())
    rows_read = sum(c["rows_read"] for c in counts["sources"].values())
    secs = (build_info or {}).get("seconds", {}).get("total")
    cards = [("rows read", rows_read), ("examples", n_ex), ("rejects", counts.get("rejects", 0)),
             ("tokens", n_tok), ("supervised fraction", f"{n_tr / n_tok:.3f}" if n_tok else "–")]
    if secs is not None:
        cards.append(("build seconds", secs))
    parts = [f"<h1>{_e(m['name'])} — build report</h1>",
             f"<div class=sub>ftdata {_e(m['ftdata_version'])} · {_e(m['layout'])} layout · tokenizer "
             f"<code>{_e(m['tokenizer']['name'])}</code> · max_length {_e(m['max_length'])} · seed {_e(m['seed'])} · "
             f"recipe <code>{_e(m['hashes']['recipe'][:16])}</code></div>",
             "<div class=cards>" + "".join(f"<div class=card><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards) + "</div>"]
    if not plots:
        parts.append("<p class=note>matplotlib is not installed: tables only (pip install 'ftdata[export]' for plots).</p>")

    parts.append("<h2>Token lengths per split and task</h2>")
    if plots and stats:
        parts.append(_img(_length_plot(stats, m.get("max_length")), "token length histograms"))
    parts.append(_table(["split", "examples", "tokens", "min", "p50", "p90", "p99", "max", "mean", "truncated"],
                        [[s, tok[s]["examples"], tok[s]["tokens"], *[(tok[s].get("length") or {}).get(k, "–") for k in
                          ("min", "p50", "p90", "p99", "max", "mean")], tok[s]["truncated"]] for s in order]))

    cut = field_cut_rows(m)
    if cut is not None:
        parts.append(f"<h2>Field truncation</h2><p>A template's <code>truncate</code> field shortened by tokens so "
                     f"the example fits max_length (the completion is never cut): {_e(field_cut_total(cut))}.</p>")
        if cut:
            parts.append(_table(FIELD_CUT_HEAD, cut))

    pk = m.get("packing")
    if isinstance(pk, dict) and isinstance(pk.get("splits"), dict):
        parts.append(f"<p>Packed ({_e(pk.get('method'))}, max_length {_e(pk.get('max_length'))}): the histograms "
                     f"count documents; overall fill ratio {_e(_cell(pk.get('fill_ratio')))}.</p>")
        parts.append(_table(["split", "rows", "documents", "tokens", "fill ratio"],
                            [[s, p.get("rows"), p.get("documents"), p.get("tokens"), p.get("fill_ratio")]
                             for s, p in pk["splits"].items()]))

    parts.append("<h2>Supervised-token fraction</h2>")
    if plots and stats:
        parts.append(_img(_fraction_plot(stats), "supervised fraction histogram"))
    task_rows = [[split, task, tt["tokens"], tt["trained_tokens"], round(tt["trained_tokens"] / max(tt["tokens"], 1), 3)]
                 for split in order for task, tt in counts["splits"][split].get("task_tokens", {}).items()]
    parts.append(_table(["split", "task", "tokens", "trained tokens", "fraction"], task_rows))

    parts.append("<h2>Rejects by reason</h2>")
    by_code = counts.get("rejects_by_code") or {}
    if by_code:
        codes = sorted(by_code, key=lambda c: -by_code[c])
        if plots:
            parts.append(_img(_bar_plot({"rejects by reason": (codes, {"rejects": [by_code[c] for c in codes]})},
                                        "count"), "rejects by reason"))
        parts.append(_table(["reason", "rejects", "meaning"], [[c, by_code[c], meaning(c)] for c in codes]))
        parts.append(_table(["stage", "rejects"], sorted((counts.get("rejects_by_stage") or {}).items())))
    else:
        parts.append("<p>No rejects: every row read is in the output.</p>")
    parts.append(_table(["source", "rows read", "rejected", "with output", "templates", "examples written",
                         "examples rejected"],
                        [[n, c["rows_read"], c["rows_rejected"], c["rows_with_output"], c["templates"],
                          c["examples_written"], c["examples_rejected"]] for n, c in counts["sources"].items()]))

    parts.append("<h2>Mixture: requested versus realized</h2>")
    mix = mixture_rows(m.get("mixture"))
    if mix:
        parts.append(f"<p>{_e(mixture_method(m['mixture']))}</p>".replace("`", ""))
        if plots:
            panels = {}
            for split in dict.fromkeys(r["split"] for r in mix):
                rs = [r for r in mix if r["split"] == split]
                panels[f"{split} mixture"] = ([r["task"] for r in rs], {"requested": [r["requested"] for r in rs],
                                                                       "realized": [r["realized"] for r in rs]})
            parts.append(_img(_bar_plot(panels, "share of the split"), "mixture"))
        parts.append(_table(["split", "task", "requested", "realized", "examples", "available"],
                            [[r["split"], r["task"], r["requested"], r["realized"], r["examples"], r["available"]]
                             for r in mix]))
    elif m.get("mixture"):
        parts.append(_table(["key", "value"], _flatten(m["mixture"])))
    else:
        parts.append("<p>No mixture in this recipe: every example of every task is kept once.</p>")

    parts.append("<h2>Boundary audit</h2>")
    parts += _audit(m.get("audit"), tok, order)
    cont = m.get("contamination")
    if isinstance(cont, dict) and isinstance(cont.get("splits"), dict):
        parts.append(f"<h2>Contamination ({_e(cont.get('ngram'))}-gram overlap with "
                     f"{_e(cont.get('train_split', 'train'))})</h2>")
        parts.append(_table(["split", "examples", "contaminated", "share"],
                            [[s, c.get("examples"), c.get("contaminated"), c.get("share")]
                             for s, c in cont["splits"].items()]))
    return (f"{_HEAD}{_e(m['name'])}{_TITLE_END}<style>{_CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def write_report(folder: str | Path, manifest: dict, tables: dict[str, pa.Table] | None = None,
                 dest: str | Path | None = None) -> Path:
    """Write ``report.html`` (into ``folder`` unless ``dest`` is given); tables default to its shards."""
    folder = Path(folder)
    maps = MappedFiles()  # this report's own maps, closed below
    if tables is None:
        tables = _shard_tables(folder, manifest, maps)
    info_path = folder / BUILD_INFO
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else None
    out = Path(dest) if dest else folder / REPORT
    if dest is not None:
        _check_replaceable(out)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(render_report(manifest, tables, info, maps.release), encoding="utf-8")
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
    tables = {s: dd[s].data.table.select([c for c in _COLUMNS if c in dd[s].column_names]) for s in dd}
    return write_report(path, dd.manifest, tables, dest)
