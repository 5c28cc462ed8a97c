"""Prompt templates: loading (promptsource YAML and a native form) and rendering.

Two file forms are read:

* **promptsource** (read unchanged)::

      dataset: amazon_us_reviews
      templates:
        <uuid>: !Template
          id: <uuid>
          name: Generate review headline
          jinja: "Give a short sentence describing ...\\n{{review_body}} ||| {{review_headline}}"
          answer_choices: null          # or "1 ||| 2 ||| 3", rendered per row
          metadata: !TemplateMetadata {metrics: [ROUGE], original_task: true, ...}

* **native** (plain YAML, no tags)::

      templates:
        - name: summarize
          prompt: "Summarize the following conversation.\\n\\n{{dialogue}}"
          completion: "{{summary}}"
          metrics: [ROUGE]
          references: [summary, summary2, summary3]   # optional: every reference a row has

  A native template may give an ``id``; without one it gets :func:`default_id`, which
  depends on the file's base name and the template's name only (never on the folder).

Rendering follows promptsource: ``answer_choices`` is rendered with the row and split on
``|||`` (each stripped) and made available to the template as ``answer_choices``; the
rendered text is split on ``|||`` and each part stripped; ``|||`` inside the row's own
values is escaped first so data cannot move the boundary. An empty prompt or completion
means the template does not apply to that row.

``references`` (either form, optional) names the columns that hold a row's reference answers
for evaluation, e.g. DialogSum's three test summaries. They are not rendered and not trained:
a build copies each row's non-empty values, in the order named, into a ``references`` column
(:meth:`Template.reference_values`), and ``ftdata eval`` scores generated text against all of
them. A column a row lacks is skipped, so one template serves rows with one reference and rows
with three.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import UndefinedError, meta, nodes

from ..config.yamlio import load_yaml, load_yaml_text
from ..errors import ConfigError, TemplateError, did_you_mean
from .helpers import HELPER_NAMES, reset_rng, seeded_rng, set_rng
from .limits import (
    DEFAULT_LIMITS,
    LimitExceeded,
    RenderLimitError,
    RenderLimits,
    RenderTimeout,
    TemplateLimitAbort,
    current_limits,
    limited,
)
from .parts import (
    SEP,
    NotPlain,
    compile_deadline,
    compile_part,
    escape_row,
    parse_part,
    render_plain,
    stream,
    template_line,
    timeout_message,
    unescape,
)


class DoesNotApply(Exception):
    """The template renders an empty prompt or completion for this row."""


@dataclass
class Template:
    """One prompt template. ``jinja`` holds ``prompt ||| completion`` in both forms."""

    name: str
    id: str
    jinja: str | None = None  # promptsource form
    prompt: str | None = None  # native form
    completion: str | None = None
    answer_choices: str | None = None
    metrics: list[str] = field(default_factory=list)
    original_task: bool | None = None
    choices_in_prompt: bool | None = None
    languages: list[str] = field(default_factory=list)
    #: columns holding the row's reference answers for evaluation (not rendered; see the module docstring)
    references: list[str] = field(default_factory=list)
    reference: str = ""
    file: str = "<string>"
    line: int = 0
    dataset: str | None = None
    subset: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: bounds used by :meth:`render` when it is not given any (a build sets the recipe's)
    limits: RenderLimits | None = field(default=None, repr=False, compare=False)
    #: [renders, renders that went over a limit], for ``RenderLimits.abort_after``
    _limit_stats: list = field(default_factory=lambda: [0, 0], repr=False, compare=False)
    _compiled: dict = field(default_factory=dict, repr=False, compare=False)
    #: part -> pieces, when every part is plain (see :func:`~ftdata.templating.parts.plain_pieces`), else empty
    _plain: dict = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict:
        # compiled Jinja objects do not pickle; a worker process recompiles on first render
        state = dict(self.__dict__)
        state["_compiled"] = {}
        state["_plain"] = {}
        return state

    @property
    def form(self) -> str:
        return "promptsource" if self.jinja is not None else "native"

    @property
    def where(self) -> str:
        return f"template '{self.name}' ({self.file}:{self.line})"

    def sources(self) -> dict[str, str]:
        """The Jinja sources of this template, by part name."""
        parts = {"jinja": self.jinja} if self.jinja is not None else {
            "prompt": self.prompt or "", "completion": self.completion or ""}
        if self.answer_choices is not None:
            parts["answer_choices"] = self.answer_choices
        return parts

    def text_hash(self) -> str:
        """Content hash of everything that changes this template's output."""
        h = hashlib.sha256()
        for k, v in sorted(self.sources().items()):
            h.update(f"{k}\x00{v}\x00".encode())
        if self.references:  # only then: templates without references keep their hash
            h.update(("references\x00" + "\x00".join(self.references) + "\x00").encode())
        return h.hexdigest()

    def reference_values(self, row: dict) -> list[str]:
        """The row's reference answers: the :attr:`references` columns' values, stripped; columns
        the row lacks and empty values are skipped."""
        out = []
        for col in self.references:
            v = row.get(col)
            text = "" if v is None else str(v).strip()
            if text:
                out.append(text)
        return out

    # -- compilation ---------------------------------------------------------------------
    def compile(self) -> None:
        """Parse and compile every part once; raise TemplateError naming file and line."""
        if self._compiled:
            return
        compiled, plain = {}, {}
        for part, src in self.sources().items():
            compiled[part], plain[part] = compile_part(src, part, self.where)
        # a fresh dict: a copy made with dataclasses.replace must not share (or keep) the pieces
        self._plain = plain if all(p is not None for p in plain.values()) else {}
        self._compiled.update(compiled)

    def variables(self) -> dict[str, int]:
        """Undeclared variables (the row columns it reads) -> first line where used."""
        out: dict[str, int] = {}
        for part, src in self.sources().items():
            with compile_deadline(part, self.where):
                ast, _problems = parse_part(src, part, self.where)
            names = meta.find_undeclared_variables(ast)
            for node in ast.find_all(nodes.Name):
                if node.name in names and node.name not in out:
                    out[node.name] = node.lineno
        return out

    def check_columns(self, columns: list[str]) -> list[str]:
        """Problems for variables the source lacks, each with line and did-you-mean."""
        problems = []
        for name, line in self.variables().items():
            if name in HELPER_NAMES or name in columns:
                continue
            problems.append(
                f"{self.where}: line {line}: unknown variable '{name}'{did_you_mean(name, columns)}; "
                f"available columns: {', '.join(columns)}"
            )
        return problems

    # -- rendering -----------------------------------------------------------------------
    def render(self, row: dict, *, seed: int = 0, row_key: str = "",
               limits: RenderLimits | None = None) -> tuple[str, str, list[str] | None]:
        """Render one row to ``(prompt, completion, answer_choices)``.

        Args:
            limits: time, size and call bounds for this render (default: :attr:`limits`, else
                :data:`~ftdata.templating.limits.DEFAULT_LIMITS`).

        Raises:
            DoesNotApply: the prompt or completion is empty for this row.
            TemplateError: rendering failed or went over a limit (message names template,
                part and line).
        """
        self.compile()
        ctx = escape_row(row)
        self._limit_stats[0] += 1
        lim = limits or self.limits or DEFAULT_LIMITS
        if self._plain:
            # literal text and bare column references: no code runs, nothing to bound but size
            try:
                return self._render_all(ctx, row, plain_limit=lim.max_output_chars)
            except NotPlain:  # a missing column or an oversized value: Jinja gives the error
                ctx = escape_row(row)
        token = set_rng(seeded_rng(seed, row_key, self.id))
        try:
            with limited(lim):
                return self._render_all(ctx, row)
        except RenderTimeout:
            raise self._over_limit(lim, RenderLimitError(f"{self.where}: {timeout_message(lim)}")) from None
        except RenderLimitError as exc:
            raise self._over_limit(lim, exc) from None
        finally:
            reset_rng(token)

    def _over_limit(self, lim: RenderLimits, exc: RenderLimitError) -> Exception:
        """The error to raise for a render over a limit: a reject, or the end of the build
        when the template has gone over a limit on every row so far (``abort_after``)."""
        renders, hits = self._limit_stats[0], self._limit_stats[1] + 1
        self._limit_stats[1] = hits
        if lim.abort_after and hits == renders == lim.abort_after:
            return TemplateLimitAbort(
                f"{self.where} went over the render limits on each of the first {hits} rows it rendered; "
                f"fix the template or raise render_limits (last: {exc})")
        return exc

    def _render_all(self, ctx: dict, row: dict, plain_limit: int | None = None) -> tuple[str, str, list[str] | None]:
        choices = None
        if "answer_choices" in self._compiled:
            text = self._render_part("answer_choices", ctx, row, plain_limit)
            choices = [unescape(c).strip() for c in text.split(SEP)]
            ctx["answer_choices"] = list(choices)
        if "jinja" in self._compiled:
            parts = self._render_part("jinja", ctx, row, plain_limit).split(SEP)
            if len(parts) == 1:
                raise DoesNotApply(f"template '{self.name}' does not apply (no '|||' in the rendered text)")
            if len(parts) > 2:
                raise DoesNotApply(
                    f"template '{self.name}' does not apply (rendered text has {len(parts) - 1} '|||' separators)"
                )
            prompt, completion = (unescape(p).strip() for p in parts)
        else:
            prompt = unescape(self._render_part("prompt", ctx, row, plain_limit)).strip()
            completion = unescape(self._render_part("completion", ctx, row, plain_limit)).strip()
        if not prompt or not completion:
            empty = "prompt" if not prompt else "completion"
            raise DoesNotApply(f"template '{self.name}' does not apply (empty {empty})")
        return prompt, completion, choices

    def _render_part(self, part: str, ctx: dict, row: dict, plain_limit: int | None = None) -> str:
        if plain_limit is not None:
            return render_plain(self._plain[part], ctx, plain_limit)
        try:
            return stream(self._compiled[part], ctx, part)
        except RenderTimeout:
            raise RenderLimitError(f"{self.where}: {part}: {timeout_message(current_limits())}") from None
        except LimitExceeded as exc:
            line = template_line(exc, self._compiled[part])
            raise RenderLimitError(f"{self.where}: {part} line {line}: {exc}") from None
        except UndefinedError as exc:
            line = template_line(exc, self._compiled[part])
            m = re.search(r"'([^']+)' is undefined", str(exc))
            hint = did_you_mean(m.group(1), list(row)) if m else ""
            raise TemplateError(
                f"{self.where}: {part} line {line}: {exc}{hint}; available columns: {', '.join(row)}"
            ) from None
        except DoesNotApply:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure inside a template is the template's
            line = template_line(exc, self._compiled[part])
            raise TemplateError(
                f"{self.where}: {part} line {line}: {type(exc).__name__}: {exc}"
            ) from None


