"""The dataset card (README.md), generated from a manifest.

Written into every compiled directory by the build and, with a ``configs`` block naming the
Parquet shards, into the folder ``ftdata push`` uploads (the Hub reads that YAML block to
find the splits). Everything on the card comes from the manifest, so a card never disagrees
with the data it describes.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

_SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` examples."""
    return next((label for bound, label in _SIZES if n < bound), "n>100M")


def source_licenses(manifest: dict) -> dict[str, str | None]:
    """License per source: the source's own ``license``, else the recipe's, else None."""
    per = manifest.get("licenses") or {}
    return {name: per.get(name) or manifest.get("license") for name in manifest["counts"]["sources"]}


def hub_license(manifest: dict) -> str | list[str]:
    """The card's YAML ``license``: the one id every source shares, else the sorted distinct ids
    (the Hub takes a list), else ``other`` when none is stated."""
    found = {lic.lower() for lic in source_licenses(manifest).values() if lic}
    if manifest.get("license"):
        found.add(manifest["license"].lower())
    return "other" if not found else found.pop() if len(found) == 1 else sorted(found)


def template_task(metrics, answer_choices, original_task) -> str:
    """The Hub task category one template trains: a template that does not perform its dataset's
    original task (``original_task: false``) is text generation; otherwise answer choices or
    Accuracy mean text-classification, ROUGE alone summarization, BLEU alone translation, SQuAD
    question-answering, anything else text-generation."""
    m = {str(x).lower() for x in metrics or []}
    if original_task is False:
        return "text-generation"
    if answer_choices or "accuracy" in m:
        return "text-classification"
    if "squad" in m:
        return "question-answering"
    if "rouge" in m and "bleu" not in m:
        return "summarization"
    if "bleu" in m and "rouge" not in m:
        return "translation"
    return "text-generation"


def tokenizer_display(name: str | None) -> str | None:
    """The tokenizer as the recipe named it, never a local absolute path: a Hub name or
    ``ftdata:tiny-bpe`` as given, a local folder by its own name."""
    if not name or not (name.startswith(("/", "~", ".")) or "\\" in name or len(Path(name).parts) > 2):
        return name
    return Path(name).expanduser().name


def card_metadata(manifest: dict, recipe=None, templates=None) -> dict:
    """The card's YAML metadata (without ``configs``).

    From the manifest: license (one id, or the sources' distinct ids), size category, task
    categories (from the templates' metrics and answer choices). With the recipe and the
    templates (at build time) also: ``language`` (the templates' ``languages``), task categories
    that honour ``original_task``, and per source (``ftdata_sources``) its task, license,
    citation and column renames; Hub sources become ``source_datasets``.
    """
    m = manifest
    total = sum(s["examples"] for s in m["counts"]["splits"].values())
    if templates is not None:
        tpls = [(t.metrics, t.answer_choices, t.original_task, t.languages) for ts in templates.values() for t in ts]
    else:
        tpls = [(t.get("metrics"), t.get("answer_choices"), None, []) for ts in m["templates"].values() for t in ts]
    tasks = {"text-generation"} | {template_task(mt, ac, ot) for mt, ac, ot, _ in tpls}
    langs = list(dict.fromkeys(str(x).lower() for *_, ls in tpls for x in ls or []))
    meta = {"license": hub_license(m), "pretty_name": m["name"]}
    if langs:
        meta["language"] = langs
    meta.update({"tags": ["ftdata", "sft", "tokenized"], "task_categories": sorted(tasks),
                 "size_categories": [size_category(total)]})
    if recipe is not None:
        lic = source_licenses(m)
        hub = [s.hub.path for s in recipe.sources if s.hub is not None]
        if hub:
            meta["source_datasets"] = list(dict.fromkeys(hub))
        meta["ftdata_sources"] = [
            {"name": s.name, "task": s.task_name, "license": lic.get(s.name), "citation": s.citation,
             "origin": s.hub.path if s.hub is not None else Path(s.path).name, "renamed_columns": dict(s.rename)}
            for s in recipe.sources]
    return meta


def front_matter(card: str) -> dict:
    """The YAML block at the top of a card (``---`` ... ``---``); empty when there is none."""
    if not card.startswith("---\n"):
        return {}
    end = card.find("\n---\n", 4)
    return (yaml.safe_load(card[4:end]) or {}) if end > 0 else {}


