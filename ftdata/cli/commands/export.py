"""``ftdata export``, ``ftdata push`` and ``ftdata report``: hand a compiled directory on."""

from __future__ import annotations

import json

import click

from ftdata.cli.app import main
from ftdata.consume.export import FORMATS


@main.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--to", "to", required=True, type=click.Choice(FORMATS), help="Target format.")
@click.argument("dest", type=click.Path())
@click.option("--split", "splits", multiple=True, help="Export only this split (repeatable).")
@click.option("--overwrite", is_flag=True, help="Replace DEST if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def export(out, to, dest, splits, overwrite, as_json):
    """Export compiled directory OUT to DEST in the pre-tokenized shape a training stack reads.

    Token ids and labels are copied unchanged (labels unshifted, -100 = not trained); only the
    columns and the file layout change. DEST/README.md states the contract and how to load it.

    \b
    Example:
      ftdata export out/reviews --to axolotl dest/reviews-axolotl
    """
    from ftdata.consume.export import export as run_export

    res = run_export(out, to, dest, splits=list(splits) or None, overwrite=overwrite)
    if as_json:
        click.echo(json.dumps(res.as_dict(), indent=2))
        return
    rows = ", ".join(f"{s} {n}" for s, n in res.rows.items())
    click.echo(f"exported {out} -> {res.dest} ({res.format}: {', '.join(res.columns)}; rows: {rows})")
    for note in res.notes:
        click.echo(f"note: {note}")


@main.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repository private.")
@click.option("--dry-run", "dry_run", type=click.Path(file_okay=False), metavar="DIR",
              help="Write the folder that would be pushed to DIR and upload nothing.")
@click.option("--tokenizer", metavar="PATH_OR_NAME",
              help="The tokenizer that compiled OUT, when the recipe's name for it does not resolve from here.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def push(out, repo_id, private, dry_run, tokenizer, as_json):
    """Push compiled directory OUT to the Hugging Face Hub as dataset REPO_ID.

    Uploads Parquet shards per split under data/, a README.md dataset card (with the YAML
    configs block the Hub reads), manifest.json and the tokenizer's files. The token comes
    from HF_TOKEN or `hf auth login` and is never printed.

    \b
    Example:
      ftdata push out/reviews org/reviews-sft --private
      ftdata push out/reviews org/reviews-sft --dry-run hub-preview/
    """
    from ftdata.consume.push import push as run_push

    res = run_push(out, repo_id, private=private, dry_run=dry_run, tokenizer=tokenizer)
    if as_json:
        click.echo(json.dumps(res.as_dict(), indent=2))
    elif res.dry_run:
        click.echo(f"dry run: wrote {len(res.files)} file(s) for {repo_id} to {res.dry_run} (nothing uploaded); "
                   f"check it with datasets.load_dataset('{res.dry_run}')")
    else:
        click.echo(f"pushed {out} -> {res.url} ({len(res.files)} file(s), commit {res.commit})")


@main.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of OUT/report.html.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def report(out, output, as_json):
    """Write the build report of OUT: one self-contained HTML page with plots.

    Token-length histograms per split and task, supervised-token fraction, rejects by reason,
    requested versus realized mixture and the boundary audit. Every build writes it too.

    \b
    Example:
      ftdata report out/reviews && xdg-open out/reviews/report.html
    """
    from ftdata.write.report import report as run_report

    path = run_report(out, output)
    if as_json:
        click.echo(json.dumps({"report": str(path), "bytes": path.stat().st_size}))
    else:
        click.echo(f"wrote {path}")
