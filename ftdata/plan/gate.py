"""The build's last check before it writes shards: is the output what the recipe meant?

A file read with the wrong format, or a ``max_length`` below every example, used to give an
empty or mostly rejected dataset and exit 0. :func:`outcome_problems` says what is wrong
instead, one line per problem naming the source, the share rejected, the most common reject
reason with its count and share, and the likely fix. The build fails on any of:

* a source that reads no rows, or whose rows yield no usable example (every example
  rejected; duplicates removed by dedup and examples the mixture leaves out are the recipe's
  choice -- ``deliberate`` in the reject table, :mod:`ftdata.rejects` -- and do not count as
  rejects here);
* a source that loses more than ``max_reject_share`` of its examples to rejects, a row
  rejected when read counting for every example it would have made (``fanout``);
* an empty output, or an empty split that rows were hashed into (ratio > 0) or pinned to.

A failed build writes no output; its ``rejects.jsonl`` and a ``failure.json`` are kept in
``<output>.failed/`` beside it (:func:`keep_failed`), so the user can see why.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from ..constants import REJECTS
from ..errors import BuildError
from ..read.sources import guess_format
from ..rejects import Code
from ..write.writer import mark_output, not_replaceable, write_json

#: Reject codes that are a decision of the recipe (dedup, the mixture's sampling), not a problem
#: with the data: a removed duplicate's content is in the output as its kept copy.
NOT_A_PROBLEM = tuple(c for c in Code if c.deliberate)


def failed_dir(target: Path) -> Path:
    """Where a failed build of ``target`` leaves its rejects: ``<target>.failed`` beside it."""
    return target.parent / f"{target.name}.failed"


def _fix(code: Code, sample, src, recipe) -> str:
    """The likely fix for a source whose most common reject is ``code`` (``sample``: one of them)."""
    try:
        fmt = src.format or (guess_format(Path(src.path)) if src.path else None)
    except BuildError:
        fmt = None
    value = (sample.value or "") if sample is not None else ""
    if fmt == "csv" and "\t" in value and code in (Code.UNREADABLE, Code.NOT_AN_ANSWER_CHOICE, Code.SCHEMA):
        return "the file looks tab-separated: set format: tsv (or csv.delimiter: \"\\t\")"
    fixes = {
        Code.UNREADABLE: "check format and the csv options (delimiter, quoting: none for stray quotes, header, "
                         "columns)" if fmt in ("csv", "tsv") else
                         f"check that the file is {fmt or 'in the format set'} (set format: otherwise); JSON Lines "
                         "holds one JSON object a line",
        Code.SCHEMA: "check sources[].columns against the data, or map column names with rename",
        Code.DUPLICATE_KEY: f"the key column '{src.key}' is not unique: pick a unique column, '@line', or leave "
                            "key out (a hash of the row)",
        Code.DOES_NOT_APPLY: "the templates do not apply to these rows (an empty prompt or completion, or the "
                             "template skips them): check the columns and values they read",
        Code.RENDER_ERROR: "fix the template or the data it reads (`ftdata preview RECIPE` shows the first rows rendered)",
        Code.NOT_AN_ANSWER_CHOICE: "the label column does not hold the template's answer_choices: map the labels "
                                   "in the template (e.g. {{ answer_choices[label] }}) or check that the file is "
                                   "parsed right (format, csv options)",
        Code.TOO_LONG: f"raise max_length (now {recipe.max_length}), set overflow: truncate_prompt, or name a field "
                       "to shorten with truncate:",
        Code.NO_TRAINED_TOKEN: "the completion leaves no token to train: check the template's completion and "
                               "separator",
        Code.BAD_MESSAGES: "check the messages column: a list of {role, content}",
        Code.UNKNOWN_ROLE: "check chat.format (openai: role, sharegpt: from) and the role names in the data",
        Code.TOOL_WITHOUT_CALL: "every tool message must answer an earlier assistant tool call (matching tool_call_id)",
        Code.EMPTY_ASSISTANT_TURN: "give every assistant turn content or a tool call",
        Code.BAD_TOOL_ARGUMENTS: "tool-call arguments must be JSON (a JSON string or a JSON value)",
        Code.BAD_WEIGHT: "weight is 0 or 1, on assistant turns only",
        Code.BAD_TOOLS: "the tools column holds a list of function schemas (or its JSON text)",
    }
    return fixes.get(code, "see the reasons in rejects.jsonl")


def _source_problem(src, c, codes: Counter, samples: dict, threshold: float, recipe, path: str) -> str | None:
    """The problem line for one source, or None when it is fine (``c``: its SourceCounts)."""
    if c.rows_read == 0:
        return f"source '{src.name}' ({path}) yields no rows: the input holds no records; check path and format"
    fanout = max(c.fanout, 1)
    total = c.rows_read * fanout
    deliberate = sum(codes[k] for k in NOT_A_PROBLEM)
    lost = c.rows_rejected * fanout + c.examples_rejected - deliberate
    survived = c.examples_candidates - c.examples_rejected + deliberate
    share = lost / total
    if survived > 0 and share <= threshold:
        return None
    detail = (f"{share:.1%} rejected ({c.rows_read} rows read, {c.rows_rejected} rejected whole; "
              f"{c.examples_rejected - deliberate} of the {c.examples_candidates} examples rendered from the rest "
              "rejected)")
    line = (f"source '{src.name}' ({path}) yields no usable rows (a build fails on that whatever "
            f"max_reject_share allows): {detail}" if survived <= 0 else
            f"source '{src.name}' ({path}): {detail}, more than max_reject_share {threshold:g}")
    weight = {k: n * (fanout if samples[k].stage.whole_row else 1) for k, n in codes.items()
              if k not in NOT_A_PROBLEM}
    ranked = sorted(weight, key=lambda k: (-weight[k], k))
    if not ranked:
        return line
    top = ranked[0]
    s = samples[top]
    unit = "rows" if s.stage.whole_row else "examples"
    where = f"line {s.line}" + (f", template '{s.template}'" if s.template else "")
    line += (f"\n      most common reason: {top}: {codes[top]} {unit} ({weight[top] / total:.1%}), e.g. {where}: "
             f"{s.reason}")
    if s.value:
        line += f" (value {s.value[:80]!r})"
    others = ", ".join(f"{k}: {codes[k]}" for k in ranked[1:3])
    if others:
        line += f"\n      also: {others}"
    return line + f"\n      likely fix: {_fix(top, s, src, recipe)}"


def outcome_problems(recipe, counts: dict, codes: dict[str, Counter], samples: dict[str, dict],
                     split_sizes: dict[str, int], hashed_rows: int, base: Path) -> list[str]:
    """Why this build's output is not what the recipe meant (empty: it is fine).

    Args:
        recipe: the :class:`~ftdata.config.recipe.Recipe`.
        counts: source name -> :class:`~ftdata.write.manifest.SourceCounts`, with every reject recorded.
        codes: source name -> reject code -> records in ``rejects.jsonl``.
        samples: source name -> reject code -> the first such :class:`~ftdata.rejects.Reject`.
        split_sizes: split name -> examples planned for it (after dedup and mixture).
        hashed_rows: rows whose split comes from the ratios (not pinned to a split).
        base: folder relative source paths are resolved against.
    """
    from ..config.paths import resolve_path

    problems = []
    for src in recipe.sources:
        path = str(resolve_path(base, src.path)) if src.path is not None else f"hub:{src.hub.path}"
        p = _source_problem(src, counts[src.name], codes.get(src.name, Counter()), samples.get(src.name, {}),
                            recipe.max_reject_share, recipe, path)
        if p:
            problems.append(p)
    written = sum(split_sizes.values())
    if written and problems:
        return problems  # an empty split follows from the sources' rejects: those are what to fix
    if written == 0:
        problems.append("the output is empty: no example is left to write (see the reasons above and in "
                        "rejects.jsonl)")
        return problems
    sp = recipe.split
    expected = {n for n, r in sp.ratios.items() if r > 0} if hashed_rows else set()
    expected |= {s.split for s in recipe.sources if s.split}
    for name in sorted(expected):
        if split_sizes.get(name, 0):
            continue
        if name not in sp.ratios or not hashed_rows:
            pinned = ", ".join(f"'{s.name}'" for s in recipe.sources if s.split == name)
            problems.append(f"split '{name}' is empty: every example of the sources pinned to it ({pinned or 'none'}) "
                            "was rejected or removed as a duplicate; see rejects.jsonl")
            continue
        by = (f"a hash of split.group_by '{sp.group_by}', so every group landed in another split"
              if sp.mode == "group" else
              f"the labels of split.stratify_by '{sp.stratify_by}'" if sp.mode == "stratify" else
              "a hash of each row key, and none landed in it")
        problems.append(f"split '{name}' is empty (ratio {sp.ratios[name]:g}; {written} example(s) written to the "
                        f"other splits): rows go by {by}; add rows, or set split.ratios.{name}: 0 if no "
                        f"{name} split is wanted")
    return problems


def drop_failed(target: Path) -> None:
    """Remove the ``<target>.failed`` folder of an earlier failed build, if ftdata made it."""
    out = failed_dir(target)
    if out.exists() and not_replaceable(out, "failed") is None:
        shutil.rmtree(out, ignore_errors=True)


def keep_failed(target: Path, tmp: Path, problems: list[str], manifest_counts: dict) -> Path | None:
    """Keep the rejects of a failed build in ``<target>.failed`` (replacing an older one).

    A folder of that name that ftdata did not make is the user's: it is left alone and the
    rejects are not kept (returns None; the caller says so).

    Args:
        target: the output folder the build would have written.
        tmp: the build's temporary folder (its ``rejects.jsonl`` is moved, the rest is removed by
            the caller).
        problems: the lines of :func:`outcome_problems`.
        manifest_counts: the ``counts`` section the manifest would have had.
    """
    out = failed_dir(target)
    if not_replaceable(out, "failed") is not None:
        return None
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    mark_output(out, "failed")
    shutil.move(str(tmp / REJECTS), str(out / REJECTS))
    write_json(out / "failure.json", {"output": str(target), "problems": problems, "counts": manifest_counts})
    return out