def _number(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    if isinstance(v, dict):
        for k in ("rate", "fraction", "share", "examples", "count"):
            if isinstance(v.get(k), (int, float)):
                return v[k]
    return None


FIELD_CUT_HEAD = ["split", "task", "template", "examples shortened", "tokens removed", "characters removed"]


def field_cut_rows(m: dict) -> list[list] | None:
    """Per split, task and template: examples whose ``truncate`` field was shortened, and the field's
    tokens and characters removed (the manifest's ``tokens.<split>.field_truncated``); None when
    the recipe names no field to shorten."""
    if not any("field_truncated" in t for t in m["tokens"].values()):
        return None
    return [[split, task, tpl, c["examples"], c["tokens_removed"], c["chars_removed"]]
            for split, t in m["tokens"].items()
            for task, tc in t.get("field_truncated", {}).get("tasks", {}).items()
            for tpl, c in tc["templates"].items()]


def field_cut_total(rows: list[list]) -> str:
    """One line over :func:`field_cut_rows`: examples shortened, tokens and characters removed."""
    return (f"{sum(r[3] for r in rows)} examples shortened, {sum(r[4] for r in rows)} tokens / "
            f"{sum(r[5] for r in rows)} characters removed")


def mixture_rows(mixture) -> list[dict]:
    """Per split and task: requested and realized share, examples taken and available.

    Reads the manifest's ``mixture`` entry (``splits -> split -> tasks -> task -> {requested_share,
    realized_share, examples, available}``, see :mod:`ftdata.plan.mixture`); a flat ``tasks`` mapping
    counts as the train split. Keys are matched loosely (``request*`` / ``realiz*``).
    """
    if not isinstance(mixture, dict):
        return []
    per_split = mixture["splits"] if isinstance(mixture.get("splits"), dict) else {"train": mixture}
    rows = []
    for split, block in per_split.items():
        tasks = block.get("tasks", block) if isinstance(block, dict) else {}
        for task, v in (tasks.items() if isinstance(tasks, dict) else []):
            if not isinstance(v, dict):
                continue
            req = next((_number(x) for k, x in v.items() if "request" in k and _number(x) is not None), None)
            real = next((_number(x) for k, x in v.items() if "realiz" in k and _number(x) is not None), None)
            if req is not None or real is not None:
                rows.append({"split": str(split), "task": str(task), "requested": req, "realized": real,
                             "examples": v.get("examples"), "available": v.get("available")})
    return rows


def mixture_method(mixture: dict) -> str:
    """One line: the mixing method and its parameters, as the manifest records them."""
    parts = [f"method `{mixture.get('method', '?')}`"]
    parts += [f"{k} {mixture[k]}" for k in ("cap", "temperature", "size") if mixture.get(k) is not None]
    if mixture.get("weights"):
        parts.append("weights " + ", ".join(f"{k}: {v}" for k, v in mixture["weights"].items()))
    if "replacement" in mixture:
        parts.append("sampled " + ("with" if mixture["replacement"] else "without") + " replacement")
    return "; ".join(parts)


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def split_method(m: dict) -> str:
    """One sentence on how rows were assigned to splits (the manifest's ``split`` entry)."""
    sp = m.get("split") or {}
    ratios = ", ".join(f"{k} {v:g}" for k, v in (sp.get("ratios") or {}).items())
    mode = sp.get("mode") or ("group" if sp.get("group_by") else "ratio")
    seed = m.get("seed")
    if mode == "source":
        return "each source keeps its own split names."
    if mode == "stratify":
        return (f"within each value of `{sp.get('stratify_by')}` the rows get the ratios {ratios} exactly, "
                f"in an order seeded by {seed}.")
    what = f"the value of `{sp['group_by']}` (rows sharing it land in one split)" if mode == "group" else "the row key"
    return (f"a hash of {what}, seeded with {seed}, assigns each row to a split with ratios {ratios}; "
            "all examples rendered from a row share its split.")


def _front_matter(meta: dict, data_files: dict[str, str] | None) -> str:
    meta = dict(meta)
    if data_files:
        meta["configs"] = [{"config_name": "default",
                            "data_files": [{"split": s, "path": p} for s, p in data_files.items()]}]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _loading(m: dict, repo_id: str | None) -> list[str]:
    lines = ["## How to load", "", "```python"]
    if repo_id:
        lines += ["from datasets import load_dataset", f"dd = load_dataset({repo_id!r})  # splits: "
                  + ", ".join(m["counts"]["splits"])]
    else:
        lines += ["import ftdata", f"dd = ftdata.load('out/{m['name']}')   # DatasetDict; dd.manifest is manifest.json",
                  "# or: datasets.load_from_disk('out/" + m["name"] + "')"]
    lines += ["```", "",
              "To hand it to a training stack unchanged: `ftdata export DIR --to trl|axolotl|llamafactory|torchtune|"
              "openai-jsonl|parquet|jsonl DEST`.", ""]
    return lines


def _splits(m: dict) -> list[str]:
    lines = ["## Splits and token statistics", "",
             "| split | examples | tokens | trained tokens | supervised fraction | length p50 / p90 / max | truncated | "
             "straddling boundary |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for split, s in m["counts"]["splits"].items():
        t = m["tokens"][split]
        ln = t.get("length") or {}
        lines.append(f"| {split} | {s['examples']} | {t['tokens']} | {t['trained_tokens']} | "
                     f"{t['supervised_fraction']:.3f} | {_fmt(ln.get('p50'))} / {_fmt(ln.get('p90'))} / "
                     f"{_fmt(ln.get('max'))} | {t['truncated']} | {t['straddling_boundary']} |")
    lines += ["", "Per task:", "", "| split | task | examples | tokens | trained tokens |", "|---|---|---:|---:|---:|"]
    for split, s in m["counts"]["splits"].items():
        for task, n in s["tasks"].items():
            tt = s.get("task_tokens", {}).get(task, {})
            lines.append(f"| {split} | {task} | {n} | {_fmt(tt.get('tokens'))} | {_fmt(tt.get('trained_tokens'))} |")
    cut = field_cut_rows(m)
    if cut is not None:
        lines += ["", f"**Field truncation** (a template's `truncate` field shortened by tokens so the example "
                  f"fits max_length; the completion is never cut): {field_cut_total(cut)}."]
        if cut:
            lines += ["", "| " + " | ".join(FIELD_CUT_HEAD) + " |", "|---|---|---|---:|---:|---:|"]
            lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in cut]
    lines += ["", f"**Split method**: {split_method(m)}", ""]
    mix = m.get("mixture")
    rows = mixture_rows(mix)
    if rows:
        lines += [f"**Mixture**: {mixture_method(mix)}. Requested versus realized share per task "
                  "(splits not listed keep every task whole):", "",
                  "| split | task | requested | realized | examples | available |", "|---|---|---:|---:|---:|---:|"]
        lines += [f"| {r['split']} | {r['task']} | {_fmt(r['requested'])} | {_fmt(r['realized'])} | "
                  f"{_fmt(r['examples'])} | {_fmt(r['available'])} |" for r in rows]
        lines.append("")
    elif mix:
        lines += ["**Mixture**:", "", "```json", json.dumps(mix, indent=2, sort_keys=True), "```", ""]
    else:
        lines += ["**Mixture**: none; every example of every task is kept once (no sampling).", ""]
    pk = m.get("packing")
    if isinstance(pk, dict) and pk.get("splits"):
        lines += [f"**Packing**: {pk.get('method')} into rows of at most {pk.get('max_length')} tokens (fill ratio "
                  f"{_fmt(pk.get('fill_ratio'))}); `position_ids` restart and `seq_lengths` list the documents of each "
                  "row; counts above are documents.", ""]
    return lines


def _sources(m: dict, meta: dict) -> list[str]:
    lic = source_licenses(m)
    per = {s["name"]: s for s in meta.get("ftdata_sources") or []}
    lines = ["## Sources and licenses", "",
             "| source | license | rows read | rejected before rendering | templates | examples written | sha256 |"
             " renamed columns |", "|---|---|---:|---:|---:|---:|---|---|"]
    for name, c in m["counts"]["sources"].items():
        sha = m.get("hashes", {}).get("sources", {}).get(name, "")
        ren = ", ".join(f"`{a}` → `{b}`" for a, b in (per.get(name, {}).get("renamed_columns") or {}).items())
        lines.append(f"| {name} | {lic.get(name) or 'not stated'} | {c['rows_read']} | {c['rows_rejected']} | "
                     f"{c['templates']} | {c['examples_written']} | `{sha[:16]}` | {ren or '–'} |")
    cites = [(n, s["citation"]) for n, s in per.items() if s.get("citation")]
    if cites:
        lines += ["", "### Citation", ""]
        for name, text in cites:
            fence = "```" + "`" * text.count("```")
            lines += [f"{name}:", "", fence + ("bibtex" if text.lstrip().startswith("@") else "text"), text.strip(),
                      fence, ""]
    rej = m["counts"].get("rejects_by_code") or {}
    lines += ["", f"Rejected rows and examples: {m['counts'].get('rejects', 0)}"
              + (" (" + ", ".join(f"{k}: {v}" for k, v in rej.items()) + ")" if rej else "")
              + "; each is listed with its reason in `rejects.jsonl` of the compiled directory.", ""]
    return lines


def _templates(m: dict) -> list[str]:
    lines = ["## Templates", ""]
    for src, ts in m["templates"].items():
        for t in ts:
            fence = "```" + "`" * t["jinja"].count("```")  # a fence the template text cannot close
            lines += [f"### {src} / {t['name']}", "", f"Metrics: {', '.join(t.get('metrics') or []) or 'none'}"
                      + (f"; answer choices: `{t['answer_choices']}`" if t.get("answer_choices") else ""), "",
                      fence + "jinja", t["jinja"], fence, ""]
    return lines


def _tokenizer_files(repo_id: str, files: list[str]) -> list[str]:
    return ["## Tokenizer", "",
            f"The ids above are this tokenizer's; its files ({', '.join(f'`{f}`' for f in files)}) are in this "
            "repository, so the data is usable without looking anything else up:", "", "```python",
            "from huggingface_hub import snapshot_download", "from transformers import AutoTokenizer",
            f"local = snapshot_download({repo_id!r}, repo_type='dataset', allow_patterns={files!r})",
            "tok = AutoTokenizer.from_pretrained(local)", "```", ""]


def render_card(manifest: dict, *, repo_id: str | None = None, data_files: dict[str, str] | None = None,
                meta: dict | None = None, tokenizer_files: list[str] | None = None) -> str:
    """The dataset card for a manifest.

    Args:
        manifest: a compiled directory's manifest.
        repo_id: Hub repository the card will live in (changes the loading example).
        data_files: split -> glob of its data files, written as the YAML ``configs`` block.
        meta: the YAML metadata (default :func:`card_metadata` of the manifest alone).
        tokenizer_files: the tokenizer's files shipped beside the data (a push), named on the card.
    """
    m = manifest
    meta = card_metadata(m) if meta is None else meta
    tok = m.get("tokenizer") or {}
    head = [f"# {m['name']}", "",
            f"Supervised fine-tuning data compiled by ftdata {m['ftdata_version']} from raw rows and prompt templates: "
            f"{m['layout']} layout, max_length {m['max_length']} (overflow: {m.get('overflow')}), tokenizer "
            f"`{tokenizer_display(tok.get('name'))}` (vocabulary {tok.get('vocab_size')}, EOS `{tok.get('eos_token')}`).",
            "", f"Columns: {', '.join(f'`{c}`' for c in m.get('columns', []))}. Labels: {m['label_convention']}.", ""]
    if repo_id and tokenizer_files:
        head += _tokenizer_files(repo_id, tokenizer_files)
    hashes = m.get("hashes", {})
    prov = ["## Provenance", "", f"- recipe sha256 `{hashes.get('recipe')}`", f"- tokenizer sha256 `{hashes.get('tokenizer')}`",
            f"- seed {m['seed']}; the same recipe, sources and seed give byte-identical shards", ""]
    return "\n".join([_front_matter(meta, data_files), *head, *_loading(m, repo_id), *_splits(m),
                      *_sources(m, meta), *_templates(m), *prov])


def write_card(folder: Path, manifest: dict, recipe=None, templates=None) -> None:
    """Write README.md into a compiled directory; ``recipe`` and ``templates`` (source -> its
    :class:`~ftdata.templating.templates.Template` list) fill in what the manifest does not hold:
    languages, citations, column renames (:func:`card_metadata`). A push carries that YAML over."""
    m = manifest
    if recipe is not None and "licenses" not in m:
        m = dict(m, licenses={s.name: getattr(s, "license", None) for s in recipe.sources})
    meta = card_metadata(m, recipe, templates)
    (Path(folder) / "README.md").write_text(render_card(m, meta=meta), encoding="utf-8")
