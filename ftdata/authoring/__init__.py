"""Authoring: tools for writing recipes and templates before a build.

In: template files, sources, a recipe. Out: lint findings, scaffolds, YAML written back with
only the edited templates changed, previews of a few rendered and tokenized rows.

Rule owned here: authoring tools call the stages' own functions (the row check, the render,
the masking) and never a copy, so what they show is what a build does.

* :mod:`~ftdata.authoring.lint` -- template lint; :mod:`~ftdata.authoring.scaffold` --
  ``ftdata init`` and template scaffolds; :mod:`~ftdata.authoring.yamlwrite` -- YAML write-back;
* :mod:`~ftdata.authoring.preview` -- ``ftdata.preview``: the first rows of each source, rendered
  and tokenized as the build would.
"""
