"""The boundary audit: what masking found in every example, counted into the manifest.

Masking (:mod:`ftdata.tokenize.spans`) sets a few bits per example in the internal ``_audit``
column; phase B counts them over the examples actually written, per split, into the
manifest's ``audit`` section. The bits:

* ``straddling_boundary``: a trained token starts before its span (it carries prompt
  characters too); it is trained, since it holds completion characters.
* ``duplicated_bos``: the sequence starts with BOS twice (a template writes BOS and the
  tokenizer's post-processor adds another).
* ``eos_untrained``: a trained span ends without a trained EOS or end-of-turn token, so the
  model never learns to stop (``add_eos: false``, or a chat template without one).
* ``prompt_not_prefix``: the prompt tokenized alone is not a prefix of the joint
  tokenization, so tools that mask by prompt length, and inference on the bare prompt, see
  other tokens than training did. Exactly: the prompt's ids, tokenized alone without the
  post-processor's tokens, differ from the joint ids between the post-processor's leading
  tokens (BOS) and the first trained token; a token straddling the boundary always makes them
  differ. No false positive (a re-encoded tail that differs is settled by the whole prompt),
  and no false negative where the tokenizer splits words at whitespace, as byte-level BPE,
  Metaspace (SentencePiece-style) BPE and Unigram, WordPiece and Llama 2's ``Prepend`` layout
  do (tested against a recount, also in the chat layout); see
  :func:`ftdata.tokenize.prefix._prefix_verdicts`. A truncated example is not checked.
* ``special_tokens_in_data``: the raw data held special-token strings (``<|im_end|>``); with
  ``special_tokens_in_data: text`` (default) they were encoded as plain text.

Examples that would train nothing never get here: they go to ``rejects.jsonl`` with code
``no_trained_token``; the section repeats that count.
"""

from __future__ import annotations

import numpy as np

from ..rejects import Code
from .auditbits import FLAGS


def count_flags(bits: np.ndarray) -> dict[str, int]:
    """Examples carrying each audit bit."""
    bits = np.asarray(bits, dtype=np.int64)
    return {name: int(np.count_nonzero(bits & bit)) for name, bit in FLAGS.items()}


def audit_section(work, plan, *, rejects_by_code: dict | None = None, special_tokens_mode: str = "text",
                  release=None) -> dict:
    """The manifest's ``audit`` section from the work table and the plan (written examples only).

    ``release``: the build's :meth:`~ftdata.read.mapped.MappedFiles.release` (None: keep pages).
    """
    from ..plan.worktable import column_numpy

    col = column_numpy(work, "_audit", release) if "_audit" in work.column_names else None  # a chunk at a time
    splits = {}
    total = dict.fromkeys(FLAGS, 0)
    for name in plan.split_names:
        idx = plan.order.get(name, np.zeros(0, dtype=np.int64))
        bits = col[idx] if col is not None else np.zeros(0, dtype=np.int64)
        c = count_flags(bits)
        c["examples"] = int(len(idx))
        splits[name] = c
        for k in FLAGS:
            total[k] += c[k]
    rej = rejects_by_code or {}
    return {
        "special_tokens_in_data_mode": special_tokens_mode,
        "totals": total,
        "splits": splits,
        "rejected_no_trained_token": int(rej.get(Code.NO_TRAINED_TOKEN, 0)),
        "notes": {k: v for k, v in NOTES.items()},
    }


NOTES = {
    "straddling_boundary": "a trained token also holds prompt characters (trained, counted)",
    "duplicated_bos": "BOS twice at the start (template BOS plus the tokenizer's own)",
    "eos_untrained": "a trained span ends without a trained EOS / end-of-turn token",
    "prompt_not_prefix": "the prompt tokenized alone differs from the start of the joint tokens",
    "special_tokens_in_data": "raw data held special-token strings (see special_tokens_in_data_mode)",
}


