"""ftdata push: the dry-run folder loads into exactly the compiled rows; the upload path, mocked."""

from __future__ import annotations

import datasets
import pytest
import yaml
from click.testing import CliRunner

from ftdata.cli.app import main
from ftdata.consume.push import push
from ftdata.errors import FtdataError
from ftdata.inspect.load import load_compiled

SECRET = "hf_notarealtokenbutlooksabitlikeone0123"


def test_dry_run_loads_into_exactly_the_compiled_rows(reviews_out, tmp_path):
    res = push(reviews_out, "org/reviews-sft", dry_run=tmp_path / "hub")
    hub = tmp_path / "hub"
    assert sorted(p.name for p in hub.iterdir()) == ["README.md", "data", "manifest.json"]
    assert sorted(p.name for p in (hub / "data").iterdir()) == [
        "test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    compiled = load_compiled(reviews_out)
    # offline: a local folder, read through the card's configs (own cache: datasets keys it by folder name)
    loaded = datasets.load_dataset(str(hub), cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded) == sorted(compiled) and res.rows == {s: compiled[s].num_rows for s in compiled}
    for split in compiled:
        assert loaded[split].features == compiled[split].features
        assert loaded[split].to_dict() == compiled[split].to_dict()
    card = (hub / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["configs"][0]["data_files"] == [{"split": s, "path": f"data/{s}-*"} for s in compiled]
    assert meta["license"] == "apache-2.0"
    assert "load_dataset('org/reviews-sft')" in card


def test_dry_run_refuses_a_full_folder_and_bad_repo_ids(reviews_out, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(FtdataError, match="not empty"):
        push(reviews_out, "org/r", dry_run=tmp_path / "busy")
    with pytest.raises(FtdataError, match="not a valid repository id"):
        push(reviews_out, "org/with space", dry_run=tmp_path / "d")


class FakeApi:
    calls: list = []

    def __init__(self, token=None):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, **kw):
        FakeApi.calls.append(("create_repo", repo_id, kw))
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self, **kw):
        from pathlib import Path

        files = sorted(str(p.relative_to(kw["folder_path"])) for p in Path(kw["folder_path"]).rglob("*") if p.is_file())
        FakeApi.calls.append(("upload_folder", kw, files))

        class Info:
            oid = "abc123"
        return Info()


def test_upload_uses_env_token_and_never_prints_it(reviews_out, monkeypatch):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    r = CliRunner().invoke(main, ["push", str(reviews_out), "org/reviews-sft", "--private", "--json"])
    assert r.exit_code == 0, r.output
    assert SECRET not in r.output
    assert FakeApi.calls[0] == ("init", SECRET)
    _, repo, kw = FakeApi.calls[1]
    assert repo == "org/reviews-sft" and kw["private"] is True and kw["repo_type"] == "dataset"
    _, up, files = FakeApi.calls[2]
    assert up["repo_type"] == "dataset" and up["delete_patterns"] == ["data/*"]
    assert files == ["README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet",
                     "data/validation-00000-of-00001.parquet", "manifest.json"]
    assert '"commit": "abc123"' in r.output


def test_upload_without_token_is_a_clean_error(reviews_out, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    r = CliRunner().invoke(main, ["push", str(reviews_out), "org/reviews-sft"])
    assert r.exit_code == 2 and "no Hugging Face token" in r.output


def test_http_errors_become_ftdata_errors(reviews_out, monkeypatch):
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError

    class Denied(FakeApi):
        def create_repo(self, repo_id, **kw):
            resp = SimpleNamespace(headers={}, request=None, status_code=403)  # what the error reads
            raise HfHubHTTPError("403 Forbidden: you cannot write to org", response=resp)

    monkeypatch.setattr(huggingface_hub, "HfApi", Denied)
    with pytest.raises(FtdataError, match="push to org/r failed: 403"):
        push(reviews_out, "org/r", token=SECRET)
