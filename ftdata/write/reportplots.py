"""The build report's plots: PNGs drawn with matplotlib's Agg backend, returned as base64.

Token-length histograms per split and task, prompt- and completion-length histograms per
template, the supervised-token fraction per task (its axis fitted to the data), and horizontal
bar panels (field truncation, answer distributions, rejects by reason, mixture requested versus
realized). matplotlib is imported only
when a plot is drawn; :func:`ftdata.write.report.render_report` leaves the plots out without it.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from .reporthtml import cell

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _subplots(n: int, width: float = 4.2, height: float = 3.0, left: float = 0.75, right: float = 0.15):
    """A figure of ``n`` panels, three to a row, and its axes.

    A bare ``Figure`` on the Agg canvas (no pyplot: no figure manager to register and close), and
    only the ``n`` axes drawn: an axes' ticks are most of a plot's cost, and a hidden one costs as
    much to make as a visible one.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(width * cols, height * rows))
    FigureCanvasAgg(fig)
    # a fixed layout: tight_layout / bbox_inches="tight" measure every label and double the cost
    grid = fig.add_gridspec(rows, cols, left=left / (width * cols), right=1 - right / (width * cols),
                            bottom=0.55 / (height * rows), top=1 - 0.35 / (height * rows),
                            # the gap between panels holds one panel's right margin and
                            # the next one's left (its labels): as a share of a panel's axes
                            wspace=(left + right + 0.1) / (width - left - right), hspace=0.45)
    return fig, [fig.add_subplot(grid[i // cols, i % cols]) for i in range(n)]


def length_plot(stats: dict, max_length: int | None) -> str:
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


def fitted_range(values: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> tuple[float, float]:
    """An axis range around ``values`` (5% margin each side), kept inside ``[lo, hi]``.

    A narrow band of values gets a narrow axis, so its shape is visible rather than one bar at
    the edge of a fixed ``[lo, hi]``; a single value gets a small window around it.
    """
    if not len(values):
        return lo, hi
    a, b = float(np.min(values)), float(np.max(values))
    pad = (b - a) * 0.05 if b > a else max(abs(a) * 0.05, (hi - lo) * 0.01)
    return max(lo, a - pad), min(hi, b + pad)


def side_plot(stats: dict, key: str, max_length: int | None) -> str:
    """Prompt and completion tokens per example, one panel per value of the statistics' column
    ``key``, all splits together, on shared bins."""
    col = np.concatenate([s[key] for s in stats.values()])
    names = sorted(set(col.tolist()), key=str)
    fig, axes = _subplots(len(names))
    for ax, name in zip(axes, names):
        sides = {side: np.concatenate([s[side][s[key] == name] for s in stats.values()])
                 for side in ("prompt", "completion")}
        hi = int(max(max(v.max(initial=1) for v in sides.values()), 1))
        edges = np.linspace(0, hi + 1, min(40, hi + 1) + 1)
        for i, (side, v) in enumerate(sides.items()):
            ax.hist(v, bins=edges, histtype="stepfilled", alpha=0.55, color=_COLORS[i],
                    label=f"{side} (p50 {np.median(v):.0f}, max {v.max(initial=0)})")
        if max_length and max_length <= (hi + 1) * 1.2:
            ax.axvline(max_length, color="k", ls="--", lw=1, label=f"max_length {max_length}")
        n = len(sides["prompt"])
        ax.set_title(f"{name} ({n} examples)", fontsize=9)
        ax.set_xlabel("tokens per example")
        ax.set_ylabel("examples")
        ax.set_ylim(top=ax.get_ylim()[1] * 1.35)  # headroom: the legend sits above the bars, not on them
        ax.legend(fontsize=7, loc="upper center", ncol=1)
    return _png(fig)


def fraction_plot(stats: dict) -> str:
    """The supervised-token fraction per example: one panel per task, a line per split, the x axis
    fitted to the task's values (not a fixed 0 to 1)."""
    tasks = list(dict.fromkeys(np.concatenate([s["task"] for s in stats.values()]).tolist()))
    fig, axes = _subplots(len(tasks))
    for ax, task in zip(axes, tasks):
        rng = fitted_range(np.concatenate([s["fraction"][s["task"] == task] for s in stats.values()]))
        for i, (split, s) in enumerate(stats.items()):
            sel = s["task"] == task
            if not sel.any():
                continue
            total = s["length"][sel].sum()
            agg = s["trained"][sel].sum() / total if total else 0.0
            ax.hist(s["fraction"][sel], bins=30, range=rng, histtype="step", lw=2, color=_COLORS[i % len(_COLORS)],
                    density=True, label=f"{split}: {agg:.3f} of all tokens")
        ax.set_xlim(*rng)
        ax.set_ylim(top=ax.get_ylim()[1] * 1.35)  # headroom: the legend sits above the lines
        ax.set_xlabel("trained tokens / tokens, per example")
        ax.set_ylabel("density")
        ax.set_title(f"task {task}", fontsize=9)
        ax.legend(fontsize=7, loc="upper center")
    return _png(fig)


def bar_plot(panels: dict[str, tuple[list[str], dict[str, list]]], xlabel: str) -> str:
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
            ax.bar_label(bars, labels=[cell(v) for v in vals], fontsize=7, padding=2)
        ax.set_yticks(y + h * (len(series) - 1) / 2, labels)
        ax.invert_yaxis()
        ax.margins(x=0.15)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        if len(series) > 1:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)
