"""CLI commands contributed by feature modules.

Each module here defines click commands on :data:`ftdata.cli.main` (``from ftdata.cli import
main`` then ``@main.command()``); :func:`ftdata.cli.register_commands` imports them all.
Keep each command thin: parse, call one library function, print.
"""
