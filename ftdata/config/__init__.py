"""Stage 1, config: a recipe YAML file -> a validated :class:`~ftdata.config.models.Recipe`.

In: a path, a dict or a ``Recipe``. Out: a ``Recipe`` and the folder its relative paths are
read from, or one :class:`~ftdata.errors.ConfigError` listing every problem (YAML path, what
was expected, what was found, how to fix it).

Rule owned here: what a valid recipe is -- every field, every rule between fields (in the
models' validators) and how a relative path resolves (:mod:`~ftdata.config.paths`).

* :mod:`~ftdata.config.models` -- the pydantic models of a recipe and its sections;
* :mod:`~ftdata.config.rules` -- the rules between fields (``cross_field``) and how a rule's
  problem is made;
* :mod:`~ftdata.config.recipe` -- ``load_recipe``, ``validate_recipe``: the one gate, with the
  checks against the file system and the tokenizer (``check_recipe``, ``check_tokenizer``);
* :mod:`~ftdata.config.yamlio` -- safe, bounded YAML loading with line numbers;
* :mod:`~ftdata.config.paths` -- paths relative to the recipe.
"""
