"""The engines' plumbing without a build: result order, engine choice errors, the key set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.build.engines import make_engine
from ftdata.build.engines.job import Job
from ftdata.build.engines.local import LocalEngine
from ftdata.errors import BuildError
from ftdata.read.keys import KeySet


def test_results_come_back_in_order_with_cache_hits_passing_through(tmp_path):
    from ftdata.build.chunk import CheckedRow, ChunkContext
    from ftdata.templating.templates import from_strings

    ctx = ChunkContext(source="s", task="s", templates=[from_strings("say {{q}}", "{{a}}", name="t")],
                       tokenizer="ftdata:tiny-bpe", tokenizer_base=None, layout="causal", separator=" ",
                       max_length=64, overflow="drop", add_eos=True, seed=0)
    pulled = []

    def jobs():
        for i in range(12):
            pulled.append(i)
            rows = [CheckedRow(f"k{i}-{j}", j, {"q": f"row {i} {j}", "a": "x" * (i + 1)}) for j in range(5)]
            yield Job(i, rows, result="cached" if i % 4 == 1 else None)

    for eng in (LocalEngine(1), LocalEngine(2)):
        seen = []
        for job, res in eng.map(ctx, jobs()):
            # bounded read-ahead: never more than 2 x workers chunks beyond the one handed out
            assert len(pulled) - len(seen) <= 2 * eng.workers + 1
            seen.append(job.index)
            if job.index % 4 == 1:
                assert res == "cached"
            else:
                assert res.candidates == 5 and res.table.column("completion")[0].as_py() == "x" * (job.index + 1)
        eng.close()
        pulled.clear()
        assert seen == list(range(12))



def test_engine_choice_errors():
    with pytest.raises(BuildError, match="did you mean 'ray'"):
        make_engine("rya")
    with pytest.raises(BuildError, match="at least 1"):
        make_engine("local", num_proc=0)
    with pytest.raises(BuildError, match="--engine ray"):
        make_engine("local", address="auto")



@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.text(max_size=4), max_size=30), max_size=12))
def test_keyset_agrees_with_a_python_set(batches):
    ks, seen = KeySet(), set()
    for keys in batches:
        expected = []
        for k in keys:
            expected.append(k in seen)
            seen.add(k)
        assert ks.add_batch(keys).tolist() == expected
    assert len(ks) == len(seen)


def test_keyset_is_compact():
    ks = KeySet()
    for b in range(100):
        ks.add_batch([f"row-{b}-{i}" for i in range(2000)])
    assert len(ks) == 200_000
    assert sum(r.nbytes for r in ks._runs) == 16 * 200_000  # vs ~100 bytes a key in a Python set
    assert len(ks._runs) <= 18
