"""Template lint: catch template mistakes before a long build.

Static checks read the Jinja syntax tree and, when a source is given, its columns:

* ``syntax`` (error): the file or a template does not parse;
* ``unknown_variable`` (error): a variable (or the ``truncate`` field) the source lacks,
  with did-you-mean;
* ``no_separator`` (error): a promptsource template without ``|||``;
* ``duplicate_name`` / ``duplicate_id`` (error): two templates share a name or an id;
* ``unknown_metric`` (warning): a metric outside :data:`KNOWN_METRICS`;
* ``single_choice`` (warning): ``answer_choices`` without ``|||`` (one choice only);
* ``boundary_newline`` (warning): a native prompt ending (or completion starting) with a
  newline; rendering strips it and the recipe's ``separator`` joins the two halves instead.

Dynamic checks render sample rows (seeded like the build):

* ``render_error``: error when a template fails for every sampled row, warning for some;
* ``does_not_apply``: error for every row, warning for most;
* ``not_in_choices`` (error): the completion is not one of the rendered ``answer_choices``;
* ``leak``: the completion appears verbatim in the prompt; error when it does for every row
  the template renders, warning for some;
* ``boundary_straddle`` (warning, with a tokenizer): a token spans the prompt/completion
  boundary, so the trained span starts mid-token; ``boundary_glue`` (warning, without one):
  the separator leaves no space between two word characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from ..config.yamlio import load_yaml
from ..errors import ConfigError, FtdataError, TemplateError, did_you_mean
from ..templating.helpers import HELPER_NAMES
from ..templating.templates import DoesNotApply, Template, templates_from_data

#: promptsource's metric vocabulary plus a few names evaluation code commonly uses.
KNOWN_METRICS = frozenset({
    "BLEU", "ROUGE", "Squad", "Trivia QA", "Accuracy", "Pearson Correlation", "Spearman Correlation",
    "MultiRC", "AUC", "COQA F1", "Edit Distance", "Mean Reciprocal Rank", "Other",
    "chrF", "METEOR", "BERTScore", "F1", "Exact Match",
})

#: Shortest completion checked for leaks: a label or a topic of a few words found in the
#: prompt ("yes", "healthy foods") is no leak; a copied sentence is.
LEAK_MIN_CHARS = 12
LEAK_MIN_WORDS = 4


@dataclass
class Finding:
    """One lint result."""

    severity: str  # "error" | "warning"
    code: str
    file: str
    template: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        tpl = f" template '{self.template}'" if self.template else ""
        return f"{where}: {self.severity} [{self.code}]{tpl}: {self.message}"


@dataclass
class LintReport:
    """Findings over some template files."""

    files: list[str] = field(default_factory=list)
    templates: int = 0
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def as_dict(self) -> dict:
        return {"ok": not self.errors, "files": self.files, "templates": self.templates, "rows": self.rows,
                "errors": len(self.errors), "warnings": len(self.warnings),
                "findings": [asdict(f) for f in self.findings]}


# -- files --------------------------------------------------------------------------------------

def template_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into template files (folders: every ``*.yaml``/``*.yml``
    holding a top-level ``templates`` key, searched recursively, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted([*p.rglob("*.yaml"), *p.rglob("*.yml")]):
                if f.name == "templates.yaml" or _has_templates_key(f):
                    out.append(f)
        elif p.exists():
            out.append(p)
        else:
            raise FtdataError(f"{p}: no such template file or folder")
    return out


def _has_templates_key(path: Path) -> bool:
    try:
        data = load_yaml(path)
    except ConfigError:
        return False
    return isinstance(data, dict) and "templates" in data


def load_file(path: str | Path) -> tuple[list[Template], list[Finding]]:
    """Load every template of a file that can be loaded; the rest become findings.

    Unlike :func:`ftdata.templating.templates.load_templates` (all or nothing), lint loads each
    template on its own so one broken template does not hide the checks of the others.
    """
    file = str(path)
    try:
        data = load_yaml(path)
    except ConfigError as exc:
        out = []
        for p in exc.problems:
            m = re.match(rf"{re.escape(file)}:(\d+)(?::\d+)?: (.*)", p, re.S)
            out.append(Finding("error", "syntax", file, None, int(m.group(1)) if m else None,
                               m.group(2) if m else p))
        return [], out
    if not isinstance(data, dict) or not isinstance(data.get("templates"), (dict, list)):
        return [], [Finding("error", "syntax", file, None, None, "expected a mapping with a 'templates' mapping or list")]
    entries = data["templates"]
    items = list(entries.items()) if isinstance(entries, dict) else [(None, e) for e in entries]
    templates: list[Template] = []
    findings: list[Finding] = []
    for key, e in items:
        one = {k: v for k, v in data.items() if k != "templates"}
        one["templates"] = {key: e} if key is not None else [e]
        try:
            templates.extend(templates_from_data(one, file))
        except ConfigError as exc:
            name = e.get("name") if isinstance(e, dict) else None
            for p in exc.problems:
                findings.append(Finding("error", "syntax", file, name, getattr(e, "line", None), _strip_where(p, file)))
    findings += _duplicates(templates, file)
    return templates, findings


def _strip_where(problem: str, file: str) -> str:
    """Drop the "file:line templates[k]:" / "template 'x' (file:line):" prefix a Finding shows anyway."""
    problem = re.sub(rf"^{re.escape(file)}:\S* (templates\[[^\]]*\]: )?", "", problem)
    return re.sub(r"^template '.*?' \(.*?:\d+\): ", "", problem)


def _duplicates(templates: list[Template], file: str) -> list[Finding]:
    out = []
    dup_names = set()
    for attr in ("name", "id"):
        first: dict[str, Template] = {}
        for t in templates:
            v = getattr(t, attr)
            if attr == "id" and id(t) in dup_names:
                continue  # a native template's default id comes from its name: reported once
            if v in first:
                dup_names.add(id(t))
                out.append(Finding("error", f"duplicate_{attr}", file, t.name, t.line,
                                   f"duplicate template {attr} '{v}' (first at line {first[v].line})"))
            else:
                first[v] = t
    return out


# -- static checks ------------------------------------------------------------------------------

def lint_static(t: Template, columns: list[str] | None = None) -> list[Finding]:
    """Checks that need no rows (see the module docstring)."""
    out: list[Finding] = []

    def add(sev, code, msg, line=None):
        out.append(Finding(sev, code, t.file, t.name, line or t.line, msg))

    if columns is not None:
        try:
            variables = t.variables()
        except TemplateError as exc:
            add("error", "syntax", str(exc))
            variables = {}
        for name, line in variables.items():
            if name not in HELPER_NAMES and name not in columns:
                add("error", "unknown_variable",
                    f"line {line} of the template: unknown variable '{name}'{did_you_mean(name, columns)}; "
                    f"the source has: {', '.join(columns)}", t.line)
        trunc = t.extra.get("truncate")
        if trunc is not None and str(trunc) not in columns:
            add("error", "unknown_variable",
                f"truncate names field '{trunc}' the source lacks{did_you_mean(str(trunc), columns)}")
    if t.form == "promptsource" and "|||" not in t.jinja:
        add("error", "no_separator", "promptsource template has no '|||' between prompt and completion")
    for m in t.metrics:
        if m not in KNOWN_METRICS:
            same_case = [k for k in KNOWN_METRICS if k.lower() == m.lower()]
            hint = (f" (did you mean '{same_case[0]}'?)" if same_case else did_you_mean(m, KNOWN_METRICS)) \
                or f"; known: {', '.join(sorted(KNOWN_METRICS))}"
            add("warning", "unknown_metric", f"metric '{m}' is not in the known vocabulary{hint}")
    if t.answer_choices is not None and "|||" not in t.answer_choices:
        add("warning", "single_choice", f"answer_choices {t.answer_choices!r} has no '|||': only one choice")
    if t.form == "native":
        tail = (t.prompt or "")[len((t.prompt or "").rstrip()):]
        head = (t.completion or "")[: len(t.completion or "") - len((t.completion or "").lstrip())]
        if "\n" in tail or "\n" in head:
            add("warning", "boundary_newline",
                "a newline at the prompt/completion boundary is stripped when rendering; the recipe's "
                "'separator' (default one space) joins prompt and completion: set separator: \"\\n\" to keep it")
    return out


# -- dynamic checks -----------------------------------------------------------------------------

def lint_rows(t: Template, rows: list[tuple[str, dict]], *, seed: int = 0, separator: str = " ",
              backend: Any = None) -> list[Finding]:
    """Render ``(row_key, row)`` samples and check the results (see the module docstring)."""
    out: list[Finding] = []
    if not rows:
        return out

    def add(sev, code, msg):
        out.append(Finding(sev, code, t.file, t.name, t.line, msg))

    failures: list[str] = []
    not_applying = 0
    rendered: list[tuple[str, str, list[str] | None]] = []
    for key, row in rows:
        try:
            rendered.append(t.render(row, seed=seed, row_key=key))
        except DoesNotApply:
            not_applying += 1
        except TemplateError as exc:
            failures.append(str(exc))
    n = len(rows)
    if failures:
        sev = "error" if len(failures) == n else "warning"
        add(sev, "render_error", f"fails for {len(failures)} of {n} sampled rows; first: {failures[0]}")
    if not_applying and not_applying == n:
        add("error", "does_not_apply", f"does not apply to any of the {n} sampled rows (empty prompt or completion)")
    elif not_applying * 2 > n:
        add("warning", "does_not_apply", f"does not apply to {not_applying} of {n} sampled rows")
    if not rendered:
        return out
    outside = [(c, ch) for _, c, ch in rendered if ch is not None and c not in ch]
    if outside:
        c, ch = outside[0]
        add("error", "not_in_choices", f"in {len(outside)} of {len(rendered)} rendered rows the completion is not "
                                       f"one of answer_choices; first: {c!r} not in {ch}")
    leaks = [c for p, c, ch in rendered if len(c) >= LEAK_MIN_CHARS and len(c.split()) >= LEAK_MIN_WORDS
             and (ch is None or c not in ch) and c in p]
    if leaks:
        sev = "error" if len(leaks) == len(rendered) else "warning"
        add(sev, "leak", f"the completion appears verbatim in the prompt in {len(leaks)} of {len(rendered)} "
                         f"rendered rows; first: {leaks[0][:60]!r}")
    out += _boundary(t, rendered, separator, backend)
    return out


def _boundary(t: Template, rendered, separator: str, backend) -> list[Finding]:
    if backend is not None:
        from ..tokenize.spans import encode_causal

        encs = encode_causal(backend, [p for p, _, _ in rendered], [c for _, c, _ in rendered],
                             separator=separator, eos_id=None, max_length=10**9, overflow="drop")
        n = sum(1 for e in encs if e.straddle)
        if n:
            return [Finding("warning", "boundary_straddle", t.file, t.name, t.line,
                            f"in {n} of {len(rendered)} rendered rows a token spans the prompt/completion boundary "
                            f"(separator {separator!r}); the completion's first token then carries prompt text")]
        return []
    glued = sum(1 for p, c, _ in rendered
                if (not separator or not separator[-1].isspace()) and (p + separator)[-1:].isalnum() and c[:1].isalnum())
    if glued:
        return [Finding("warning", "boundary_glue", t.file, t.name, t.line,
                        f"in {glued} of {len(rendered)} rendered rows separator {separator!r} glues the prompt's "
                        "last word to the completion's first word")]
    return []


# -- the whole run ------------------------------------------------------------------------------

def lint_paths(paths: Iterable[str | Path], *, columns: list[str] | None = None,
               rows: list[tuple[str, dict]] | None = None, seed: int = 0, separator: str = " ",
               tokenizer: str | None = None) -> LintReport:
    """Lint every template file under ``paths``.

    Args:
        paths: template files or folders.
        columns: the source's columns (enables ``unknown_variable``); taken from ``rows``
            when not given.
        rows: sample ``(row_key, row)`` pairs (enables the dynamic checks).
        seed: seed for template randomness, as in the build.
        separator: the recipe's separator (for the boundary checks).
        tokenizer: tokenizer name (as in a recipe) for ``boundary_straddle``.
    """
    backend = None
    if tokenizer and rows:
        from ..tokenize.tokenizer import load_tokenizer

        backend = load_tokenizer(tokenizer).backend_tokenizer
    if columns is None and rows:
        seen: dict[str, None] = {}
        for _, r in rows:
            seen.update(dict.fromkeys(r))
        columns = list(seen)
    report = LintReport(rows=len(rows or []))
    for f in template_files(paths):
        templates, findings = load_file(f)
        report.files.append(str(f))
        report.templates += len(templates)
        report.findings += findings
        for t in templates:
            report.findings += lint_static(t, columns)
            if rows:
                report.findings += lint_rows(t, rows, seed=seed, separator=separator, backend=backend)
    return report


def sample_rows(path: str | Path, n: int, *, fmt: str | None = None, columns: list[str] | None = None,
                delimiter: str | None = None, quoting: str = "minimal", key: str | None = None,
                ) -> tuple[list[str], list[tuple[str, dict]]]:
    """The columns and first ``n`` readable rows of a data file, as ``(row_key, row)``.

    ``columns`` names the columns of a CSV/TSV without a header. The row key is the ``key``
    column when given, else the line number (as ``key: '@line'`` in a recipe).
    """
    from ..config.models import CsvOptions, SourceSpec
    from ..read.sources import guess_format, peek_columns, read_source

    p = Path(path)
    if not p.exists():
        raise FtdataError(f"{p}: source file not found")
    csv_opts = CsvOptions(delimiter=delimiter, quoting=quoting, header=columns is None, columns=columns)
    spec = SourceSpec(name=p.stem, path=str(p.resolve()), format=fmt, csv=csv_opts, templates=[])
    fmt = fmt or guess_format(p)
    cols = peek_columns(p, fmt, spec)
    rows = []
    for r in islice((r for r in read_source(spec, Path.cwd()) if r.data is not None), n):
        rows.append((str(r.data.get(key)) if key else str(r.line), r.data))
    if rows and not cols:
        cols = list(rows[0][1])
    return cols, rows

