"""The end-of-build summary table."""

from __future__ import annotations

from pathlib import Path


def summary_text(manifest: dict, output: Path, seconds: float | None = None) -> str:
    m = manifest
    lines = [f"compiled {m['name']} -> {output}"]
    rows = sum(c["rows_read"] for c in m["counts"]["sources"].values())
    written = sum(c["examples_written"] for c in m["counts"]["sources"].values())
    if seconds:
        lines.append(f"{rows} rows read, {written} examples written in {seconds:.1f}s ({rows / seconds:,.0f} rows/s)")
    lines.append("")
    lines.append(f"{'split':<12}{'task':<22}{'examples':>10}{'tokens':>12}{'supervised':>12}")
    for split, s in m["counts"]["splits"].items():
        tok = m["tokens"][split]
        lines.append(f"{split:<12}{'(all)':<22}{s['examples']:>10}{tok['tokens']:>12}{tok['supervised_fraction']:>12.3f}")
        for task, n in s["tasks"].items():
            tt = s["task_tokens"][task]
            frac = tt["trained_tokens"] / tt["tokens"] if tt["tokens"] else 0
            lines.append(f"{'':<12}{task:<22}{n:>10}{tt['tokens']:>12}{frac:>12.3f}")
    lines.append("")
    rej = m["counts"]["rejects_by_code"]
    if rej:
        lines.append(f"rejects: {m['counts']['rejects']} (see {output}/rejects.jsonl)")
        for code, n in rej.items():
            lines.append(f"  {code:<20}{n:>8}")
    else:
        lines.append("rejects: 0")
    trunc = sum(t["truncated"] for t in m["tokens"].values())
    strad = sum(t["straddling_boundary"] for t in m["tokens"].values())
    lines.append(f"truncated: {trunc}   tokens straddling the prompt/completion boundary: {strad}")
    return "\n".join(lines)
