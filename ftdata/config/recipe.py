"""Loading a recipe and checking it: the one gate of ``ftdata validate`` and ``ftdata build``.

``load_recipe`` gathers every problem at once (pydantic's errors, the rules between fields,
which live in the models' validators (:mod:`~ftdata.config.models`, :mod:`~ftdata.config.rules`),
and checks that need the file system or the tokenizer: missing sources, unknown templates,
unknown template variables, a missing EOS or chat template) and raises a single
:class:`~ftdata.errors.ConfigError` whose lines name the YAML path, what was expected and what
was found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails

from ..errors import BuildError, ConfigError, TemplateError, did_you_mean
from .models import Recipe, SourceSpec
from .paths import resolve_path
from .rules import DEFER, RULE
from .yamlio import load_yaml


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _pydantic_problems(errors: list[dict], file: str) -> list[str]:
    problems = []
    for err in errors:
        loc = _format_loc(err["loc"])
        if err["type"] == RULE:  # the rule's text says what was expected and found, and the fix
            problems.append(f"{file}: {loc}: {err['msg']}")
            continue
        found = err.get("input")
        found_s = json.dumps(found, default=str)[:80] if err["type"] != "missing" else "nothing"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            field_name = str(err["loc"][-1])
            # suggest the closest known field of the model at this location
            msg = f"unknown field '{field_name}'"
        problems.append(f"{file}: {loc}: {msg}; found {found_s}")
    return problems


def _suggest_fields(data: Any, problems: list[str]) -> list[str]:
    """Add did-you-mean for unknown fields at the top level and in sources."""
    out = []
    known_top = set(Recipe.model_fields)
    known_src = set(SourceSpec.model_fields)
    for p in problems:
        if "unknown field '" in p:
            name = p.split("unknown field '")[1].split("'")[0]
            cands = known_src if ".sources[" in p or p.split(": ")[1].startswith("sources[") else known_top
            p = p.replace(f"unknown field '{name}'", f"unknown field '{name}'{did_you_mean(name, cands)}")
        out.append(p)
    return out


def _validate(data: Any, file: str) -> tuple[Recipe | None, list[str]]:
    """The Recipe (None when a field is invalid) and every problem of the schema and its rules.

    A field that fails hides no rule between other fields: those are judged on the recipe
    without the failed fields (which take their defaults), leaving out rules that read one.
    """
    if not isinstance(data, dict):
        return None, [f"{file}: expected a mapping at the top level, found {type(data).__name__}"]
    rules: list[InitErrorDetails] = []
    try:
        recipe = Recipe.model_validate(data, context={DEFER: rules})
    except ValidationError as exc:
        errors = exc.errors()
        failed = {e["loc"][0] for e in errors if e["loc"]}
        rest = {k: v for k, v in data.items() if k not in failed}
        try:
            Recipe.model_validate(rest, context={DEFER: rules})
        except ValidationError:
            pass  # a required field failed: no recipe to judge the rules on
        errors += [e for e in _rule_errors(rules) if not failed & set(e["ctx"]["fields"])]
        return None, _suggest_fields(data, _pydantic_problems(errors, file))
    return recipe, _pydantic_problems(_rule_errors(rules), file)


def _rule_errors(rules: list[InitErrorDetails]) -> list[dict]:
    return ValidationError.from_exception_data("Recipe", rules).errors() if rules else []


def parse_recipe(data: Any, file: str = "<recipe>") -> Recipe:
    """Validate parsed YAML into a Recipe, reporting every schema and cross-field problem."""
    recipe, problems = _validate(data, file)
    if problems:
        raise ConfigError(problems, file)
    return recipe


def load_recipe(path: str | Path, *, check_files: bool = True) -> tuple[Recipe, Path]:
    """Load, validate and cross-check a recipe file. Returns (recipe, base directory)."""
    path = Path(path)
    base = path.resolve().parent
    return validate_recipe(load_yaml(path), base, str(path), check_files=check_files), base


def validate_recipe(data: Any, base: Path, file: str = "<recipe>", *,
                    check_files: bool = True) -> Recipe:
    """Validate parsed YAML (or a Recipe) and check it against the file system and its tokenizer.

    The one gate of ``ftdata validate`` and ``ftdata build``: raises a single
    :class:`~ftdata.errors.ConfigError` listing every problem, in a stable order (schema
    and rules between fields, then :func:`check_recipe`), or returns the Recipe.
    """
    if isinstance(data, Recipe):
        recipe, problems = data, []  # its rules held when it was made
    else:
        recipe, problems = _validate(data, file)
    if recipe is not None and check_files:
        problems += check_recipe(recipe, base, file)
    if problems:
        raise ConfigError(problems, file)
    return recipe


def check_tokenizer(recipe: Recipe, tok, file: str) -> list[str]:
    """Rules between the recipe and its tokenizer: an EOS token to append, a chat template."""
    problems, chat = [], recipe.chat
    if recipe.add_eos and tok.eos_token_id is None:
        problems.append(f"{file}: add_eos: tokenizer '{recipe.tokenizer}' has no EOS token; set "
                        "add_eos: false or pick another tokenizer")
    if recipe.chat_on and not chat.template and not getattr(tok, "chat_template", None):
        problems.append(f"{file}: chat.template: tokenizer '{recipe.tokenizer}' has no chat "
                        "template; set chat.template or pick a tokenizer that has one")
    return problems


def check_recipe(recipe: Recipe, base: Path, file: str) -> list[str]:
    """Problems that need the file system or the tokenizer: sources, templates and their
    variables, evaluation sets, the tokenizer (:func:`check_tokenizer`), and templates that
    fail on every sampled row (:func:`ftdata.authoring.lint.preflight`, for sources with no other problem)."""
    from ..templating.preflight import preflight
    from ..tokenize.tokenizer import load_tokenizer

    problems: list[str] = []
    seen_columns: set[str] = set()
    all_known = True
    # one id, one template: ids seed the random draws and key per-template caches and settings
    # (exemplar renders, field truncation), so two templates sharing one would mix silently
    by_id: dict[str, tuple[Path, str, str]] = {}
    clean = []  # sources with no problem, whose templates are tried on sample rows
    strat = recipe.split.stratify_by
    refs: dict[str, list] = {}  # template where -> [reference columns, columns of its sources, all known]
    # a recipe may name a source before its templates exist (the studio and `ftdata init` write them);
    # a build needs them, except where a row is its own example
    conversations = recipe.conversations
    for i, src in enumerate(recipe.sources):
        where = f"{file}: sources[{i}]"
        columns, problems_of_source = _source_columns(src, base, where)
        if not src.templates and recipe.layout != "text" and not conversations:
            problems_of_source.append(f"{where}.templates: source '{src.name}' has no templates; give at least one "
                                      "(only layout: text reads a source without templates, from its column "
                                      "'text'; a chat build reads its conversation column)")
        for j, ref in enumerate(src.templates):
            problems_of_source += _check_template_ref(src, ref, (i, j), base, where, columns, by_id, refs)
        problems_of_source += _check_source_columns(recipe, src, columns, where, file)
        if strat and columns is not None:
            seen_columns.update(src.rename.get(c, c) for c in columns)
        elif strat:
            all_known = False
        problems += problems_of_source
        if not problems_of_source:
            clean.append((i, src))
    # a source without the label column is one stratum of its own; no source having it is a mistake
    if strat and all_known and strat not in seen_columns:
        problems.append(f"{file}: split.stratify_by: column '{strat}' is in no source"
                        f"{did_you_mean(strat, sorted(seen_columns))}")
    # a reference column a row lacks is skipped (DialogSum dev has one summary, test three), but
    # one that no source of the template has is a typo that would silently score fewer references
    for where_t, (names, cols, known) in refs.items():
        for name in names:
            if known and name not in cols:
                problems.append(f"{file}: {where_t}: references: column '{name}' is in no source that uses "
                                f"the template{did_you_mean(name, sorted(cols))}")
    problems += _check_mix_and_eval(recipe, base, file)
    try:
        problems += check_tokenizer(recipe, load_tokenizer(recipe.tokenizer, base), file)
    except BuildError as exc:
        problems.append(f"{file}: tokenizer: {exc}")
    for i, src in clean:  # a template failing on every sampled row (needs readable sources)
        try:
            problems += [f"{file}: sources[{i}].templates: {p}"
                         for p in preflight(recipe.model_copy(update={"sources": [src]}), base)]
        except BuildError as exc:  # rows past the column peek (e.g. a header naming a column twice)
            problems.append(f"{file}: sources[{i}].path: {exc}")
    return problems


def _source_columns(src: SourceSpec, base: Path, where: str) -> tuple[list[str] | None, list[str]]:
    """The columns of a local source (None when unknown: a Hub source, an unreadable file) and
    the problems of its origin: a missing or unreadable file, an unusable Hub dataset."""
    from ..read.sources import guess_format, peek_columns

    if src.path is None:
        from ..read.hub import hub_source_problem

        problem = hub_source_problem(src.hub, f"{where}.hub (source '{src.name}')")
        return None, [problem] if problem else []
    p = resolve_path(base, src.path)
    if not p.exists():
        return None, [f"{where}.path: file not found: {p}"]
    try:
        fmt = src.format or guess_format(p)
        return peek_columns(p, fmt, src), []
    except Exception as exc:  # noqa: BLE001 - reported as a problem
        return None, [f"{where}.path: cannot read {p}: {exc}"]


def _check_template_ref(src: SourceSpec, ref, at: tuple[int, int], base: Path, where: str,
                        columns: list[str] | None,
                        by_id: dict[str, tuple[Path, str, str]], refs: dict) -> list[str]:
    """Problems of one template reference of a source: a file or choice that fails, an id
    another template already has (``by_id`` collects the first of each), template variables
    and a truncated field that are not columns of the source (when its columns are known).
    ``refs`` collects, per template naming reference columns, the columns of its sources
    (checked once every source is seen)."""
    from ..templating.selection import choose_ref
    from ..templating.templates import load_templates

    i, j = at
    tp = resolve_path(base, ref.file)
    try:
        chosen = choose_ref(load_templates(tp), ref, str(tp))
    except ConfigError as exc:
        return [f"{where}.templates[{j}]: {p}" for p in exc.problems]
    except TemplateError as exc:
        return [f"{where}.templates[{j}]: {exc}"]
    problems = []
    for t in chosen:
        if t.references:  # a template naming reference columns: the columns this source offers
            entry = refs.setdefault(t.where, [list(t.references), set(), True])
            if columns is None:
                entry[2] = False
            else:
                entry[1].update(src.rename.get(c, c) for c in columns)
        at_ij = f"sources[{i}].templates[{j}]"
        first, name, first_at = by_id.setdefault(t.id, (tp.resolve(), t.name, at_ij))
        if first != tp.resolve():
            problems.append(
                f"{where}.templates[{j}]: template '{t.name}' in {tp} has the id '{t.id}' "
                f"of template '{name}' in {first} ({first_at}); templates of one build "
                "need distinct ids (one without `id:` gets it from its file's base name "
                "and its name): give one of the two its own `id:`")
    if columns is None:
        return problems
    cols = [src.rename.get(c, c) for c in columns]
    for t in chosen:
        try:
            problems.extend(f"{where}.templates[{j}]: {p}" for p in t.check_columns(cols))
        except TemplateError as exc:
            problems.append(f"{where}.templates[{j}]: {exc}")
    if ref.truncate and ref.truncate not in cols:
        problems.append(f"{where}.templates[{j}].truncate: column '{ref.truncate}' not in source"
                        f"{did_you_mean(ref.truncate, cols)}; available: {', '.join(cols)}")
    return problems


def _check_source_columns(recipe: Recipe, src: SourceSpec, columns: list[str] | None, where: str,
                          file: str) -> list[str]:
    """The source's key column and the split's group_by column must be columns of the source
    (after renames), when its columns are known."""
    if columns is None:
        return []
    problems = []
    cols = [src.rename.get(c, c) for c in columns]
    if src.key and src.key != "@line" and src.key not in cols:
        problems.append(f"{where}.key: column '{src.key}' not in source"
                        f"{did_you_mean(src.key, cols)}; available: {', '.join(cols)}")
    from ..constants import TEXT_COLUMN

    if recipe.layout == "text" and not src.templates and TEXT_COLUMN not in cols:
        problems.append(f"{where}: layout text reads the column '{TEXT_COLUMN}' of a source without templates, "
                        f"and this source has none{did_you_mean(TEXT_COLUMN, cols)}; available: {', '.join(cols)}; "
                        "rename one (rename: {column: text}) or give the source a template")
    group = recipe.split.group_by
    if group and group not in cols:
        problems.append(f"{file}: split.group_by: column '{group}' not in source '{src.name}'"
                        f"{did_you_mean(group, cols)}")
    return problems


def _check_mix_and_eval(recipe: Recipe, base: Path, file: str) -> list[str]:
    """Evaluation sets must exist and hold their columns (mixture weights: :func:`~ftdata.config.rules.cross_field`)."""
    from ..read.sources import guess_format, peek_columns

    problems = []
    for i, ev in enumerate(recipe.contamination.eval_sets if recipe.contamination else []):
        p = resolve_path(base, ev.path)
        if not p.exists():
            problems.append(f"{file}: contamination.eval_sets[{i}].path: file not found: {p}")
            continue
        try:
            cols = peek_columns(p, ev.format or guess_format(p), ev)
        except Exception as exc:  # noqa: BLE001 - reported as a problem
            problems.append(f"{file}: contamination.eval_sets[{i}].path: cannot read {p}: {exc}")
            continue
        for c in ev.columns:
            if cols is not None and c not in cols:
                problems.append(f"{file}: contamination.eval_sets[{i}].columns: column '{c}' not in {p.name}{did_you_mean(c, cols)}; available: {', '.join(cols)}")
    return problems

