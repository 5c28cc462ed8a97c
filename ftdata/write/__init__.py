"""Stage 6, write: a plan -> a compiled directory, complete or absent.

In: the work table and the plan. Out: Arrow shards in ``datasets``' ``save_to_disk`` layout,
``rejects.jsonl``, the dataset card, the report; ``COMPLETED`` written last, the folder
renamed into place atomically.

Rule owned here: an output directory is complete or absent -- never half-written, never a
folder ftdata did not make replaced (:mod:`~ftdata.write.outdir`).

* :mod:`~ftdata.write.outdir` -- the output folder: lock, atomic commit, recovery, full disk;
* :mod:`~ftdata.write.writer` -- shards, rejects.jsonl, JSON files, folder-ownership markers;
* :mod:`~ftdata.write.gather` -- copying planned rows out of the mapped chunks in bounded slices;
* :mod:`~ftdata.write.manifest` -- manifest.json, the per-source counts and ``accounting_ok``;
* :mod:`~ftdata.write.pack` -- packed rows; :mod:`~ftdata.write.card` -- README.md;
  :mod:`~ftdata.write.report` -- report.html (its sections), with :mod:`~ftdata.write.reportstats`
  (per-example statistics), :mod:`~ftdata.write.reportplots` (plots) and
  :mod:`~ftdata.write.reporthtml` (HTML building blocks).
"""
