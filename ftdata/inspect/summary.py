"""The end-of-build summary table."""

from __future__ import annotations

from pathlib import Path

from ..rejects import meaning


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
            lines.append(f"  {code:<22}{n:>8}  {meaning(code)}")
    else:
        lines.append("rejects: 0")
    trunc = sum(t["truncated"] for t in m["tokens"].values())
    strad = sum(t["straddling_boundary"] for t in m["tokens"].values())
    lines.append(f"truncated: {trunc}   tokens straddling the prompt/completion boundary: {strad}")
    lines += field_cut_lines(m)
    lines += mixture_lines(m.get("mixture")) + contamination_lines(m.get("contamination"))
    return "\n".join(lines)


def field_cut_lines(m: dict) -> list[str]:
    """Examples whose template's truncate field was shortened, per split, task and template."""
    from ..write.card import field_cut_rows, field_cut_total

    rows = field_cut_rows(m)
    if rows is None:
        return []
    lines = [f"field truncation: {field_cut_total(rows)}"]
    if rows:
        lines.append(f"  {'split':<12}{'task':<22}{'template':<24}{'examples':>10}{'tokens':>10}{'chars':>10}")
        lines += [f"  {s:<12}{t:<22}{tpl:<24}{n:>10}{tok:>10}{ch:>10}" for s, t, tpl, n, tok, ch in rows]
    return lines


def mixture_lines(mix: dict | None) -> list[str]:
    """Requested versus realized task shares of each sampled split."""
    if not mix:
        return []
    how = mix["method"] + (f", cap {mix['cap']}" if mix.get("cap") else "") + (
        f", T={mix['temperature']:g}" if mix["method"] == "temperature" else "")
    lines = ["", f"mixture ({how}; sampled without replacement):"]
    lines.append(f"  {'split':<12}{'task':<22}{'available':>10}{'taken':>10}{'requested':>11}{'realized':>10}")
    for split, rep in mix["splits"].items():
        for task, t in rep["tasks"].items():
            flag = "  (ran out)" if t["exhausted"] else ""
            lines.append(f"  {split:<12}{task:<22}{t['available']:>10}{t['examples']:>10}"
                         f"{t['requested_share']:>11.3f}{t['realized_share']:>10.3f}{flag}")
    return lines


def contamination_lines(con: dict | None) -> list[str]:
    """Held-out examples (and external eval texts) overlapping the train split."""
    if not con:
        return []
    lines = ["", f"contamination ({con['ngram']}-gram overlap with '{con['train_split']}' >= {con['min_overlap']:.0%}):"]
    for split, r in con["splits"].items():
        lines.append(f"  {split:<12}{r['contaminated']:>6} of {r['examples']:<7} examples ({r['share']:.2%})   "
                     f"prompts: {r['prompts']['contaminated']}, completions: {r['completions']['contaminated']}, "
                     f"any shared n-gram: {r['prompts']['any_overlap']} / {r['completions']['any_overlap']}")
    for name, r in con["eval_sets"].items():
        lines.append(f"  eval {name:<7}{r['contaminated']:>6} of {r['texts']:<7} texts ({r['share']:.2%})   "
                     f"any shared n-gram: {r['any_overlap']}")
    if con.get("fail_above") is not None:
        lines.append(f"  fail_above: {con['fail_above']:.2%} (passed)")
    return lines
