"""The dataset card (README.md) written into every compiled directory, from its manifest."""

from __future__ import annotations

from pathlib import Path


def render_card(manifest: dict) -> str:
    m = manifest
    lines = ["---", f"license: {m.get('license') or 'other'}", "tags:", "- ftdata", "- sft", "---", "",
             f"# {m['name']}", "",
             f"Compiled by ftdata {m['ftdata_version']} ({m['layout']} layout, max_length {m['max_length']}, "
             f"seed {m['seed']}). Labels: {m['label_convention']}.", "",
             "## Splits", "", "| split | examples | tokens | supervised fraction |", "|---|---:|---:|---:|"]
    for split, s in m["counts"]["splits"].items():
        t = m["tokens"][split]
        lines.append(f"| {split} | {s['examples']} | {t['tokens']} | {t['supervised_fraction']:.3f} |")
    lines += ["", "## Sources", ""]
    for name, c in m["counts"]["sources"].items():
        lines.append(f"- **{name}**: {c['rows_read']} rows read, {c['rows_rejected']} rejected before rendering, "
                     f"{c['examples_written']} examples written ({c['templates']} template(s) per row); "
                     f"sha256 `{m['hashes']['sources'][name][:16]}…`")
    lines += ["", "## Templates", ""]
    for src, ts in m["templates"].items():
        for t in ts:
            lines += [f"### {src} / {t['name']}", "", f"Metrics: {', '.join(t['metrics']) or 'none'}", "",
                      "```jinja", t["jinja"], "```", ""]
    lines += ["## Loading", "", "```python", "import ftdata", f"ds = ftdata.load('{m['name']}')  # or datasets.load_from_disk(path)",
              "```", ""]
    return "\n".join(lines)


def write_card(folder: Path, manifest: dict, recipe=None, templates=None) -> None:
    (Path(folder) / "README.md").write_text(render_card(manifest), encoding="utf-8")
