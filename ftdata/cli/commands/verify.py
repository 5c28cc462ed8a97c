"""``ftdata verify OUT``: check a compiled directory against its manifest."""

from __future__ import annotations

import json

import click

from ftdata.cli.app import main


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("--quick", is_flag=True, help="Skip the sha256 of each shard (sizes and row counts only).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(output, quick, as_json):
    """Check OUTPUT: COMPLETED marker, every shard's sha256, size and row count.

    Exits 0 when the folder verifies, 2 (with every problem listed) when it does not. If a build
    was killed while replacing OUTPUT and left the previous build aside, that build is put back
    first (and a line on stderr says so).

    \b
    Example:
      ftdata verify out/reviews
    """
    from ftdata.inspect.verify import VerifyError, check_output
    from ftdata.write.outdir import restore_previous

    restored = restore_previous(output)  # a build killed while replacing OUTPUT left the old one aside
    if restored is not None:
        click.echo(f"restored: {output} had no complete build (a build was killed while replacing it); "
                   f"the previous build was put back from {restored.name}", err=True)
    rep = check_output(output, "quick" if quick else "full")
    if as_json:
        click.echo(json.dumps(rep.as_dict(), indent=2))
    if not rep.ok:
        raise VerifyError(rep.path, rep.problems)
    if not as_json:
        click.echo(f"ok: {rep.path} ({rep.shards} shard(s), {rep.rows} rows, {rep.bytes:,} bytes, {rep.depth} check)")
