"""Preflight: templates tried on a few rows of each source before a build starts."""

from __future__ import annotations

from pathlib import Path

from .templates import DoesNotApply, TemplateError


def preflight(recipe, base: Path, n: int = 20) -> list[str]:
    """Problems to stop a build before it starts: a template that fails on every sampled row.

    The first ``n`` rows of each local source that pass the schema check are rendered with
    the templates the recipe chose; a template failing on all of them (a render error, not
    "does not apply") is a problem naming file, template, line and the first error. A
    template failing on only some rows is left to the build, where each failure is a reject.
    """
    from ..config.paths import resolve_path
    from ..read.schema import check_source_row
    from ..read.sources import read_source
    from .selection import choose_ref
    from .templates import load_templates

    problems: list[str] = []
    if recipe.conversations:
        return problems  # examples come from the messages column; templates are not rendered
    for src in recipe.sources:
        if src.path is None or src.hub is not None:
            continue  # no network before a build
        templates = []
        for ref in src.templates:
            tp = resolve_path(base, ref.file)
            templates += choose_ref(load_templates(tp), ref, str(tp))
        rows = []
        for row in read_source(src, base, n):
            if len(rows) == n:
                break
            if row.data is None:
                continue
            data, err = check_source_row(row.data, src)
            if not err:
                rows.append((str(row.line), data))
        if not rows:
            continue
        for t in templates:
            errors = []
            for key, data in rows:
                try:
                    t.render(data, seed=recipe.seed, row_key=key, limits=recipe.render_limits)
                except DoesNotApply:
                    continue
                except TemplateError as exc:
                    errors.append(str(exc))
            if len(errors) == len(rows):
                problems.append(f"source '{src.name}': {t.where} fails on all {len(rows)} sampled rows; "
                                f"first: {errors[0]}")
    return problems
