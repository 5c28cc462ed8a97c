"""JSON array sources are streamed element by element; bad elements become row errors."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from ftdata.errors import BuildError
from ftdata.read.jsonfmt import _json_array, read_json


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
