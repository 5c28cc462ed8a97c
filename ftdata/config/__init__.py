"""Stage 1, config: a recipe YAML file -> a validated :class:`~ftdata.config.recipe.Recipe`.

In: a path, a dict or a ``Recipe``. Out: a ``Recipe`` and the folder its relative paths are
read from, or one :class:`~ftdata.errors.ConfigError` listing every problem (YAML path, what
was expected, what was found, how to fix it).

Rule owned here: what a valid recipe is -- every field, every rule between fields (in the
models' validators) and how a relative path resolves (:mod:`~ftdata.config.paths`).

* :mod:`~ftdata.config.recipe` -- the pydantic models, ``load_recipe``, ``validate_recipe``;
* :mod:`~ftdata.config.yamlio` -- safe, bounded YAML loading with line numbers;
* :mod:`~ftdata.config.paths` -- paths relative to the recipe.
"""
