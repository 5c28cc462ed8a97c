"""``ftdata studio``: the local template studio (see :mod:`ftdata.studio`)."""

from __future__ import annotations

import click

from ...errors import FtdataError
from ..app import main


def _need_studio() -> None:
    """The studio's web stack is an extra; without it the command says how to get it (exit 2)."""
    try:
        import starlette.applications  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise FtdataError(f"ftdata studio needs the studio extra (Starlette and uvicorn): "
                          f"pip install 'ftdata[studio]' ({exc})") from None


@main.command()
@click.argument("templates", required=False, type=click.Path(dir_okay=False))
@click.option("--source", "source", type=click.Path(exists=True), help="Data file whose rows the templates render (any format a recipe reads).")
@click.option("--recipe", "recipe", type=click.Path(exists=True, dir_okay=False),
              help="Recipe giving tokenizer, layout, seed, limits and the source's options (key, rename, schema, CSV).")
@click.option("--key", help="Row key column (default: the recipe's, else a content hash as in a build).")
@click.option("--port", default=8765, show_default=True, help="Port; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep the default unless you know why.")
@click.option("--max-rows", default=20_000, show_default=True, help="Rows of the source to load.")
def studio(templates, source, recipe, key, port, host, max_rows):
    """Edit TEMPLATES in a local web page with live renders, token masks and lint.

    Opens a server on 127.0.0.1 and prints its URL (with a session token; every request
    needs it). TEMPLATES may be a new file: "New template" scaffolds one from the source's
    columns, and Save writes it. Without TEMPLATES the recipe's first template file is used.

    \b
    Example:
      ftdata studio templates/dialogsum.yaml --source ../shared/data/dialogsum/dialogsum.dev.jsonl --key fname
      ftdata studio --recipe examples/reviews/recipe.yaml
    """
    _need_studio()
    from ...studio.app import StudioServer
    from ...studio.session import Studio

    session = Studio(templates, source, recipe=recipe, key=key, max_rows=max_rows)
    try:
        server = StudioServer(session, host=host, port=port)
    except Exception:
        if port != 8765:
            raise
        server = StudioServer(session, host=host, port=0)  # the default port is taken: any free one
    click.echo(f"ftdata studio: {len(session.drafts)} template(s) in {session.path}, "
               f"{len(session.rows)} rows of {session.spec.path}")
    click.echo(f"open {server.url}")
    click.echo("(Ctrl+C stops the server)")
    server.serve_forever()
