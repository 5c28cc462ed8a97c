"""Stage 4, tokenize: texts -> ``input_ids`` and ``labels`` (completion-only masks).

In: rendered texts and a tokenizer. Out: token ids, labels (``IGNORE_INDEX`` where not
trained), audit bits per example, or a reject reason (too long, nothing trained).

Rule owned here: which tokens are trained -- one tokenization with offsets, a token trained
exactly when it holds a character of a trained span (:mod:`~ftdata.tokenize.masking`).

* :mod:`~ftdata.tokenize.tokenizer` -- loading tokenizers (and the bundled ``ftdata:tiny-bpe``
  in ``assets/tokenizer``);
* :mod:`~ftdata.tokenize.masking` -- tokenize and mask, every layout;
* :mod:`~ftdata.tokenize.auditbits` -- the bits masking sets; :mod:`~ftdata.tokenize.audit`
  -- counting them into the manifest and inspecting them in a compiled directory.
"""