def inspect_output(path, *, split: str | None = None, n: int = 3, tokenizer: str | None = None) -> dict:
    """What ``ftdata inspect`` shows: statistics, the audit and ``n`` decoded examples of a split.

    Args:
        path: a compiled directory (read through :func:`ftdata.inspect.load.load_compiled`).
        split: the split to decode examples from (default: the first one).
        n: how many rows to decode.
        tokenizer: tokenizer to decode with (default: the one named in the manifest).

    Returns:
        A dict with ``manifest`` (name, layout, counts, tokens, audit, packing) and ``examples``:
        per row a list of documents, each ``{row_key, task, template, segments}`` where
        ``segments`` is ``[[trained, text], ...]`` and ``ids`` / ``labels`` the token lists.
    """
    from ..errors import FtdataError
    from ..inspect.load import load_compiled
    from .tokenizer import load_tokenizer

    dd = load_compiled(path, verify="quick")
    m = dd.manifest
    names = list(dd.keys())
    split = split or (names[0] if names else None)
    if split not in dd:
        from ..errors import did_you_mean

        raise FtdataError(f"{path}: no split '{split}'{did_you_mean(str(split), names)}; splits: {', '.join(names)}")
    name = tokenizer or m.get("tokenizer", {}).get("name")
    try:
        tok = load_tokenizer(name)
    except FtdataError as exc:
        raise FtdataError(f"cannot load the tokenizer named in the manifest ('{name}'): {exc}; "
                          "pass --tokenizer PATH") from None
    ds = dd[split]
    rows = ds.select(range(min(n, ds.num_rows)))
    examples = []
    for row in rows:
        examples.append(_documents(tok, row, m.get("layout", "causal")))
    return {"path": str(path), "split": split, "tokenizer": tok, "manifest": m, "examples": examples}


def _documents(tok, row: dict, layout: str) -> list[dict]:
    """One row as its documents (one, or several when the split is packed)."""
    from ..inspect.display import boundary_line, segments

    packed = "seq_lengths" in row
    lengths = row["seq_lengths"] if packed else [len(row["input_ids"])]
    docs, start = [], 0
    for j, length in enumerate(lengths):
        ids = row["input_ids"][start:start + length]
        labels = row["labels"][start:start + length] if packed else row["labels"]
        start += length
        meta = {k: (row[k][j] if packed else row[k]) for k in ("row_key", "task", "template")}
        if layout == "seq2seq" and not packed:
            segs = [(False, tok.decode(ids, skip_special_tokens=False))] + segments(tok, labels, labels)
        else:
            segs = segments(tok, ids, labels)
        boundary = boundary_line(tok, ids, labels) if layout != "seq2seq" else None
        docs.append(meta | {"segments": [[t, s] for t, s in segs], "ids": ids, "labels": labels, "boundary": boundary})
    return docs


def stats_lines(m: dict) -> list[str]:
    """Per split and task statistics, the audit and packing, as text lines."""
    lines = [f"{m.get('name')}: layout {m.get('layout')}, max_length {m.get('max_length')}, "
             f"tokenizer {m.get('tokenizer', {}).get('name')}", "",
             f"{'split':<12}{'task':<22}{'examples':>10}{'tokens':>12}{'supervised':>12}{'p50 len':>9}{'max':>7}"]
    for split, s in m["counts"]["splits"].items():
        t = m["tokens"].get(split, {})
        ln = t.get("length", {})
        lines.append(f"{split:<12}{'(all)':<22}{s['examples']:>10}{t.get('tokens', 0):>12}"
                     f"{t.get('supervised_fraction', 0):>12.3f}{ln.get('p50', 0):>9.0f}{ln.get('max', 0):>7}")
        for task, k in s.get("tasks", {}).items():
            tt = s.get("task_tokens", {}).get(task, {"tokens": 0, "trained_tokens": 0})
            frac = tt["trained_tokens"] / tt["tokens"] if tt["tokens"] else 0.0
            lines.append(f"{'':<12}{task:<22}{k:>10}{tt['tokens']:>12}{frac:>12.3f}")
    audit = m.get("audit")
    if audit:
        lines += ["", f"audit (examples; special tokens in data encoded as {audit['special_tokens_in_data_mode']}):"]
        lines.append(f"  {'check':<26}" + "".join(f"{s:>12}" for s in audit["splits"]))
        for key in FLAGS:
            lines.append(f"  {key:<26}" + "".join(f"{audit['splits'][s][key]:>12}" for s in audit["splits"]))
        lines.append(f"  rejected, nothing to train: {audit['rejected_no_trained_token']}")
    trunc = sum(t.get("truncated", 0) for t in m["tokens"].values())
    lines.append(f"  truncated (prompt shortened): {trunc}")
    pk = m.get("packing")
    if pk:
        lines += ["", f"packing ({pk['method']}, max_length {pk['max_length']}): fill ratio {pk['fill_ratio']:.3f}"]
        for s, v in pk["splits"].items():
            lines.append(f"  {s:<12}{v['documents']:>8} documents in {v['rows']:>7} rows, fill {v['fill_ratio']:.3f}")
    return lines
