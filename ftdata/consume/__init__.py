"""Stage 8b, consume: a compiled directory -> what a training stack or the Hub reads.

In: a verified compiled directory. Out: an export folder (trl, axolotl, llamafactory,
torchtune, openai-jsonl, lm-eval, trl-chat, axolotl-chat, llamafactory-sharegpt, parquet, jsonl) or
a Hub dataset repository.

Rule owned here: exports carry the compiled ids and masks unchanged (never re-tokenized)
where the format allows, and say so where it does not.

* :mod:`~ftdata.consume.export` -- ``ftdata.export``; :mod:`~ftdata.consume.push` -- ``ftdata.push``.
* :mod:`~ftdata.consume.lmeval` -- the lm-eval tasks; :mod:`~ftdata.consume.lmeval_utils` -- their scoring,
  copied standalone into each such export.
* :mod:`~ftdata.consume.llamafactory` -- the ``llamafactory-cli train`` config written beside that export.
* :mod:`~ftdata.consume.torchtune` -- ``dataset``, the builder a ``tune run`` config names by ``_component_``.
* :mod:`~ftdata.consume.chatexport` -- the exports that keep conversations (OpenAI, TRL,
  axolotl, LLaMA-Factory layouts of the stored messages and tools).
"""
