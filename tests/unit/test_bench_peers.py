"""The benchmark's hand-written ``datasets.map`` peer (bench/compile.py) does ftdata's work: the
same ``input_ids`` and completion-only ``labels`` as a build, so the ratio compares like with like."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ftdata.constants import IGNORE_INDEX
from ftdata.tokenize.causal_fast import encode_causal_columns
from ftdata.tokenize.tokenizer import load_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from compile import datasets_map  # noqa: E402

PROMPTS = ["Summarize the following conversation.\n\n#Person1#: Hi, how are you?\n#Person2#: Fine.\n\nSummary:",
           "Summarize the following conversation.\n\n#Person1#: Where is the station?\n#Person2#: Left.\n\nSummary:"]
COMPLETIONS = ["Person1 greets Person2.", "Person2 shows the way to the station."]


def test_datasets_map_peer_builds_ftdata_ids_and_labels():
    import datasets

    datasets.disable_progress_bars()
    tok = load_tokenizer("ftdata:tiny-bpe")
    cols = encode_causal_columns(tok.backend_tokenizer, PROMPTS, COMPLETIONS, separator=" ",
                                 eos_id=tok.eos_token_id, max_length=4096, overflow="drop")
    seconds, tokens, cpu, out = datasets_map(PROMPTS, [" " + c for c in COMPLETIONS], 1000, keep=True)
    assert seconds > 0 and cpu >= 0 and tokens == len(cols.ids)
    for i in range(len(PROMPTS)):
        a, b = cols.offsets[i], cols.offsets[i + 1]
        assert out[i]["input_ids"] == cols.ids[a:b].tolist()
        assert out[i]["labels"] == cols.labels[a:b].tolist()
        assert out[i]["attention_mask"] == [1] * (b - a)
        assert IGNORE_INDEX in out[i]["labels"] and np.any(cols.labels[a:b] != IGNORE_INDEX)
