"""``ftdata templates``: list, show, render, scaffold and lint template files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ftdata.cli.app import main
from ftdata.errors import FtdataError, did_you_mean


def default_dir() -> Path:
    """``./templates`` when it exists, else the templates shipped beside the package."""
    here = Path.cwd() / "templates"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "templates"


def _source_options(f):
    f = click.option("--quoting", type=click.Choice(["minimal", "none"]), default="minimal", show_default=True,
                     help="CSV/TSV quoting; 'none' for files with stray quotes.")(f)
    f = click.option("--delimiter", help="CSV/TSV field separator (default ',' or TAB).")(f)
    f = click.option("--columns", help="Comma-separated column names of a CSV/TSV without a header.")(f)
    f = click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv", "tsv", "parquet", "arrow"]),
                     help="Source format (default: from the extension).")(f)
    return f


def _rows(source, n, fmt, columns, delimiter, quoting, key=None):
    from ftdata.authoring.lint import sample_rows

    cols = [c.strip() for c in columns.split(",")] if columns else None
    return sample_rows(source, n, fmt=fmt, columns=cols, delimiter=delimiter, quoting=quoting, key=key)


def _load_all(folder: Path):
    from ftdata.authoring.lint import template_files
    from ftdata.templating.templates import load_templates

    out = []
    for f in template_files([folder]):
        out.append((f, load_templates(f)))
    return out


@main.group()
def templates():
    """Work with template files: list, show, render, new, lint.

    \b
    Example:
      ftdata templates lint templates/
    """


@templates.command("list")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(directory, as_json):
    """List the template files under DIRECTORY (default: ./templates or the shipped ones).

    \b
    Example:
      ftdata templates list ../shared/data/promptsource/templates
    """
    folder = Path(directory) if directory else default_dir()
    files = _load_all(folder)
    if as_json:
        click.echo(json.dumps([{"file": str(f), "templates": [
            {"name": t.name, "id": t.id, "metrics": t.metrics, "original_task": t.original_task,
             "answer_choices": t.answer_choices is not None} for t in ts]} for f, ts in files], indent=2))
        return
    total = 0
    for f, ts in files:
        total += len(ts)
        click.echo(f"{f.relative_to(folder) if f.is_relative_to(folder) else f}  ({len(ts)})")
        for t in ts:
            flags = ("original " if t.original_task else "") + ("choices" if t.answer_choices is not None else "")
            click.echo(f"  {t.id[:8]}  {t.name}  [{', '.join(t.metrics) or '-'}] {flags}".rstrip())
    click.echo(f"{len(files)} file(s), {total} template(s)")


@templates.command()
@click.argument("name_or_id")
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False),
              help="Folder to search (default: ./templates or the shipped ones).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(name_or_id, directory, as_json):
    """Show every template whose name or id (or id prefix) is NAME_OR_ID.

    \b
    Example:
      ftdata templates show predict_rating
    """
    folder = Path(directory) if directory else default_dir()
    files = _load_all(folder)
    hits = [t for _, ts in files for t in ts
            if name_or_id in (t.name, t.id) or (len(name_or_id) >= 6 and t.id.startswith(name_or_id))]
    if not hits:
        names = [t.name for _, ts in files for t in ts]
        raise FtdataError(f"no template named '{name_or_id}' under {folder}{did_you_mean(name_or_id, names)}")
    if as_json:
        click.echo(json.dumps([_as_dict(t) for t in hits], indent=2, ensure_ascii=False))
        return
    for t in hits:
        click.echo(f"── {t.name}  ({t.file}:{t.line})")
        for k, v in _as_dict(t).items():
            if k in ("name", "file", "line") or v in (None, [], ""):
                continue
            text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            if "\n" in text:
                click.echo(f"{k}:")
                click.echo("\n".join("    " + line for line in text.splitlines()))
            else:
                click.echo(f"{k}: {text}")


def _as_dict(t) -> dict:
    d = {"name": t.name, "id": t.id, "file": t.file, "line": t.line, "dataset": t.dataset, "subset": t.subset,
         "metrics": t.metrics, "original_task": t.original_task, "choices_in_prompt": t.choices_in_prompt,
         "languages": t.languages, "answer_choices": t.answer_choices, "reference": t.reference}
    if t.jinja is not None:
        d["jinja"] = t.jinja
    else:
        d["prompt"], d["completion"] = t.prompt, t.completion
    return d | {k: v for k, v in t.extra.items() if isinstance(v, (str, int, float, bool, list))}


def _split_target(target: str) -> tuple[Path, str | None]:
    if Path(target).exists():
        return Path(target), None
    for i, ch in enumerate(target):
        if ch == ":" and Path(target[:i]).is_file():
            return Path(target[:i]), target[i + 1:]
    raise FtdataError(f"{target}: no such template file (give FILE or FILE:NAME)")


@templates.command()
@click.argument("target", metavar="TEMPLATE_FILE[:NAME]")
@click.option("--row", "row_json", help="One row as a JSON object.")
@click.option("--source", type=click.Path(dir_okay=True), help="Data file to take rows from.")
@click.option("-n", default=3, show_default=True, help="Rows to render from --source.")
@click.option("--seed", default=0, show_default=True, help="Seed for template randomness.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_source_options
def render(target, row_json, source, n, seed, as_json, fmt, columns, delimiter, quoting):
    """Render rows with a template file (or one template of it).

    \b
    Examples:
      ftdata templates render templates/reviews/templates.yaml:predict_rating \\
          --row '{"title": "Kettle", "body": "Boils fast.", "star_rating": 5}'
      ftdata templates render templates/sms_spam/templates.yaml --source data.tsv --format tsv \\
          --columns label,text --quoting none -n 2
    """
    from ftdata.templating.templates import DoesNotApply, TemplateError, load_templates, select

    if (row_json is None) == (source is None):
        raise FtdataError("give exactly one of --row JSON or --source FILE")
    path, name = _split_target(target)
    ts = select(load_templates(path), [name] if name else None, str(path))
    if row_json is not None:
        try:
            row = json.loads(row_json)
        except json.JSONDecodeError as exc:
            raise FtdataError(f"--row: not valid JSON: {exc}") from None
        if not isinstance(row, dict):
            raise FtdataError(f"--row: expected a JSON object, found {type(row).__name__}")
        rows = [("row", row)]
    else:
        _, rows = _rows(source, n, fmt, columns, delimiter, quoting)
    for key, row in rows:
        for t in ts:
            rec = {"row_key": key, "template": t.name}
            try:
                rec["prompt"], rec["completion"], rec["answer_choices"] = t.render(row, seed=seed, row_key=key)
            except (DoesNotApply, TemplateError) as exc:
                rec["problem"] = str(exc)
            if as_json:
                click.echo(json.dumps(rec, ensure_ascii=False))
                continue
            click.echo(f"── row {key} · {t.name} " + "─" * 10)
            if "problem" in rec:
                click.echo(f"not used: {rec['problem']}")
                continue
            click.echo(rec["prompt"])
            click.echo("▶ " + rec["completion"])
            if rec["answer_choices"] is not None:
                click.echo(f"choices: {rec['answer_choices']}")


@templates.command()
@click.option("--source", required=True, type=click.Path(exists=True), help="Data file whose columns to use.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Template file to write (default templates/<source>.yaml).")
@click.option("--name", help="Name prefix of the template (default: the source file's stem).")
@click.option("-n", default=200, show_default=True, help="Rows sampled to guess types and choices.")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@_source_options
def new(source, output, name, n, force, fmt, columns, delimiter, quoting):
    """Scaffold a template file from a source's columns.

    \b
    Example:
      ftdata templates new --source dialogsum.jsonl -o templates/dialogsum.yaml
    """
    from ftdata.authoring.scaffold import guess, template_yaml, write_new

    cols, rows = _rows(source, n, fmt, columns, delimiter, quoting)
    stem = name or Path(source).stem.split(".")[0]
    out = Path(output) if output else Path("templates") / f"{stem}.yaml"
    write_new(out, template_yaml(guess(cols, [r for _, r in rows]), stem), force)
    click.echo(f"wrote {out}; next: ftdata templates lint {out} --source {source}")


@templates.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--source", type=click.Path(exists=True), help="Data file: enables column and rendering checks.")
@click.option("-n", default=50, show_default=True, help="Sample rows from --source.")
@click.option("--key", help="Column holding the row key (seeds template randomness as in the build).")
@click.option("--seed", default=0, show_default=True, help="Seed for template randomness.")
@click.option("--separator", default=" ", show_default=True, help="The recipe's separator (boundary checks).")
@click.option("--tokenizer", default="ftdata:tiny-bpe", show_default=True,
              help="Tokenizer for the boundary check ('' to skip).")
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_source_options
def lint(paths, source, n, key, seed, separator, tokenizer, strict, as_json, fmt, columns, delimiter, quoting):
    """Check template files (default ./templates); exit 1 on errors.

    Static checks always run; with --source, columns are checked and sample rows rendered.

    \b
    Examples:
      ftdata templates lint templates/
      ftdata templates lint templates/dialogsum/templates.yaml --source dialogsum.jsonl
    """
    from ftdata.authoring.lint import lint_paths

    rows = None
    cols = None
    if source:
        cols, rows = _rows(source, n, fmt, columns, delimiter, quoting, key=key)
    report = lint_paths(list(paths) or [default_dir()], columns=cols, rows=rows, seed=seed,
                        separator=separator, tokenizer=tokenizer or None)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for f in report.findings:
            click.echo(str(f))
        click.echo(f"{len(report.files)} file(s), {report.templates} template(s), {report.rows} sample row(s): "
                   f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    if report.errors or (strict and report.warnings):
        sys.exit(1)
