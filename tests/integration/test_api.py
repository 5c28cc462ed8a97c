"""The notebook API: ftdata.compile / load / render / preview / export / push / report."""

from __future__ import annotations

import json

import datasets
import pytest

import ftdata
from ftdata.errors import FtdataError

from tests.conftest import ROOT


def test_compile_then_load_carries_the_manifest(tmp_path):
    res = ftdata.compile(str(ROOT / "examples" / "reviews" / "recipe.yaml"), output=tmp_path / "out")
    dd = ftdata.load(res.output)
    assert isinstance(dd, datasets.DatasetDict)
    assert dd.manifest == json.loads((res.output / "manifest.json").read_text())
    assert {s: dd[s].num_rows for s in dd} == {s: c["examples"] for s, c in dd.manifest["counts"]["splits"].items()}


def test_load_refuses_an_unfinished_folder(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(FtdataError, match="COMPLETED|no such"):
        ftdata.load(tmp_path / "half")


def test_export_push_report_from_python(reviews_out, tmp_path):
    from ftdata.consume.export import (
        FORMATS,  # importing the submodules keeps the functions callable
    )
    from ftdata.consume.push import PushResult  # noqa: F401
    from ftdata.write.report import REPORT  # noqa: F401

    assert callable(ftdata.export) and callable(ftdata.push) and callable(ftdata.report)
    res = ftdata.export(reviews_out, "trl", tmp_path / "trl")
    assert res.format == "trl" and "trl" in FORMATS
    assert datasets.load_from_disk(str(tmp_path / "trl"))["train"].column_names == ["input_ids", "labels"]
    pushed = ftdata.push(reviews_out, "me/reviews", dry_run=tmp_path / "hub")
    assert pushed.dry_run == (tmp_path / "hub").resolve() and (tmp_path / "hub" / "README.md").exists()
    page = ftdata.report(reviews_out, tmp_path / "r.html")
    assert page.read_text().startswith("<!doctype html>")
