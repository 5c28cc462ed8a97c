"""Pushing a compiled directory to the Hugging Face Hub as a dataset repository.

The repository holds Parquet shards per split under ``data/``, a README.md dataset card whose
YAML ``configs`` block names them (so ``datasets.load_dataset(repo)`` finds the splits and
nothing else), the manifest beside them, and the tokenizer's files at the top level (the ids
mean nothing without them; ``AutoTokenizer.from_pretrained`` reads the folder). The tokenizer
is looked up as the recipe named it (or as ``tokenizer=`` names it) and must hash to the
manifest's ``hashes.tokenizer``: the pushed files are the ones that compiled the data. The card
keeps the compiled card's YAML (languages, licenses, citations, renames: what only the build
knew) and adds ``configs``; the pushed manifest holds no path of the builder's machine: a
local tokenizer folder is named by its own name, and template files the recipe named by an
absolute path are keyed by their shortest unique trailing path (:func:`portable_manifest`; the
compiled directory's own manifest is not changed). ``--dry-run DIR`` writes exactly that folder
locally and uploads nothing; a real push stages the same folder in a temporary directory and
hands it to ``HfApi.upload_folder`` in one commit.

The token comes from ``HF_TOKEN`` or ``hf auth login`` (huggingface_hub's own lookup); ftdata
never prints or logs it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import MANIFEST
from ..errors import FtdataError
from ..inspect.load import load_compiled
from ..tokenize.tokenizer import load_tokenizer, tokenizer_hash
from ..write.card import card_metadata, front_matter, render_card, tokenizer_display
from .export import prepare_dest, quiet_datasets


@dataclass
class PushResult:
    """What a push (or a dry run) produced."""

    repo_id: str
    files: list[str]
    rows: dict[str, int]
    private: bool
    dry_run: Path | None = None
    url: str | None = None
    commit: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"repo_id": self.repo_id, "files": self.files, "rows": self.rows, "private": self.private,
                "dry_run": str(self.dry_run) if self.dry_run else None, "url": self.url, "commit": self.commit}


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise FtdataError(f"push: '{repo_id}' is not a valid repository id (expected 'owner/name'): {exc}") from None


def _tokenizer(manifest: dict, given: str | None):
    """The tokenizer that compiled the data: ``given`` or the recipe's name, checked by hash."""
    name = given or (manifest.get("tokenizer") or {}).get("name")
    try:
        tok = load_tokenizer(name)
    except FtdataError as exc:
        raise FtdataError(f"push: the tokenizer's files go with the data, but {exc}; pass the folder "
                          "that holds it with --tokenizer") from None
    want = (manifest.get("hashes") or {}).get("tokenizer")
    if tokenizer_hash(tok) != want:
        raise FtdataError(f"push: tokenizer '{name}' is not the one that compiled this data (sha256 "
                          f"{tokenizer_hash(tok)[:16]}…, the manifest says {str(want)[:16]}…); pass the "
                          "right one with --tokenizer")
    return tok


def portable_manifest(manifest: dict) -> dict:
    """The manifest as pushed: the same content without the builder's local paths.

    ``tokenizer.name`` a local folder becomes the folder's name; ``hashes.templates`` keys that
    are absolute paths become their shortest trailing path unique among the keys (``t.yaml``,
    else ``a/t.yaml``, ...). Keys the recipe wrote relative to itself stay as they are."""
    tok_info = dict(manifest.get("tokenizer") or {})
    tok_info["name"] = tokenizer_display(tok_info.get("name"))
    out = dict(manifest, tokenizer=tok_info)
    hashes = manifest.get("hashes") or {}
    if "templates" in hashes:
        out["hashes"] = dict(hashes, templates=_relative_keys(hashes["templates"]))
    return out


def _relative_keys(files: dict[str, str]) -> dict[str, str]:
    """``files`` with each absolute path key replaced by its shortest unique trailing path."""
    absolute = [k for k in files if Path(k).expanduser().is_absolute()]
    taken = {k for k in files if k not in absolute}
    parts = {k: Path(k).expanduser().parts[1:] for k in absolute}
    short = {}
    for k in absolute:
        for n in range(1, len(parts[k]) + 1):
            tail = parts[k][-n:]
            name = "/".join(tail)
            if name not in taken and sum(p[-n:] == tail for p in parts.values()) == 1:
                break
        else:  # every tail is taken (a relative key already names it): number the whole one
            base, i = name, 2
            while name in taken:
                name, i = f"{base}~{i}", i + 1
        short[k] = name
        taken.add(name)
    return {short.get(k, k): v for k, v in files.items()}


