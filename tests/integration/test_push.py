"""ftdata push: the dry-run folder is self-contained (rows, tokenizer, a card the Hub accepts);
the upload goes to a local stand-in of the Hub's HTTP API that records the commit."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import datasets
import pytest
import yaml
from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.cli.app import main
from ftdata.consume.push import push
from ftdata.errors import FtdataError
from ftdata.inspect.load import load_compiled
from ftdata.tokenize.tokenizer import ASSET_DIR

from tests.conftest import (
    ROOT,
    make_word_tokenizer,
    write_jsonl,
    write_native_templates,
    write_recipe,
)

SECRET = "hf_notarealtokenbutlooksabitlikeone0123"


def _meta(card: str) -> dict:
    from huggingface_hub import DatasetCard

    data = DatasetCard(card).data  # the Hub client's own parser of the card's YAML
    return data.to_dict()


def test_dry_run_is_self_contained(reviews_out, tmp_path):
    from transformers import AutoTokenizer

    res = push(reviews_out, "org/reviews-sft", dry_run=tmp_path / "hub")
    hub = tmp_path / "hub"
    assert sorted(p.name for p in hub.iterdir()) == ["README.md", "data", "manifest.json", "tokenizer.json",
                                                     "tokenizer_config.json"]
    assert sorted(res.files) == sorted(str(p.relative_to(hub)) for p in hub.rglob("*") if p.is_file())
    compiled = load_compiled(reviews_out)
    # offline: a local folder, read through the card's configs (own cache: datasets keys it by folder name)
    loaded = datasets.load_dataset(str(hub), cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded) == sorted(compiled) and res.rows == {s: compiled[s].num_rows for s in compiled}
    for split in compiled:
        assert loaded[split].features == compiled[split].features
        assert loaded[split].to_dict() == compiled[split].to_dict()
    # the tokenizer comes from the folder itself and turns the ids back into the text
    tok = AutoTokenizer.from_pretrained(str(hub))
    sep = compiled.manifest["separator"]
    for row in loaded["train"].select(range(20)):
        assert tok.decode(row["input_ids"], skip_special_tokens=True) == row["prompt"] + sep + row["completion"]
        assert row["input_ids"][-1] == tok.eos_token_id
    card = (hub / "README.md").read_text()
    meta = _meta(card)
    assert meta["configs"][0]["data_files"] == [{"split": s, "path": f"data/{s}-*"} for s in compiled]
    assert meta["license"] == "apache-2.0" and meta["language"] == ["en"]
    # predict_rating (Accuracy, the original task) and two generation templates (original_task: false)
    assert meta["task_categories"] == ["text-classification", "text-generation"]
    assert meta["size_categories"] == ["1K<n<10K"]
    assert meta["ftdata_sources"] == [{"name": "reviews", "task": "reviews", "license": "Apache-2.0", "citation": None,
                                       "origin": "reviews.jsonl", "renamed_columns": {}}]
    assert "load_dataset('org/reviews-sft')" in card and "tokenizer `ftdata:tiny-bpe`" in card
    assert "snapshot_download('org/reviews-sft', repo_type='dataset'" in card


@pytest.fixture(scope="module")
def cited_out(tmp_path_factory) -> Path:
    """Two sources with their own license, citation and column renames, German and English
    templates (BLEU, ROUGE), and a tokenizer in a local folder named by its absolute path."""
    folder = tmp_path_factory.mktemp("cited")
    tok = folder / "my-tokenizer"
    shutil.copytree(ASSET_DIR, tok)
    rows = [json.loads(line) for line in (ROOT / "examples" / "reviews" / "reviews.jsonl").read_text().splitlines()[:60]]
    data = write_jsonl(folder / "rows.jsonl", rows)
    head = write_native_templates(folder / "head.yaml", [{
        "name": "headline", "prompt": "Review: {{text}}\nHeadline:", "completion": "{{headline}}",
        "metrics": ["ROUGE"], "original_task": True, "languages": ["en"]}])
    title = write_native_templates(folder / "title.yaml", [{
        "name": "title_de", "prompt": "Titel: {{name}}\nAuf Deutsch:", "completion": "{{name}}",
        "metrics": ["BLEU"], "original_task": True, "languages": ["en", "de"]}])
    cite = "@article{reviews2026,\n  title={Product reviews},\n  year={2026}\n}"
    recipe = write_recipe(folder, {
        "name": "cited", "output": "out", "tokenizer": str(tok), "max_length": 256, "seed": 3,
        "sources": [
            {"name": "heads", "path": str(data), "key": "review_id", "license": "cc-by-4.0", "citation": cite,
             "rename": {"body": "text"}, "templates": [{"file": str(head)}]},
            {"name": "titles", "path": str(data), "key": "review_id", "license": "mit",
             "citation": "The reviews of ftdata's bundled example.",
             "rename": {"title": "name"}, "templates": [{"file": str(title)}]}]})
    return compile_recipe(recipe).output


def test_card_carries_languages_licenses_citations_and_renames(cited_out, tmp_path):
    hub = tmp_path / "hub"
    push(cited_out, "org/cited", dry_run=hub)
    card = (hub / "README.md").read_text()
    meta = _meta(card)
    assert meta["license"] == ["cc-by-4.0", "mit"] and meta["language"] == ["en", "de"]
    assert meta["task_categories"] == ["summarization", "text-generation", "translation"]
    assert {s["name"]: (s["license"], s["renamed_columns"]) for s in meta["ftdata_sources"]} == {
        "heads": ("cc-by-4.0", {"body": "text"}), "titles": ("mit", {"title": "name"})}
    assert meta["ftdata_sources"][0]["citation"].startswith("@article{reviews2026,")
    assert "```bibtex\n@article{reviews2026," in card and "The reviews of ftdata's bundled example." in card
    assert "| heads | cc-by-4.0 |" in card and "`body` → `text`" in card
    # the tokenizer is named as the user named it, never by a local absolute path (card and manifest)
    assert "tokenizer `my-tokenizer`" in card
    tok_dir = str(cited_out.parent / "my-tokenizer")
    assert json.loads((cited_out / "manifest.json").read_text())["tokenizer"]["name"] == tok_dir  # as compiled
    assert json.loads((hub / "manifest.json").read_text())["tokenizer"]["name"] == "my-tokenizer"
    for f in ("README.md", "manifest.json"):
        assert tok_dir not in (hub / f).read_text(), f
    # the compiled directory's own card has the same metadata, without configs
    own = _meta((cited_out / "README.md").read_text())
    assert own == {k: v for k, v in meta.items() if k != "configs"}


def test_push_refuses_a_tokenizer_that_did_not_compile_the_data(reviews_out, tmp_path):
    other = make_word_tokenizer(tmp_path / "wordtok")
    with pytest.raises(FtdataError, match="is not the one that compiled this data"):
        push(reviews_out, "org/r", dry_run=tmp_path / "hub", tokenizer=str(other))
    with pytest.raises(FtdataError, match="pass the folder that holds it with --tokenizer"):
        push(reviews_out, "org/r", dry_run=tmp_path / "hub2", tokenizer=str(tmp_path / "nowhere"))
    assert not (tmp_path / "hub").exists() and not (tmp_path / "hub2").exists()


def test_dry_run_refuses_a_full_folder_and_bad_repo_ids(reviews_out, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(FtdataError, match="not empty"):
        push(reviews_out, "org/r", dry_run=tmp_path / "busy")
    with pytest.raises(FtdataError, match="not a valid repository id"):
        push(reviews_out, "org/with space", dry_run=tmp_path / "d")


class HubStub(BaseHTTPRequestHandler):
    """The Hub endpoints a push calls, on 127.0.0.1: create the repository, list its files,
    validate the card's YAML (with huggingface_hub's own DatasetCard), pre-upload (every file
    'regular', so its bytes come inline) and commit. Each request is recorded."""

    requests: list = []
    deny = False

    def _send(self, code: int, obj) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self):
        HubStub.requests.append(("GET", self.path, self.headers.get("Authorization"), None))
        self._send(200, []) if "/tree/" in self.path else self._send(404, {"error": "not here"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        HubStub.requests.append(("POST", self.path, self.headers.get("Authorization"), body))
        base = f"http://127.0.0.1:{self.server.server_port}"
        if HubStub.deny:
            return self._send(403, {"error": "You don't have the rights to create a dataset under the namespace org"})
        if self.path == "/api/repos/create":
            req = json.loads(body)
            return self._send(200, {"url": f"{base}/datasets/{req['organization']}/{req['name']}"})
        if self.path == "/api/validate-yaml":
            from huggingface_hub import DatasetCard

            try:
                DatasetCard(json.loads(body)["content"])  # parses the YAML into DatasetCardData
                return self._send(200, {"warnings": []})
            except Exception as exc:  # noqa: BLE001
                return self._send(400, {"errors": [{"message": str(exc)}]})
        if "/preupload/" in self.path:
            files = json.loads(body)["files"]
            return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                              for f in files]})
        if "/commit/" in self.path:
            repo = self.path.split("/api/datasets/")[1].split("/commit/")[0]
            return self._send(200, {"commitUrl": f"{base}/datasets/{repo}/commit/{'c0ffee' * 6}c0ff",
                                    "commitOid": "c0ffee" * 6 + "c0ff"})
        self._send(404, {"error": "not here"})


@pytest.fixture
def hub_stub():
    HubStub.requests, HubStub.deny = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _commit(requests) -> tuple[dict, dict[str, bytes]]:
    """The commit's header and its files (path -> bytes) from the recorded NDJSON body."""
    (body,) = [b for m, p, _, b in requests if m == "POST" and "/commit/" in p]
    lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
    header = next(x["value"] for x in lines if x["key"] == "header")
    files = {x["value"]["path"]: base64.b64decode(x["value"]["content"]) for x in lines if x["key"] == "file"}
    return header, files


