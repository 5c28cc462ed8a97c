"""``ftdata init``: scaffold a recipe and a template file for a source."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ftdata.cli.app import main
from ftdata.cli.commands.templates import _rows, _source_options
from ftdata.errors import FtdataError


@main.command()
@click.option("--source", required=True, type=click.Path(exists=True), help="Data file to compile.")
@click.option("--dir", "directory", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder for recipe.yaml and templates/.")
@click.option("--name", help="Dataset name (default: the source file's stem).")
@click.option("-n", default=200, show_default=True, help="Rows sampled to guess types and choices.")
@click.option("--force", is_flag=True, help="Replace existing files.")
@_source_options
def init(source, directory, name, n, force, fmt, columns, delimiter, quoting):
    """Scaffold recipe.yaml and templates/<name>.yaml from a source's columns.

    \b
    Example:
      ftdata init --source dialogsum.jsonl
      ftdata templates lint templates/dialogsum.yaml --source dialogsum.jsonl
    """
    from ftdata.authoring.scaffold import guess, recipe_yaml, template_yaml, write_new
    from ftdata.config.recipe import load_recipe

    cols, rows = _rows(source, n, fmt, columns, delimiter, quoting)
    stem = name or Path(source).stem.split(".")[0]
    folder = Path(directory)
    g = guess(cols, [r for _, r in rows])
    tpl_path = folder / "templates" / f"{stem}.yaml"
    recipe_path = folder / "recipe.yaml"
    for p in (recipe_path, tpl_path):  # check both before writing either
        if p.exists() and not force:
            raise FtdataError(f"{p} already exists; pass --force to replace it")
    csv = None
    if columns or delimiter or quoting != "minimal":
        csv = {k: v for k, v in {"delimiter": delimiter, "quoting": quoting if quoting != "minimal" else None,
                                 "header": False if columns else None,
                                 "columns": [c.strip() for c in columns.split(",")] if columns else None}.items()
               if v is not None}
    rel_source = os.path.relpath(Path(source).resolve(), folder.resolve())
    write_new(tpl_path, template_yaml(g, stem), force)
    write_new(recipe_path, recipe_yaml(g, name=stem, source=rel_source, template_file=f"templates/{stem}.yaml",
                                       fmt=fmt, csv=csv), force)
    load_recipe(recipe_path)  # the scaffold must validate; a problem here is a bug worth seeing
    click.echo(f"wrote {recipe_path} and {tpl_path} (completion: {g.completion}, prompt field: {g.prompt_field})\n"
               f"next: ftdata templates lint {tpl_path} --source {source}\n"
               f"      ftdata preview {recipe_path} -n 3")
