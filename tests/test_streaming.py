"""Flat memory: streaming readers (JSON arrays included) and bounded work in flight."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftdata.build import compile_recipe
from ftdata.errors import BuildError
from ftdata.gather import take_rows
from ftdata.sources import _json_array, read_json

from .conftest import write_native_templates, write_recipe


def test_json_array_is_streamed_element_by_element(tmp_path):
    rows = [{"id": i, "t": "]}{[\",\\" * (i % 5), "nested": [{"a": "]"}, i], "pad": "x" * 500} for i in range(2000)]
    p = tmp_path / "rows.json"
    p.write_text("\ufeff \n[ " + " ,\n".join(json.dumps(r) for r in rows) + "\n]\n", encoding="utf-8")
    assert [r.data for r in read_json(p)] == rows
    assert list(_json_array(p, block=5)) == rows  # elements cut by every block boundary
    # memory: decoding holds about one block, not the file
    tracemalloc.start()
    for _ in _json_array(p, block=1 << 12):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert p.stat().st_size > 1_000_000 and peak < 100_000


def test_json_array_rows_and_errors(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('[1, {"a": NaN}, {"b": 2}]')
    assert [(r.line, r.data, r.error) for r in read_json(p)] == [
        (1, None, "expected a JSON object, found int"), (2, None, "NaN or infinite number"), (3, {"b": 2}, None)]
    p.write_text("[]")
    assert list(read_json(p)) == []
    p.write_text('{"data": [{"x": 1}]}')  # the wrapped form still works (read whole)
    assert [r.data for r in read_json(p)] == [{"x": 1}]
    for bad in ("[", '[{"a": 1}', '[{"a": 1},]', '[{"a": 1} {"b": 2}]'):
        p.write_text(bad)
        with pytest.raises(BuildError, match="not a JSON document"):
            list(read_json(p))


def test_a_json_array_source_builds_like_jsonl(tmp_path):
    rows = [{"id": str(i), "q": f"question {i}", "a": f"answer {i}"} for i in range(50)]
    (tmp_path / "r.json").write_text(json.dumps(rows, indent=1))
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "t", "prompt": "{{q}}", "completion": "{{a}}"}])
    outs = []
    for ext in ("json", "jsonl"):
        recipe = write_recipe(tmp_path, {"name": "j", "output": f"out-{ext}", "sources": [
            {"name": "s", "path": f"r.{ext}", "key": "id", "templates": [{"file": str(tpl)}]}]}, name=f"{ext}.yaml")
        outs.append(compile_recipe(recipe))
    assert outs[0].manifest["shards"] == outs[1].manifest["shards"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=6), min_size=1, max_size=6),
       st.data())
def test_take_rows_equals_table_take(chunks, data):
    table = pa.concat_tables([pa.table({"s": pa.array(c, pa.string()),
                                        "ids": pa.array([[len(x or "")] * 2 for x in c], pa.list_(pa.int32()))})
                              for c in chunks])
    n = table.num_rows
    idx = data.draw(st.lists(st.integers(0, n - 1), max_size=20)) if n else []
    assert take_rows(table, idx).equals(table.take(pa.array(idx, pa.int64())))


def test_take_rows_does_not_concatenate_the_table():
    chunks = [pa.table({"ids": pa.array([list(range(300))] * 1000, pa.list_(pa.int32()))}) for _ in range(40)]
    table = pa.concat_tables(chunks)  # 48 MB in 40 chunks
    pool = pa.default_memory_pool()
    before = pool.max_memory()
    part = take_rows(table, np.random.default_rng(0).permutation(table.num_rows)[:500])
    assert part.num_rows == 500
    assert pool.max_memory() - before < table.nbytes / 4  # Table.take would allocate about all of it
