"""Stage 7, build: orchestration -- recipe -> compiled directory, through every stage.

In: a recipe (path, dict or ``Recipe``) and build options (engine, workers, cache). Out: a
:class:`~ftdata.build.orchestrate.BuildResult` and a compiled directory whose manifest counts
add up exactly (every row read is in the output or in ``rejects.jsonl``).

Rule owned here: the order of the stages and the accounting -- read and check rows in input
order, phase A per chunk (:mod:`~ftdata.build.chunk`, a pure function, cached by content and
run by an engine), phase B over all chunks (:mod:`ftdata.plan`), then write.

* :mod:`~ftdata.build.orchestrate` -- ``compile_recipe`` and the ``Build``: its phase steps;
* :mod:`~ftdata.build.rows` -- the row stream: a source read in order, each row checked, keyed;
* :mod:`~ftdata.build.phase_a` -- phase A driven from the build: chunks from cache or engine;
* :mod:`~ftdata.build.exemplars` -- the few-shot exemplar pool of a source (its train rows);
* :mod:`~ftdata.build.fingerprint` -- the fingerprint of a build's inputs, the up-to-date check;
* :mod:`~ftdata.build.chunk` -- phase A: render, tokenize and mask one chunk;
* :mod:`~ftdata.build.cache` -- the content-addressed chunk cache;
* :mod:`~ftdata.build.engines` -- where phase A runs (threads, processes, Ray);
* :mod:`~ftdata.build.progress` -- progress and rates.
"""
