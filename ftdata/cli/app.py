"""The ``ftdata`` command line. Each command parses, calls one library function, prints."""

from __future__ import annotations

import json
import sys
import time

import click

from ..constants import __version__
from ..errors import FtdataError


def _fail(exc: Exception, debug: bool):
    if debug:
        raise exc
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


#: Exit status after Ctrl-C (128 + SIGINT), as shells report a command that SIGINT ended.
EXIT_INTERRUPTED = 130


def _interrupted(message: str = "interrupted") -> None:
    click.echo(message, err=True)
    # the interpreter's last garbage collection over every object torch and transformers made
    # took 2.6-3.2 s of exit (0.15-0.5 s frozen, measured on 2 busy cores): Ctrl-C should be prompt
    import gc

    gc.freeze()
    sys.exit(EXIT_INTERRUPTED)


class _Group(click.Group):
    """Turns FtdataError into a clean message (tracebacks only with --debug), Ctrl-C into exit 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FtdataError as exc:
            _fail(exc, ctx.params.get("debug", False) or ctx.obj and ctx.obj.get("debug"))
        except KeyboardInterrupt:  # click would print "Aborted!" and exit 1
            _interrupted()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftdata")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.pass_context
def main(ctx, debug):
    """ftdata: compile prompt templates and raw rows into SFT-ready datasets.

    \b
    Example:
      ftdata build examples/reviews/recipe.yaml
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _color(flag: bool | None) -> bool:
    return sys.stdout.isatty() if flag is None else flag


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(recipe, as_json):
    """Check a recipe and its templates; report every problem at once.

    \b
    Example:
      ftdata validate examples/reviews/recipe.yaml
    """
    from ..config.recipe import load_recipe

    r, base = load_recipe(recipe)
    if as_json:
        click.echo(json.dumps({"ok": True, "name": r.name, "output": str(r.output_dir(base))}))
    else:
        click.echo(f"ok: {recipe} ({len(r.sources)} source(s), output {r.output_dir(base)})")


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Output folder (overrides the recipe).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--num-proc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes for rendering and tokenizing (1: two threads in this process).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where chunks are rendered and tokenized: this machine, or Ray Data.")
@click.option("--ray-address", default=None, help="Ray cluster to join with --engine ray (e.g. auto, ray://head:10001).")
@click.option("--force", is_flag=True, help="Recompute every chunk, ignoring cached results.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the chunk cache.")
def build(recipe, overwrite, output, as_json, quiet, num_proc, engine, ray_address, force, no_cache):
    """Compile RECIPE into tokenized Arrow shards, a manifest and a rejects file.

    Unchanged chunks come from the cache (.<output>.cache beside the output), so a rebuild
    re-renders only what changed, and a killed build resumes; with --overwrite an output built
    from exactly the same inputs is kept as it is.

    \b
    Examples:
      ftdata build examples/reviews/recipe.yaml --overwrite
      ftdata build recipe.yaml --overwrite --num-proc 4
      ftdata build recipe.yaml --engine ray --ray-address auto
    """
    from tqdm import tqdm

    from ..build.orchestrate import compile_recipe
    from ..build.progress import describe
    from ..inspect.summary import summary_text

    bar = None

    def progress(p):
        nonlocal bar
        if not (quiet or as_json):
            if bar is None:  # made on the first report, so an up-to-date output prints no bar
                bar = tqdm(unit=" rows", file=sys.stderr, dynamic_ncols=True,
                           bar_format="{desc}: {n_fmt}/{total_fmt} rows [{elapsed}{postfix}]")
            if p.rows_total is not None and bar.total != p.rows_total:
                bar.total = p.rows_total
            bar.desc = {"phase A": "reading, rendering, tokenizing", "finalize": "splitting, writing shards"}.get(p.stage, p.stage)
            bar.n = p.rows
            bar.set_postfix_str(describe(p), refresh=True)

    t0 = time.perf_counter()
    try:
        result = compile_recipe(recipe, overwrite=overwrite, progress=progress, output=output, num_proc=num_proc,
                                engine=engine, ray_address=ray_address, cache=not no_cache, force=force,
                                skip_unchanged=True)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
            bar = None
        # the build has removed its temporary folder and ended its workers (Build.run)
        _interrupted("interrupted: the build stopped (an output folder is only ever complete or absent). "
                     + ("With --no-cache no chunk was kept: running it again starts over."
                        if no_cache else "Chunks finished so far are kept in the chunk cache: running the same "
                        "command again" + (" without --force" if force else "") + " resumes from them."))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    if not result.build_info.get("up_to_date"):
        # the build's own total (build_info.json), which report.html shows too: one number for one build
        seconds = result.build_info["seconds"]["total"]
    if result.build_info.get("up_to_date") and not as_json:
        click.echo(f"up to date: {result.output} was built from the same inputs (use --force to rebuild)")
    if as_json:
        click.echo(json.dumps({"output": str(result.output), "counts": result.manifest["counts"],
                               "tokens": result.manifest["tokens"], "seconds": round(seconds, 3)}, indent=2))
    else:
        click.echo(summary_text(result.manifest, result.output, seconds))


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("-n", default=3, show_default=True, help="Rows per source.")
@click.option("--color/--no-color", default=None, help="Colour trained tokens (default: on a terminal).")
def preview(recipe, n, color):
    """Render and tokenize the first N rows; show which tokens are trained.

    \b
    Example:
      ftdata preview examples/reviews/recipe.yaml -n 2
    """
    from ..authoring.preview import preview_recipe
    from ..inspect.display import LEGEND_COLOR, LEGEND_PLAIN, boundary_line, show_tokens

    tok, items, r = preview_recipe(recipe, n=n)
    use_color = _color(color)
    click.echo(LEGEND_COLOR if use_color else LEGEND_PLAIN)
    for it in items:
        click.echo(f"\n── {it.source} line {it.line} · template {it.template} " + "─" * 10)
        if it.problem:
            click.echo(f"  not used: {it.problem}")
            continue
        if r.layout == "seq2seq":
            click.echo("input:  " + tok.decode(it.input_ids))
            click.echo("labels: " + show_tokens(tok, it.labels, it.labels, use_color))
        else:
            click.echo(show_tokens(tok, it.input_ids, it.labels, use_color))
            click.echo("  " + boundary_line(tok, it.input_ids, it.labels))


def register_commands() -> None:
    """Import every module in :mod:`ftdata.cli.commands` so its commands attach to ``main``."""
    import importlib
    import pkgutil

    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"{commands.__name__}.{info.name}")


register_commands()

if __name__ == "__main__":
    main()
