"""chat_section: the chat checks counted per template over the rows written, as often as written."""

from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from ftdata.plan.chataudit import chat_section
from ftdata.templating.chat import PARITY_MISMATCH, SPAN_FALLBACK


def _expected(names: list[str], bits: list[int], order: dict[str, np.ndarray]) -> dict:
    """The counts written out row by row."""
    per: dict[str, Counter] = {}
    for rows in order.values():
        for i in rows.tolist():
            c = per.setdefault(names[i], Counter())
            c["examples"] += 1
            c["parity_mismatch"] += bool(bits[i] & PARITY_MISMATCH)
            c["span_fallback"] += bool(bits[i] & SPAN_FALLBACK)
    return {n: {k: per[n][k] for k in ("examples", "parity_mismatch", "span_fallback")} for n in sorted(per)}


def test_counts_match_a_row_by_row_count_with_repeated_and_unwritten_rows():
    rng = random.Random(7)
    sizes = [5, 0, 1200, 3, 70_000, 40]  # chunks: one past the joined size, empty ones, small ones
    n = sum(sizes)
    names = [rng.choice(["messages", "qa", "summary"]) for _ in range(n)]
    names[-1] = "only-last"  # a template with one row, written
    names[0] = "never-written"
    bits = [rng.choice([0, PARITY_MISMATCH, SPAN_FALLBACK, PARITY_MISMATCH | SPAN_FALLBACK]) for _ in range(n)]
    schema = pa.schema([("template", pa.string()), ("_chat", pa.uint8())])
    batches, at = [], 0
    for k in sizes:
        batches.append(pa.record_batch({"template": names[at:at + k], "_chat": bits[at:at + k]}, schema=schema))
        at += k
    work = pa.Table.from_batches(batches, schema=schema)
    rows = np.array(rng.sample(range(1, n - 1), n // 2), dtype=np.int64)
    order = {"train": np.concatenate([rows[: n // 4], rows[:50]]),  # 50 rows written twice (a mixture's upsampling)
             "test": np.concatenate([rows[n // 4:], [n - 1]])}
    got = chat_section(work, SimpleNamespace(order=order))
    want = _expected(names, bits, order)
    assert got["templates"] == want
    assert "never-written" not in got["templates"]
    assert got["totals"]["examples"] == sum(len(v) for v in order.values())
    assert got["totals"]["parity_mismatch"] == sum(v["parity_mismatch"] for v in want.values())
