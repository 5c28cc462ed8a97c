"""The boundary audit: what masking found in every example, counted into the manifest.

Masking (:mod:`ftdata.masking`) sets a few bits per example in the internal ``_audit``
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
  other tokens than training did.
* ``special_tokens_in_data``: the raw data held special-token strings (``<|im_end|>``); with
  ``special_tokens_in_data: text`` (default) they were encoded as plain text.

Examples that would train nothing never get here: they go to ``rejects.jsonl`` with code
``no_trained_token``; the section repeats that count.
"""

from __future__ import annotations

import numpy as np

STRADDLE = 1
DUP_BOS = 2
EOS_UNTRAINED = 4
PROMPT_NOT_PREFIX = 8
SPECIAL_IN_DATA = 16

FLAGS = {
    "straddling_boundary": STRADDLE,
    "duplicated_bos": DUP_BOS,
    "eos_untrained": EOS_UNTRAINED,
    "prompt_not_prefix": PROMPT_NOT_PREFIX,
    "special_tokens_in_data": SPECIAL_IN_DATA,
}


def count_flags(bits: np.ndarray) -> dict[str, int]:
    """Examples carrying each audit bit."""
    bits = np.asarray(bits, dtype=np.int64)
    return {name: int(np.count_nonzero(bits & bit)) for name, bit in FLAGS.items()}


def audit_section(work, plan, *, rejects_by_code: dict | None = None, special_tokens_mode: str = "text") -> dict:
    """The manifest's ``audit`` section from the work table and the plan (written examples only)."""
    import pyarrow as pa

    col = work.column("_audit") if "_audit" in work.column_names else None
    splits = {}
    total = dict.fromkeys(FLAGS, 0)
    for name in plan.split_names:
        idx = plan.order.get(name, np.zeros(0, dtype=np.int64))
        bits = col.take(pa.array(idx)).to_numpy() if col is not None and len(idx) else np.zeros(0, dtype=np.int64)
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
        "rejected_no_trained_token": int(rej.get("no_trained_token", 0)),
        "notes": {k: v for k, v in NOTES.items()},
    }


NOTES = {
    "straddling_boundary": "a trained token also holds prompt characters (trained, counted)",
    "duplicated_bos": "BOS twice at the start (template BOS plus the tokenizer's own)",
    "eos_untrained": "a trained span ends without a trained EOS / end-of-turn token",
    "prompt_not_prefix": "the prompt tokenized alone differs from the start of the joint tokens",
    "special_tokens_in_data": "raw data held special-token strings (see special_tokens_in_data_mode)",
}
