"""Stage 7, build: orchestration -- recipe -> compiled directory, through every stage.

In: a recipe (path, dict or ``Recipe``) and build options (engine, workers, cache). Out: a
:class:`~ftdata.build.orchestrate.BuildResult` and a compiled directory whose manifest counts
add up exactly (every row read is in the output or in ``rejects.jsonl``).

Rule owned here: the order of the stages and the accounting -- read and check rows in input
order, phase A per chunk (:mod:`~ftdata.build.chunk`, a pure function, cached by content and
run by an engine), phase B over all chunks (:mod:`ftdata.plan`), then write.

* :mod:`~ftdata.build.orchestrate` -- ``compile_recipe`` and the ``Build``;
* :mod:`~ftdata.build.chunk` -- phase A: render, tokenize and mask one chunk;
* :mod:`~ftdata.build.cache` -- the content-addressed chunk cache;
* :mod:`~ftdata.build.engines` -- where phase A runs (threads, processes, Ray);
* :mod:`~ftdata.build.progress` -- progress and rates.
"""
