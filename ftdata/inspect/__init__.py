"""Stage 8a, inspect: a compiled directory -> data, checks and human-readable views.

In: a compiled directory. Out: a ``DatasetDict`` with ``.manifest``, a verification verdict,
summaries and coloured token views. Nothing here writes.

Rule owned here: a directory without ``COMPLETED``, or one that does not match its manifest,
is refused (:mod:`~ftdata.inspect.verify`).

* :mod:`~ftdata.inspect.load` -- ``load_compiled`` (``ftdata.load``) and ``read_manifest``;
* :mod:`~ftdata.inspect.verify` -- quick and full checks; :mod:`~ftdata.inspect.summary` --
  the end-of-build table; :mod:`~ftdata.inspect.display` -- token boundaries and colours.
"""
