"""What the build report shows row by row: examples as the model sees them, and rejects.

:func:`examples_section` renders the first few examples of each template with the trained
tokens marked (the labels that are not ``IGNORE_INDEX``), decoded span by span with the build's
tokenizer; without it, from the ``prompt`` and ``completion`` text columns, and says so.
:func:`reject_samples` reads the first few records of each reason from ``rejects.jsonl``.
Every piece of text from the data is HTML-escaped.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..constants import IGNORE_INDEX
from .reporthtml import esc, table

#: Examples shown per (task, template), and rejects per reason.
EXAMPLES_PER_TEMPLATE = 2
REJECTS_PER_REASON = 3
#: A span longer than this many characters shows its start and end around a marked gap.
_LONG = {False: 900, True: 1500}


def _spans_from_tokens(doc: dict, tok, seq2seq: bool) -> list[tuple[str, bool]]:
    """(text, trained) spans: consecutive tokens with the same trained state, decoded together."""
    def dec(ids: list[int]) -> str:
        return tok.decode(ids, skip_special_tokens=False)

    ids, labels = doc["input_ids"], doc["labels"]
    if seq2seq:  # the encoder input is never trained; the labels are the decoder's targets
        target = [x for x in labels if x != IGNORE_INDEX]
        return [(dec(ids), False), ("\n→ labels: ", None), (dec(target), True)]
    spans: list[tuple[str, bool]] = []
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or (labels[i] != IGNORE_INDEX) != (labels[start] != IGNORE_INDEX):
            spans.append((dec(ids[start:i]), labels[start] != IGNORE_INDEX))
            start = i
    return spans


def _span_html(text: str, trained: bool | None) -> str:
    if trained is None:  # a marker of ours, not data
        return f"<i>{esc(text)}</i>"
    limit = _LONG[trained]
    if len(text) > limit:
        head, tail = text[: limit * 2 // 3], text[-(limit // 3):]
        body = (f"{esc(head)}<i> … {len(text) - len(head) - len(tail)} characters not shown … </i>{esc(tail)}")
    else:
        body = esc(text)
    return f"<mark>{body}</mark>" if trained else f"<span>{body}</span>"


def example_html(doc: dict, tok, seq2seq: bool) -> str:
    """One example as a ``<pre>`` block: untrained text grey, trained text marked."""
    if tok is not None:
        spans = _spans_from_tokens(doc, tok, seq2seq)
    else:
        spans = [(doc.get("prompt") or "", False), ("\n→ completion: " if seq2seq else "", None),
                 (doc.get("completion") or "", True)]
    return "<pre class=ex>" + "".join(_span_html(t, tr) for t, tr in spans if t) + "</pre>"


def examples_section(docs: list[dict], split: str, tok, seq2seq: bool) -> list[str]:
    """The examples of one split, grouped by task and template."""
    how = ("decoded token by token with the build's tokenizer: the marked text is exactly the tokens whose "
           "label is trained (special tokens included)" if tok is not None else
           "from the <code>prompt</code> and <code>completion</code> text columns (the tokenizer was not "
           "available to decode the tokens): the marked text is the completion")
    parts = [f"<p>The first {EXAMPLES_PER_TEMPLATE} examples of each template in the {esc(split)} split, "
             f"{how}. Legend: <span class=legend>prompt (not trained)</span> "
             f"<mark>trained</mark>.</p>"]
    for doc in sorted(docs, key=lambda d: (str(d.get("task")), str(d.get("template")))):
        parts.append(f"<div class=exhead>task <b>{esc(doc.get('task'))}</b> · template "
                     f"<b>{esc(doc.get('template'))}</b> · source {esc(doc.get('source'))} · row "
                     f"<code>{esc(doc.get('row_key'))}</code> · {len(doc['input_ids'])} tokens, "
                     f"{sum(x != IGNORE_INDEX for x in doc['labels'])} trained</div>")
        parts.append(example_html(doc, tok, seq2seq))
    return parts


def reject_samples(path: Path, by_code: dict[str, int], per_reason: int = REJECTS_PER_REASON) -> dict[str, list]:
    """The first ``per_reason`` records of each reason in the rejects file (reads only as far as
    that takes); {} when the file is absent."""
    want = {c: min(n, per_reason) for c, n in by_code.items()}
    out: dict[str, list] = {c: [] for c in want}
    if not path.exists() or not want:
        return out
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            got = out.setdefault(rec.get("code"), [])
            if len(got) < want.get(rec.get("code"), per_reason):
                got.append(rec)
            if all(len(out[c]) >= k for c, k in want.items()):
                break
    return out


def rejects_table(samples: dict[str, list]) -> str:
    """The sampled rejects as one table: reason, source, line, row key, template, why, the value."""
    rows = []
    for code, recs in samples.items():
        for r in recs:
            rows.append([code, r.get("source") or "", r.get("line", ""), r.get("row_key") or "",
                         r.get("template") or "", r.get("reason") or "", "" if r.get("value") is None else str(r["value"])])
    head = ["reason", "source", "line", "row key", "template", "why", "value"]
    keep = [i for i in range(len(head)) if any(r[i] for r in rows)]  # no column that is empty throughout
    return table([head[i] for i in keep], [[r[i] for i in keep] for r in rows])
