"""The studio's working state: a template file being edited against the rows of one source.

Nothing here knows about HTTP. A :class:`Studio` holds the file's templates as drafts, the
source's rows (read, renamed, schema-checked and keyed exactly as a build does), and the
recipe's tokenizer and settings. Rendering a draft on a row goes through
:func:`ftdata.build.chunk.process_chunk`, the function a build runs on every chunk, with a one-row
chunk: same sandbox, same render limits, same tokenizer call and the same masking, so the
studio shows what ``ftdata build`` would write for that row. Lint uses :mod:`ftdata.authoring.lint`;
saving uses :mod:`ftdata.authoring.yamlwrite` (only edited entries change on disk). What the page shows
(drafts, views, tokens, problems) is plain data in :mod:`~ftdata.studio.views`.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
import uuid
from pathlib import Path
from typing import Any

from ..authoring.lint import Finding, lint_rows, lint_static
from ..authoring.yamlwrite import Edit, fields, new_id, write_templates
from ..build.chunk import CheckedRow, ChunkContext, process_chunk, render_rows
from ..build.orchestrate import Build
from ..config.models import Recipe, SourceSpec
from ..config.paths import resolve_path
from ..config.recipe import load_recipe
from ..constants import IGNORE_INDEX
from ..errors import BuildError, ConfigError, FtdataError, TemplateError
from ..read.schema import check_source_row
from ..read.sources import read_source
from ..rejects import Code, Stage
from ..templating.selection import Group, RowPlan, truncate_field
from ..templating.templates import Template, default_id, load_templates, load_templates_text
from ..tokenize.tokenizer import load_tokenizer
from .views import Draft, Problem, RenderView, Token, form_flag, form_names, problem_of

#: Rows kept in memory for browsing (the studio is for authoring, not for whole datasets).
MAX_ROWS = 20_000
#: Rows the dynamic lint checks render on each change.
LINT_ROWS = 32


class Studio:
    """A template file, a source and a recipe's settings, for interactive editing.

    Args:
        templates: the template file (created on the first save if it does not exist).
        source: the data file; default: the recipe's first source.
        recipe: a recipe giving the tokenizer, layout, seed, limits and (when one of its
            sources reads ``source``) the source's options: key, rename, schema, CSV options.
        key: the row key column (overrides the recipe's); default a content hash, as in a build.
        max_rows: rows read from the source.
    """

    def __init__(self, templates: str | Path | None, source: str | Path | None = None, *,
                 recipe: str | Path | None = None, key: str | None = None, max_rows: int = MAX_ROWS):
        self.lock = threading.Lock()
        self.recipe, base, self.spec = self._settings(recipe, source, key)
        self.base = base
        if templates is None:
            if not self.spec.templates:
                raise FtdataError("no template file given and the recipe's source names none; "
                                  "pass TEMPLATES (an existing or a new .yaml file)")
            templates = resolve_path(base, self.spec.templates[0].file)
        self.path = Path(templates).resolve()
        self.tok = load_tokenizer(self.recipe.tokenizer, base)
        # the build's own object (for this one source) supplies row keys and chunk contexts, so
        # every recipe setting that shapes an example (layout, chat, special tokens in data,
        # field truncation, few-shot, ...) applies here as in `ftdata build`
        self.build = Build(self.recipe.model_copy(update={"sources": [self.spec]}), base, None)
        self.ref = next((r for r in self.spec.templates if resolve_path(base, r.file).resolve() == self.path), None)
        self._pool = None
        self.rows: list[CheckedRow] = []
        self.unreadable = 0
        self._read_rows(max_rows)
        if not self.rows:
            raise FtdataError(f"source {self.spec.path}: no usable row (all {self.unreadable} unreadable or "
                              "failing the schema)")
        self.columns = list(dict.fromkeys(c for r in self.rows[:200] for c in r.data))
        self.by_key = {r.key: i for i, r in enumerate(self.rows)}
        self._load_file()
        self.rng = random.Random()

    # -- setup ---------------------------------------------------------------------------
    @staticmethod
    def _settings(recipe_path, source, key) -> tuple[Recipe, Path, SourceSpec]:
        if recipe_path is not None:
            recipe, base = load_recipe(recipe_path, check_files=False)
            spec = None
            if source is not None:
                want = Path(source).resolve()
                spec = next((s for s in recipe.sources if s.path and resolve_path(base, s.path).resolve() == want), None)
            elif recipe.sources[0].path is not None:
                spec = recipe.sources[0]
            if spec is None and source is None:
                raise FtdataError(f"{recipe_path}: its first source is a hub dataset; pass --source FILE")
        else:
            recipe = Recipe(name="studio", sources=[{"name": "source", "path": str(source or "-"), "templates": []}])
            base, spec = Path.cwd(), None
        if spec is None:
            if source is None:
                raise FtdataError("give --source FILE (or a --recipe whose first source is a local file)")
            p = Path(source)
            if not p.exists():
                raise FtdataError(f"--source {p}: file not found")
            spec = SourceSpec(name=p.stem, path=str(p.resolve()), templates=[])
        if key is not None:
            spec = spec.model_copy(update={"key": key})
        return recipe, base, spec

    def _read_rows(self, max_rows: int) -> None:
        seen: set[str] = set()
        for row in read_source(self.spec, self.base):
            if len(self.rows) >= max_rows:
                break
            if row.error is not None:
                self.unreadable += 1
                continue
            data, err = check_source_row(row.data, self.spec)
            if err:
                self.unreadable += 1
                continue
            k = self.build.row_key(self.spec, row, data)
            if k in seen:
                continue
            seen.add(k)
            self.rows.append(CheckedRow(k, row.line, data))

    def _load_file(self) -> None:
        if self.path.exists():
            self.text: str | None = self.path.read_text(encoding="utf-8")
            loaded = load_templates_text(self.text, str(self.path)) if self.text.strip() else []
            self.form = loaded[0].form if loaded else "native"
        else:
            self.text, loaded, self.form = None, [], "native"
        limits = getattr(self.recipe, "render_limits", None)
        self.drafts: list[Draft] = []
        for i, t in enumerate(loaded):
            t.limits = limits
            self.drafts.append(Draft(f"t{uuid.uuid4().hex[:8]}", t, i, fields(t)))

    # -- drafts --------------------------------------------------------------------------
    def draft(self, key: str | None) -> Draft | None:
        if key is None:
            return self.drafts[0] if self.drafts else None
        return next((d for d in self.drafts if d.key == key), None)

    def update(self, key: str, form_fields: dict) -> Draft:
        """Replace a draft's editable fields with the editor's values."""
        d = self.draft(key)
        if d is None:
            raise FtdataError(f"no template '{key}' in this session (reload the page)")
        t = d.template
        changes: dict[str, Any] = {}
        if "name" in form_fields:
            changes["name"] = str(form_fields["name"]).strip() or t.name
        for part in ("jinja",) if t.form == "promptsource" else ("prompt", "completion"):
            if part in form_fields:
                changes[part] = str(form_fields[part])
        if "answer_choices" in form_fields:
            ac = str(form_fields["answer_choices"] or "")
            changes["answer_choices"] = ac if ac.strip() else None
        for k in ("metrics", "languages"):
            if k in form_fields:
                changes[k] = form_names(form_fields[k])
        for k in ("original_task", "choices_in_prompt"):
            if k in form_fields:
                changes[k] = form_flag(form_fields[k])
        if "reference" in form_fields:
            changes["reference"] = str(form_fields["reference"] or "")
        # a fresh Template (nothing compiled yet) that keeps every other attribute
        d.template = dataclasses.replace(t, **changes, _compiled={}, _plain={})
        return d

    def new_draft(self) -> Draft:
        """A template scaffolded from the source's columns, in the file's form."""
        from ..authoring.scaffold import guess, template_yaml

        g = guess(self.columns, [r.data for r in self.rows[:200]])
        stem = re.sub(r"\W+", "_", self.spec.name).strip("_") or "source"
        scaffold = load_templates_text(template_yaml(g, stem), str(self.path))[0]
        names = {d.template.name for d in self.drafts}
        name, n = scaffold.name, 2
        while name in names:
            name, n = f"{scaffold.name}_{n}", n + 1
        common = dict(name=name, answer_choices=scaffold.answer_choices, metrics=scaffold.metrics,
                      file=str(self.path), limits=getattr(self.recipe, "render_limits", None))
        if self.form == "promptsource":
            t = Template(id=new_id(), jinja=f"{scaffold.prompt} ||| {scaffold.completion}",
                         original_task=False, choices_in_prompt=bool(scaffold.answer_choices), languages=["en"],
                         **common)
        else:
            t = Template(id=default_id(self.path, name), prompt=scaffold.prompt,
                         completion=scaffold.completion, extra=dict(scaffold.extra), **common)
        d = Draft(f"t{uuid.uuid4().hex[:8]}", t, None, None)
        self.drafts.append(d)
        return d

    # -- rows ----------------------------------------------------------------------------
    def index_of(self, key: str) -> int:
        k = str(key).strip()
        if k in self.by_key:
            return self.by_key[k]
        raise FtdataError(f"no row with key '{k}' in the first {len(self.rows)} rows of {self.spec.path}")

    def random_index(self) -> int:
        return self.rng.randrange(len(self.rows))

    # -- render --------------------------------------------------------------------------
    def _context(self, t: Template) -> ChunkContext:
        """The build's chunk context for this source, with the draft as its only template.

        The draft meets every row (whatever the recipe's template mode), with the field
        truncation and few-shot settings a build would give it.
        """
        b, name = self.build, self.spec.name
        b.row_plans[name] = RowPlan([Group([t], "all")], self.recipe.seed)
        cut = truncate_field(t, self.ref)
        b.truncate[name] = {t.id: cut} if cut else {}
        if getattr(self.recipe, "shots", 0):
            if self._pool is None:  # one pass over the source, then reused for every render
                self._pool = b.exemplar_pool(self.spec)
            b.exemplar_pool = lambda src: self._pool
        return dataclasses.replace(b.context(self.spec), templates=[t])

    def syntax(self, t: Template) -> list[Problem]:
        try:
            t.compile()
        except TemplateError as exc:
            return [problem_of(exc)]
        return []

    def render(self, key: str | None, index: int) -> RenderView:
        """Render a draft on row ``index`` exactly as a build would."""
        index = max(0, min(int(index), len(self.rows) - 1))
        row = self.rows[index]
        view = RenderView(index, row.key, row.line, row.data)
        d = self.draft(key)
        if d is None:
            view.notice = "no template yet: press “New template”"
            return view
        view.errors = self.syntax(d.template)
        if view.errors:
            return view
        ctx = self._context(d.template)
        try:
            res = process_chunk(ctx, [row])
        except BuildError as exc:  # overflow: error stops a build at this row
            view.notice = str(exc)
            return view
        if res.table.num_rows:
            out = res.table.slice(0, 1).to_pylist()[0]
            view.prompt, view.completion, view.choices = out["prompt"], out["completion"], out["answer_choices"]
            self._tokens(view, out["input_ids"], out["labels"])
            return view
        rej = res.rejects[0]
        if rej.code == Code.RENDER_ERROR:
            view.errors = [problem_of(TemplateError(rej.reason))]
        elif rej.stage == Stage.TOKENIZE:
            kept, _, _ = render_rows(ctx, [row])
            if kept:
                view.prompt, view.completion, view.choices = kept[0].prompt, kept[0].completion, kept[0].choices
            view.notice = f"a build would reject this row: {rej.reason}"
        else:
            view.notice = rej.reason
        return view

    def _tokens(self, view: RenderView, ids: list[int], labels: list[int]) -> None:
        if self.recipe.layout == "seq2seq":
            view.tokens = self._pieces(ids, [False] * len(ids))
            view.label_tokens = self._pieces(labels, [True] * len(labels))
            view.n_tokens, view.n_trained = len(ids) + len(labels), len(labels)
        else:
            trained = [x != IGNORE_INDEX for x in labels]
            view.tokens = self._pieces(ids, trained)
            view.n_tokens, view.n_trained = len(ids), sum(trained)

    def _pieces(self, ids: list[int], trained: list[bool]) -> list[Token]:
        """One display piece per token; a token that is part of a multi-byte character is
        joined with the next ones until the bytes decode (byte-level BPE splits characters)."""
        out: list[Token] = []
        pending: list[int] = []
        for i, (tid, tr) in enumerate(zip(ids, trained)):
            pending.append(tid)
            text = self.tok.decode(pending, skip_special_tokens=False, clean_up_tokenization_spaces=False)
            last = i + 1 == len(ids)
            if "\ufffd" in text and not last and len(pending) < 4 and trained[i + 1] == tr:
                continue
            out.append(Token(text, pending, tr))
            pending = []
        return out

    # -- lint ----------------------------------------------------------------------------
    def lint(self, key: str | None) -> list[Finding]:
        """Static checks and checks on a sample of rows, for one draft."""
        d = self.draft(key)
        return [] if d is None else self.lint_draft(d)

    def lint_draft(self, d: Draft) -> list[Finding]:
        t = d.template
        problems = self.syntax(t)
        if problems:
            p = problems[0]
            return [Finding("error", "syntax", str(self.path), t.name, p.line, f"{p.part} line {p.line}: {p.message}")]
        found = lint_static(t, self.columns)
        step = max(1, len(self.rows) // LINT_ROWS)
        sample = [(r.key, r.data) for r in self.rows[::step][:LINT_ROWS]]
        backend = self.tok.backend_tokenizer if self.recipe.layout == "causal" else None
        found += lint_rows(t, sample, seed=self.recipe.seed, separator=self.recipe.separator, backend=backend)
        for other in list(self.drafts):
            if other is not d and other.template.name == t.name:
                found.append(Finding("error", "duplicate_name", str(self.path), t.name, None,
                                     f"another template in this file is also named '{t.name}'"))
        return found

    # -- save ----------------------------------------------------------------------------
    def save(self) -> str:
        """Write every draft to the file; return a one-line report."""
        for d in self.drafts:
            errs = self.syntax(d.template)
            if errs:
                e = errs[0]
                raise FtdataError(f"not saved: template '{d.template.name}' has a syntax error in {e.part} "
                                  f"line {e.line}: {e.message}")
        try:
            result = write_templates(self.path, [Edit(d.template, d.origin) for d in self.drafts],
                                     expected_text=self.text, form=self.form)
        except ConfigError as exc:
            raise FtdataError(f"not saved: {exc}") from None
        self.text = result.text
        for i, d in enumerate(self.drafts):
            d.origin, d.saved = i, fields(d.template)
        what = ", ".join(result.changed) if result.changed else "no template changed"
        return f"saved {self.path.name}: {what}"

    def reload_check(self) -> list[Template]:
        """The templates as a build would load them from disk now (used by tests)."""
        return load_templates(self.path)


__all__ = ["Studio", "Draft", "RenderView", "Problem", "Token"]