def _cli(args: list[str], endpoint: str, **env) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HF_ENDPOINT": endpoint, "PYTHONPATH": str(ROOT), "HF_HUB_DISABLE_TELEMETRY": "1", **env}
    return subprocess.run([sys.executable, "-m", "ftdata", *args], capture_output=True, text=True, env=environ,
                          cwd=ROOT, timeout=300)


def test_upload_commits_exactly_the_dry_run_folder(reviews_out, hub_stub, tmp_path):
    r = _cli(["push", str(reviews_out), "org/reviews-sft", "--private", "--json"], hub_stub, HF_TOKEN=SECRET)
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["commit"] == "c0ffee" * 6 + "c0ff" and out["private"] is True
    create = next(b for m, p, _, b in HubStub.requests if p == "/api/repos/create")
    assert json.loads(create)["visibility"] == "private" and json.loads(create)["type"] == "dataset"
    # every request carried the token; the commit holds exactly the dry run's files, byte for byte
    assert {auth for m, p, auth, _ in HubStub.requests if p.startswith("/api/") and "agent" not in p} == {
        f"Bearer {SECRET}"}
    header, files = _commit(HubStub.requests)
    assert header["summary"].startswith("ftdata ") and "reviews" in header["summary"]
    push(reviews_out, "org/reviews-sft", dry_run=tmp_path / "dry")
    dry = {str(p.relative_to(tmp_path / "dry")): p.read_bytes() for p in (tmp_path / "dry").rglob("*") if p.is_file()}
    assert files == dry
    # the card went through the Hub's YAML validation (here: huggingface_hub's DatasetCard)
    assert any(p == "/api/validate-yaml" for _, p, _, _ in HubStub.requests)


