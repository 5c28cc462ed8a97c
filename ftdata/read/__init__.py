"""Stage 2, read: sources -> checked rows.

In: a :class:`~ftdata.config.models.SourceSpec` (a local file or a Hub dataset). Out:
``SourceRow`` batches in file order; a row that cannot be parsed, or fails its schema, carries
its reason and becomes a reject (never a crash). No template or tokenizer is involved.

Rule owned here: what a readable row is -- the one row check (:func:`~ftdata.read.schema.check_row`:
declared column types and constraints) and stable row keys (:mod:`~ftdata.read.keys`).

* :mod:`~ftdata.read.sources` -- the reader for a source (jsonl, json, csv, tsv, parquet, arrow,
  hf), its format and columns; :mod:`~ftdata.read.row` -- ``SourceRow``, what every reader yields;
* :mod:`~ftdata.read.jsonfmt`, :mod:`~ftdata.read.csvfmt`, :mod:`~ftdata.read.columnar` -- the
  streaming readers of JSON Lines/JSON, CSV/TSV, and Parquet/Arrow;
* :mod:`~ftdata.read.schema` -- the row check; :mod:`~ftdata.read.keys` -- the duplicate-key set;
* :mod:`~ftdata.read.hub` -- Hub datasets offline-first (one probe, then the local cache).
"""