def _save_tokenizer(tok, folder: Path) -> list[str]:
    """Save ``tok`` into ``folder``; return the files it wrote (relative names, sorted)."""
    before = {p for p in folder.iterdir()}
    tok.save_pretrained(str(folder))
    return sorted(p.name for p in folder.iterdir() if p not in before)


def stage(path: str | Path, folder: Path, repo_id: str | None = None,
          tokenizer: str | None = None) -> tuple[list[str], dict[str, int]]:
    """Write the Hub layout of a compiled directory into ``folder`` (which must exist and be empty).

    Returns:
        (files written relative to ``folder``, rows per split).
    """
    dd = load_compiled(path)
    manifest = dd.manifest
    tok_files = _save_tokenizer(_tokenizer(manifest, tokenizer), folder)
    (folder / "data").mkdir()
    files, rows, data_files = [], {}, {}
    for split in dd:
        ds = dd[split]
        # one Parquet shard per compiled Arrow shard keeps file sizes what the build chose
        n = max(1, len(manifest.get("shards", {}).get(split, [])))
        for i in range(n):
            name = f"data/{split}-{i:05d}-of-{n:05d}.parquet"
            with quiet_datasets():
                ds.shard(num_shards=n, index=i, contiguous=True).to_parquet(str(folder / name))
            files.append(name)
        rows[split] = ds.num_rows
        data_files[split] = f"data/{split}-*"
    compiled_card = Path(path) / "README.md"
    meta = front_matter(compiled_card.read_text(encoding="utf-8")) if compiled_card.exists() else {}
    meta = {k: v for k, v in {**card_metadata(manifest), **meta}.items() if k != "configs"}
    (folder / "README.md").write_text(render_card(manifest, repo_id=repo_id, data_files=data_files, meta=meta,
                                                  tokenizer_files=tok_files), encoding="utf-8")
    (folder / MANIFEST).write_text(json.dumps(portable_manifest(manifest), indent=2, sort_keys=True) + "\n",
                                   encoding="utf-8")
    return sorted(files + tok_files + ["README.md", MANIFEST]), rows


def _upload(folder: Path, repo_id: str, private: bool, token: str | None, message: str) -> tuple[str, str | None]:
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    token = token or get_token()
    if not token:
        raise FtdataError("push: no Hugging Face token found; set HF_TOKEN or run `hf auth login` "
                          "(or use --dry-run DIR to write the folder locally)")
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(folder),
                                 commit_message=message, delete_patterns=["data/*"])
    except HfHubHTTPError as exc:
        # the server's message names the repository and the reason; the token is never part of it
        raise FtdataError(f"push to {repo_id} failed: {exc}") from None
    return str(url), getattr(info, "oid", None)


def push(path: str | Path, repo_id: str, *, private: bool = False, dry_run: str | Path | None = None,
         token: str | None = None, tokenizer: str | None = None) -> PushResult:
    """Push a compiled directory to the Hub (or, with ``dry_run``, write the folder that would be pushed).

    Args:
        path: compiled directory (must hold ``COMPLETED``).
        repo_id: ``owner/name`` of the dataset repository; created if missing.
        private: create the repository private (an existing repository keeps its visibility).
        dry_run: write the Hub folder here and upload nothing.
        token: Hub token; default huggingface_hub's lookup (``HF_TOKEN``, then the saved login).
        tokenizer: where the tokenizer that compiled the data is (default: the recipe's name for
            it, looked up from the current folder); its files are pushed with the data.
    """
    _check_repo_id(repo_id)
    if dry_run is not None:
        dest = Path(dry_run)
        tmp = prepare_dest(dest, Path(path), overwrite=False)
        try:
            files, rows = stage(path, tmp, repo_id, tokenizer)
            if dest.exists():
                dest.rmdir()  # prepare_dest allows only an empty one
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return PushResult(repo_id, files, rows, private, dry_run=dest.resolve())
    with tempfile.TemporaryDirectory(prefix="ftdata-push-") as tmp:
        files, rows = stage(path, Path(tmp), repo_id, tokenizer)
        m = load_compiled(path).manifest
        message = f"ftdata {m['ftdata_version']}: {m['name']} (recipe {m['hashes']['recipe'][:12]})"
        url, commit = _upload(Path(tmp), repo_id, private, token, message)
    return PushResult(repo_id, files, rows, private, url=url, commit=commit)
