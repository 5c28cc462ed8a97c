"""HTML building blocks of the build report: inline styles, escaping, tables, images, the audit table.

Everything is inline (styles, ``data:`` images) so the report opens anywhere with nothing
beside it and nothing fetched.
"""

from __future__ import annotations

import html
import json

CSS = """body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;
color:#222;padding:0 16px}h1{margin-bottom:2px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
.sub{color:#666}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}.card{background:#f4f6fa;border-radius:8px;
padding:10px 16px;min-width:130px}.card b{display:block;font-size:22px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 9px;text-align:right}th{background:#f4f6fa}td.t,th.t,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;border-radius:6px}.note{color:#8a5a00;background:#fff6e0;padding:6px 10px;
border-radius:6px}code{background:#f4f6fa;padding:1px 4px;border-radius:3px}
pre.ex{white-space:pre-wrap;word-break:break-word;background:#fafafa;border:1px solid #e4e4e4;border-radius:6px;
padding:8px 10px;margin:2px 0 14px;font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace;color:#888}
pre.ex mark,p mark{background:#d7f5dc;color:#0b3d17;border-bottom:2px solid #2ca02c;padding:0 1px}
pre.ex i{color:#b05000;font-style:italic}.legend{color:#888}.exhead{font-size:13px;color:#444;margin-top:10px}
h3{font-size:15px;margin:18px 0 4px}"""


def esc(x) -> str:
    return html.escape(str(x))


def cell(v) -> str:
    if v is None:
        return "–"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def table(head: list[str], rows: list[list]) -> str:
    """An HTML table; text cells (and their column's heading) are left-aligned, numbers right."""
    text = [isinstance(c, str) for c in rows[0]] if rows else []
    th = "".join(f"<th class=t>{esc(h)}</th>" if i < len(text) and text[i] else f"<th>{esc(h)}</th>"
                 for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td class=t>{esc(c)}</td>" if isinstance(c, str) else f"<td>{esc(cell(c))}</td>"
                                    for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def img(b64: str | None, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{b64}">' if b64 else ""


def flatten(d, prefix="") -> list[tuple[str, object]]:
    out = []
    for k, v in (d.items() if isinstance(d, dict) else []):
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out += flatten(v, key)
        else:
            out.append((key, json.dumps(v) if isinstance(v, (list, tuple)) else v))
    return out


def audit_section(audit, tok: dict, order: list[str]) -> list[str]:
    """The audit as a check x split table (the manifest's ``audit.splits``), with each check's meaning."""
    if not isinstance(audit, dict) or not isinstance(audit.get("splits"), dict):
        rows = [[f"{s}: straddling_boundary", tok[s]["straddling_boundary"]] for s in order]
        rows += [[k, v] for k, v in flatten(audit or {})]
        note = [] if audit else ["<p>This build's manifest has no <code>audit</code> entry; straddling-token counts only.</p>"]
        return note + [table(["check", "count"], rows)]
    per = audit["splits"]
    splits = [s for s in order if s in per] + [s for s in per if s not in order]
    notes = audit.get("notes") or {}
    checks = list(notes) + sorted({k for s in per.values() for k in s if k not in notes and k != "examples"})
    rows = [[c, *[per[s].get(c, "–") for s in splits], notes.get(c, "")] for c in checks]
    extra = [[k, v] for k, v in audit.items() if k not in ("splits", "notes") and not isinstance(v, dict)]
    bad = sum(v for r in rows for v in r[1:-1] if isinstance(v, int))
    return ((["<p>All checks at zero.</p>"] if not bad else []) + [
             table(["check", *splits, "meaning"], rows)] + ([table(["setting", "value"], extra)] if extra else []))
