"""The seq2seq layout: the prompt becomes ``input_ids``, the completion (plus EOS) ``labels``.

Two tokenizations, no spans: only the encoder side (the prompt) is ever cut, by the one
overflow policy (:func:`~ftdata.tokenize.overflow.fit_to_length`); completions never are.
"""

from __future__ import annotations

from ..rejects import Code, Rejection
from .auditbits import DUP_BOS, EOS_UNTRAINED, SPECIAL_IN_DATA
from .encoded import NO_TRAINED_TOKEN, Encoded
from .overflow import fit_to_length
from .spans import dup_bos
from .specials import encode_texts


def encode_seq2seq(backend, prompts: list[str], completions: list[str], *, eos_id: int | None,
                   max_length: int, overflow: str, bos_id: int | None = None,
                   escaped: list[bool] | None = None) -> list[Encoded]:
    """Prompt -> input_ids, completion (+EOS) -> labels; labels are never cut."""
    encs_p = encode_texts(backend, prompts, add_special_tokens=True, escaped=escaped)
    encs_c = encode_texts(backend, completions, add_special_tokens=False, escaped=escaped)
    out = []
    for i, (ep, ec) in enumerate(zip(encs_p, encs_c)):
        ids = list(ep.ids)
        labels = list(ec.ids)
        if not labels:
            out.append(Encoded(reject=NO_TRAINED_TOKEN))
            continue
        flags = SPECIAL_IN_DATA if escaped is not None and escaped[i] else 0
        if eos_id is not None and labels[-1] != eos_id:
            labels.append(eos_id)
        elif eos_id is None:
            flags |= EOS_UNTRAINED
        if dup_bos(ids, bos_id):
            flags |= DUP_BOS
        if len(labels) > max_length:
            out.append(Encoded(reject=Rejection(Code.TOO_LONG, f"completion is {len(labels)} tokens > max_length "
                                                               f"{max_length} (completions are never cut)")))
            continue
        fit = fit_to_length(ids, None, len(ids), max_length, overflow, what="prompt is ", index=i)
        if fit.reject is not None:
            out.append(fit)
            continue
        out.append(Encoded(fit.input_ids, labels, truncated=fit.truncated, n_prompt=len(fit.input_ids),
                           n_trained=len(labels), flags=flags))
    return out