def test_upload_without_token_is_a_clean_error(reviews_out, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    r = CliRunner().invoke(main, ["push", str(reviews_out), "org/reviews-sft"])
    assert r.exit_code == 2 and "no Hugging Face token" in r.output


def test_http_errors_become_ftdata_errors(reviews_out, hub_stub):
    HubStub.deny = True
    r = _cli(["push", str(reviews_out), "org/r"], hub_stub, HF_TOKEN=SECRET)
    assert r.returncode == 2, r.stderr
    assert "push to org/r failed" in r.stderr + r.stdout and "403" in r.stderr + r.stdout
    assert SECRET not in r.stdout + r.stderr


def test_card_yaml_round_trips_through_huggingface_hub(reviews_out, tmp_path):
    from huggingface_hub import DatasetCardData

    push(reviews_out, "org/reviews-sft", dry_run=tmp_path / "hub")
    raw = yaml.safe_load((tmp_path / "hub" / "README.md").read_text().split("---\n")[1])
    data = DatasetCardData(**raw)
    assert data.license == "apache-2.0" and data.language == ["en"] and data.size_categories == ["1K<n<10K"]
    assert data.task_categories == ["text-classification", "text-generation"] and data.pretty_name == "reviews"


def test_pushed_files_hold_no_local_path(cited_out, tmp_path):
    """The recipe named its templates and tokenizer by absolute paths: the pushed manifest keys the
    templates by file name and names the tokenizer folder by its name, and no pushed text file
    holds the build's folder; the compiled directory's own manifest keeps its bytes."""
    compiled = (cited_out / "manifest.json").read_bytes()
    hub = tmp_path / "hub"
    push(cited_out, "org/cited", dry_run=hub)
    local = str(cited_out.parent)
    own = json.loads(compiled)
    assert sorted(own["hashes"]["templates"]) == [f"{local}/head.yaml", f"{local}/title.yaml"]  # as compiled
    pushed = json.loads((hub / "manifest.json").read_text())
    assert pushed["hashes"]["templates"] == {"head.yaml": own["hashes"]["templates"][f"{local}/head.yaml"],
                                             "title.yaml": own["hashes"]["templates"][f"{local}/title.yaml"]}
    assert pushed == own | {"tokenizer": own["tokenizer"] | {"name": "my-tokenizer"},
                            "hashes": own["hashes"] | {"templates": pushed["hashes"]["templates"]}}
    for f in sorted(hub.rglob("*")):
        if f.is_file() and f.suffix in (".json", ".md", ".txt", ".jinja", ""):
            assert local not in f.read_text(encoding="utf-8"), f
    assert (cited_out / "manifest.json").read_bytes() == compiled
