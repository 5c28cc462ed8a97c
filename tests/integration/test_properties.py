"""Property tests (hypothesis): masking over random unicode, random templates, accounting.

Example counts are kept small so the whole file runs in well under a minute on CI.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftdata.build.orchestrate import compile_recipe
from ftdata.errors import BuildError
from ftdata.write.manifest import accounting_ok

from tests.conftest import write_native_templates, write_recipe
from tests.unit.tokenize.test_properties import EDGY, TEMPLATE_TEXT

# -- accounting over random data through whole builds ----------------------------------------

ROW = st.fixed_dictionaries({"q": EDGY, "a": st.one_of(EDGY, st.integers(-5, 5), st.none())})


@pytest.fixture(scope="module")
def build_dir():
    d = Path(tempfile.mkdtemp(prefix="ftdata-props-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=0, max_size=25), prompt=TEMPLATE_TEXT, completion=TEMPLATE_TEXT,
       junk=st.lists(st.sampled_from(["{bad", "[1, 2]", "\x00", '{"q": NaN}']), max_size=3),
       dedup=st.booleans(), max_length=st.sampled_from([8, 64, 512]))
def test_accounting_always_adds_up(build_dir, rows, prompt, completion, junk, dedup, max_length):
    folder = Path(tempfile.mkdtemp(dir=build_dir))
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + junk
    (folder / "rows.jsonl").write_text("\n".join(lines + ['{"q": "anchor", "a": "row"}']) + "\n", encoding="utf-8")
    tpl = write_native_templates(folder / "t.yaml", [
        {"name": "fixed", "prompt": "Q: {{ q }}", "completion": "{{ a }}"},
        {"name": "random", "prompt": prompt + "{{ q }}", "completion": completion + "{{ a }}"}])
    # garbage is the point here: any share of rejects is allowed, and one split cannot come out empty
    recipe = write_recipe(folder, {"name": "p", "output": "out", "dedup": dedup, "max_length": max_length,
                                   "max_reject_share": 1.0, "split": {"ratios": {"train": 1.0}},
                                   "sources": [{"name": "s", "path": "rows.jsonl", "templates": [{"file": str(tpl)}]}]})
    try:
        res = compile_recipe(recipe)
    except BuildError as exc:  # no usable row at all: the build fails, and keeps its rejects beside the output
        assert "no usable rows" in str(exc)
        info = json.loads((folder / "out.failed" / "failure.json").read_text(encoding="utf-8"))
        rejects = (folder / "out.failed" / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
        c = info["counts"]["sources"]["s"]
        assert len(rejects) == info["counts"]["rejects"] == c["rows_rejected"] + c["examples_rejected"]
        assert c["examples_candidates"] == c["examples_rejected"] == c["rows_rendered"] * c["fanout"]
        assert c["rows_read"] == len([x for x in lines if x.strip()]) + 1
        assert not (folder / "out").exists()
        shutil.rmtree(folder, ignore_errors=True)
        return
    assert accounting_ok(res.manifest) == []
    c = res.manifest["counts"]["sources"]["s"]
    rejects = (res.output / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == res.manifest["counts"]["rejects"]
    assert c["rows_read"] == len([x for x in lines if x.strip()]) + 1
    shutil.rmtree(folder, ignore_errors=True)

