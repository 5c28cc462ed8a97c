"""``ftdata inspect``: statistics, the boundary audit and decoded examples of a compiled folder."""

from __future__ import annotations

import json
import sys

import click

from ftdata.cli.app import main
from ftdata.constants import IGNORE_INDEX


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("--split", "-s", default=None, help="Split to show examples from (default: the first).")
@click.option("-n", default=3, show_default=True, help="Rows to decode.")
@click.option("--tokenizer", default=None, help="Tokenizer to decode with (default: the manifest's).")
@click.option("--color/--no-color", default=None, help="Colour trained tokens (default: on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def inspect(output, split, n, tokenizer, color, as_json):
    """Show per-split and per-task statistics, the audit, and N decoded examples.

    Trained tokens are green on a terminal and inside « » when piped.

    \b
    Example:
      ftdata inspect out/reviews --split validation -n 2
    """
    from ftdata.inspect.display import LEGEND_COLOR, LEGEND_PLAIN
    from ftdata.plan.chataudit import chat_lines
    from ftdata.tokenize.audit import inspect_output, stats_lines

    rep = inspect_output(output, split=split, n=n, tokenizer=tokenizer)
    m = rep["manifest"]
    if as_json:
        keep = ("name", "layout", "max_length", "tokenizer", "counts", "tokens", "audit", "packing")
        keep += ("chat",) if "chat" in m else ()  # chat builds only
        click.echo(json.dumps({"path": rep["path"], "split": rep["split"], "manifest": {k: m.get(k) for k in keep},
                               "examples": rep["examples"]}, indent=2, ensure_ascii=False))
        return
    use_color = sys.stdout.isatty() if color is None else color
    click.echo("\n".join(stats_lines(m) + chat_lines(m.get("chat"))))
    click.echo(f"\n{rep['split']}: first {len(rep['examples'])} row(s) " + (LEGEND_COLOR if use_color else LEGEND_PLAIN))
    for i, docs in enumerate(rep["examples"]):
        for d in docs:
            trained = sum(1 for x in d["labels"] if x != IGNORE_INDEX)
            click.echo(f"\n── row {i} · {d['task']} · {d['template']} · key {d['row_key']} · "
                       f"{trained}/{len(d['ids'])} tokens trained " + "─" * 8)
            click.echo(_show(d["segments"], use_color))
            if d.get("boundary"):
                click.echo("  " + d["boundary"])


def _show(segments: list, color: bool) -> str:
    from ftdata.inspect.display import CLOSE, DIM, GREEN, OPEN, RESET

    if color:
        return "".join(f"{GREEN if trained else DIM}{text}{RESET}" for trained, text in segments)
    return "".join(f"{OPEN}{text}{CLOSE}" if trained else text for trained, text in segments)