# -- loading -----------------------------------------------------------------------------

def _meta_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def default_id(file: str | Path, name: str) -> str:
    """The id of a template that gives none: from its file's base name and its own name.

    Not from the file's full path: the id seeds the template's random draws and is written
    into the manifest, so the same project in another folder (a CI clone, a colleague's
    checkout) must give the same ids, and so must a lone render of the file from any working
    folder. Two templates with the same file base name and name in different folders share
    the id; :func:`ftdata.config.recipe.check_recipe` refuses such a recipe.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{Path(file).name}#{name}"))


def templates_from_data(data: Any, file: str) -> list[Template]:
    """Build templates from parsed YAML (either form); raise ConfigError with all problems."""
    problems: list[str] = []
    out: list[Template] = []
    if not isinstance(data, dict) or "templates" not in data:
        raise ConfigError([f"{file}: expected a mapping with a 'templates' key, found {type(data).__name__}"], file)
    entries = data["templates"]
    dataset, subset = data.get("dataset"), data.get("subset")
    if isinstance(entries, dict):  # promptsource: {id: !Template}
        items = list(entries.items())
    elif isinstance(entries, list):  # native: [ {name, prompt, completion} ]
        items = [(None, e) for e in entries]
    else:
        raise ConfigError([f"{file}: 'templates' must be a mapping or a list"], file)
    for i, (key, e) in enumerate(items):
        where = f"{file}:{getattr(e, 'line', '?')} templates[{key if key is not None else i}]"
        if not isinstance(e, dict):
            problems.append(f"{where}: expected a template mapping, found {type(e).__name__}")
            continue
        md = e.get("metadata") or {}
        is_ps = e.get("__tag__") == "Template" or "jinja" in e
        if is_ps:
            if not isinstance(e.get("jinja"), str):
                problems.append(f"{where}: 'jinja' must be a string")
                continue
        else:
            missing = [k for k in ("prompt", "completion") if not isinstance(e.get(k), str)]
            if missing:
                problems.append(f"{where}: missing string field(s) {', '.join(missing)} (native form needs prompt and completion)")
                continue
        name = str(e.get("name") or key or f"template_{i}")
        tid = str(e.get("id") or key or default_id(file, name))
        known = {"__tag__", "name", "id", "jinja", "prompt", "completion", "answer_choices",
                 "metadata", "metrics", "reference", "references", "original_task", "choices_in_prompt", "languages"}
        refs = e.get("references")
        if isinstance(refs, str):
            refs = [refs]
        if refs is not None and not (isinstance(refs, list) and refs
                                     and all(isinstance(r, str) and r.strip() for r in refs)):
            problems.append(f"{where}: references must be a list of column names (the columns holding the row's "
                            f"reference answers), found {refs!r}")
            continue
        t = Template(
            name=name, id=tid,
            jinja=e.get("jinja") if is_ps else None,
            prompt=None if is_ps else e["prompt"],
            completion=None if is_ps else e["completion"],
            answer_choices=e.get("answer_choices"),
            metrics=_meta_list(md.get("metrics", e.get("metrics"))),
            original_task=md.get("original_task", e.get("original_task")),
            choices_in_prompt=md.get("choices_in_prompt", e.get("choices_in_prompt")),
            languages=_meta_list(md.get("languages", e.get("languages"))),
            references=[r.strip() for r in refs or []],
            reference=str(e.get("reference") or ""),
            file=file, line=getattr(e, "line", 0), dataset=dataset, subset=subset,
            extra={k: v for k, v in e.items() if k not in known},
        )
        if t.answer_choices is not None and not isinstance(t.answer_choices, str):
            problems.append(f"{where}: answer_choices must be a string like 'a ||| b', found {t.answer_choices!r}")
            continue
        try:
            t.compile()
        except TemplateError as exc:
            problems.append(str(exc))
            continue
        out.append(t)
    seen_names: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for t in out:
        for seen, value, what in ((seen_names, t.name, "name"), (seen_ids, t.id, "id")):
            if value in seen:
                problems.append(f"{file}:{t.line}: duplicate template {what} '{value}' (first at line {seen[value]})")
            else:
                seen[value] = t.line
    if problems:
        raise ConfigError(problems, file)
    return out


def load_templates(path: str | Path) -> list[Template]:
    """Load every template in a YAML file (promptsource or native form)."""
    return templates_from_data(load_yaml(path), str(path))


def load_templates_text(text: str, file: str = "<string>") -> list[Template]:
    return templates_from_data(load_yaml_text(text, file), file)


def from_strings(prompt: str, completion: str, name: str = "inline", **kw) -> Template:
    """Make a native template from two Jinja strings (used by the Python API and tests)."""
    t = Template(name=name, id=kw.pop("id", name), prompt=prompt, completion=completion, **kw)
    t.compile()
    return t


def from_jinja(jinja: str, name: str = "inline", **kw) -> Template:
    """Make a promptsource-style template from ``prompt ||| completion`` Jinja."""
    t = Template(name=name, id=kw.pop("id", name), jinja=jinja, **kw)
    t.compile()
    return t


def select(templates: list[Template], selectors: list[str] | None, file: str) -> list[Template]:
    """Pick templates by name or id; unknown selectors raise with did-you-mean."""
    if not selectors:
        return list(templates)
    by = {t.name: t for t in templates} | {t.id: t for t in templates}
    problems, out = [], []
    for s in selectors:
        if s in by:
            out.append(by[s])
        else:
            problems.append(f"{file}: no template named '{s}'{did_you_mean(s, [t.name for t in templates])}")
    if problems:
        raise ConfigError(problems, file)
    return out
