"""Stage 5, plan: the phase-A work table -> which example goes to which split, in what order.

In: the work table (one memory-mapped Arrow file per chunk, :mod:`~ftdata.plan.worktable`).
Out: a :class:`~ftdata.plan.finalize.Plan` (split -> row indices in output order), dedup
rejects, manifest sections (mixture, contamination), and the gate's verdict.

Rule owned here: split membership -- a seeded hash of the row key or group
(:mod:`~ftdata.plan.split`) -- then exact and near dedup, the mixture, contamination; every
decision deterministic and independent of input order and engine.

* :mod:`~ftdata.plan.split` -- the split rule; :mod:`~ftdata.plan.neardup` -- MinHash + LSH;
* :mod:`~ftdata.plan.mixture` -- task rates; :mod:`~ftdata.plan.contamination` -- n-gram overlap;
* :mod:`~ftdata.plan.finalize` -- the ordered plan steps and the split writer calls;
* :mod:`~ftdata.plan.chataudit` -- the chat checks counted per template (parity, span fallback);
* :mod:`~ftdata.plan.gate` -- is the outcome what the recipe meant (reject shares, empty splits).
"""
