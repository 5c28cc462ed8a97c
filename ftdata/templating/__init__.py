"""Stage 3, templating: a checked row -> (prompt, completion, answer_choices) texts.

In: a row (a dict) and the templates the recipe chose. Out: rendered texts per template, or
a reason (``DoesNotApply``, a template error, a sandbox limit) that becomes a reject.
Tokenizer ids are not produced here (only counted, for field truncation).

Rule owned here: how a template renders -- sandboxed Jinja with resource limits, which
templates meet which row, few-shot exemplars, token-aware field truncation, chat messages.

* :mod:`~ftdata.templating.templates` -- native and promptsource templates;
  :mod:`~ftdata.templating.parts` -- one Jinja part compiled, rendered, ``|||`` escaped;
* :mod:`~ftdata.templating.sandbox`, :mod:`~ftdata.templating.limits` -- the Jinja sandbox and
  its limits; :mod:`~ftdata.templating.bounds` -- its size checks;
  :mod:`~ftdata.templating.static` -- the check before a template runs;
  :mod:`~ftdata.templating.helpers` -- ``choice``, ``lipsum`` etc. and their seeded generator;
* :mod:`~ftdata.templating.selection` -- choosing templates, and which of them each row meets;
* :mod:`~ftdata.templating.renderplan` -- what a recipe asks of rendering per row;
  :mod:`~ftdata.templating.fewshot`, :mod:`~ftdata.templating.truncation` -- its two steps;
* :mod:`~ftdata.templating.conversation` -- OpenAI / ShareGPT conversations and tools -> the one
  internal message list (and its stored JSON text), and which turns are trained;
* :mod:`~ftdata.templating.chat` -- conversations rendered with a chat template, where the trained turns are;
  :mod:`~ftdata.templating.chatjinja` -- the chat template compiled once, called with plain dicts;
* :mod:`~ftdata.templating.preflight` -- templates tried on sample rows before a build.
"""
