"""The chat checks counted into the manifest's ``chat`` section (chat layout only).

Per example, rendering a conversation (:func:`ftdata.templating.chat.render_chat`) records two
facts in the internal ``_chat`` column (:attr:`~ftdata.templating.chat.ChatExample.bits`); phase B counts them over the examples written, per
template (the ftdata template an example came from, ``messages`` for a conversation column):

* ``parity_mismatch`` (bit 1): for a trained turn, the chat template's render of the messages
  before it with ``add_generation_prompt=True`` (what a server sends the model) is not a
  prefix of the training text ending where the turn's trained text starts. Templates that
  rewrite earlier turns, print the date, or lack a generation prompt show up here.
* ``span_fallback`` (bit 2): the one-render marker search failed its check (the stripped
  marker render was not the plain render), so the spans came from the per-part diff.
"""

from __future__ import annotations

import numpy as np

from ..templating.chat import PARITY_MISMATCH, SPAN_FALLBACK

NOTES = {
    "parity_mismatch": "a trained turn's serving prompt (messages before it, generation prompt added) "
                       "is not a prefix of the training text before it",
    "span_fallback": "the marker render failed its check; spans came from the per-part diff",
}


def chat_section(work, plan, release=None) -> dict:
    """The chat checks of the manifest's ``chat`` section (beside the recipe's chat settings,
    :func:`ftdata.write.manifest.manifest`): per template, examples written and each check's count.

    Args:
        work: the work table; plan: the build plan (its ``order`` holds the written rows).
        release: the build's page release (see :func:`ftdata.plan.worktable.column_numpy`).
    """
    from .worktable import SMALL_PASS_ROWS, value_codes, work_batches

    idx = np.concatenate([np.asarray(v, dtype=np.int64) for v in plan.order.values()] or [np.zeros(0, np.int64)])
    times = np.bincount(idx, minlength=work.num_rows)  # how often each work row is written
    acc: dict[str, np.ndarray] = {}  # template -> examples, parity mismatches, span fallbacks
    for start, batch in work_batches(work, ["template", "_chat"], release, SMALL_PASS_ROWS):
        w = times[start:start + batch.num_rows]
        if not w.any():
            continue
        codes, names = value_codes(batch.column("template"))
        bits = batch.column("_chat").to_numpy(zero_copy_only=False).astype(np.int64)
        counts = [np.bincount(codes, weights=w * x, minlength=len(names)).round().astype(np.int64)
                  for x in (1, (bits & PARITY_MISMATCH) != 0, (bits & SPAN_FALLBACK) != 0)]
        for c, name in enumerate(names):
            if counts[0][c]:
                acc[name] = acc.get(name, 0) + np.array([k[c] for k in counts])
    per: dict[str, dict[str, int]] = {
        name: {"examples": int(a[0]), "parity_mismatch": int(a[1]), "span_fallback": int(a[2])}
        for name, a in sorted(acc.items())}
    totals = {k: sum(v[k] for v in per.values()) for k in ("examples", "parity_mismatch", "span_fallback")}
    return {"totals": totals, "templates": per, "notes": dict(NOTES)}


def chat_lines(chat: dict | None) -> list[str]:
    """The ``chat`` section as text lines (``ftdata inspect``, the build report)."""
    if not chat or "templates" not in chat:
        return []
    lines = ["", f"chat checks (examples; parity checked on {chat.get('parity', 'last')} trained turn(s)):",
             f"  {'template':<26}{'examples':>10}{'parity_mismatch':>17}{'span_fallback':>15}"]
    for name, v in chat["templates"].items():
        lines.append(f"  {name:<26}{v['examples']:>10}{v['parity_mismatch']:>17}{v['span_fallback']:>15}")
    return lines
