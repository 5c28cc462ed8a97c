"""The manifest: what a compiled directory holds, and the accounting that adds up exactly.

:class:`SourceCounts` is one source's accounting, filled by the build as rows are read and
examples written; :func:`manifest` assembles ``manifest.json`` (format, settings, input
hashes, tokenizer, templates, counts, token statistics, shards); :func:`accounting_ok` checks
its identities: every row read is in the output or in ``rejects.jsonl``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..config.models import Recipe, recipe_hash
from ..constants import IGNORE_INDEX, LABEL_CONVENTION, OUTPUT_FORMAT, __version__
from ..rejects import tally
from ..templating.templates import Template
from ..tokenize.tokenizer import tokenizer_hash


@dataclass
class SourceCounts:
    """Per-source accounting; see :func:`accounting_ok` for the identities."""

    rows_read: int = 0
    rows_rejected: int = 0
    rows_with_output: int = 0
    rows_without_output: int = 0
    templates: int = 0
    fanout: int = 0  # templates each rendered row meets (ftdata.templating.selection.RowPlan.fanout)
    examples_candidates: int = 0
    examples_written: int = 0
    examples_rejected: int = 0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["rows_rendered"] = self.rows_read - self.rows_rejected
        return d


def manifest(recipe: Recipe, tok, *, columns: list[str], hashes: dict,
             templates: dict[str, list[Template]], counts: dict[str, SourceCounts],
             rejects_by: Counter, rejects_by_stage: Counter, split_counts: dict, token_stats: dict, shards: dict, extra: dict) -> dict:
    """The manifest of a build of ``recipe``.

    Args:
        columns: the output columns; hashes: ``recipe_file``, ``sources`` and ``templates``
            hashes (the recipe's and the tokenizer's are computed here).
        templates: source name -> its templates; counts: source name -> its accounting.
        rejects_by, rejects_by_stage: reject records by code and by stage.
        extra: sections added last (the plan's info: dedup, mixture, contamination, audit).
    """
    m = {
        "format": OUTPUT_FORMAT,
        "ftdata_version": __version__,
        "name": recipe.name,
        "layout": recipe.layout,
        "label_convention": LABEL_CONVENTION,
        "ignore_index": IGNORE_INDEX,
        "columns": columns,
        "seed": recipe.seed,
        "max_length": recipe.max_length,
        "overflow": recipe.overflow,
        "separator": recipe.separator,
        "add_eos": recipe.add_eos,
        "split": recipe.split.model_dump(mode="json"),
        "hashes": {
            "recipe": recipe_hash(recipe),
            "recipe_file": hashes["recipe_file"],
            "sources": hashes["sources"],
            "templates": hashes["templates"],
            "tokenizer": tokenizer_hash(tok),
        },
        "tokenizer": {"name": recipe.tokenizer, "eos_token": tok.eos_token,
                      "eos_id": tok.eos_token_id, "bos_token": tok.bos_token,
                      "pad_token": tok.pad_token, "pad_id": tok.pad_token_id,
                      "vocab_size": len(tok)},
        "templates": {s: [_template_entry(t) for t in ts] for s, ts in templates.items()},
        "license": recipe.license,
        "licenses": {src.name: src.license for src in recipe.sources},
        "counts": {
            "sources": {k: v.as_dict() for k, v in counts.items()},
            "splits": split_counts,
            "rejects": sum(rejects_by.values()),
            "rejects_by_code": tally(rejects_by),
            "rejects_by_stage": tally(rejects_by_stage),
        },
        "tokens": token_stats,
        "shards": shards,
    }
    if recipe.chat_on:
        # one section: the recipe's chat settings (the conversation exports read them) and the
        # build's chat checks from ``extra`` (ftdata.plan.chataudit: totals, per template, notes)
        m["chat"] = recipe.chat.model_dump(mode="json") | extra.get("chat", {})
    m.update({k: v for k, v in extra.items() if k != "chat"})
    return m


def _template_entry(t: Template) -> dict:
    entry = {"name": t.name, "id": t.id, "metrics": t.metrics, "file": str(Path(t.file).name),
             "answer_choices": t.answer_choices, "text_hash": t.text_hash(),
             "jinja": t.jinja if t.jinja is not None else f"{t.prompt} ||| {t.completion}"}
    if t.references:  # only then: manifests of templates without references stay as they were
        entry["references"] = list(t.references)
    return entry


def accounting_ok(manifest: dict) -> list[str]:
    """Check the manifest's identities; return the ones that fail (empty = all hold).

    Per source: rows_read = rows_with_output + rows_without_output + rows_rejected, and
    examples_candidates = rows_rendered x fanout (the templates each row meets: all of them,
    or one per round-robin / random reference) = examples_written + examples_rejected, where
    examples_rejected is the number of example-level records in rejects.jsonl. A template a
    row is not assigned is not a reject. Across sources: examples written = examples in the
    splits.
    """
    bad = []
    for name, c in manifest["counts"]["sources"].items():
        if c["rows_read"] != c["rows_with_output"] + c["rows_without_output"] + c["rows_rejected"]:
            bad.append(f"{name}: rows_read != with_output + without_output + rejected")
        if c["rows_without_output"] < 0:
            bad.append(f"{name}: negative rows_without_output")
        if "fanout" in c and c["examples_candidates"] != c["rows_rendered"] * c["fanout"]:
            bad.append(f"{name}: candidates {c['examples_candidates']} != rows_rendered {c['rows_rendered']} "
                       f"x fanout {c['fanout']}")
        if c["examples_candidates"] != c["examples_written"] + c["examples_rejected"]:
            bad.append(f"{name}: candidates {c['examples_candidates']} != written {c['examples_written']} "
                       f"+ rejected {c['examples_rejected']}")
    written = sum(c["examples_written"] for c in manifest["counts"]["sources"].values())
    if written != sum(s["examples"] for s in manifest["counts"]["splits"].values()):
        bad.append("examples written != examples in splits")
    return bad
