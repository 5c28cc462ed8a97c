"""Stage 4, tokenize: texts -> ``input_ids`` and ``labels`` (completion-only masks).

In: rendered texts and a tokenizer. Out: token ids, labels (``IGNORE_INDEX`` where not
trained), audit bits per example, or a reject reason (too long, nothing trained).

Rule owned here: which tokens are trained -- one tokenization with offsets, a token trained
exactly when it holds a character of a trained span (:mod:`~ftdata.tokenize.spans`).

* :mod:`~ftdata.tokenize.tokenizer` -- loading tokenizers (and the bundled ``ftdata:tiny-bpe``
  in ``assets/tokenizer``);
* :mod:`~ftdata.tokenize.spans` -- tokenize and mask, the reference path (causal, chat spans);
* :mod:`~ftdata.tokenize.causal_fast` -- the vectorised causal path for byte-level tokenizers;
* :mod:`~ftdata.tokenize.pieces` -- the ids of ASCII text from its pre-tokenized pieces, each
  distinct piece encoded once (the fast paths' tokenizer call);
* :mod:`~ftdata.tokenize.forms` -- Unicode-form normalizers, which leave text in their form as it is;
* :mod:`~ftdata.tokenize.seq2seq` -- the seq2seq layout;
* :mod:`~ftdata.tokenize.specials` -- special-token strings in data: escaping and encoding them;
* :mod:`~ftdata.tokenize.encoded` -- the results, :class:`Encoded` and :class:`Columns`;
* :mod:`~ftdata.tokenize.overflow` -- the overflow policy (``fit_to_length``, ``TooLong``);
* :mod:`~ftdata.tokenize.prefix` -- the prefix audit (is the prompt a prefix of the joint tokens);
* :mod:`~ftdata.tokenize.auditbits` -- the bits masking sets; :mod:`~ftdata.tokenize.audit`
  -- counting them into the manifest and inspecting them in a compiled directory.
"""
