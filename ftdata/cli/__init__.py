"""The command line: a thin layer over the Python API.

In: argv. Out: an exit code (0 done, 1 build problem, 2 bad input or usage) and text. Each
command parses its options, calls one library function and prints.

Rule owned here: how results and errors are printed and which exit code they give.

* :mod:`~ftdata.cli.app` -- the ``ftdata`` click group and the core verbs (build, validate,
  preview); the console entry point ``ftdata.cli:main`` is its ``main``;
* :mod:`ftdata.cli.commands` -- the other verbs, one module per feature, registered at start.
"""

from .app import main

__all__ = ["main"]
